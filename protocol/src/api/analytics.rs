//! `GET /api/analytics`: the recent `metrics_update` events of the analytics channel, for a
//! dashboard that opens and draws the recent past at once (admins only).

use serde::{Deserialize, Serialize};

/// One `metrics_update`: its seq in the analytics channel and its data (see the integrations
/// guide for the fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AnalyticsSample {
    pub seq: u64,
    #[cfg_attr(feature = "ts", ts(type = "unknown"))]
    pub data: serde_json::Value,
}

/// `GET /api/analytics`: the channel the updates are published to (subscribe to it for the
/// next ones), how often they come, and the stored ones, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AnalyticsHistory {
    pub channel: String,
    pub interval_ms: u64,
    pub samples: Vec<AnalyticsSample>,
}
