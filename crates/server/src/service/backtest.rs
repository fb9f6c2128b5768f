//! `POST /api/v1/rules/backtest`: a rule definition run over stored data
//! ([`crate::alerting::backtest`]), optionally tuned to a budget of alerts per week
//! ([`crate::alerting::tune`]). Reads only: no rule state, alert, outbox row or event
//! is written.

use std::sync::Arc;

use modelwatch_core::FieldError;
use modelwatch_core::alert::baseline::ReferenceChunks;
use modelwatch_core::alert::{Rule, RuleDefinition};
use modelwatch_core::time::{Timestamp, format_timestamp};
use serde::Deserialize;
use serde_json::{Value, json};

use super::blocking;
use crate::alerting::backtest::{
    self, MAX_SPANS, OtherAlert, Outcome, Setup, SimulatedNotification, span_count,
};
use crate::alerting::evaluate::ModelView;
use crate::alerting::grouping::Registry;
use crate::alerting::tune::{self, Parameter};
use crate::error::ApiError;
use crate::service::alerts::MAX_LIST;
use crate::state::Catalog;

/// The name a backtested rule's alerts carry when the request gives none.
pub const DEFAULT_NAME: &str = "backtest";

/// A backtest request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
pub struct Request {
    /// The rule's name (its alerts' `alertname`, which routing and silences may match).
    #[serde(default)]
    pub name: Option<String>,
    /// The rule, as a `PUT /api/v1/rules/{rule}` body.
    pub rule: Value,
    /// Start of the range (event time).
    pub from: Timestamp,
    /// End of the range (event time).
    pub to: Timestamp,
    /// Ask for a proposal.
    #[serde(default)]
    pub tune: Option<TuneRequest>,
}

/// The `tune` member of a request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
pub struct TuneRequest {
    /// The budget: alerts per week, more than 0.
    pub target_alerts_per_week: f64,
    /// `threshold`, `k` or `for` (default: the condition's own parameter).
    #[serde(default)]
    pub parameter: Option<String>,
}

fn under(prefix: &str, error: FieldError) -> ApiError {
    // `body` is what the rule check calls the rule itself (not an object).
    let field = if error.field.is_empty() || error.field == "body" {
        prefix.to_string()
    } else {
        format!("{prefix}.{}", error.field)
    };
    ApiError::invalid(FieldError::new(field, error.message))
}

/// The rule a request describes, validated as a `PUT` would validate it.
pub fn rule_of(catalog: &Catalog, request: &Request) -> Result<Rule, ApiError> {
    let name = request.name.as_deref().unwrap_or(DEFAULT_NAME);
    Rule::check_name(name).map_err(|e| ApiError::invalid(FieldError::new("name", e.message)))?;
    let definition: RuleDefinition =
        modelwatch_core::definition::from_json(&request.rule).map_err(|e| under("rule", e))?;
    let model = catalog.model(&definition.model);
    catalog
        .alerting
        .validate_rule(name, definition, model)
        .map_err(|e| under("rule", e))
}

/// Runs a request already authorised for `rule`'s model.
pub async fn backtest(catalog: &Catalog, request: Request, rule: Rule) -> Result<Value, ApiError> {
    let (from_ms, to_ms) = (request.from.0, request.to.0);
    if to_ms <= from_ms {
        return Err(ApiError::invalid(FieldError::new(
            "to",
            "must be after `from`",
        )));
    }
    let spans = span_count(&rule, from_ms, to_ms);
    if spans > MAX_SPANS {
        return Err(ApiError::invalid(FieldError::new(
            "to",
            format!(
                "the range holds {spans} spans of `every`; at most {MAX_SPANS}: shorten it or lengthen `every`"
            ),
        )));
    }
    let tune = match &request.tune {
        None => None,
        Some(t) if !(t.target_alerts_per_week.is_finite() && t.target_alerts_per_week > 0.0) => {
            return Err(ApiError::invalid(FieldError::new(
                "tune.target_alerts_per_week",
                "must be a number above 0",
            )));
        }
        Some(t) => Some((
            t.target_alerts_per_week,
            Parameter::choose(&rule, t.parameter.as_deref(), "tune.parameter")
                .map_err(ApiError::invalid)?,
        )),
    };
    let entry = catalog
        .model(&rule.model)
        .ok_or_else(|| ApiError::model_not_found(&rule.model))?;
    if rule.metric.needs_features() {
        // Profiles still buffered are read too, as the engine reads them.
        catalog.store.flush().await?;
    }
    let reference = catalog.reference_with_time(entry.id).map(|(r, _)| r);
    let registry = Registry {
        channels: catalog.alerting.channels(),
        routing: catalog.alerting.routing(),
        silences: catalog.alerting.silences(),
    };
    let store = catalog.store.clone();
    blocking(move || {
        let chunks = store
            .load_reference_chunks(entry.id)?
            .and_then(|bytes| ReferenceChunks::decode(&bytes).ok())
            .map(Arc::new);
        let others = if registry.inhibit_rules().is_empty() {
            Vec::new()
        } else {
            other_alerts(&*store, &rule.name)?
        };
        let view = ModelView {
            entry: entry.clone(),
            reference,
            chunks,
            newest_ms: None,
        };
        let setup = Setup {
            rule: &rule,
            view: &view,
            registry: &registry,
            others: &others,
        };
        let values = backtest::span_values(&*store, &rule, &view, from_ms, to_ms)?;
        let outcome = backtest::simulate(&setup, &values, to_ms, true, true);
        let mut answer = answer(&rule, (from_ms, to_ms), &outcome);
        if let Some((target, parameter)) = tune {
            let proposal = tune::tune(
                &setup,
                &entry.model,
                &values,
                (from_ms, to_ms),
                parameter,
                target,
            );
            answer["tune"] = proposal.to_json(target);
        }
        Ok(answer)
    })
    .await
}

