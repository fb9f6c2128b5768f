//! The HTTP API of API.md: models, ingest, metrics, health and Prometheus.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use modelwatch_core::answer::{AnswerRange, MetricsAnswer};
use modelwatch_core::body::{BodyFormat, RecordResult, split_records};
use modelwatch_core::event::{validate_label, validate_prediction_within};
use modelwatch_core::query::merge_windows;
use modelwatch_core::report::{ReportSource, build_report};
use modelwatch_core::time::{
    MINUTE_MS, format_timestamp, now_ms, parse_duration, parse_timestamp_str,
};
use modelwatch_core::{FieldError, Granularity, Model, ModelDefinition};
use modelwatch_store::{ModelEntry, PutModelOutcome};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::reference::{ReferenceFormat, body_reader, profile_reference};
use crate::state::AppState;
use crate::telemetry::{ModelLabel, Observed};
use modelwatch_core::drift::quality::quality_answer;
use modelwatch_core::drift::reference::ReferenceFeature;
use modelwatch_core::drift::report::drift_answer;
use modelwatch_core::drift::stats::finite;
use modelwatch_core::drift::{ReferenceProfile, WindowFeatures};

use crate::alerting::http;

type Shared = State<Arc<AppState>>;

/// Every route of the API, with the body limit and request tracing.
pub fn router(state: Arc<AppState>) -> axum::Router {
    let body_limit = state.limits.max_body_bytes;
    axum::Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(prometheus))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/models", get(list_models))
        .route(
            "/api/v1/models/{model}",
            get(get_model).put(put_model).delete(delete_model),
        )
        .route(
            "/api/v1/models/{model}/predictions",
            post(ingest_predictions).route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                admit_ingest,
            )),
        )
        .route(
            "/api/v1/models/{model}/labels",
            post(ingest_labels).route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                admit_ingest,
            )),
        )
        .route("/api/v1/models/{model}/metrics", get(metrics))
        .route(
            "/api/v1/models/{model}/reference",
            put(put_reference).get(get_reference),
        )
        .route("/api/v1/models/{model}/drift", get(drift))
        .route("/api/v1/models/{model}/quality", get(quality))
        .route("/api/v1/models/{model}/report", get(report))
        .route("/api/v1/rules", get(http::list_rules))
        .route(
            "/api/v1/rules/{rule}",
            get(http::get_rule)
                .put(http::put_rule)
                .delete(http::delete_rule),
        )
        .route("/api/v1/channels", get(http::list_channels))
        .route(
            "/api/v1/channels/{channel}",
            get(http::get_channel)
                .put(http::put_channel)
                .delete(http::delete_channel),
        )
        .route("/api/v1/silences", get(http::list_silences))
        .route(
            "/api/v1/silences/{silence}",
            get(http::get_silence)
                .put(http::put_silence)
                .delete(http::delete_silence),
        )
        .route("/api/v1/alerts", get(http::list_alerts))
        .route("/api/v1/events", get(http::list_events))
        .merge(crate::dashboard::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::authorize,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// The OpenAPI 3 description of this API (`src/openapi.json`, checked against the
/// router by the tests).
async fn openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
        .into_response()
}

/// Admission control of ingest: before the body is read, a request is turned away with
/// `503` and `Retry-After` when the write queue is full or `max_concurrent_ingest`
/// requests are already being read and parsed. Without it, an overload would hold a
/// parsed body per waiting request in memory.
async fn admit_ingest(
    State(state): Shared,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let queue_full = state.store.queue_depth() >= state.store.queue_capacity();
    let permit = if queue_full {
        None
    } else {
        state.ingest_permits.clone().try_acquire_owned().ok()
    };
    let Some(_permit) = permit else {
        state.telemetry.requests_shed.inc();
        // Read the body to its end, discarding it chunk by chunk (up to the body limit),
        // so the connection stays usable: answering before the client has finished
        // sending would make the server close it.
        let mut chunks = request.into_body().into_data_stream();
        let mut seen = 0usize;
        while let Some(Ok(chunk)) = futures_util::StreamExt::next(&mut chunks).await {
            seen += chunk.len();
            if seen > state.limits.max_body_bytes {
                break;
            }
        }
        return ApiError::from(modelwatch_store::StoreError::Overloaded).into_response();
    };
    next.run(request).await
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method",
    )
}

