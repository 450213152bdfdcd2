//! `[web]`: the web app (the browser build of Parley's UI) served at `/`, and the session
//! cookie browsers sign in with.

use std::{path::PathBuf, time::Duration};

use serde::Deserialize;

use super::units::duration;

/// Browsers drop cookies set to last longer than this (400 days).
const LONGEST_COOKIE: Duration = Duration::from_secs(400 * 24 * 3600);

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// Serve the web app at `/` (off: paths outside the API are plain 404s, and only listed
    /// origins may open `/ws` and `/docs`).
    pub enabled: bool,
    /// Serve the app's files from this directory instead of the ones built into the binary.
    /// Unset (or empty): the built-in ones.
    pub dir: Option<PathBuf>,
    /// How long a browser keeps the session cookie of a sign-in that asked for one
    /// (`"cookie": true`): its `Max-Age`.
    #[serde(deserialize_with = "duration")]
    pub session_cookie_max_age: Duration,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            dir: None,
            session_cookie_max_age: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

impl WebConfig {
    /// `dir`, or None when it is unset or empty.
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_deref().filter(|p| !p.as_os_str().is_empty())
    }

    pub(super) fn validate(&self) -> Result<(), String> {
        let age = self.session_cookie_max_age;
        if age < Duration::from_secs(60) || age > LONGEST_COOKIE {
            return Err("web.session_cookie_max_age must be between 1m and 400d".into());
        }
        if let Some(dir) = self.dir() {
            if self.enabled && !dir.is_dir() {
                return Err(format!("web.dir: {} is not a directory", dir.display()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is how they fail
mod tests {
    use std::time::Duration;

    use crate::config::Config;

    fn load(toml: &str) -> Result<Config, String> {
        Config::from_toml_and_env(toml, Vec::new()).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_serve_the_built_in_app_with_a_thirty_day_cookie() {
        let web = load("").unwrap().web;
        assert!(web.enabled);
        assert_eq!(web.dir(), None);
        assert_eq!(
            web.session_cookie_max_age,
            Duration::from_secs(30 * 24 * 3600)
        );
        let web = load("[web]\ndir = \"\"\n").unwrap().web;
        assert_eq!(web.dir(), None, "an empty dir is unset");
    }

    #[test]
    fn keys_are_read_from_the_file_and_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let toml = format!(
            "[web]\nenabled = false\ndir = {:?}\nsession_cookie_max_age = \"12h\"\n",
            dir.path()
        );
        let web = load(&toml).unwrap().web;
        assert!(!web.enabled);
        assert_eq!(web.dir(), Some(dir.path()));
        assert_eq!(web.session_cookie_max_age, Duration::from_secs(12 * 3600));
        let env = vec![(
            "PARLEY_WEB_SESSION_COOKIE_MAX_AGE".to_owned(),
            "7d".to_owned(),
        )];
        let config = Config::from_toml_and_env("", env).unwrap();
        assert_eq!(
            config.web.session_cookie_max_age,
            Duration::from_secs(7 * 24 * 3600)
        );
        assert!(config.ignored_env.is_empty());
    }

    #[test]
    fn bad_values_are_refused() {
        for (toml, why) in [
            (
                "[web]\nsession_cookie_max_age = \"10s\"\n",
                "session_cookie_max_age",
            ),
            (
                "[web]\nsession_cookie_max_age = \"401d\"\n",
                "session_cookie_max_age",
            ),
            ("[web]\ndir = \"/no/such/parley/web/dir\"\n", "web.dir"),
            ("[web]\nindex = \"x\"\n", "unknown field"),
        ] {
            let err = load(toml).expect_err(toml);
            assert!(err.contains(why), "{toml}: {err}");
        }
        // A missing dir is no matter while the app is off.
        load("[web]\nenabled = false\ndir = \"/no/such/parley/web/dir\"\n").unwrap();
    }
}
