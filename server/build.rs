//! The web app is built into the binary from `ui/dist-web` (`npm run build:web` in `ui/`;
//! `http::web`). Without that build the folder may be missing, and the embedding would not
//! compile: an empty one is made, so `cargo build` works without npm and the server answers
//! `GET /` with 404 `web_not_built`.

fn main() {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default();
    let dist = std::path::Path::new(&manifest).join("../ui/dist-web");
    if !dist.exists() {
        if let Err(e) = std::fs::create_dir_all(&dist) {
            println!("cargo::warning=cannot create {}: {e}", dist.display());
        }
    }
    // A new web build is embedded by the next (release) build.
    println!("cargo::rerun-if-changed={}", dist.display());
    println!("cargo::rerun-if-changed=build.rs");
}
