//! HTTP handlers of alerting: rules, channels and silences (`PUT`, `GET`, `DELETE`),
//! alerts and the event log.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use modelwatch_core::FieldError;
use modelwatch_core::alert::{Channel, Rule, RuleDefinition, Silence};
use modelwatch_core::time::{format_timestamp, now_ms};
use modelwatch_store::alerting::{self as table, Resource};
use serde_json::{Value, json};

use crate::AppState;
use crate::api::{MaybeGrant, blocking, body_bytes, require_json};
use crate::error::ApiError;

type Shared = State<Arc<AppState>>;

/// Most alerts or events one answer lists.
pub(crate) const MAX_LIST: i64 = 1_000;

fn json_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<Value, ApiError> {
    require_json(headers)?;
    let body = body_bytes(body, limit.min(1024 * 1024))?;
    serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("the body is not valid JSON: {e}"),
        )
        .field("body")
    })
}

fn other_models() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "this token is restricted to other models",
    )
    .field("model")
}

/// Whether the request's token (if any) may touch `model`.
fn covers(grant: &MaybeGrant, model: &str) -> bool {
    grant.as_ref().is_none_or(|g| g.covers(model))
}

fn not_found(kind: &str, name: &str) -> ApiError {
    // Distinct from `not_found` (no such endpoint), like `model_not_found`.
    let code = match kind {
        "rule" => "rule_not_found",
        "channel" => "channel_not_found",
        _ => "silence_not_found",
    };
    ApiError::new(
        StatusCode::NOT_FOUND,
        code,
        format!(
            "no {kind} named `{}`",
            modelwatch_core::time::truncate(name, 64)
        ),
    )
    .field(kind)
}

/// Reads a definition from a request's JSON `body`, once the name in its path has
/// passed `name_check`.
fn read_definition<T: serde::de::DeserializeOwned>(
    name_check: Result<(), FieldError>,
    body: &Value,
) -> Result<T, ApiError> {
    name_check.map_err(ApiError::invalid)?;
    modelwatch_core::definition::from_json(body).map_err(ApiError::invalid)
}

/// `PUT /api/v1/rules/{rule}`
pub async fn put_rule(
    State(state): Shared,
    Path(name): Path<String>,
    grant: MaybeGrant,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = json_body(&headers, body, state.limits.max_body_bytes)?;
    // Authorization before validation, as for every other request.
    if let Some(model) = body.get("model").and_then(Value::as_str)
        && !covers(&grant, model)
    {
        return Err(other_models());
    }
    if let Some(existing) = state.alerting.rules().get(&name)
        && !covers(&grant, &existing.model)
    {
        return Err(other_models());
    }
    let definition: RuleDefinition = read_definition(Rule::check_name(&name), &body)?;
    let model = state.model(&definition.model);
    let (put, rule) = state
        .alerting
        .put_rule(&state.store, &name, definition, model)
        .await?;
    Ok((put.status(), Json(rule.to_json())).into_response())
}

/// `GET /api/v1/rules`
pub async fn list_rules(State(state): Shared, grant: MaybeGrant) -> Json<Value> {
    let rules: Vec<Value> = state
        .alerting
        .rules()
        .values()
        .filter(|r| covers(&grant, &r.model))
        .map(|r| r.to_json())
        .collect();
    Json(json!({"rules": rules}))
}

/// `GET /api/v1/rules/{rule}`
pub async fn get_rule(
    State(state): Shared,
    Path(name): Path<String>,
    grant: MaybeGrant,
) -> Result<Json<Value>, ApiError> {
    let rule = state
        .alerting
        .rules()
        .get(&name)
        .cloned()
        .filter(|r| covers(&grant, &r.model))
        .ok_or_else(|| not_found("rule", &name))?;
    Ok(Json(rule.to_json()))
}