/// `200` while serving; says whether requests need a token (the dashboard asks for one
/// before its first call instead of collecting a `401`).
async fn healthz(State(state): Shared) -> Json<Value> {
    Json(json!({"status": "ok", "auth_required": state.auth != crate::auth::AuthMode::Off}))
}

async fn prometheus(State(state): Shared, headers: HeaderMap) -> Response {
    crate::model_gauges::refresh(&state).await;
    state.telemetry.process.update(state.store.path());
    let format = crate::telemetry::Format::negotiate(
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()),
    );
    let text = state.telemetry.encode(state.store.queue_depth(), format);
    ([(header::CONTENT_TYPE, format.content_type())], text).into_response()
}

pub(crate) fn body_bytes(
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                "body_too_large",
                format!("the body is larger than {limit} bytes"),
            )
            .field("body")
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "unreadable_body",
                rejection.body_text(),
            )
            .field("body")
        }
    })
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

/// JSON (the default when no content type is given) or NDJSON.
fn record_format(headers: &HeaderMap) -> Result<BodyFormat, ApiError> {
    match content_type(headers).as_deref() {
        None | Some("application/json") => Ok(BodyFormat::Json),
        Some("application/x-ndjson" | "application/ndjson" | "application/jsonlines") => Ok(BodyFormat::Ndjson),
        Some(other) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("content type `{other}` is not accepted here; send application/json or application/x-ndjson"),
        )
        .field("content-type")),
    }
}

pub(crate) fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    match record_format(headers)? {
        BodyFormat::Json => Ok(()),
        BodyFormat::Ndjson => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the model definition as application/json",
        )
        .field("content-type")),
    }
}

fn model_entry(state: &AppState, name: &str) -> Result<Arc<ModelEntry>, ApiError> {
    state
        .model(name)
        .ok_or_else(|| ApiError::model_not_found(name))
}

fn model_json(entry: &ModelEntry) -> Value {
    let mut object = json!({"name": entry.model.name});
    if let (Some(object), Value::Object(definition)) = (
        object.as_object_mut(),
        serde_json::to_value(&entry.model.definition).unwrap_or(Value::Null),
    ) {
        object.extend(definition);
        object.insert(
            "created_at".into(),
            json!(format_timestamp(entry.created_ms)),
        );
        object.insert(
            "updated_at".into(),
            json!(format_timestamp(entry.updated_ms)),
        );
    }
    object
}

/// The grant of an authenticated request (absent when auth is off).
pub(crate) type MaybeGrant = Option<axum::Extension<Arc<crate::auth::Grant>>>;

async fn list_models(State(state): Shared, grant: MaybeGrant) -> Json<Value> {
    let visible = crate::auth::visible_models(grant.as_deref().map(|g| g.as_ref()));
    let mut entries: Vec<Arc<ModelEntry>> = state
        .models
        .read()
        .map(|m| {
            m.values()
                .filter(|e| visible.as_ref().is_none_or(|v| v.contains(&e.model.name)))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    entries.sort_by(|a, b| a.model.name.cmp(&b.model.name));
    Json(json!({"models": entries.iter().map(|e| model_json(e)).collect::<Vec<_>>()}))
}

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("worker failed: {e}"),
        )
    })?
}

async fn get_model(
    State(state): Shared,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let entry = model_entry(&state, &name)?;
    let store = state.store.clone();
    let id = entry.id;
    let (counts, versions) = blocking(move || Ok((store.counts(id)?, store.versions(id)?))).await?;
    let mut body = model_json(&entry);
    body["stats"] = json!({
        "predictions": counts.predictions,
        "labelled": counts.labelled,
        "pending_labels": counts.pending_labels,
        "newest_event": counts.newest_event_ms.map(format_timestamp),
        "versions": versions,
        "reference": state
            .reference_with_time(id)
            .map(|(reference, uploaded)| reference_json(&reference, uploaded)),
    });
    Ok(Json(body))
}

