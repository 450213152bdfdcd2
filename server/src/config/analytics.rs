//! `[analytics]`: the live numbers the server publishes for admins' dashboards.

use std::time::Duration;

use serde::Deserialize;

use super::units::duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalyticsConfig {
    pub enabled: bool,
    /// How often a `metrics_update` custom event is published.
    #[serde(deserialize_with = "duration")]
    pub interval: Duration,
    /// The private channel it is published to; every workspace admin is made a member.
    pub channel: String,
    /// How many updates the channel keeps (its `message_history`), for a dashboard opened
    /// later to draw the recent past: 120 at 30 s is an hour.
    pub history: u64,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(30),
            channel: "admin-dashboard".into(),
            history: 120,
        }
    }
}
