//! The HTTP resources of alerting: rules, channels and silences (`PUT`, `GET`,
//! `DELETE`), the routing tree (`/api/v1/routing`), alerts and the event log.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use modelwatch_core::FieldError;
use modelwatch_core::alert::{Channel, Rule, RuleDefinition, Silence};
use modelwatch_core::time::now_ms;
use modelwatch_store::alerting::Resource;
use serde_json::{Value, json};

use super::access::{Access, Reach, Routes};
use super::extract::{Caller, JsonBody, ValidQuery};
use crate::alerting::Put;
use crate::error::{ApiError, ErrorCode};
use crate::service::alerts::{self, Listing, MAX_LIST};
use crate::state::{Catalog, Dispatch};

/// Largest definition of a rule, channel or silence, in bytes.
pub(super) const DEFINITION_BYTES: usize = 1024 * 1024;

/// The routes of alerting.
pub fn routes(routes: Routes) -> Routes {
    let (read, admin) = (
        Access::read(Reach::Filtered),
        Access::admin(Reach::Filtered),
    );
    let (read_server, admin_server) = (
        Access::read(Reach::ServerWide),
        Access::admin(Reach::ServerWide),
    );
    routes
        .route("/api/v1/rules", [(read, get(list_rules))])
        .route(
            "/api/v1/rules/{rule}",
            [
                (read, get(get_rule)),
                (admin, axum::routing::put(put_rule).delete(delete_rule)),
            ],
        )
        .route("/api/v1/channels", [(read_server, get(list_channels))])
        .route(
            "/api/v1/channels/{channel}",
            [
                (read_server, get(get_channel)),
                (
                    admin_server,
                    axum::routing::put(put_channel).delete(delete_channel),
                ),
            ],
        )
        .route(
            "/api/v1/channels/{channel}/test",
            [(admin_server, axum::routing::post(test_channel))],
        )
        .route(
            "/api/v1/routing",
            [
                (read_server, get(get_routing)),
                (
                    admin_server,
                    axum::routing::put(put_routing).delete(delete_routing),
                ),
            ],
        )
        .route("/api/v1/silences", [(read_server, get(list_silences))])
        .route(
            "/api/v1/silences/{silence}",
            [
                (read_server, get(get_silence)),
                (
                    admin_server,
                    axum::routing::put(put_silence).delete(delete_silence),
                ),
            ],
        )
        .route("/api/v1/alerts", [(read, get(list_alerts))])
        .route("/api/v1/events", [(read, get(list_events))])
}

/// `201` for a new definition, `200` for a replaced one.
fn put_status(put: &Put) -> StatusCode {
    match put {
        Put::Created => StatusCode::CREATED,
        Put::Replaced => StatusCode::OK,
    }
}

type Shared = State<Arc<Catalog>>;

pub(super) fn other_models() -> ApiError {
    ApiError::new(
        ErrorCode::Forbidden,
        "this token is restricted to other models",
    )
    .field("model")
}

fn not_found(kind: &str, name: &str) -> ApiError {
    // Distinct from `not_found` (no such endpoint), like `model_not_found`.
    let code = match kind {
        "rule" => ErrorCode::RuleNotFound,
        "channel" => ErrorCode::ChannelNotFound,
        _ => ErrorCode::SilenceNotFound,
    };
    ApiError::new(
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
pub(super) async fn put_rule(
    State(catalog): Shared,
    Path(name): Path<String>,
    caller: Caller,
    JsonBody(body): JsonBody<Value, DEFINITION_BYTES>,
) -> Result<Response, ApiError> {
    // Authorization before validation, as for every other request.
    if let Some(model) = body.get("model").and_then(Value::as_str)
        && !caller.covers(model)
    {
        return Err(other_models());
    }
    if let Some(existing) = catalog.alerting.rules().get(&name)
        && !caller.covers(&existing.model)
    {
        return Err(other_models());
    }
    let definition: RuleDefinition = read_definition(Rule::check_name(&name), &body)?;
    let model = catalog.model(&definition.model);
    let (put, rule) = catalog
        .alerting
        .put_rule(catalog.store.as_ref(), &name, definition, model)
        .await?;
    Ok((put_status(&put), Json(rule.to_json())).into_response())
}

/// `GET /api/v1/rules`
async fn list_rules(State(catalog): Shared, caller: Caller) -> Json<Value> {
    let rules: Vec<Value> = catalog
        .alerting
        .rules()
        .values()
        .filter(|r| caller.covers(&r.model))
        .map(|r| r.to_json())
        .collect();
    Json(json!({"rules": rules}))
}

/// `GET /api/v1/rules/{rule}`
pub(super) async fn get_rule(
    State(catalog): Shared,
    Path(name): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let rule = catalog
        .alerting
        .rules()
        .get(&name)
        .cloned()
        .filter(|r| caller.covers(&r.model))
        .ok_or_else(|| not_found("rule", &name))?;
    Ok(Json(rule.to_json()))
}

async fn delete_resource(
    catalog: &Catalog,
    resource: Resource,
    kind: &str,
    name: &str,
) -> Result<StatusCode, ApiError> {
    if catalog
        .alerting
        .delete(catalog.store.as_ref(), resource, name)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(kind, name))
    }
}