async fn put_model(
    State(state): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    modelwatch_core::schema::validate_model_name(&name).map_err(ApiError::invalid)?;
    require_json(&headers)?;
    let body = body_bytes(body, state.limits.max_body_bytes)?;
    let mut deserializer = serde_json::Deserializer::from_slice(&body);
    let definition: ModelDefinition =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." {
                "body".to_string()
            } else {
                path
            };
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_field",
                e.into_inner().to_string(),
            )
            .field(field)
        })?;
    let model = Model::new(&name, definition).map_err(ApiError::invalid)?;
    let (status, entry) = store_model(&state, model).await?;
    Ok((status, Json(model_json(&entry))).into_response())
}

/// Stores a validated model definition (creating or updating it) and caches it.
pub(crate) async fn store_model(
    state: &AppState,
    model: Model,
) -> Result<(StatusCode, Arc<ModelEntry>), ApiError> {
    let name = model.name.clone();
    let limits = &state.limits;
    if model.features().len() > limits.max_features_per_model {
        return Err(ApiError::invalid(FieldError::new(
            "features",
            format!(
                "{} features; at most {} are allowed (limits.max_features_per_model)",
                model.features().len(),
                limits.max_features_per_model
            ),
        )));
    }
    if let Some(class) = model
        .classes
        .iter()
        .find(|c| c.len() > limits.max_label_bytes)
    {
        return Err(ApiError::invalid(FieldError::new(
            "classes",
            format!(
                "class `{}…` is {} bytes; at most {} are allowed (limits.max_label_bytes)",
                class.chars().take(20).collect::<String>(),
                class.len(),
                limits.max_label_bytes
            ),
        )));
    }
    let is_new = state.model(&name).is_none();
    let count = state.models.read().map(|m| m.len()).unwrap_or(0);
    if is_new && count >= state.limits.max_models {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "model_limit_reached",
            format!("the server already holds {count} models, its limit (limits.max_models)"),
        )
        .field("model"));
    }
    let (status, entry) = match state.store.put_model(model, now_ms()).await? {
        PutModelOutcome::Created(entry) => (StatusCode::CREATED, entry),
        PutModelOutcome::Updated(entry) => (StatusCode::OK, entry),
        PutModelOutcome::Conflict(conflict) => {
            return Err(
                ApiError::new(StatusCode::CONFLICT, "schema_conflict", conflict.message)
                    .field(conflict.field),
            );
        }
    };
    if let Ok(mut models) = state.models.write() {
        models.insert(name, entry.clone());
    }
    Ok((status, entry))
}

async fn delete_model(
    State(state): Shared,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let entry = model_entry(&state, &name)?;
    state.alerting.delete_rules_of(&state.store, &name).await?;
    let existed = state.store.delete_model(&name).await?;
    if let Ok(mut models) = state.models.write() {
        models.remove(&name);
    }
    if let Ok(mut references) = state.references.write() {
        references.remove(&entry.id);
    }
    state.telemetry.forget_model(&name);
    if existed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::model_not_found(&name))
    }
}

/// Valid items, the indexes they had in the body, and the rejected records.
type Parsed<T> = (Vec<T>, Vec<usize>, Vec<(usize, FieldError)>);

