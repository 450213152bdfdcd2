//! The `parley-app` binary: runs the desktop app (everything is in the library, `lib.rs`).

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    parley_app::run();
}
