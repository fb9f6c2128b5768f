//! Which notification groups an alert joins (the channels its rule names, or the routes
//! it matches) and what the groups send when looked at, muted by silences and
//! inhibition rules. Shared by the live engine and the rule backtest, so that both
//! group, mute and notify alike; only their clocks differ.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use modelwatch_core::alert::group::group_of;
use modelwatch_core::alert::inhibit::InhibitRule;
use modelwatch_core::alert::{AlertSnapshot, Channel, Group, Routing, Rule, Silence, Timing};
use serde_json::{Value, json};

use super::deliver::Notification;

/// Notification groups by (channel, group key).
pub type Groups = BTreeMap<(String, String), Group>;

/// An event for the event log: (model, rule, kind, detail).
pub type LogEntry = (Option<String>, Option<String>, &'static str, Value);

/// Alerts firing now by fingerprint, with their labels (what inhibition looks at).
pub type Firing = BTreeMap<String, BTreeMap<String, String>>;

/// The definitions grouping reads: channels, the routing, silences.
#[derive(Clone, Default)]
pub struct Registry {
    /// Channels by name.
    pub channels: BTreeMap<String, Arc<Channel>>,
    /// The route tree and inhibition rules, if set.
    pub routing: Option<Arc<Routing>>,
    /// Silences by id.
    pub silences: BTreeMap<String, Arc<Silence>>,
}

impl Registry {
    /// The inhibition rules of the routing (none without routing).
    pub fn inhibit_rules(&self) -> Vec<InhibitRule> {
        self.routing
            .as_ref()
            .map(|r| r.inhibit_rules.clone())
            .unwrap_or_default()
    }
}

/// The timing of a channel's groups.
pub fn timing(channel: &Channel) -> Timing {
    Timing {
        group_wait_ms: channel.group_wait_ms,
        group_interval_ms: channel.group_interval_ms,
        repeat_interval_ms: channel.repeat_interval_ms,
    }
}

/// The timing `group` of `channel` follows: its route's, or the channel's.
pub fn group_timing(group: &Group, channel: &Channel) -> Timing {
    group.route_timing.unwrap_or_else(|| timing(channel))
}

/// Adds an alert to the groups it is notified in: those of the channels its rule
/// names, or, for a rule that names none, those of the routes it matches. Returns the
/// keys of the groups it joined.
pub fn add_to_groups(
    groups: &mut Groups,
    registry: &Registry,
    rule: &Rule,
    snapshot: &AlertSnapshot,
    now: i64,
) -> Vec<(String, String)> {
    let channels = &registry.channels;
    // (channel, group key, group labels, the route's timing).
    let mut targets = Vec::new();
    if rule.channels.is_empty() {
        if let Some(routing) = &registry.routing {
            for route in routing.root.matching(&snapshot.labels) {
                let labels = route.group_labels(&snapshot.labels);
                // Keyed by the route too, as Alertmanager's groups are.
                let key = format!(
                    "{}:{}",
                    route.path,
                    serde_json::to_string(&labels).unwrap_or_default()
                );
                for name in &route.channels {
                    targets.push((
                        name.clone(),
                        key.clone(),
                        labels.clone(),
                        Some(route.timing),
                    ));
                }
            }
        }
    } else {
        for name in &rule.channels {
            if let Some(channel) = channels.get(name) {
                let (key, labels) = group_of(&channel.group_by, &snapshot.labels);
                targets.push((name.clone(), key, labels, None));
            }
        }
    }
    let mut joined = Vec::new();
    for (name, key, group_labels, route_timing) in targets {
        let Some(channel) = channels.get(&name) else {
            continue;
        };
        let timing = route_timing.unwrap_or_else(|| timing(channel));
        let group = groups
            .entry((name.clone(), key.clone()))
            .or_insert_with(|| Group {
                route_timing,
                ..Group::new(group_labels, now, timing)
            });
        group.upsert(snapshot.clone());
        joined.push((name, key));
    }
    joined
}

/// The alerts still firing in `groups`.
pub fn firing_in_groups(groups: &Groups) -> Firing {
    let mut firing = BTreeMap::new();
    for group in groups.values() {
        for alert in group.alerts.values().filter(|a| !a.is_resolved()) {
            firing.insert(alert.fingerprint.clone(), alert.labels.clone());
        }
    }
    firing
}

/// What one look at the groups decided.
#[derive(Default)]
pub struct Looked {
    /// Notifications to send, by channel.
    pub notifications: Vec<(String, Notification)>,
    /// Events to log (muted alerts, dropped groups).
    pub events: Vec<LogEntry>,
    /// Groups that changed (to save).
    pub changed: Vec<(String, String)>,
    /// Groups that emptied or lost their channel (removed from `groups`).
    pub emptied: Vec<(String, String)>,
}

/// Looks at the due groups at `now`: what they send, what is muted (a silence, or an
/// inhibition rule while its source fires in `firing`), which changed and which
/// emptied. `muted_logged` remembers which muted alerts were already logged.
pub fn look_at_groups(
    groups: &mut Groups,
    registry: &Registry,
    firing: &Firing,
    muted_logged: &mut HashSet<(String, String, bool)>,
    now: i64,
) -> Looked {
    let inhibit_rules = registry.inhibit_rules();
    let firing: Vec<(&str, &BTreeMap<String, String>)> = if inhibit_rules.is_empty() {
        Vec::new()
    } else {
        firing.iter().map(|(fp, l)| (fp.as_str(), l)).collect()
    };
    let mut looked = Looked::default();
    for ((channel_name, key), group) in groups.iter_mut() {
        let Some(channel) = registry.channels.get(channel_name) else {
            // The channel was deleted: its groups go, logged.
            looked.events.push((None, None, "group_dropped", json!({"channel": channel_name, "group": group.labels, "reason": "channel deleted"})));
            looked.emptied.push((channel_name.clone(), key.clone()));
            continue;
        };
        if now < group.next_look_ms {
            continue;
        }
        let muting = |alert: &AlertSnapshot| {
            registry
                .silences
                .values()
                .find(|s| s.mutes(&alert.labels, now))
                .map(|s| ("silenced", json!({"silence": s.id})))
                .or_else(|| {
                    modelwatch_core::alert::inhibit::inhibited_by(
                        &inhibit_rules,
                        (&alert.fingerprint, &alert.labels),
                        &firing,
                    )
                    .map(|i| ("inhibited", json!({"inhibit_rule": i})))
                })
        };
        for alert in group.alerts.values() {
            if let Some((kind, mut detail)) = muting(alert) {
                let marker = (
                    channel_name.clone(),
                    alert.fingerprint.clone(),
                    alert.is_resolved(),
                );
                if muted_logged.insert(marker) {
                    detail["channel"] = json!(channel_name);
                    detail["fingerprint"] = json!(alert.fingerprint);
                    detail["resolved"] = json!(alert.is_resolved());
                    looked.events.push((
                        alert.labels.get("model").cloned(),
                        alert.labels.get("alertname").cloned(),
                        kind,
                        detail,
                    ));
                }
            }
        }
        let before = group.clone();
        let timing = group_timing(group, channel);
        let sent = group.look(now, timing, channel.send_resolved, |a| muting(a).is_some());
        // Only the time of the next look moved: nothing worth a write.
        let unchanged = Group {
            next_look_ms: group.next_look_ms,
            ..before
        } == *group;
        if let Some(alerts) = sent {
            looked.notifications.push((
                channel_name.clone(),
                Notification {
                    group_key: key.clone(),
                    group_labels: group.labels.clone(),
                    alerts,
                },
            ));
        }
        if group.is_empty() {
            looked.emptied.push((channel_name.clone(), key.clone()));
        } else if !unchanged {
            looked.changed.push((channel_name.clone(), key.clone()));
        }
    }
    for key in &looked.emptied {
        groups.remove(key);
    }
    looked
}