/// Splits and validates a body (call it off the async runtime).
fn parse_records<T>(
    body: &[u8],
    format: BodyFormat,
    max_records: usize,
    validate: impl Fn(serde_json::Map<String, Value>) -> Result<T, FieldError>,
) -> Result<Parsed<T>, ApiError> {
    let records: Vec<RecordResult> = split_records(body, format).map_err(ApiError::invalid)?;
    if records.len() > max_records {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_records",
            format!(
                "{} records in one request; at most {max_records} are allowed",
                records.len()
            ),
        )
        .field("body"));
    }
    let mut valid = Vec::with_capacity(records.len());
    let mut indexes = Vec::with_capacity(records.len());
    let mut rejected = Vec::new();
    for (index, record) in records.into_iter().enumerate() {
        match record.and_then(&validate) {
            Ok(item) => {
                valid.push(item);
                indexes.push(index);
            }
            Err(error) => rejected.push((index, error)),
        }
    }
    Ok((valid, indexes, rejected))
}

fn rejected_json(mut rejected: Vec<(usize, FieldError)>) -> Value {
    rejected.sort_by_key(|(index, _)| *index);
    Value::Array(
        rejected
            .into_iter()
            .map(|(index, error)| json!({"index": index, "field": error.field, "error": error.to_string()}))
            .collect(),
    )
}

async fn ingest_predictions(
    State(state): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let entry = model_entry(&state, &name)?;
    let arrival = now_ms();
    let format = record_format(&headers)?;
    let body = body_bytes(body, state.limits.max_body_bytes)?;
    let (model, pii) = (entry.model.clone(), state.pii.clone());
    let reference = state.reference(entry.id);
    let max_records = state.limits.max_records_per_request;
    let input_limits = state.limits.input();
    let (batch, observed, indexes, mut rejected) = blocking(move || {
        let (events, indexes, rejected) = parse_records(&body, format, max_records, |record| {
            let mut event = validate_prediction_within(&model, &record, arrival, &input_limits)?;
            pii.protect(&model, &mut event.features);
            Ok(event)
        })?;
        let batch = modelwatch_store::prepare(&model, events, reference.as_deref());
        let observed: Vec<Observed> = batch
            .events()
            .iter()
            .map(|e| Observed {
                version: e.version.clone(),
                latency_ms: e.latency_ms,
                labelled: e.label.is_some(),
            })
            .collect();
        Ok((batch, observed, indexes, rejected))
    })
    .await?;
    let outcome = state
        .store
        .ingest(entry, batch, arrival)
        .await
        .inspect_err(|e| {
            if matches!(e, modelwatch_store::StoreError::Overloaded) {
                state.telemetry.requests_shed.inc();
            }
        })?;
    state.alerting.data_changed(&name, outcome.event_time_range);
    let not_stored: Vec<usize> = outcome
        .too_old
        .iter()
        .chain(&outcome.duplicates)
        .copied()
        .collect();
    state.telemetry.observe_ingest(
        &name,
        &observed,
        &not_stored,
        &outcome.labelled_from_pending,
    );
    for old in outcome.too_old {
        rejected.push((
            indexes[old],
            FieldError::new(
                "timestamp",
                "older than the raw events kept (retention), so it cannot be checked for duplicates",
            ),
        ));
    }
    for duplicate in outcome.duplicates {
        rejected.push((
            indexes[duplicate],
            FieldError::new(
                "id",
                "duplicate id: a prediction with this id is already stored",
            ),
        ));
    }
    let label = ModelLabel { model: name };
    state
        .telemetry
        .predictions_ingested
        .get_or_create(&label)
        .inc_by(outcome.accepted as u64);
    state
        .telemetry
        .predictions_rejected
        .get_or_create(&label)
        .inc_by(rejected.len() as u64);
    Ok(Json(json!({
        "accepted": outcome.accepted,
        "labels_joined": outcome.joined_pending_labels,
        "rejected": rejected_json(rejected),
    })))
}

