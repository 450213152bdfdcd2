//! The app's own files in a test desktop's home: its workspace and settings files.

use serde_json::Value;

use crate::{wait_until, Desktop};

impl Desktop {
    /// Waits until the app's settings file holds `value` under `key`.
    pub async fn wait_setting(&self, key: &str, value: Value) {
        let path = self
            .home
            .path()
            .join("config/app.parley.desktop/settings.json");
        wait_until(&format!("settings.json has {key} = {value}"), || {
            std::fs::read_to_string(&path)
                .ok()
                .and_then(|s| serde_json::from_str::<Value>(&s).ok())
                .is_some_and(|s| s[key] == value)
        })
        .await;
    }

    /// The app's workspace file.
    pub fn workspace_file(&self) -> Value {
        let path = self
            .home
            .path()
            .join("config/app.parley.desktop/workspace.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }
}
