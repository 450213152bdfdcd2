//! Where the workspace's binaries are: next to the running executable, in
//! `target/<profile>/`. Cargo sets `CARGO_BIN_EXE_<name>` only for a package's own binaries,
//! so the client's and the app's tests, and the benchmark, find `parley-server` this way.

use std::path::PathBuf;

use crate::Error;

/// `target/<profile>/`: the directory of the running executable, or its parent for test
/// executables (which live in `target/<profile>/deps/`).
pub fn target_profile_dir() -> PathBuf {
    let mut dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(PathBuf::from))
        .unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

/// A binary of the workspace build, if it is built.
pub fn find_workspace_binary(name: &str) -> Result<PathBuf, Error> {
    let path = target_profile_dir().join(name);
    if path.exists() {
        Ok(path)
    } else {
        Err(Error::NotBuilt(path))
    }
}

/// A binary of the workspace build; panics, saying how to build it, when it is missing.
pub fn workspace_binary(name: &str) -> PathBuf {
    find_workspace_binary(name).unwrap_or_else(|e| panic!("{e}"))
}
