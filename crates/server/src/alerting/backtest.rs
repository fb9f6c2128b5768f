//! The rule backtest: what a rule would have done over stored data, judged by the live
//! engine's own functions on an in-memory state, writing nothing.
//!
//! - **Spans.** The spans ending in `(from, to]` (aligned to `every`) are judged in
//!   event time, skipping spans without events as the live engine does (rules that
//!   judge empty spans walk every one). Their values come from
//!   [`evaluate::span_value`], read once: tuning reuses them.
//! - **State machine.** Span by span, as if each span completed live:
//!   [`evaluate::judge`] records it, replays the machine and settles, on a fresh
//!   [`RuleState`].
//! - **Notifications.** Each alert change joins its groups
//!   ([`grouping::add_to_groups`]) at the end of the span that caused it, and the groups
//!   are looked at ([`grouping::look_at_groups`]) on the event-time clock: at that span
//!   end and whenever a group is next due, with the channel's or route's `group_wait`,
//!   `group_interval` and `repeat_interval`. Silences mute by their own times read on
//!   that clock; inhibition sees this rule's alert and the stored alerts of other rules
//!   while they were firing. Looks that cannot send (nothing changed, no repeat due, no
//!   silence or inhibiting alert began or ended) are skipped, which changes nothing.
//! - **Flaps.** A flap is an alert firing again after the rule's previous alert
//!   resolved inside the range: `flaps` = alerts started in the range − 1 (0 when none).

use std::collections::{BTreeMap, HashMap, HashSet};

use modelwatch_core::alert::{AlertSnapshot, Group, Rule, RuleState, SpanRecord, fingerprint};
use modelwatch_core::time::{DAY_MS, align_down};
use modelwatch_store::{Storage, StoreError};
use serde_json::Value;

use super::deliver::Notification;
use super::engine::snapshot;
use super::evaluate::{
    self, Change, DataLookup, ModelView, SpanValue, judges_empty_spans, next_span_end, record,
};
use super::grouping::{self, Firing, Groups, Registry};

/// A week, the unit of `alerts_per_week`.
pub const WEEK_MS: i64 = 7 * DAY_MS;

/// Most spans one backtest judges (`(to − from) / every`).
pub const MAX_SPANS: i64 = 50_000;

/// The engine looks at its groups at most this often (its tick): the shortest time
/// between two looks at a group on the backtest's clock.
const TICK_MS: i64 = 250;

/// Another rule's alert, as stored: what inhibition sees while it fires.
#[derive(Debug, Clone)]
pub struct OtherAlert {
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// When it started.
    pub starts_at_ms: i64,
    /// When it ended; `None` while it fires.
    pub ends_at_ms: Option<i64>,
}

impl OtherAlert {
    fn fires_at(&self, at_ms: i64) -> bool {
        self.starts_at_ms <= at_ms && self.ends_at_ms.is_none_or(|end| at_ms < end)
    }
}

/// What a backtest reads besides the spans: the model, the registry, other alerts.
pub struct Setup<'a> {
    /// The rule under test.
    pub rule: &'a Rule,
    /// Its model.
    pub view: &'a ModelView,
    /// Channels, routing and silences.
    pub registry: &'a Registry,
    /// Other rules' alerts (for inhibition).
    pub others: &'a [OtherAlert],
}

/// One alert the rule would have raised.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedAlert {
    /// The alert as its firing notification shows it.
    pub snapshot: AlertSnapshot,
    /// End of the span that fired it (equals `starts_at` unless late labels moved it).
    pub fired_at_ms: i64,
    /// End of the span that resolved it; `None` while still firing at `to`.
    pub resolved_at_ms: Option<i64>,
    /// When it ended (event time); `None` while still firing at `to`.
    pub ends_at_ms: Option<i64>,
    /// The metric's value in the span that fired it.
    pub value: Option<f64>,
}

