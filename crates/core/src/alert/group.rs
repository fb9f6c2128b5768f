//! Notification groups, with Alertmanager's meanings, on an injected clock.
//!
//! Alerts sent to a channel are grouped by the values of the channel's `group_by`
//! labels. A new group waits `group_wait` before its first notification, so that
//! alerts raised together arrive together. After that the group is looked at every
//! `group_interval`: it notifies when the set of alerts it would send changed (a new
//! alert, a resolved one, a silence that began or ended), and re-sends unchanged
//! firing alerts once `repeat_interval` has passed since the last notification. A
//! resolved alert is sent once and then leaves the group; an empty group is dropped.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// An alert as a notification shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertSnapshot {
    /// Stable identity: a hash of the labels.
    pub fingerprint: String,
    /// `alertname`, `model`, `severity` and the rule's labels.
    pub labels: BTreeMap<String, String>,
    /// `summary`, `value`, `threshold` and the like.
    pub annotations: BTreeMap<String, String>,
    /// When it started (event time of the span end, epoch ms).
    pub starts_at_ms: i64,
    /// When it ended, once resolved.
    pub ends_at_ms: Option<i64>,
}

impl AlertSnapshot {
    /// Whether it has ended.
    pub fn is_resolved(&self) -> bool {
        self.ends_at_ms.is_some()
    }
}

/// The timing of a channel's (or a route's) groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    /// Wait before a new group's first notification.
    pub group_wait_ms: i64,
    /// Wait between looks at a group after its first notification.
    pub group_interval_ms: i64,
    /// Re-send unchanged firing alerts after this long.
    pub repeat_interval_ms: i64,
}

/// One notification group of one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// The `group_by` label values that define it.
    pub labels: BTreeMap<String, String>,
    /// Its alerts by fingerprint.
    pub alerts: BTreeMap<String, AlertSnapshot>,
    /// When it is next looked at (wall clock, epoch ms).
    pub next_look_ms: i64,
    /// When it last notified.
    pub last_sent_ms: Option<i64>,
    /// What the last notification held: fingerprint → resolved.
    pub last_sent: BTreeMap<String, bool>,
    /// The timing of the route that made it; `None` for a group of a channel a rule
    /// names, which follows the channel's timing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_timing: Option<Timing>,
}

/// The key of the group an alert with `labels` belongs to, and the group's labels.
pub fn group_of(
    group_by: &[String],
    labels: &BTreeMap<String, String>,
) -> (String, BTreeMap<String, String>) {
    let group_labels: BTreeMap<String, String> = group_by
        .iter()
        .map(|name| (name.clone(), labels.get(name).cloned().unwrap_or_default()))
        .collect();
    let key = serde_json::to_string(&group_labels).unwrap_or_default();
    (key, group_labels)
}

impl Group {
    /// A new, empty group first looked at after `group_wait`.
    pub fn new(labels: BTreeMap<String, String>, now_ms: i64, timing: Timing) -> Self {
        Self {
            labels,
            alerts: BTreeMap::new(),
            next_look_ms: now_ms + timing.group_wait_ms,
            last_sent_ms: None,
            last_sent: BTreeMap::new(),
            route_timing: None,
        }
    }

    /// Adds an alert or replaces its earlier state.
    pub fn upsert(&mut self, alert: AlertSnapshot) {
        self.alerts.insert(alert.fingerprint.clone(), alert);
    }

    /// Looks at the group if it is due: returns the alerts to notify, if a
    /// notification is due. `muted` tells which alerts a silence mutes now.
    pub fn look(
        &mut self,
        now_ms: i64,
        timing: Timing,
        send_resolved: bool,
        muted: impl Fn(&AlertSnapshot) -> bool,
    ) -> Option<Vec<AlertSnapshot>> {
        if now_ms < self.next_look_ms {
            return None;
        }
        self.next_look_ms = now_ms + timing.group_interval_ms;
        let visible: Vec<AlertSnapshot> = self
            .alerts
            .values()
            .filter(|a| !muted(a) && (send_resolved || !a.is_resolved()))
            .cloned()
            .collect();
        let shown: BTreeMap<String, bool> = visible
            .iter()
            .map(|a| (a.fingerprint.clone(), a.is_resolved()))
            .collect();
        let any_firing = visible.iter().any(|a| !a.is_resolved());
        let repeat_due = self
            .last_sent_ms
            .is_none_or(|at| now_ms - at >= timing.repeat_interval_ms);
        let send = !visible.is_empty() && (shown != self.last_sent || (any_firing && repeat_due));
        // Resolved alerts have now been sent (or were muted): they leave the group.
        self.alerts.retain(|_, a| !a.is_resolved());
        if !send {
            return None;
        }
        self.last_sent_ms = Some(now_ms);
        self.last_sent = shown
            .into_iter()
            .filter(|(_, resolved)| !resolved)
            .collect();
        Some(visible)
    }

