//! Files the user chose: the paths dropped on the window, as the window system reported them
//! to the app (not as the webview says). `upload_path` reads only these, so a compromised or
//! buggy web page cannot make the app upload `~/.ssh/id_ed25519` by naming it. Files from the
//! picker never come as paths: the webview reads them and hands over their bytes.

use std::{
    collections::VecDeque,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

/// At most this many remembered paths (a drop of more keeps the newest).
const MAX_PATHS: usize = 1024;
/// A dropped file may be uploaded (or retried) for this long.
const LIFETIME: Duration = Duration::from_secs(60 * 60);

#[derive(Default)]
pub struct ChosenPaths {
    entries: VecDeque<(PathBuf, Instant)>,
}

/// The form paths are compared in: resolved (symbolic links, `..`) when the file exists.
fn key(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

impl ChosenPaths {
    /// Remembers paths the user dropped on the window.
    pub fn chose(&mut self, paths: &[PathBuf], now: Instant) {
        self.expire(now);
        for path in paths {
            self.entries.push_back((key(path), now));
        }
        while self.entries.len() > MAX_PATHS {
            self.entries.pop_front();
        }
    }

    /// Whether the user chose `path` (recently enough).
    pub fn allows(&mut self, path: &Path, now: Instant) -> bool {
        self.expire(now);
        let path = key(path);
        self.entries.iter().any(|(p, _)| *p == path)
    }

    fn expire(&mut self, now: Instant) {
        while self
            .entries
            .front()
            .is_some_and(|(_, at)| now.duration_since(*at) > LIFETIME)
        {
            self.entries.pop_front();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_dropped_paths_are_allowed_for_a_while() {
        let dir = tempfile::tempdir().unwrap();
        let dropped = dir.path().join("report.pdf");
        std::fs::write(&dropped, b"%PDF").unwrap();
        let other = dir.path().join("id_ed25519");
        std::fs::write(&other, b"secret").unwrap();
        let mut chosen = ChosenPaths::default();
        let t0 = Instant::now();
        assert!(!chosen.allows(&dropped, t0));
        chosen.chose(std::slice::from_ref(&dropped), t0);
        assert!(chosen.allows(&dropped, t0));
        // The same file named another way is the same choice; another file is not.
        assert!(chosen.allows(&dir.path().join(".").join("report.pdf"), t0));
        assert!(!chosen.allows(&other, t0));
        assert!(!chosen.allows(Path::new("/etc/passwd"), t0));
        // Choices expire.
        assert!(!chosen.allows(&dropped, t0 + LIFETIME + Duration::from_secs(1)));
    }

    #[test]
    fn bounded() {
        let mut chosen = ChosenPaths::default();
        let now = Instant::now();
        let paths: Vec<PathBuf> = (0..MAX_PATHS + 10)
            .map(|i| PathBuf::from(format!("/nonexistent/{i}")))
            .collect();
        chosen.chose(&paths, now);
        assert_eq!(chosen.entries.len(), MAX_PATHS);
        assert!(!chosen.allows(Path::new("/nonexistent/0"), now));
        assert!(chosen.allows(Path::new(&format!("/nonexistent/{}", MAX_PATHS + 9)), now));
    }
}