/// `DELETE /api/v1/rules/{rule}`
pub(super) async fn delete_rule(
    State(catalog): Shared,
    Path(name): Path<String>,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    if let Some(rule) = catalog.alerting.rules().get(&name)
        && !caller.covers(&rule.model)
    {
        return Err(other_models());
    }
    delete_resource(&catalog, Resource::Rules, "rule", &name).await
}

/// `PUT /api/v1/channels/{channel}`
async fn put_channel(
    State(catalog): Shared,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<Value, DEFINITION_BYTES>,
) -> Result<Response, ApiError> {
    let definition = read_definition(Channel::check_name(&name), &body)?;
    let (put, channel) = catalog
        .alerting
        .put_channel(catalog.store.as_ref(), &name, definition)
        .await?;
    Ok((put_status(&put), Json(channel.to_json())).into_response())
}

/// `GET /api/v1/channels`
async fn list_channels(State(catalog): Shared, caller: Caller) -> Json<Value> {
    let channels: Vec<Value> = catalog
        .alerting
        .channels()
        .values()
        .map(|c| shown(c, &caller))
        .collect();
    Json(json!({"channels": channels}))
}

/// A channel as `caller` may see it: without its URL's secrets unless an admin.
fn shown(channel: &Channel, caller: &Caller) -> Value {
    if caller.is_admin() {
        channel.to_json()
    } else {
        crate::alerting::secrets::shown_to_non_admin(channel.to_json())
    }
}

/// `GET /api/v1/channels/{channel}`
async fn get_channel(
    State(catalog): Shared,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let channel = catalog
        .alerting
        .channels()
        .get(&name)
        .cloned()
        .ok_or_else(|| not_found("channel", &name))?;
    Ok(Json(shown(&channel, &caller)))
}

/// `POST /api/v1/channels/{channel}/test`: sends a test notification through the
/// channel now, by the path real ones take, and says how it went.
async fn test_channel(
    State(catalog): Shared,
    State(dispatch): State<Arc<Dispatch>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let channel = catalog
        .alerting
        .channels()
        .get(&name)
        .cloned()
        .ok_or_else(|| not_found("channel", &name))?;
    let now = modelwatch_core::time::now_ms();
    let labels = std::collections::BTreeMap::from([
        ("alertname".to_string(), "modelwatch-test".to_string()),
        ("channel".to_string(), name.clone()),
    ]);
    let notification = crate::alerting::deliver::Notification {
        group_key: format!("test:{name}"),
        group_labels: labels.clone(),
        alerts: vec![modelwatch_core::alert::AlertSnapshot {
            fingerprint: "modelwatch-test".to_string(),
            labels,
            annotations: std::collections::BTreeMap::from([(
                "summary".to_string(),
                format!("a test notification of the channel {name} from modelwatch"),
            )]),
            starts_at_ms: now,
            ends_at_ms: None,
        }],
    };
    let sent = crate::alerting::deliver::send(
        &dispatch.outbound,
        &dispatch.destinations,
        &channel,
        &notification,
        now,
    )
    .await;
    let (error, response) = match sent {
        Ok(()) => (None, None),
        Err(failure) => (Some(failure.reason), failure.response),
    };
    Ok(Json(json!({
        "channel": name,
        "delivered": error.is_none(),
        "error": error,
        "response": response,
    })))
}