/// A notification the rule's alerts would have caused.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedNotification {
    /// When it would have been sent (on the event-time clock).
    pub at_ms: i64,
    /// The channel.
    pub channel: String,
    /// What it would have held.
    pub notification: Notification,
}

/// What the rule would have done.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The judged spans, in order (empty when not asked for).
    pub spans: Vec<SpanRecord>,
    /// Its alerts, oldest first.
    pub alerts: Vec<SimulatedAlert>,
    /// Its notifications, in the order they would have been sent.
    pub notifications: Vec<SimulatedNotification>,
    /// Alerts a silence or an inhibition rule would have muted: (when, kind, detail).
    pub muted: Vec<(i64, &'static str, Value)>,
    /// Alerts that fired again after the previous one resolved.
    pub flaps: usize,
}

impl Outcome {
    /// Alerts started per week of `[from, to)`.
    pub fn alerts_per_week(&self, from_ms: i64, to_ms: i64) -> f64 {
        per_week(self.alerts.len(), from_ms, to_ms)
    }
}

/// `count` per week of `[from, to)`.
pub fn per_week(count: usize, from_ms: i64, to_ms: i64) -> f64 {
    count as f64 * WEEK_MS as f64 / (to_ms - from_ms).max(1) as f64
}

/// How many span ends lie in `(from, to]` for `rule`.
pub fn span_count(rule: &Rule, from_ms: i64, to_ms: i64) -> i64 {
    let first = align_down(from_ms, rule.every_ms) + rule.every_ms;
    let last = align_down(to_ms, rule.every_ms);
    if last < first {
        0
    } else {
        (last - first) / rule.every_ms + 1
    }
}

/// The values of `rule`'s spans ending in `(from, to]`, from the store (read only).
pub fn span_values(
    store: &dyn Storage,
    rule: &Rule,
    view: &ModelView,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<(i64, SpanValue)>, StoreError> {
    let model_id = view.entry.id;
    let mut lookup = |from: i64, to: i64| store.first_window_with_data(model_id, from, to);
    let mut data: Option<&mut DataLookup<'_>> = if judges_empty_spans(rule) {
        None
    } else {
        Some(&mut lookup)
    };
    let last = align_down(to_ms, rule.every_ms);
    let mut end = align_down(from_ms, rule.every_ms) + rule.every_ms;
    let mut values = Vec::new();
    while let Some(found) = next_span_end(rule, end, last, &mut data)? {
        values.push((found, evaluate::span_value(store, rule, view, found)?));
        end = found + rule.every_ms;
    }
    Ok(values)
}

/// The groups' clock: when each was last looked at, so that skipped looks keep the
/// `group_interval` grid the live engine would have kept.
struct GroupClock {
    last_look: HashMap<(String, String), i64>,
}

impl GroupClock {
    /// The shortest spacing of looks at `group` of `channel`.
    fn interval(registry: &Registry, key: &(String, String), group: &Group) -> i64 {
        registry
            .channels
            .get(&key.0)
            .map_or(TICK_MS, |c| {
                grouping::group_timing(group, c).group_interval_ms
            })
            .max(TICK_MS)
    }

    /// The first look at or after `target` on the grid of looks that began at `anchor`.
    fn grid_at_or_after(anchor: i64, interval: i64, target: i64) -> i64 {
        if target <= anchor {
            return anchor;
        }
        // A ceiling division of a positive difference that cannot overflow.
        let steps = (target - anchor - 1) / interval + 1;
        anchor.saturating_add(steps.saturating_mul(interval))
    }
}