async fn delete_resource(
    state: &AppState,
    resource: Resource,
    kind: &str,
    name: &str,
) -> Result<StatusCode, ApiError> {
    if state.alerting.delete(&state.store, resource, name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(kind, name))
    }
}

/// `DELETE /api/v1/rules/{rule}`
pub async fn delete_rule(
    State(state): Shared,
    Path(name): Path<String>,
    grant: MaybeGrant,
) -> Result<StatusCode, ApiError> {
    if let Some(rule) = state.alerting.rules().get(&name)
        && !covers(&grant, &rule.model)
    {
        return Err(other_models());
    }
    delete_resource(&state, Resource::Rules, "rule", &name).await
}

/// `PUT /api/v1/channels/{channel}`
pub async fn put_channel(
    State(state): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = json_body(&headers, body, state.limits.max_body_bytes)?;
    let definition = read_definition(Channel::check_name(&name), &body)?;
    let (put, channel) = state
        .alerting
        .put_channel(&state.store, &name, definition)
        .await?;
    Ok((put.status(), Json(channel.to_json())).into_response())
}

/// `GET /api/v1/channels`
pub async fn list_channels(State(state): Shared) -> Json<Value> {
    let channels: Vec<Value> = state
        .alerting
        .channels()
        .values()
        .map(|c| c.to_json())
        .collect();
    Json(json!({"channels": channels}))
}

/// `GET /api/v1/channels/{channel}`
pub async fn get_channel(
    State(state): Shared,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let channel = state
        .alerting
        .channels()
        .get(&name)
        .cloned()
        .ok_or_else(|| not_found("channel", &name))?;
    Ok(Json(channel.to_json()))
}

/// `DELETE /api/v1/channels/{channel}`
pub async fn delete_channel(
    State(state): Shared,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    delete_resource(&state, Resource::Channels, "channel", &name).await
}

/// `PUT /api/v1/silences/{id}`
pub async fn put_silence(
    State(state): Shared,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = json_body(&headers, body, state.limits.max_body_bytes)?;
    let definition = read_definition(Silence::check_id(&id), &body)?;
    let (put, silence) = state
        .alerting
        .put_silence(&state.store, &id, definition)
        .await?;
    Ok((put.status(), Json(silence.to_json(now_ms()))).into_response())
}

/// `GET /api/v1/silences`
pub async fn list_silences(State(state): Shared) -> Json<Value> {
    let now = now_ms();
    let silences: Vec<Value> = state
        .alerting
        .silences()
        .values()
        .map(|s| s.to_json(now))
        .collect();
    Json(json!({"silences": silences}))
}

/// `GET /api/v1/silences/{id}`
pub async fn get_silence(
    State(state): Shared,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let silence = state
        .alerting
        .silences()
        .get(&id)
        .cloned()
        .ok_or_else(|| not_found("silence", &id))?;
    Ok(Json(silence.to_json(now_ms())))
}

/// `DELETE /api/v1/silences/{id}`
pub async fn delete_silence(
    State(state): Shared,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    delete_resource(&state, Resource::Silences, "silence", &id).await
}

/// Query of `GET /api/v1/alerts`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertQuery {
    state: Option<String>,
    model: Option<String>,
    limit: Option<i64>,
}

fn query_error(rejection: QueryRejection) -> ApiError {
    let text = rejection.body_text();
    let field = text.split('`').nth(1).unwrap_or("query").to_string();
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", text).field(field)
}

fn limit(value: Option<i64>) -> Result<i64, ApiError> {
    match value {
        None => Ok(100),
        Some(n) if (1..=MAX_LIST).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::invalid(FieldError::new(
            "limit",
            format!("must be 1 to {MAX_LIST}"),
        ))),
    }
}