    /// Whether the group has nothing left to send.
    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMING: Timing = Timing {
        group_wait_ms: 30_000,
        group_interval_ms: 300_000,
        repeat_interval_ms: 4 * 3_600_000,
    };

    fn alert(fingerprint: &str, ends_at_ms: Option<i64>) -> AlertSnapshot {
        AlertSnapshot {
            fingerprint: fingerprint.into(),
            labels: BTreeMap::from([("alertname".into(), fingerprint.into())]),
            annotations: BTreeMap::new(),
            starts_at_ms: 0,
            ends_at_ms,
        }
    }

    fn fingerprints(sent: Option<Vec<AlertSnapshot>>) -> Option<Vec<(String, bool)>> {
        sent.map(|alerts| {
            alerts
                .into_iter()
                .map(|a| (a.fingerprint.clone(), a.is_resolved()))
                .collect()
        })
    }

    fn look(group: &mut Group, now: i64) -> Option<Vec<(String, bool)>> {
        fingerprints(group.look(now, TIMING, true, |_| false))
    }

    #[test]
    fn waits_group_wait_then_sends_alerts_raised_together_at_once() {
        let mut group = Group::new(BTreeMap::new(), 0, TIMING);
        group.upsert(alert("a", None));
        assert_eq!(look(&mut group, 10_000), None);
        group.upsert(alert("b", None));
        assert_eq!(
            look(&mut group, 30_000),
            Some(vec![("a".into(), false), ("b".into(), false)])
        );
    }

    #[test]
    fn changes_wait_for_group_interval_and_resolved_is_sent_once() {
        let mut group = Group::new(BTreeMap::new(), 0, TIMING);
        group.upsert(alert("a", None));
        assert!(look(&mut group, 30_000).is_some());
        group.upsert(alert("a", Some(40_000)));
        // Not before the group interval has passed since the last look.
        assert_eq!(look(&mut group, 100_000), None);
        assert_eq!(look(&mut group, 330_000), Some(vec![("a".into(), true)]));
        assert!(group.is_empty());
        assert_eq!(look(&mut group, 630_000), None);
    }

    #[test]
    fn unchanged_firing_alerts_repeat_after_repeat_interval_only() {
        let mut group = Group::new(BTreeMap::new(), 0, TIMING);
        group.upsert(alert("a", None));
        assert!(look(&mut group, 30_000).is_some());
        let mut sent = 0;
        let mut now = 30_000;
        while now < 30_000 + 4 * 3_600_000 {
            now += TIMING.group_interval_ms;
            if look(&mut group, now).is_some() {
                sent += 1;
            }
        }
        // Exactly one repeat, at the first look at least 4h after the first notification.
        assert_eq!(sent, 1);
    }

    #[test]
    fn silenced_alerts_are_not_sent_and_appear_when_the_silence_ends() {
        let mut group = Group::new(BTreeMap::new(), 0, TIMING);
        group.upsert(alert("a", None));
        assert_eq!(
            fingerprints(group.look(30_000, TIMING, true, |_| true)),
            None
        );
        // The silence ended: the alert is new to the receiver, so it is sent.
        assert_eq!(look(&mut group, 330_000), Some(vec![("a".into(), false)]));
        // Resolved while silenced: dropped from the group without a notification.
        group.upsert(alert("a", Some(1)));
        assert_eq!(
            fingerprints(group.look(630_000, TIMING, true, |_| true)),
            None
        );
        assert!(group.is_empty());
    }

    #[test]
    fn resolved_alerts_are_dropped_when_the_channel_does_not_want_them() {
        let mut group = Group::new(BTreeMap::new(), 0, TIMING);
        group.upsert(alert("a", None));
        assert!(look(&mut group, 30_000).is_some());
        group.upsert(alert("a", Some(1)));
        assert_eq!(
            fingerprints(group.look(330_000, TIMING, false, |_| false)),
            None
        );
        assert!(group.is_empty());
    }

    #[test]
    fn groups_by_the_channel_labels() {
        let labels = BTreeMap::from([
            ("alertname".to_string(), "low-accuracy".to_string()),
            ("model".to_string(), "credit".to_string()),
            ("team".to_string(), "risk".to_string()),
        ]);
        let (key, group_labels) = group_of(&["model".into(), "region".into()], &labels);
        assert_eq!(group_labels["model"], "credit");
        assert_eq!(group_labels["region"], "");
        let (other, _) = group_of(
            &["model".into(), "region".into()],
            &BTreeMap::from([("model".to_string(), "fraud".to_string())]),
        );
        assert_ne!(key, other);
    }
}