/// Runs the rule over `values` (from [`span_values`]) up to `to`; with `notify`, also
/// its groups and notifications, and with `timeline` the judged spans.
pub fn simulate(
    setup: &Setup<'_>,
    values: &[(i64, SpanValue)],
    to_ms: i64,
    notify: bool,
    timeline: bool,
) -> Outcome {
    let Setup {
        rule,
        view,
        registry,
        ..
    } = *setup;
    let mut run = Run {
        setup,
        state: RuleState::default(),
        groups: Groups::new(),
        muted_logged: HashSet::new(),
        clock: GroupClock {
            last_look: HashMap::new(),
        },
        boundaries: boundaries(setup),
        outcome: Outcome::default(),
    };
    let mut resolved_before = false;
    for (end, value) in values {
        let end = *end;
        if notify {
            run.advance(end);
        }
        run.state.record(record(rule, view, end, *value));
        if timeline {
            let replay = run.state.replay(rule);
            if let Some(span) = replay.spans.get(&end) {
                run.outcome.spans.push(*span);
            }
        }
        let changes = evaluate::judge(rule, view, &mut run.state, std::iter::empty(), end);
        for change in changes {
            match &change {
                Change::Fired { span, .. } => {
                    if resolved_before {
                        run.outcome.flaps += 1;
                    }
                    let (snapshot, _) = snapshot(rule, &change);
                    run.outcome.alerts.push(SimulatedAlert {
                        snapshot,
                        fired_at_ms: end,
                        resolved_at_ms: None,
                        ends_at_ms: None,
                        value: span.and_then(|s| s.value),
                    });
                }
                Change::Resolved { ends_at_ms, .. } => {
                    resolved_before = true;
                    if let Some(alert) = run.outcome.alerts.last_mut() {
                        alert.resolved_at_ms = Some(end);
                        alert.ends_at_ms = Some(*ends_at_ms);
                    }
                }
            }
            if notify {
                let (snapshot, _) = snapshot(rule, &change);
                for key in grouping::add_to_groups(&mut run.groups, registry, rule, &snapshot, end)
                {
                    run.realign(&key, end);
                }
            }
        }
        if notify {
            run.look(end);
        }
    }
    if notify {
        run.advance(to_ms.saturating_add(1));
    }
    run.outcome
}

/// When silences and other alerts begin or end: the only times between span ends at
/// which what a group shows can change.
fn boundaries(setup: &Setup<'_>) -> Vec<i64> {
    let mut times: Vec<i64> = setup
        .registry
        .silences
        .values()
        .flat_map(|s| [s.starts_at_ms, s.ends_at_ms])
        .chain(
            setup
                .others
                .iter()
                .flat_map(|a| std::iter::once(a.starts_at_ms).chain(a.ends_at_ms)),
        )
        .collect();
    times.sort_unstable();
    times.dedup();
    times
}

struct Run<'a> {
    setup: &'a Setup<'a>,
    state: RuleState,
    groups: Groups,
    muted_logged: HashSet<(String, String, bool)>,
    clock: GroupClock,
    boundaries: Vec<i64>,
    outcome: Outcome,
}

