//! Percentiles and the report each scenario produces (a table row and a JSON line).

use serde_json::{Map, Value};

/// The p-th percentile of sorted microsecond samples, in milliseconds (0 when empty).
pub fn percentile(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted_us.len() - 1) as f64).round() as usize;
    let us = sorted_us[rank.min(sorted_us.len() - 1)];
    (us as f64 / 1000.0 * 1000.0).round() / 1000.0
}

/// One scenario's results, in insertion order.
pub struct Report {
    pub scenario: String,
    pub target: String,
    fields: Map<String, Value>,
}

impl Report {
    pub fn new(scenario: &str, target: &str) -> Self {
        Self {
            scenario: scenario.into(),
            target: target.into(),
            fields: Map::new(),
        }
    }

    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.fields.insert(key.into(), value.into());
    }

    pub fn number(&self, key: &str) -> f64 {
        self.fields.get(key).and_then(Value::as_f64).unwrap_or(0.0)
    }

    pub fn json_line(&self) -> String {
        let mut all = Map::new();
        all.insert("scenario".into(), self.scenario.clone().into());
        all.insert("target".into(), self.target.clone().into());
        all.extend(self.fields.clone());
        Value::Object(all).to_string()
    }

    pub fn table_row(&self) -> String {
        let fields: Vec<String> = self
            .fields
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!(
            "{:<12} {:<22} {}",
            self.scenario,
            self.target,
            fields.join("  ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let samples: Vec<u32> = (1..=1000).map(|i| i * 1000).collect();
        assert_eq!(percentile(&samples, 50.0), 501.0);
        assert_eq!(percentile(&samples, 99.0), 990.0);
        assert_eq!(percentile(&samples, 100.0), 1000.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }
}