async fn ingest_labels(
    State(state): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let entry = model_entry(&state, &name)?;
    let format = record_format(&headers)?;
    let body = body_bytes(body, state.limits.max_body_bytes)?;
    let (model, max_records) = (entry.model.clone(), state.limits.max_records_per_request);
    let (labels, indexes, mut rejected) = blocking(move || {
        parse_records(&body, format, max_records, |record| {
            validate_label(&model, &record)
        })
    })
    .await?;
    let outcome = state.store.ingest_labels(entry, labels, now_ms()).await?;
    state.alerting.data_changed(&name, outcome.event_time_range);
    state
        .telemetry
        .observe_labels(&name, &outcome.matched_by_version);
    for (index, error) in outcome.rejected {
        rejected.push((indexes[index], error));
    }
    state
        .telemetry
        .labels_ingested
        .get_or_create(&ModelLabel { model: name })
        .inc_by((outcome.matched + outcome.pending) as u64);
    Ok(Json(json!({
        "accepted": outcome.matched + outcome.pending,
        "matched": outcome.matched,
        "pending": outcome.pending,
        "rejected": rejected_json(rejected),
    })))
}

/// Query parameters of the range endpoints.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeParams {
    from: Option<String>,
    to: Option<String>,
    step: Option<String>,
    version: Option<String>,
}

/// A validated range query.
#[derive(Clone)]
struct Range {
    from: Option<i64>,
    to: Option<i64>,
    step: Option<i64>,
    version: Option<String>,
}

/// A query string that does not parse, naming the parameter when serde does.
fn query_error(rejection: QueryRejection) -> ApiError {
    let text = rejection.body_text();
    let field = text.split('`').nth(1).unwrap_or("query").to_string();
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", text).field(field)
}

fn parse_range(params: Result<Query<RangeParams>, QueryRejection>) -> Result<Range, ApiError> {
    let Query(params) = params.map_err(query_error)?;
    validate_range(params)
}

fn validate_range(params: RangeParams) -> Result<Range, ApiError> {
    let timestamp = |value: Option<String>, field: &str| {
        value
            .map(|v| parse_timestamp_str(&v))
            .transpose()
            .map_err(|e| ApiError::invalid(FieldError::new(field, e)))
    };
    let from = timestamp(params.from, "from")?;
    let to = timestamp(params.to, "to")?;
    if let (Some(from), Some(to)) = (from, to)
        && from >= to
    {
        return Err(ApiError::invalid(FieldError::new(
            "to",
            "must be after `from`",
        )));
    }
    let step = params
        .step
        .map(|s| match parse_duration(&s) {
            Ok(ms) if ms >= MINUTE_MS && ms % MINUTE_MS == 0 => Ok(ms),
            Ok(_) => Err(FieldError::new(
                "step",
                "must be a whole number of minutes, at least 1m",
            )),
            Err(e) => Err(FieldError::new("step", e)),
        })
        .transpose()
        .map_err(ApiError::invalid)?;
    Ok(Range {
        from,
        to,
        step,
        version: params.version,
    })
}

async fn metrics(
    State(state): Shared,
    Path(name): Path<String>,
    params: Result<Query<RangeParams>, QueryRejection>,
) -> Result<Json<MetricsAnswer>, ApiError> {
    let entry = model_entry(&state, &name)?;
    let range = parse_range(params)?;
    Ok(Json(metrics_answer(&state, entry, range).await?))
}

/// The metrics answer of a range: the summary, and the series when a step is given.
async fn metrics_answer(
    state: &AppState,
    entry: Arc<ModelEntry>,
    range: Range,
) -> Result<MetricsAnswer, ApiError> {
    let store = state.store.clone();
    blocking(move || {
        let (merged, first, last_end) = merged_range(
            &store,
            entry.id,
            range.step,
            range.from,
            range.to,
            range.version.as_deref(),
        )?;
        let model = &entry.model;
        let bounds = AnswerRange::new(
            &model.name,
            (range.from, range.to),
            (first, last_end),
            range.version.as_deref(),
        );
        Ok(modelwatch_core::query::metrics_answer(
            model, &merged, bounds, range.step,
        ))
    })
    .await
}

/// Query parameters of `GET .../report`: a range and the format.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    from: Option<String>,
    to: Option<String>,
    step: Option<String>,
    version: Option<String>,
    format: Option<String>,
}