impl Run<'_> {
    /// Looks at the groups that come due before `until`.
    fn advance(&mut self, until: i64) {
        while let Some(next) = self.groups.values().map(|g| g.next_look_ms).min() {
            if next >= until {
                break;
            }
            self.look(next);
        }
    }

    /// The alerts firing at `now`, as inhibition sees them.
    fn firing(&self, now: i64) -> Firing {
        let mut firing = grouping::firing_in_groups(&self.groups);
        if self.state.raised.is_some() {
            let labels = self.setup.rule.alert_labels();
            firing.insert(fingerprint(&labels), labels);
        }
        for other in self.setup.others.iter().filter(|a| a.fires_at(now)) {
            firing.insert(fingerprint(&other.labels), other.labels.clone());
        }
        firing
    }

    /// One look at the groups due at `now`, then each looked-at group's next look moved
    /// to the first time on its grid at which it could send.
    fn look(&mut self, now: i64) {
        let registry = self.setup.registry;
        let due: Vec<(String, String)> = self
            .groups
            .iter()
            .filter(|(_, g)| g.next_look_ms <= now)
            .map(|(k, _)| k.clone())
            .collect();
        let firing = if registry.inhibit_rules().is_empty() {
            Firing::new()
        } else {
            self.firing(now)
        };
        let looked = grouping::look_at_groups(
            &mut self.groups,
            registry,
            &firing,
            &mut self.muted_logged,
            now,
        );
        for (channel, notification) in looked.notifications {
            self.outcome.notifications.push(SimulatedNotification {
                at_ms: now,
                channel,
                notification,
            });
        }
        for (_, _, kind, detail) in looked.events {
            if kind != "group_dropped" {
                self.outcome.muted.push((now, kind, detail));
            }
        }
        for key in looked.emptied {
            self.clock.last_look.remove(&key);
        }
        for key in due {
            let Some(group) = self.groups.get_mut(&key) else {
                continue;
            };
            let interval = GroupClock::interval(registry, &key, group);
            self.clock.last_look.insert(key.clone(), now);
            let repeat = registry
                .channels
                .get(&key.0)
                .map(|c| grouping::group_timing(group, c).repeat_interval_ms);
            let repeat_due = match (group.last_sent_ms, repeat) {
                (Some(sent), Some(repeat)) if group.alerts.values().any(|a| !a.is_resolved()) => {
                    Some(sent.saturating_add(repeat))
                }
                _ => None,
            };
            let boundary = self.boundaries.iter().copied().find(|t| *t > now);
            let target = [repeat_due, boundary]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(i64::MAX);
            let next = GroupClock::grid_at_or_after(now, interval, target.max(now + 1));
            group.next_look_ms = next;
        }
    }

    /// A group an alert just joined at `now` is looked at the first time on its grid at
    /// or after `now` (its skipped looks would have seen the change then).
    fn realign(&mut self, key: &(String, String), now: i64) {
        let Some(&anchor) = self.clock.last_look.get(key) else {
            return;
        };
        let registry = self.setup.registry;
        if let Some(group) = self.groups.get_mut(key) {
            let interval = GroupClock::interval(registry, key, group);
            let next = GroupClock::grid_at_or_after(anchor, interval, now);
            group.next_look_ms = group.next_look_ms.min(next);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_stay_on_the_group_interval_grid() {
        // Looks began at 1,000 every 300: the first at or after 1,301 is 1,600.
        assert_eq!(GroupClock::grid_at_or_after(1_000, 300, 1_301), 1_600);
        assert_eq!(GroupClock::grid_at_or_after(1_000, 300, 1_300), 1_300);
        assert_eq!(GroupClock::grid_at_or_after(1_000, 300, 900), 1_000);
        // Nothing left to wait for: never again.
        assert_eq!(GroupClock::grid_at_or_after(1_000, 300, i64::MAX), i64::MAX);
        assert_eq!(GroupClock::grid_at_or_after(100, 300, i64::MAX), i64::MAX);
    }

    #[test]
    fn a_range_holds_the_span_ends_after_from_up_to_to() {
        let definition: modelwatch_core::ModelDefinition =
            serde_json::from_value(serde_json::json!({"task": "regression"})).unwrap();
        let model = modelwatch_core::Model::new("m", definition).unwrap();
        let body = serde_json::json!({"model": "m", "metric": "mae", "window": "1d",
            "condition": {"op": ">", "threshold": 1}});
        let rule = Rule::new("r", &body, &model).unwrap();
        // (0, 3d]: span ends 1d, 2d, 3d; (0.5d, 3.5d]: the same three.
        assert_eq!(span_count(&rule, 0, 3 * DAY_MS), 3);
        assert_eq!(span_count(&rule, DAY_MS / 2, 3 * DAY_MS + DAY_MS / 2), 3);
        assert_eq!(span_count(&rule, DAY_MS / 2, DAY_MS / 2 + 1), 0);
        assert_eq!(per_week(2, 0, 14 * DAY_MS), 1.0);
    }
}
