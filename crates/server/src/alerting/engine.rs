//! The alerting engine: one task that judges rules when data changes or the wall clock
//! moves, turns transitions into alerts, groups them per channel, queues notifications
//! in the outbox and delivers them with retries.
//!
//! Every round writes its alert transitions, rule states, group states and queued
//! notifications in one transaction, so after a crash the engine resumes exactly
//! where the last committed round left it: a notification is queued if and only if
//! its transition is stored, and stays queued until it is delivered or abandoned (both
//! are logged in the event log).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use modelwatch_core::alert::baseline::ReferenceChunks;
use modelwatch_core::alert::{
    AlertSnapshot, Clock, Condition, Group, Rule, RuleDefinition, RuleState, SpanRecord,
    fingerprint,
};
use modelwatch_core::time::{format_duration, format_timestamp, now_ms};
use modelwatch_store::StoreError;
use modelwatch_store::alerting::{AlertRow, OutboxRow};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::deliver::{Failure, MAX_ATTEMPTS, Notification, backoff_ms, send};
use super::evaluate::{Change, ModelView, evaluate};
use super::grouping::{self, Registry};
use crate::state::{Catalog, Dispatch};

/// How often the engine looks at the clock when nothing wakes it.
const TICK: Duration = Duration::from_millis(250);

struct RuleEntry {
    rule: Arc<Rule>,
    state: RuleState,
    saved: Vec<u8>,
    /// Not judged since the engine started (catch up once).
    fresh: bool,
}

/// What one round decided about one rule, persisted together.
struct RuleOutcome {
    name: String,
    /// The rule was deleted or redefined: its alert resolves and no state is kept.
    retired: bool,
    model: String,
    /// The definition (JSON) the state was judged under, saved with it.
    definition: String,
    state: RuleState,
    changes: Vec<(Change, AlertSnapshot, Value)>,
}