/// The step of a report's series when none is asked for: hours up to two days, days up
/// to 90 days, weeks beyond.
fn default_report_step(span_ms: i64) -> i64 {
    const HOUR: i64 = 60 * MINUTE_MS;
    const DAY: i64 = 24 * HOUR;
    match span_ms {
        s if s <= 2 * DAY => HOUR,
        s if s <= 90 * DAY => DAY,
        _ => 7 * DAY,
    }
}

/// `GET /api/v1/models/{model}/report?from&to&step&version&format=json|html|md`: the
/// summary, the metric series, drift (with a reference), data quality and the alerts
/// whose span meets the range, as JSON, as one self-contained HTML page or as Markdown.
async fn report(
    State(state): Shared,
    Path(name): Path<String>,
    params: Result<Query<ReportParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(query_error)?;
    let format = match params.format.as_deref() {
        None | Some("json") => "json",
        Some("html") => "html",
        Some("md") => "md",
        Some(_) => {
            return Err(ApiError::invalid(FieldError::new(
                "format",
                "expected json, html or md",
            )));
        }
    };
    let entry = model_entry(&state, &name)?;
    let mut range = validate_range(RangeParams {
        from: params.from,
        to: params.to,
        step: params.step,
        version: params.version,
    })?;
    if range.step.is_none() {
        let whole = metrics_answer(&state, entry.clone(), range.clone()).await?;
        let bound = |t: &Option<String>| t.as_deref().and_then(|t| parse_timestamp_str(t).ok());
        let span = match (bound(&whole.from), bound(&whole.to)) {
            (Some(from), Some(to)) => to - from,
            _ => 0,
        };
        range.step = Some(default_report_step(span));
    }
    let metrics = metrics_answer(&state, entry.clone(), range.clone()).await?;
    let (from, to) = (
        metrics
            .from
            .as_deref()
            .and_then(|t| parse_timestamp_str(t).ok()),
        metrics
            .to
            .as_deref()
            .and_then(|t| parse_timestamp_str(t).ok()),
    );
    let features_range = Range {
        step: None,
        ..range.clone()
    };
    let (current, _) = range_features(&state, &entry, &features_range).await?;
    let reference = state.reference_with_time(entry.id);
    let model = &entry.model;
    let alerts: Vec<Value> = http::alerts_json(&state, None, Some(name.clone()), http::MAX_LIST)
        .await?
        .into_iter()
        .filter(|a| {
            let at = |key: &str| a[key].as_str().and_then(|t| parse_timestamp_str(t).ok());
            let starts_before_end = match (at("starts_at"), to) {
                (Some(start), Some(to)) => start < to,
                _ => true,
            };
            let ends_after_start = match (at("ends_at"), from) {
                (Some(end), Some(from)) => end >= from,
                _ => true,
            };
            starts_before_end && ends_after_start
        })
        .collect();
    let source = ReportSource::Served {
        reference: reference
            .as_ref()
            .map(|(r, uploaded)| (r.as_ref(), *uploaded)),
        generated_at_ms: now_ms(),
        alerts,
    };
    let body = build_report(model, metrics, &current, source);
    Ok(match format {
        "html" => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            crate::report::html(&body),
        )
            .into_response(),
        "md" => (
            [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
            crate::report::markdown(&body),
        )
            .into_response(),
        _ => Json(body).into_response(),
    })
}

/// The performance profiles of `[from, to)` merged per `step`, with the start of the
/// first window and the end of the last one read: what the metrics answer and the
/// model gauges of `/metrics` are computed from.
pub(crate) fn merged_range(
    store: &modelwatch_store::Store,
    model_id: i64,
    step: Option<i64>,
    from: Option<i64>,
    to: Option<i64>,
    version: Option<&str>,
) -> Result<(modelwatch_core::query::Merged, Option<i64>, Option<i64>), ApiError> {
    let granularity = Granularity::for_query(step, from, to);
    let windows = store.load_profiles(model_id, granularity, from, to, version)?;
    let first = windows.first().map(|(start, _)| *start);
    let last_end = windows.last().map(|(start, _)| start + granularity.ms());
    let merged = merge_windows(windows, step, from, to)
        .map_err(|e| ApiError::invalid(FieldError::new("step", e)))?;
    Ok((merged, first, last_end))
}