/// `DELETE /api/v1/channels/{channel}`
async fn delete_channel(
    State(catalog): Shared,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    delete_resource(&catalog, Resource::Channels, "channel", &name).await
}

/// `PUT /api/v1/routing`: the route tree and inhibition rules, replaced whole.
async fn put_routing(
    State(catalog): Shared,
    JsonBody(body): JsonBody<Value, DEFINITION_BYTES>,
) -> Result<Response, ApiError> {
    let definition = read_definition(Ok(()), &body)?;
    let (put, routing) = catalog
        .alerting
        .put_routing(catalog.store.as_ref(), definition)
        .await?;
    Ok((put_status(&put), Json(routing.to_json())).into_response())
}

/// `GET /api/v1/routing`: as sent, with the tree `resolved` (inherited settings
/// filled in); `route` is `null` when none is set.
async fn get_routing(State(catalog): Shared) -> Json<Value> {
    Json(match catalog.alerting.routing() {
        Some(routing) => routing.to_json(),
        None => json!({"route": null, "resolved": null}),
    })
}

/// `DELETE /api/v1/routing`: alerts of rules without channels are no longer notified.
async fn delete_routing(State(catalog): Shared) -> Result<StatusCode, ApiError> {
    catalog
        .alerting
        .delete_routing(catalog.store.as_ref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/silences/{id}`
async fn put_silence(
    State(catalog): Shared,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value, DEFINITION_BYTES>,
) -> Result<Response, ApiError> {
    let definition = read_definition(Silence::check_id(&id), &body)?;
    let (put, silence) = catalog
        .alerting
        .put_silence(catalog.store.as_ref(), &id, definition)
        .await?;
    Ok((put_status(&put), Json(silence.to_json(now_ms()))).into_response())
}

/// `GET /api/v1/silences`
async fn list_silences(State(catalog): Shared) -> Json<Value> {
    let now = now_ms();
    let silences: Vec<Value> = catalog
        .alerting
        .silences()
        .values()
        .map(|s| s.to_json(now))
        .collect();
    Json(json!({"silences": silences}))
}

/// `GET /api/v1/silences/{id}`
async fn get_silence(
    State(catalog): Shared,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let silence = catalog
        .alerting
        .silences()
        .get(&id)
        .cloned()
        .ok_or_else(|| not_found("silence", &id))?;
    Ok(Json(silence.to_json(now_ms())))
}

/// `DELETE /api/v1/silences/{id}`
async fn delete_silence(
    State(catalog): Shared,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    delete_resource(&catalog, Resource::Silences, "silence", &id).await
}

/// Query of `GET /api/v1/alerts`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertQuery {
    state: Option<String>,
    model: Option<String>,
    limit: Option<i64>,
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
async fn list_alerts(
    State(catalog): Shared,
    caller: Caller,
    ValidQuery(query): ValidQuery<AlertQuery>,
) -> Result<Json<Value>, ApiError> {
    if let Some(model) = &query.model
        && !caller.covers(model)
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
    let listing = Listing {
        model: query.model,
        visible: caller.visible(),
        limit,
    };
    let alerts = alerts::alerts(&catalog, filter, listing).await?;
    Ok(Json(json!({"alerts": alerts})))
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
async fn list_events(
    State(catalog): Shared,
    caller: Caller,
    ValidQuery(query): ValidQuery<EventQuery>,
) -> Result<Json<Value>, ApiError> {
    if let Some(model) = &query.model
        && !caller.covers(model)
    {
        return Err(other_models());
    }
    let listing = Listing {
        model: query.model,
        visible: caller.visible(),
        limit: limit(query.limit)?,
    };
    let events = alerts::events(&catalog, query.before, listing, caller.is_admin()).await?;
    Ok(Json(json!({"events": events})))
}