/// `GET /api/v1/alerts?state=firing|resolved|all&model=&limit=`
pub async fn list_alerts(
    State(state): Shared,
    grant: MaybeGrant,
    query: Result<Query<AlertQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(query_error)?;
    if let Some(model) = &query.model
        && !covers(&grant, model)
    {
        return Err(other_models());
    }
    let filter = match query.state.as_deref() {
        None | Some("all") => None,
        Some(s @ ("firing" | "resolved")) => Some(s.to_string()),
        Some(_) => {
            return Err(ApiError::invalid(FieldError::new(
                "state",
                "expected firing, resolved or all",
            )));
        }
    };
    let limit = limit(query.limit)?;
    let alerts: Vec<Value> = alerts_json(&state, filter, query.model.clone(), limit)
        .await?
        .into_iter()
        .filter(|a| a["model"].as_str().is_some_and(|m| covers(&grant, m)))
        .collect();
    Ok(Json(json!({"alerts": alerts})))
}

/// Alerts as `GET /api/v1/alerts` lists them, newest first: all of them or those in
/// `state` (`firing`, `resolved`), of one model or all.
pub(crate) async fn alerts_json(
    state: &AppState,
    filter: Option<String>,
    model: Option<String>,
    limit: i64,
) -> Result<Vec<Value>, ApiError> {
    let store = state.store.clone();
    let rows = blocking(move || {
        Ok(store
            .read(|conn| table::list_alerts(conn, filter.as_deref(), model.as_deref(), limit))?)
    })
    .await?;
    let now = now_ms();
    let silences = state.alerting.silences();
    Ok(rows
        .into_iter()
        .map(|row| {
            let detail: Value = serde_json::from_str(&row.detail).unwrap_or(Value::Null);
            let labels: std::collections::BTreeMap<String, String> =
                serde_json::from_value(detail["labels"].clone()).unwrap_or_default();
            let silenced_by: Vec<&str> = silences
                .values()
                .filter(|s| row.state == "firing" && s.mutes(&labels, now))
                .map(|s| s.id.as_str())
                .collect();
            json!({
                "id": row.id,
                "rule": row.rule,
                "model": row.model,
                "state": row.state,
                "value": detail["value"],
                "threshold": detail["threshold"],
                "op": detail["op"],
                "lower": detail["lower"],
                "upper": detail["upper"],
                "metric": detail["metric"],
                "window": detail["window"],
                "span_end": detail["span_end"],
                "starts_at": format_timestamp(row.starts_at_ms),
                "ends_at": row.ends_at_ms.map(format_timestamp),
                "labels": detail["labels"],
                "annotations": detail["annotations"],
                "fingerprint": row.fingerprint,
                "silenced_by": silenced_by,
                "updated_at": format_timestamp(row.updated_ms),
            })
        })
        .collect())
}

/// Query of `GET /api/v1/events`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventQuery {
    model: Option<String>,
    limit: Option<i64>,
    before: Option<i64>,
}

/// `GET /api/v1/events?model=&limit=&before=`: newest first; `before` pages back by id.
pub async fn list_events(
    State(state): Shared,
    grant: MaybeGrant,
    query: Result<Query<EventQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(query_error)?;
    if let Some(model) = &query.model
        && !covers(&grant, model)
    {
        return Err(other_models());
    }
    let limit = limit(query.limit)?;
    let store = state.store.clone();
    let (model, before) = (query.model.clone(), query.before);
    let rows = blocking(move || {
        Ok(store.read(|conn| table::list_events(conn, model.as_deref(), before, limit))?)
    })
    .await?;
    let events: Vec<Value> = rows
        .into_iter()
        // A restricted token sees only its models' entries (not server-wide ones).
        .filter(|row| grant.is_none() || row.model.as_deref().is_some_and(|m| covers(&grant, m)))
        .map(|row| {
            json!({
                "id": row.id,
                "at": format_timestamp(row.at_ms),
                "model": row.model,
                "rule": row.rule,
                "kind": row.kind,
                "detail": serde_json::from_str::<Value>(&row.detail).unwrap_or(Value::Null),
            })
        })
        .collect();
    Ok(Json(json!({"events": events})))
}
