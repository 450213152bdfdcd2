//! The `client_id`s of recent ephemeral custom events, so a repeated `publish` is answered
//! `duplicate` without publishing again (durable ones are remembered by the store).

use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
    time::{Duration, Instant},
};

/// The `client_id`s of recent ephemeral custom events, per publisher: bounded in count
/// (`realtime.publish_dedup_entries`, oldest forgotten first) and in age
/// (`realtime.publish_dedup_window`).
pub struct RecentPublishes {
    seen: Mutex<Seen>,
    window: Duration,
    max: usize,
}

#[derive(Default)]
struct Seen {
    at: HashMap<(i64, String), Instant>,
    order: VecDeque<((i64, String), Instant)>,
}

impl RecentPublishes {
    pub fn new(window: Duration, max: usize) -> Self {
        Self {
            seen: Mutex::new(Seen::default()),
            window,
            max: max.max(1),
        }
    }

    /// True the first time `client_id` comes from `publisher` within the window.
    pub fn first_time(&self, publisher: i64, client_id: &str, now: Instant) -> bool {
        let Ok(mut seen) = self.seen.lock() else {
            return true;
        };
        // Forget what is too old, or beyond the count (oldest first).
        while let Some((key, at)) = seen.order.front().cloned() {
            let expired = now.duration_since(at) >= self.window;
            if !expired && seen.order.len() < self.max {
                break;
            }
            seen.order.pop_front();
            if seen.at.get(&key) == Some(&at) {
                seen.at.remove(&key);
            }
        }
        let key = (publisher, client_id.to_owned());
        if seen.at.contains_key(&key) {
            return false;
        }
        seen.at.insert(key.clone(), now);
        seen.order.push_back((key, now));
        true
    }

    /// How many are remembered now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.seen.lock().map(|s| s.at.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_remembered_within_the_window_and_the_count() {
        let recent = RecentPublishes::new(Duration::from_secs(10), 3);
        let t0 = Instant::now();
        assert!(recent.first_time(1, "a", t0));
        assert!(!recent.first_time(1, "a", t0), "a repeat");
        assert!(recent.first_time(2, "a", t0), "another publisher's");
        assert!(recent.first_time(1, "b", t0));
        // A fourth pushes out the oldest ("a" of 1).
        assert!(recent.first_time(1, "c", t0));
        assert_eq!(recent.len(), 3);
        assert!(recent.first_time(1, "a", t0), "forgotten: over the count");
        // After the window, everything is forgotten.
        let later = t0 + Duration::from_secs(11);
        assert!(recent.first_time(1, "c", later));
        assert_eq!(recent.len(), 1);
    }
}