fn reference_json(reference: &ReferenceProfile, uploaded_ms: i64) -> Value {
    json!({
        "rows": reference.rows,
        "generation": reference.generation,
        "uploaded_at": format_timestamp(uploaded_ms),
    })
}

async fn put_reference(
    State(state): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
    options: Result<Query<ReferenceOptions>, QueryRejection>,
    body: axum::body::Body,
) -> Result<Json<Value>, ApiError> {
    let entry = model_entry(&state, &name)?;
    let Query(options) = options.map_err(query_error)?;
    let format = match content_type(&headers).as_deref() {
        Some("text/csv") => ReferenceFormat::Csv,
        None | Some("application/json") => ReferenceFormat::Json,
        Some("application/x-ndjson" | "application/ndjson" | "application/jsonlines") => {
            ReferenceFormat::Ndjson
        }
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("content type `{other}` is not accepted here; send text/csv, application/json or application/x-ndjson"),
            )
            .field("content-type"));
        }
    };
    let reader = body_reader(body, state.limits.max_reference_bytes);
    let (model, pii) = (entry.model.clone(), state.pii.clone());
    let spill_dir = state.data_dir.clone();
    let input_limits = state.limits.input();
    let profiled = blocking(move || {
        profile_reference(reader, format, &model, &pii, &spill_dir, &input_limits)
    })
    .await?;
    let rejected: Vec<Value> = profiled
        .rejected
        .iter()
        .take(100)
        .map(|(position, e)| json!({"row": position, "field": e.field, "error": e.to_string()}))
        .collect();
    if !profiled.rejected.is_empty() && !options.skip_invalid {
        let (position, first) = &profiled.rejected[0];
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_reference",
            format!(
                "{} rows are invalid (row {position}: {first}); nothing was changed. Fix them, or add ?skip_invalid=true to keep the valid rows",
                profiled.rejected.len()
            ),
        )
        .field(first.field.clone()));
    }
    if profiled.accepted == 0 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "empty_reference",
            "the reference has no valid rows",
        )
        .field("body"));
    }
    let now = now_ms();
    // The chunks first: the alerting engine reloads them when the reference changes.
    let (model_id, chunks) = (entry.id, profiled.chunks.encode());
    state
        .store
        .write(move |tx| modelwatch_store::alerting::save_reference_chunks(tx, model_id, &chunks))
        .await?;
    let reference = state
        .store
        .set_reference(entry.clone(), profiled.profile, now)
        .await?;
    if let Ok(mut references) = state.references.write() {
        references.insert(entry.id, (reference.clone(), now));
    }
    let mut answer = reference_json(&reference, now);
    answer["accepted"] = json!(profiled.accepted);
    answer["rejected"] = Value::Array(rejected);
    Ok(Json(answer))
}

async fn get_reference(
    State(state): Shared,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let entry = model_entry(&state, &name)?;
    let found = state
        .references
        .read()
        .ok()
        .and_then(|r| r.get(&entry.id).cloned());
    let (reference, uploaded) = found.ok_or_else(|| no_reference(&name))?;
    let mut answer = reference_json(&reference, uploaded);
    answer["features"] = reference
        .features
        .iter()
        .map(|(name, feature)| match feature {
            ReferenceFeature::Numeric(n) => json!({"name": name, "type": "numeric", "count": n.count, "missing": n.missing,
                "min": finite(n.min), "max": finite(n.max), "mean": finite(n.mean), "std": finite(n.std_population),
                "deciles": n.decile_edges}),
            ReferenceFeature::Categorical(c) => json!({"name": name, "type": "categorical", "count": c.count,
                "missing": c.missing, "categories": c.counts}),
        })
        .collect();
    Ok(Json(answer))
}