/// Other rules' stored alerts (the newest [`MAX_LIST`]), for inhibition.
fn other_alerts(
    store: &dyn modelwatch_store::Storage,
    rule: &str,
) -> Result<Vec<OtherAlert>, ApiError> {
    Ok(store
        .list_alerts(None, None, None, MAX_LIST)?
        .into_iter()
        .filter(|row| row.rule != rule)
        .map(|row| {
            let detail: Value = serde_json::from_str(&row.detail).unwrap_or(Value::Null);
            OtherAlert {
                labels: serde_json::from_value(detail["labels"].clone()).unwrap_or_default(),
                starts_at_ms: row.starts_at_ms,
                ends_at_ms: row.ends_at_ms,
            }
        })
        .collect())
}

fn time(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |ms| json!(format_timestamp(ms)))
}

fn notification(sent: &SimulatedNotification) -> Value {
    let n = &sent.notification;
    json!({
        "at": format_timestamp(sent.at_ms),
        "channel": sent.channel,
        "status": n.status(),
        "title": n.title(),
        "group": n.group_labels,
        "alerts": n.alerts.iter().map(|a| json!({
            "fingerprint": a.fingerprint,
            "status": if a.is_resolved() { "resolved" } else { "firing" },
            "starts_at": format_timestamp(a.starts_at_ms),
            "ends_at": time(a.ends_at_ms),
        })).collect::<Vec<_>>(),
    })
}

/// The answer (its keys serialize in alphabetical order).
fn answer(rule: &Rule, (from_ms, to_ms): (i64, i64), outcome: &Outcome) -> Value {
    let mut body = serde_json::Map::new();
    body.insert("rule".into(), rule.to_json());
    body.insert("from".into(), json!(format_timestamp(from_ms)));
    body.insert("to".into(), json!(format_timestamp(to_ms)));
    body.insert(
        "counts".into(),
        json!({
            "spans": outcome.spans.len(),
            "spans_held": outcome.spans.iter().filter(|s| s.holds == Some(true) && rule.is_judged(s.count)).count(),
            "alerts": outcome.alerts.len(),
            "alerts_per_week": outcome.alerts_per_week(from_ms, to_ms),
            "flaps": outcome.flaps,
            "notifications": outcome.notifications.len(),
            "muted": outcome.muted.len(),
        }),
    );
    body.insert(
        "alerts".into(),
        outcome
            .alerts
            .iter()
            .map(|a| {
                json!({
                    "fingerprint": a.snapshot.fingerprint,
                    "starts_at": format_timestamp(a.snapshot.starts_at_ms),
                    "ends_at": time(a.ends_at_ms),
                    "fired_at": format_timestamp(a.fired_at_ms),
                    "resolved_at": time(a.resolved_at_ms),
                    "value": a.value.filter(|v| v.is_finite()),
                    "labels": a.snapshot.labels,
                    "summary": a.snapshot.annotations.get("summary"),
                })
            })
            .collect(),
    );
    body.insert(
        "notifications".into(),
        outcome.notifications.iter().map(notification).collect(),
    );
    body.insert(
        "muted".into(),
        outcome
            .muted
            .iter()
            .map(|(at, kind, detail)| {
                let mut entry = detail.clone();
                entry["at"] = json!(format_timestamp(*at));
                entry["kind"] = json!(kind);
                entry
            })
            .collect(),
    );
    body.insert(
        "spans".into(),
        outcome
            .spans
            .iter()
            .map(|s| {
                json!({
                    "end": format_timestamp(s.end_ms),
                    "count": s.count,
                    "value": s.value.filter(|v| v.is_finite()),
                    "holds": s.holds,
                })
            })
            .collect(),
    );
    Value::Object(body)
}