/// Everything one round writes.
#[derive(Default)]
struct RoundWrite {
    rules: Vec<RuleOutcome>,
    groups: Vec<((String, String), Option<Group>)>,
    notifications: Vec<(String, Notification)>,
    events: Vec<(Option<String>, Option<String>, &'static str, Value)>,
}

/// The result of one delivery try.
struct Delivery {
    id: i64,
    result: Result<(), Failure>,
}

/// The engine's state between rounds.
pub struct Engine {
    catalog: Arc<Catalog>,
    rules: HashMap<String, RuleEntry>,
    /// Saved states of rules that no longer exist and whose definition cannot be rebuilt
    /// (their model is gone): the first round resolves their alerts and forgets them.
    orphans: Vec<String>,
    groups: BTreeMap<(String, String), Group>,
    outbox: BTreeMap<i64, OutboxRow>,
    in_flight: HashSet<i64>,
    chunks: HashMap<i64, (i64, Option<Arc<ReferenceChunks>>)>,
    muted_logged: HashSet<(String, String, bool)>,
    deliveries: (
        mpsc::UnboundedSender<Delivery>,
        mpsc::UnboundedReceiver<Delivery>,
    ),
    /// The channels' HTTP client and where it may send.
    dispatch: Arc<Dispatch>,
    again: bool,
}

fn number(value: Option<f64>) -> Value {
    value
        .filter(|v| v.is_finite())
        .map_or(Value::Null, Value::from)
}

fn short(value: f64) -> String {
    let text = format!("{value:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The annotations and the stored detail of an alert of `rule` judged on `span`.
fn describe(
    rule: &Rule,
    span: Option<&SpanRecord>,
    resolved: bool,
) -> (BTreeMap<String, String>, Value) {
    let value = span.and_then(|s| s.value);
    let bounds = span.and_then(|s| s.bounds);
    let condition = match &rule.condition {
        Condition::Threshold { op, threshold } => {
            let op = serde_json::to_value(op)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            format!("{op} {}", short(*threshold))
        }
        Condition::Auto { auto } => match bounds {
            Some((lower, upper)) => format!(
                "outside [{}, {}] (mean ± {}σ of the {})",
                short(lower),
                short(upper),
                short(auto.k),
                match auto.baseline {
                    modelwatch_core::alert::Baseline::Reference => "reference",
                    modelwatch_core::alert::Baseline::History => "past spans",
                }
            ),
            None => "outside the learned band".into(),
        },
        Condition::DriftVerdict => "drifted under the feature's method".into(),
    };
    let span_end = span.map(|s| format_timestamp(s.end_ms)).unwrap_or_default();
    let value_text = value.map_or("n/a".to_string(), short);
    let (verb, condition_text) = if resolved {
        ("is back to", format!("alert condition: {condition}"))
    } else {
        ("=", condition.clone())
    };
    let summary = format!(
        "{} of model {} {verb} {value_text} ({condition_text}) over {} ending {span_end}",
        rule.metric_name,
        rule.model,
        format_duration(rule.window_ms),
    );
    let mut annotations = BTreeMap::from([
        ("summary".to_string(), summary),
        ("metric".to_string(), rule.metric_name.clone()),
        ("condition".to_string(), condition),
        ("window".to_string(), format_duration(rule.window_ms)),
    ]);
    if let Some(value) = value {
        annotations.insert("value".into(), short(value));
    }
    if let Some(description) = &rule.definition.description {
        annotations.insert("description".into(), description.clone());
    }
    let (op, threshold) = match &rule.condition {
        Condition::Threshold { op, threshold } => (
            serde_json::to_value(op).unwrap_or(Value::Null),
            Value::from(*threshold),
        ),
        _ => (Value::Null, Value::Null),
    };
    let detail = json!({
        "labels": rule.alert_labels(),
        "annotations": annotations,
        "metric": rule.metric_name,
        "value": number(value),
        "op": op,
        "threshold": threshold,
        "lower": number(bounds.map(|b| b.0)),
        "upper": number(bounds.map(|b| b.1)),
        "window": format_duration(rule.window_ms),
        "span_end": span.map(|s| format_timestamp(s.end_ms)),
        "count": span.map(|s| s.count),
    });
    (annotations, detail)
}

impl Engine {
    /// Loads the engine's state from the store.
    fn load(catalog: Arc<Catalog>, dispatch: Arc<Dispatch>) -> Result<Self, StoreError> {
        let store = &catalog.store;
        let registry = catalog.alerting.rules();
        let mut rules = HashMap::new();
        let mut orphans = Vec::new();
        for row in store.load_rule_states()? {
            let state = RuleState::decode(&row.state).unwrap_or_default();
            let saved_definition: Option<RuleDefinition> =
                serde_json::from_str(&row.definition).ok();
            match registry.get(&row.rule) {
                // Judged under the current definition (or saved before definitions were).
                Some(rule)
                    if saved_definition.is_none()
                        || (saved_definition.as_ref() == Some(&rule.definition)
                            && row.model == rule.model) =>
                {
                    rules.insert(
                        row.rule.clone(),
                        RuleEntry {
                            rule: rule.clone(),
                            state,
                            saved: row.state,
                            fresh: true,
                        },
                    );
                }
                // Judged under a definition since replaced or deleted (the server stopped
                // before retiring it): rebuild that definition so the first round retires
                // it, resolving and notifying its open alert as it would have.
                _ => {
                    let old = saved_definition.and_then(|definition| {
                        let model = catalog.model(&row.model)?;
                        Rule::from_definition(&row.rule, definition, &model.model).ok()
                    });
                    match old {
                        Some(old) => {
                            rules.insert(
                                row.rule.clone(),
                                RuleEntry {
                                    rule: Arc::new(old),
                                    state,
                                    saved: row.state,
                                    fresh: false,
                                },
                            );
                        }
                        None => orphans.push(row.rule.clone()),
                    }
                }
            }
        }
        for (name, rule) in registry {
            rules.entry(name).or_insert_with(|| RuleEntry {
                rule,
                state: RuleState::default(),
                saved: Vec::new(),
                fresh: true,
            });
        }
        let mut groups = BTreeMap::new();
        for (channel, key, text) in store.load_groups()? {
            if let Ok(group) = serde_json::from_str::<Group>(&text) {
                groups.insert((channel, key), group);
            }
        }
        let outbox = store
            .load_outbox()?
            .into_iter()
            .map(|row| (row.id, row))
            .collect();
        Ok(Self {
            catalog,
            rules,
            orphans,
            groups,
            outbox,
            in_flight: HashSet::new(),
            chunks: HashMap::new(),
            muted_logged: HashSet::new(),
            deliveries: mpsc::unbounded_channel(),
            dispatch,
            again: false,
        })
    }

    /// Runs until `stop` is cancelled. Deliveries still in flight then stay queued and
    /// are retried after the next start.
    pub async fn run(catalog: Arc<Catalog>, dispatch: Arc<Dispatch>, stop: CancellationToken) {
        let loaded = tokio::task::spawn_blocking(move || Engine::load(catalog, dispatch)).await;
        let mut engine = match loaded {
            Ok(Ok(engine)) => engine,
            Ok(Err(error)) => {
                tracing::error!(%error, "alerting cannot load its state; alerts are not evaluated");
                return;
            }
            Err(error) => {
                tracing::error!(%error, "alerting failed to start");
                return;
            }
        };
        loop {
            if !engine.again {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = engine.catalog.alerting.wake.notified() => {}
                    _ = tokio::time::sleep(TICK) => {}
                }
            }
            if stop.is_cancelled() {
                break;
            }
            let mut finished = Vec::new();
            while let Ok(delivery) = engine.deliveries.1.try_recv() {
                finished.push(delivery);
            }
            if let Err(error) = engine.record_deliveries(finished).await {
                tracing::error!(%error, "recording deliveries failed; reloading alerting state");
                engine.reload().await;
                continue;
            }
            if let Err(error) = engine.round().await {
                tracing::error!(%error, "alerting round failed; reloading alerting state");
                engine.reload().await;
                continue;
            }
            engine.deliver_due();
        }
    }

    async fn reload(&mut self) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (catalog, dispatch) = (self.catalog.clone(), self.dispatch.clone());
        if let Ok(Ok(fresh)) =
            tokio::task::spawn_blocking(move || Engine::load(catalog, dispatch)).await
        {
            let deliveries = std::mem::replace(&mut self.deliveries, mpsc::unbounded_channel());
            *self = fresh;
            self.deliveries = deliveries;
        }
    }

    fn model_view(&mut self, model: &str, newest: &HashMap<String, i64>) -> Option<ModelView> {
        let entry = self.catalog.model(model)?;
        let reference = self.catalog.reference_with_time(entry.id);
        let chunks = match &reference {
            Some((_, uploaded)) => match self.chunks.get(&entry.id) {
                Some((at, chunks)) if at == uploaded => chunks.clone(),
                _ => {
                    let loaded = self
                        .catalog
                        .store
                        .load_reference_chunks(entry.id)
                        .ok()
                        .flatten()
                        .and_then(|bytes| ReferenceChunks::decode(&bytes).ok())
                        .map(Arc::new);
                    self.chunks.insert(entry.id, (*uploaded, loaded.clone()));
                    loaded
                }
            },
            None => None,
        };
        Some(ModelView {
            newest_ms: newest.get(model).copied(),
            reference: reference.map(|(r, _)| r),
            chunks,
            entry,
        })
    }

    /// Judges the due rules, records transitions, looks at the groups and queues what
    /// is due; all in one transaction.
    async fn round(&mut self) -> Result<(), StoreError> {
        self.again = false;
        let now = now_ms();
        let changes = self.catalog.alerting.take_changes();
        let rules = self.catalog.alerting.rules();
        let mut write = RoundWrite::default();

        // Rules deleted or redefined: their open alert resolves now, their state goes.
        let stale: Vec<String> = self
            .rules
            .iter()
            .filter(|(name, entry)| {
                rules.get(*name).is_none_or(|r| {
                    r.definition != entry.rule.definition || r.model != entry.rule.model
                })
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in stale {
            let Some(entry) = self.rules.remove(&name) else {
                continue;
            };
            let mut changes = Vec::new();
            if let Some(raised) = entry.state.raised {
                let latest = entry.state.open.values().next_back().copied();
                let change = Change::Resolved {
                    raised,
                    ends_at_ms: latest.map_or(raised.starts_at_ms, |s| s.end_ms),
                    span: latest,
                };
                let (snapshot, detail) = snapshot(&entry.rule, &change);
                self.add_to_groups(&entry.rule, &snapshot, now, &mut write);
                changes.push((change, snapshot, detail));
            }
            // Retired even without an alert, so that its saved state is deleted.
            write.rules.push(RuleOutcome {
                name,
                retired: true,
                model: entry.rule.model.clone(),
                definition: String::new(),
                state: RuleState::default(),
                changes,
            });
        }
        if !self.orphans.is_empty() {
            let orphans = std::mem::take(&mut self.orphans);
            self.catalog
                .store
                .write_alerting(move |tx| {
                    for rule in &orphans {
                        let ids = tx.resolve_rule_alerts(rule, now, now)?;
                        tx.delete_rule_state(rule)?;
                        for id in ids {
                            tx.log_event(
                                now,
                                None,
                                Some(rule),
                                "resolved",
                                &json!({"alert": id, "reason": "its rule and model were deleted"})
                                    .to_string(),
                            )?;
                        }
                    }
                    Ok(())
                })
                .await?;
        }
        for (name, rule) in &rules {
            self.rules.entry(name.clone()).or_insert_with(|| RuleEntry {
                rule: rule.clone(),
                state: RuleState::default(),
                saved: Vec::new(),
                fresh: true,
            });
        }

        // Which rules are due, and what they need.
        // Without rules there is nothing to judge (and no need to read the store).
        let newest: HashMap<String, i64> = if self.rules.is_empty() {
            HashMap::new()
        } else {
            let store = self.catalog.store.clone();
            tokio::task::spawn_blocking(move || store.newest_event_times())
                .await
                .map_err(|e| StoreError::WriteFailed(e.to_string()))??
        };
        let mut due = Vec::new();
        let mut needs_flush = false;
        let names: Vec<String> = self.rules.keys().cloned().collect();
        for name in names {
            let Some(entry) = self.rules.get(&name) else {
                continue;
            };
            let rule = entry.rule.clone();
            let changed = changes.ranges.get(&rule.model).copied();
            let is_due = entry.fresh
                || changed.is_some()
                || (rule.clock == Clock::Wall && {
                    let lateness = self
                        .catalog
                        .model(&rule.model)
                        .map_or(0, |m| m.model.allowed_lateness_ms);
                    entry
                        .state
                        .judged_through_ms()
                        .is_none_or(|t| now - lateness >= t + rule.every_ms)
                });
            if !is_due {
                continue;
            }
            let Some(view) = self.model_view(&rule.model, &newest) else {
                continue;
            };
            needs_flush |= rule.metric.needs_features();
            let Some(entry) = self.rules.get_mut(&name) else {
                continue;
            };
            entry.fresh = false;
            due.push((name, rule, view, std::mem::take(&mut entry.state), changed));
        }
        if needs_flush {
            self.catalog.store.flush().await?;
        }
        let started = std::time::Instant::now();
        let judged_rules = due.len();
        if !due.is_empty() {
            let store = self.catalog.store.clone();
            let judged = tokio::task::spawn_blocking(move || {
                due.into_iter()
                    .map(|(name, rule, view, mut state, changed)| {
                        let outcome = evaluate(&*store, &rule, &view, &mut state, changed, now);
                        (name, rule, state, outcome)
                    })
                    .collect::<Vec<_>>()
            })
            .await
            .map_err(|e| StoreError::WriteFailed(e.to_string()))?;
            for (name, rule, state, outcome) in judged {
                let (rule_changes, more) = match outcome {
                    Ok(outcome) => outcome,
                    Err(error) => {
                        tracing::warn!(rule = %name, %error, "judging a rule failed; it is judged again next round");
                        if let Some(entry) = self.rules.get_mut(&name) {
                            entry.state = state;
                            entry.fresh = true;
                        }
                        continue;
                    }
                };
                self.again |= more;
                if more && let Some(entry) = self.rules.get_mut(&name) {
                    entry.fresh = true;
                }
                let changes = rule_changes
                    .into_iter()
                    .map(|change| {
                        let (snapshot, detail) = snapshot(&rule, &change);
                        (change, snapshot, detail)
                    })
                    .collect::<Vec<_>>();
                for (_, snapshot, _) in &changes {
                    self.add_to_groups(&rule, snapshot, now, &mut write);
                }
                write.rules.push(RuleOutcome {
                    name,
                    retired: false,
                    model: rule.model.clone(),
                    definition: serde_json::to_string(&rule.definition).unwrap_or_default(),
                    state,
                    changes,
                });
            }
        }
        self.look_at_groups(now, &mut write);
        if write.rules.is_empty()
            && write.groups.is_empty()
            && write.notifications.is_empty()
            && write.events.is_empty()
        {
            return Ok(());
        }
        self.commit(write, now).await?;
        let telemetry = &self.catalog.telemetry;
        if judged_rules > 0 {
            telemetry.alert_rounds.inc();
            telemetry.alert_rules_judged.inc_by(judged_rules as u64);
            telemetry
                .alert_round_seconds
                .observe(started.elapsed().as_secs_f64());
        }
        telemetry.notifications_queued.set(self.outbox.len() as i64);
        Ok(())
    }

    /// What grouping reads of the registry now.
    fn registry(&self) -> Registry {
        let alerting = &self.catalog.alerting;
        Registry {
            channels: alerting.channels(),
            routing: alerting.routing(),
            silences: alerting.silences(),
        }
    }

    /// Adds an alert to the groups it is notified in (see [`grouping::add_to_groups`]).
    fn add_to_groups(
        &mut self,
        rule: &Rule,
        snapshot: &AlertSnapshot,
        now: i64,
        write: &mut RoundWrite,
    ) {
        let registry = self.registry();
        for key in grouping::add_to_groups(&mut self.groups, &registry, rule, snapshot, now) {
            if let Some(group) = self.groups.get(&key) {
                write.groups.push((key, Some(group.clone())));
            }
        }
    }

    /// The alerts firing now, as `(fingerprint, labels)`: those in notification groups
    /// and those of rules whose state says so (what inhibition rules look at).
    fn firing_alerts(&self) -> grouping::Firing {
        let mut firing = grouping::firing_in_groups(&self.groups);
        for entry in self.rules.values().filter(|e| e.state.raised.is_some()) {
            let labels = entry.rule.alert_labels();
            firing.insert(fingerprint(&labels), labels);
        }
        firing
    }

    fn look_at_groups(&mut self, now: i64, write: &mut RoundWrite) {
        let registry = self.registry();
        let firing = if registry.inhibit_rules().is_empty() {
            BTreeMap::new()
        } else {
            self.firing_alerts()
        };
        let looked = grouping::look_at_groups(
            &mut self.groups,
            &registry,
            &firing,
            &mut self.muted_logged,
            now,
        );
        write.events.extend(looked.events);
        write.notifications.extend(looked.notifications);
        for key in looked.changed {
            if let Some(group) = self.groups.get(&key) {
                write.groups.push((key, Some(group.clone())));
            }
        }
        for key in looked.emptied {
            write.groups.push((key, None));
        }
    }

    async fn commit(&mut self, write: RoundWrite, now: i64) -> Result<(), StoreError> {
        // Only the last state of each group is written.
        let mut groups: BTreeMap<(String, String), Option<String>> = BTreeMap::new();
        for (key, group) in write.groups {
            groups.insert(
                key,
                group.map(|g| serde_json::to_string(&g).unwrap_or_default()),
            );
        }
        let notifications: Vec<(String, String)> = write
            .notifications
            .iter()
            .map(|(channel, n)| {
                (
                    channel.clone(),
                    serde_json::to_string(n).unwrap_or_default(),
                )
            })
            .collect();
        // What is stored now, for the rules this round touched (to skip unchanged ones).
        let saved: HashMap<String, Vec<u8>> = write
            .rules
            .iter()
            .filter_map(|o| Some((o.name.clone(), self.rules.get(&o.name)?.saved.clone())))
            .collect();
        let events = write.events;
        let rules = write.rules;
        let retired: Vec<(String, String)> = rules
            .iter()
            .filter(|o| o.retired)
            .map(|o| (o.name.clone(), o.model.clone()))
            .collect();
        let (rules, queued) = self
            .catalog
            .store
            .write_alerting(move |tx| {
                let mut out = Vec::new();
                for mut outcome in rules {
                    let mut current_id = outcome.state.raised.map_or(0, |r| r.id);
                    for (change, snapshot, detail) in &outcome.changes {
                        let rule_name = outcome.name.as_str();
                        match change {
                            Change::Fired { starts_at_ms, .. } => {
                                current_id = tx.insert_alert(&AlertRow {
                                    id: 0,
                                    rule: rule_name.to_string(),
                                    model: outcome.model.clone(),
                                    fingerprint: snapshot.fingerprint.clone(),
                                    state: "firing".into(),
                                    starts_at_ms: *starts_at_ms,
                                    ends_at_ms: None,
                                    detail: detail.to_string(),
                                    updated_ms: now,
                                })?;
                                tx.log_event(now, Some(&outcome.model), Some(rule_name), "firing", &json!({"alert": current_id, "starts_at": format_timestamp(*starts_at_ms), "detail": detail}).to_string())?;
                            }
                            Change::Resolved { raised, ends_at_ms, .. } => {
                                let id = if raised.id != 0 { raised.id } else { current_id };
                                tx.resolve_alert(id, *ends_at_ms, now)?;
                                tx.log_event(now, Some(&outcome.model), Some(rule_name), "resolved", &json!({"alert": id, "starts_at": format_timestamp(raised.starts_at_ms), "ends_at": format_timestamp(*ends_at_ms), "detail": detail}).to_string())?;
                            }
                        }
                    }
                    if let Some(raised) = outcome.state.raised.as_mut()
                        && raised.id == 0
                    {
                        raised.id = current_id;
                    }
                    if outcome.retired {
                        tx.delete_rule_state(&outcome.name)?;
                        continue;
                    }
                    let text = outcome.state.encode();
                    if saved.get(&outcome.name) != Some(&text) {
                        tx.save_rule_state(&outcome.name, &text, &outcome.definition, &outcome.model)?;
                    }
                    out.push((outcome.name, outcome.state, text));
                }
                for ((channel, key), state) in &groups {
                    tx.save_group(channel, key, state.as_deref())?;
                }
                let mut queued = Vec::new();
                for (channel, payload) in notifications {
                    let id = tx.enqueue(&channel, &payload, now)?;
                    queued.push(OutboxRow { id, channel, created_ms: now, next_attempt_ms: now, attempts: 0, payload });
                }
                for (model, rule, kind, detail) in events {
                    tx.log_event(now, model.as_deref(), rule.as_deref(), kind, &detail.to_string())?;
                }
                Ok((out, queued))
            })
            .await?;
        for (name, state, text) in rules {
            if let Some(entry) = self.rules.get_mut(&name) {
                let label = crate::telemetry::RuleLabel {
                    rule: name.clone(),
                    model: entry.rule.model.clone(),
                };
                self.catalog
                    .telemetry
                    .alert_firing
                    .get_or_create(&label)
                    .set(i64::from(state.raised.is_some()));
                entry.state = state;
                entry.saved = text;
            }
        }
        for name in retired {
            let label = crate::telemetry::RuleLabel {
                rule: name.0,
                model: name.1,
            };
            self.catalog.telemetry.alert_firing.remove(&label);
        }
        for row in queued {
            self.outbox.insert(row.id, row);
        }
        Ok(())
    }

    /// Starts a delivery for every queued notification that is due.
    fn deliver_due(&mut self) {
        let now = now_ms();
        let channels = self.catalog.alerting.channels();
        for row in self.outbox.values() {
            if row.next_attempt_ms > now || self.in_flight.contains(&row.id) {
                continue;
            }
            let id = row.id;
            self.in_flight.insert(id);
            let sender = self.deliveries.0.clone();
            let channel = channels.get(&row.channel).cloned();
            let notification = serde_json::from_str::<Notification>(&row.payload);
            let dispatch = self.dispatch.clone();
            let wake = self.catalog.clone();
            tokio::spawn(async move {
                let result = match (channel, notification) {
                    (Some(channel), Ok(notification)) => {
                        send(
                            &dispatch.outbound,
                            &dispatch.destinations,
                            &channel,
                            &notification,
                            now_ms(),
                        )
                        .await
                    }
                    (None, _) => Err(Failure::from("the channel no longer exists")),
                    (_, Err(e)) => Err(Failure::from(format!(
                        "unreadable queued notification: {e}"
                    ))),
                };
                let _ = sender.send(Delivery { id, result });
                wake.alerting.wake.notify_one();
            });
        }
    }

    fn count_delivery(&self, channel: &str, outcome: &str) {
        let label = crate::telemetry::DeliveryLabel {
            channel: channel.to_string(),
            outcome: outcome.to_string(),
        };
        self.catalog
            .telemetry
            .notifications
            .get_or_create(&label)
            .inc();
    }

    /// Records finished deliveries: delivered ones leave the outbox, failed ones are
    /// retried with backoff or, after [`MAX_ATTEMPTS`], abandoned; each is logged.
    async fn record_deliveries(&mut self, finished: Vec<Delivery>) -> Result<(), StoreError> {
        if finished.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let channels = self.catalog.alerting.channels();
        let mut updates = Vec::new();
        for Delivery { id, result } in finished {
            self.in_flight.remove(&id);
            let Some(row) = self.outbox.get(&id).cloned() else {
                continue;
            };
            let notification = serde_json::from_str::<Notification>(&row.payload).ok();
            let attempts = row.attempts + 1;
            let (kind, retry, failure) = match result {
                Ok(()) => {
                    self.count_delivery(&row.channel, "delivered");
                    self.outbox.remove(&id);
                    ("notified", None, None)
                }
                Err(failure)
                    if attempts >= MAX_ATTEMPTS || !channels.contains_key(&row.channel) =>
                {
                    self.count_delivery(&row.channel, "abandoned");
                    self.outbox.remove(&id);
                    tracing::error!(channel = %row.channel, error = %failure.reason, "notification abandoned");
                    ("delivery_abandoned", None, Some(failure))
                }
                Err(failure) => {
                    self.count_delivery(&row.channel, "failed");
                    let next = now + backoff_ms(row.attempts);
                    if let Some(row) = self.outbox.get_mut(&id) {
                        row.attempts = attempts;
                        row.next_attempt_ms = next;
                    }
                    tracing::warn!(channel = %row.channel, error = %failure.reason, attempts, "notification delivery failed; will retry");
                    ("delivery_failed", Some((attempts, next)), Some(failure))
                }
            };
            let mut events = Vec::new();
            for (model, part) in per_model(notification.as_ref()) {
                let rule = part
                    .as_ref()
                    .and_then(|n| n.alerts.first())
                    .and_then(|a| a.labels.get("alertname").cloned());
                let mut detail = json!({
                    "channel": row.channel,
                    "notification": id,
                    "title": part.as_ref().map(Notification::title),
                    "alerts": part.as_ref().map(|n| n.alerts.iter().map(|a| json!({"fingerprint": a.fingerprint, "status": if a.is_resolved() {"resolved"} else {"firing"}})).collect::<Vec<_>>()),
                    "attempt": attempts,
                });
                if let Some(failure) = &failure {
                    detail["error"] = json!(failure.reason);
                    if let Some(response) = &failure.response {
                        detail["response"] = json!(response);
                    }
                }
                if let Some((_, next)) = retry {
                    detail["next_attempt"] = json!(format_timestamp(next));
                }
                if kind == "delivery_abandoned" {
                    detail["payload"] = serde_json::to_value(&part).unwrap_or(Value::Null);
                }
                events.push((model, rule, kind, detail));
            }
            updates.push((id, retry, events));
        }
        self.catalog
            .store
            .write_alerting(move |tx| {
                for (id, retry, events) in updates {
                    match retry {
                        Some((attempts, next)) => tx.reschedule(id, attempts, next)?,
                        None => tx.dequeue(id)?,
                    }
                    for (model, rule, kind, detail) in events {
                        tx.log_event(
                            now,
                            model.as_deref(),
                            rule.as_deref(),
                            kind,
                            &detail.to_string(),
                        )?;
                    }
                }
                Ok(())
            })
            .await
    }
}

/// A notification split by the models of its alerts, so that each delivery event
/// concerns one model and shows only its alerts; an unreadable notification is one
/// part without a model.
fn per_model(notification: Option<&Notification>) -> Vec<(Option<String>, Option<Notification>)> {
    let Some(notification) = notification else {
        return vec![(None, None)];
    };
    let mut parts: std::collections::BTreeMap<Option<String>, Notification> = Default::default();
    for alert in &notification.alerts {
        parts
            .entry(alert.labels.get("model").cloned())
            .or_insert_with(|| Notification {
                group_key: notification.group_key.clone(),
                group_labels: notification.group_labels.clone(),
                alerts: Vec::new(),
            })
            .alerts
            .push(alert.clone());
    }
    if parts.is_empty() {
        return vec![(None, Some(notification.clone()))];
    }
    parts.into_iter().map(|(m, n)| (m, Some(n))).collect()
}

/// The alert a change is about, as notifications show it, and its stored detail.
pub fn snapshot(rule: &Rule, change: &Change) -> (AlertSnapshot, Value) {
    let labels = rule.alert_labels();
    let (starts_at_ms, ends_at_ms, span) = match change {
        Change::Fired { starts_at_ms, span } => (*starts_at_ms, None, span.as_ref()),
        Change::Resolved {
            raised,
            ends_at_ms,
            span,
        } => (raised.starts_at_ms, Some(*ends_at_ms), span.as_ref()),
    };
    let (annotations, detail) = describe(rule, span, ends_at_ms.is_some());
    (
        AlertSnapshot {
            fingerprint: fingerprint(&labels),
            labels,
            annotations,
            starts_at_ms,
            ends_at_ms,
        },
        detail,
    )
}