fn no_reference(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_reference",
        format!("model `{name}` has no reference yet; upload one with PUT /api/v1/models/{name}/reference"),
    )
    .field("reference")
}

/// Options of a reference upload.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReferenceOptions {
    /// Keep the valid rows when some are invalid (default: refuse the upload).
    skip_invalid: bool,
}

/// Merged feature profiles of a range, read after the writer has flushed.
async fn range_features(
    state: &AppState,
    entry: &ModelEntry,
    range: &Range,
) -> Result<(WindowFeatures, AnswerRange), ApiError> {
    state.store.flush().await?;
    let store = state.store.clone();
    let (id, from, to, version) = (entry.id, range.from, range.to, range.version.clone());
    let name = entry.model.name.clone();
    blocking(move || {
        let (merged, first, last_end) = merged_features(&store, id, from, to, version.as_deref())?;
        let bounds = AnswerRange::new(&name, (from, to), (first, last_end), version.as_deref());
        Ok((merged, bounds))
    })
    .await
}

/// The feature profiles of `[from, to)` merged, with the start of the first window and
/// the end of the last one read (call [`modelwatch_store::Store::flush`] first): what
/// the drift and quality answers and the drift gauges of `/metrics` are computed from.
pub(crate) fn merged_features(
    store: &modelwatch_store::Store,
    model_id: i64,
    from: Option<i64>,
    to: Option<i64>,
    version: Option<&str>,
) -> Result<(WindowFeatures, Option<i64>, Option<i64>), ApiError> {
    let granularity = Granularity::for_query(None, from, to);
    let windows = store.load_features(model_id, granularity, from, to, version)?;
    let first = windows.first().map(|(start, _)| *start);
    let last_end = windows.last().map(|(start, _)| start + granularity.ms());
    let mut merged = WindowFeatures::default();
    for (_, features) in &windows {
        merged.merge(features);
    }
    Ok((merged, first, last_end))
}

async fn drift(
    State(state): Shared,
    Path(name): Path<String>,
    params: Result<Query<RangeParams>, QueryRejection>,
) -> Result<Json<modelwatch_core::answer::DriftAnswer>, ApiError> {
    feature_answer(
        &state,
        &name,
        params,
        true,
        |model, reference, current, bounds| {
            reference.map(|reference| drift_answer(model, reference, current).in_range(bounds))
        },
    )
    .await
}

async fn quality(
    State(state): Shared,
    Path(name): Path<String>,
    params: Result<Query<RangeParams>, QueryRejection>,
) -> Result<Json<modelwatch_core::answer::QualityAnswer>, ApiError> {
    feature_answer(
        &state,
        &name,
        params,
        false,
        |model, reference, current, bounds| {
            Some(quality_answer(model, reference, current).in_range(bounds))
        },
    )
    .await
}

/// An answer computed from the merged feature profiles of a range (drift, quality):
/// `answer` returns `None` when it needs a reference and there is none.
async fn feature_answer<T>(
    state: &AppState,
    name: &str,
    params: Result<Query<RangeParams>, QueryRejection>,
    needs_reference: bool,
    answer: impl FnOnce(&Model, Option<&ReferenceProfile>, &WindowFeatures, AnswerRange) -> Option<T>,
) -> Result<Json<T>, ApiError> {
    let entry = model_entry(state, name)?;
    let range = parse_range(params)?;
    if range.step.is_some() {
        return Err(ApiError::invalid(FieldError::new(
            "step",
            "this answer covers the whole range; query day by day for a series",
        )));
    }
    let reference = state.reference(entry.id);
    if needs_reference && reference.is_none() {
        return Err(no_reference(name));
    }
    let (current, bounds) = range_features(state, &entry, &range).await?;
    let answer = answer(&entry.model, reference.as_deref(), &current, bounds)
        .ok_or_else(|| no_reference(name))?;
    Ok(Json(answer))
}
