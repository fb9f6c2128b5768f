//! Delivering notifications: the queued notification (a group's alerts) rendered for
//! its channel (the Alertmanager webhook payload, Alertmanager's `/api/v2/alerts`, a
//! Slack message, a plain-text mail, or the paging providers' requests of
//! [`super::providers`]) and sent. The engine retries failures with
//! backoff; nothing here keeps state.

use std::collections::BTreeMap;
use std::time::Duration;

use modelwatch_core::alert::{AlertSnapshot, Channel, ChannelKind, SmtpSecurity};
use modelwatch_core::time::format_timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::providers::{self, Auth, Body, Outgoing};

/// How long one delivery may take.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// A notification as queued in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// The group's key.
    pub group_key: String,
    /// The group's labels.
    pub group_labels: BTreeMap<String, String>,
    /// The alerts, firing and resolved.
    pub alerts: Vec<AlertSnapshot>,
}

impl Notification {
    /// `firing` when any alert fires, else `resolved`.
    pub fn status(&self) -> &'static str {
        if self.alerts.iter().any(|a| !a.is_resolved()) {
            "firing"
        } else {
            "resolved"
        }
    }

    fn common<F>(&self, pick: F) -> BTreeMap<String, String>
    where
        F: Fn(&AlertSnapshot) -> &BTreeMap<String, String>,
    {
        let Some(first) = self.alerts.first() else {
            return BTreeMap::new();
        };
        pick(first)
            .iter()
            .filter(|(k, v)| self.alerts.iter().all(|a| pick(a).get(*k) == Some(*v)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// A one-line title: `[FIRING:2] low-accuracy credit`.
    pub fn title(&self) -> String {
        let firing = self.alerts.iter().filter(|a| !a.is_resolved()).count();
        let values: Vec<&str> = self
            .group_labels
            .values()
            .map(String::as_str)
            .filter(|v| !v.is_empty())
            .collect();
        if firing > 0 {
            format!("[FIRING:{firing}] {}", values.join(" "))
        } else {
            format!("[RESOLVED] {}", values.join(" "))
        }
    }

    /// A plain-text body, one paragraph per alert.
    pub fn text(&self) -> String {
        let mut text = self.title();
        text.push('\n');
        for alert in &self.alerts {
            let status = if alert.is_resolved() {
                "resolved"
            } else {
                "firing"
            };
            let summary = alert.annotations.get("summary").map_or("", String::as_str);
            text.push_str(&format!("\n[{status}] {summary}\n"));
            text.push_str(&format!(
                "  starts_at: {}\n",
                format_timestamp(alert.starts_at_ms)
            ));
            if let Some(ends) = alert.ends_at_ms {
                text.push_str(&format!("  ends_at: {}\n", format_timestamp(ends)));
            }
            let labels: Vec<String> = alert
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            text.push_str(&format!("  labels: {}\n", labels.join(", ")));
        }
        text
    }

    /// Alertmanager's webhook payload (version 4).
    pub fn webhook_payload(&self, receiver: &str) -> Value {
        let alerts: Vec<Value> = self
            .alerts
            .iter()
            .map(|a| {
                json!({
                    "status": if a.is_resolved() { "resolved" } else { "firing" },
                    "labels": a.labels,
                    "annotations": a.annotations,
                    "startsAt": format_timestamp(a.starts_at_ms),
                    "endsAt": a.ends_at_ms.map_or_else(|| "0001-01-01T00:00:00Z".to_string(), format_timestamp),
                    "generatorURL": "",
                    "fingerprint": a.fingerprint,
                })
            })
            .collect();
        json!({
            "version": "4",
            "groupKey": self.group_key,
            "truncatedAlerts": 0,
            "status": self.status(),
            "receiver": receiver,
            "groupLabels": self.group_labels,
            "commonLabels": self.common(|a| &a.labels),
            "commonAnnotations": self.common(|a| &a.annotations),
            "externalURL": "",
            "alerts": alerts,
        })
    }

    /// The body of Alertmanager's `POST /api/v2/alerts`. Firing alerts carry an
    /// `endsAt` a few repeat intervals ahead, so Alertmanager keeps them firing while
    /// they are re-sent and resolves them on its own if modelwatch goes away.
    pub fn alertmanager_payload(&self, now_ms: i64, repeat_interval_ms: i64) -> Value {
        let alerts: Vec<Value> = self
            .alerts
            .iter()
            .map(|a| {
                // Alertmanager wants startsAt ≤ endsAt and treats endsAt ≤ now as resolved.
                let starts = a.starts_at_ms.min(now_ms);
                let ends = match a.ends_at_ms {
                    Some(ends) => ends.clamp(starts, now_ms),
                    None => now_ms + (3 * repeat_interval_ms).max(300_000),
                };
                json!({
                    "labels": a.labels,
                    "annotations": a.annotations,
                    "startsAt": format_timestamp(starts),
                    "endsAt": format_timestamp(ends),
                    "generatorURL": "",
                })
            })
            .collect();
        Value::Array(alerts)
    }
}

/// Why a delivery failed: a reason any reader of the event log may see, and what the
/// receiver answered, which only an admin sees (it may echo the payload or secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What went wrong, without the receiver's answer.
    pub reason: String,
    /// The start of the receiver's answer, if it sent one.
    pub response: Option<String>,
}

impl<T: Into<String>> From<T> for Failure {
    fn from(reason: T) -> Self {
        Self {
            reason: reason.into(),
            response: None,
        }
    }
}

/// Sends `notification` through `channel` (with the client of
/// [`super::outbound::client`]); the error says why it failed, without the URL's secrets.
pub async fn send(
    client: &reqwest::Client,
    destinations: &super::outbound::Destinations,
    channel: &Channel,
    notification: &Notification,
    now_ms: i64,
) -> Result<(), Failure> {
    let requests = match &channel.kind {
        ChannelKind::Webhook { url } => vec![Outgoing::json(
            url.clone(),
            notification.webhook_payload(&channel.name),
        )],
        ChannelKind::Alertmanager { url } => vec![Outgoing::json(
            format!("{}/api/v2/alerts", url.trim_end_matches('/')),
            notification.alertmanager_payload(now_ms, channel.repeat_interval_ms),
        )],
        ChannelKind::Slack { url } => vec![Outgoing::json(
            url.clone(),
            json!({"text": notification.text()}),
        )],
        ChannelKind::PagerDuty { url, routing_key } => {
            providers::pagerduty(url, routing_key, &notification.alerts)
        }
        ChannelKind::Twilio {
            url,
            account_sid,
            auth_token,
            from,
            to,
            call,
        } => providers::twilio(
            &providers::TwilioTarget {
                url,
                account_sid,
                auth_token,
                from,
                to,
                call: *call,
            },
            &notification.title(),
            &notification.alerts,
        ),
        ChannelKind::Opsgenie { url, api_key } => {
            providers::opsgenie(url, api_key, &notification.alerts)
        }
        ChannelKind::Email { host, port, .. } => {
            destinations.resolve(host, *port).await?;
            return send_mail(channel, notification)
                .await
                .map_err(Failure::from);
        }
    };
    // One request per alert or recipient: all must succeed. A retry sends them all
    // again, which the providers deduplicate by key (PagerDuty, Opsgenie).
    for request in requests {
        post(client, destinations, request).await?;
    }
    Ok(())
}

/// Sends one request; the error says why it failed, without the URL's secrets.
async fn post(
    client: &reqwest::Client,
    destinations: &super::outbound::Destinations,
    request: Outgoing,
) -> Result<(), Failure> {
    let shown = crate::alerting::secrets::redact_url(&request.url);
    let parsed = reqwest::Url::parse(&request.url).map_err(|e| format!("POST {shown}: {e}"))?;
    destinations
        .check_url(&parsed)
        .map_err(|e| format!("POST {shown}: {e}"))?;
    let mut builder = client.post(parsed).timeout(DELIVERY_TIMEOUT);
    builder = match &request.body {
        Body::Json(body) => builder.json(body),
        Body::Form(pairs) => builder
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(providers::form_encode(pairs)),
    };
    builder = match &request.auth {
        Auth::None => builder,
        Auth::Basic(user, password) => builder.basic_auth(user, Some(password)),
        Auth::GenieKey(key) => {
            builder.header(reqwest::header::AUTHORIZATION, format!("GenieKey {key}"))
        }
    };
    let response = builder
        .send()
        .await
        .map_err(|e| Failure::from(format!("POST {shown}: {}", with_causes(&e.without_url()))))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let redirect = if status.is_redirection() {
        " (redirects are not followed; see outbound.same_origin_redirects)"
    } else {
        ""
    };
    let text = super::outbound::answer_start(response).await;
    Err(Failure {
        reason: format!("POST {shown}: HTTP {status}{redirect}"),
        response: Some(modelwatch_core::time::truncate(text.trim(), 200)),
    })
}

/// An error and its causes, `: `-separated (a refused destination is a cause).
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let more = inner.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = inner.source();
    }
    text
}

async fn send_mail(channel: &Channel, notification: &Notification) -> Result<(), String> {
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::transport::smtp::client::{Tls, TlsParameters};
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

    let ChannelKind::Email {
        host,
        port,
        security,
        from,
        to,
        credentials,
    } = &channel.kind
    else {
        return Err("not an email channel".into());
    };
    let parameters = || TlsParameters::new(host.clone()).map_err(|e| format!("TLS setup: {e}"));
    let tls = match security {
        SmtpSecurity::None => Tls::None,
        SmtpSecurity::Opportunistic => Tls::Opportunistic(parameters()?),
        SmtpSecurity::StartTls => Tls::Required(parameters()?),
        SmtpSecurity::Wrapped => Tls::Wrapper(parameters()?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
        .port(*port)
        .tls(tls)
        .timeout(Some(DELIVERY_TIMEOUT));
    if let Some((user, password)) = credentials {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    let transport = builder.build();
    let mut message = Message::builder()
        .from(from.parse().map_err(|e| format!("from: {e}"))?)
        .subject(notification.title());
    for recipient in to {
        message = message.to(recipient.parse().map_err(|e| format!("to: {e}"))?);
    }
    let message = message
        .body(notification.text())
        .map_err(|e| format!("building the mail: {e}"))?;
    transport
        .send(message)
        .await
        .map(drop)
        .map_err(|e| format!("SMTP {host}:{port}: {e}"))
}

/// The wait before try number `attempts + 1` after `attempts` failures: 1 s doubling,
/// at most 5 minutes.
pub fn backoff_ms(attempts: i64) -> i64 {
    (1000_i64 << attempts.clamp(0, 20)).min(300_000)
}

/// Tries before a notification is given up (and logged as `delivery_abandoned`):
/// about 4 hours of retries.
pub const MAX_ATTEMPTS: i64 = 56;

#[cfg(test)]
mod tests {
    use super::*;

    fn notification() -> Notification {
        let alert = |name: &str, ends: Option<i64>| AlertSnapshot {
            fingerprint: format!("fp-{name}"),
            labels: BTreeMap::from([
                ("alertname".to_string(), name.to_string()),
                ("model".to_string(), "credit".to_string()),
            ]),
            annotations: BTreeMap::from([("summary".to_string(), format!("{name} is bad"))]),
            starts_at_ms: 1_710_201_600_000,
            ends_at_ms: ends,
        };
        Notification {
            group_key: "{\"model\":\"credit\"}".into(),
            group_labels: BTreeMap::from([("model".to_string(), "credit".to_string())]),
            alerts: vec![
                alert("low-accuracy", None),
                alert("drift", Some(1_710_288_000_000)),
            ],
        }
    }

    #[test]
    fn webhook_payload_has_alertmanagers_shape() {
        let payload = notification().webhook_payload("ops");
        assert_eq!(payload["version"], "4");
        assert_eq!(payload["status"], "firing");
        assert_eq!(payload["receiver"], "ops");
        assert_eq!(payload["commonLabels"], json!({"model": "credit"}));
        assert_eq!(payload["alerts"][0]["status"], "firing");
        assert_eq!(payload["alerts"][0]["startsAt"], "2024-03-12T00:00:00Z");
        assert_eq!(payload["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
        assert_eq!(payload["alerts"][1]["status"], "resolved");
        assert_eq!(payload["alerts"][1]["endsAt"], "2024-03-13T00:00:00Z");
        assert_eq!(payload["alerts"][1]["fingerprint"], "fp-drift");
    }

    #[test]
    fn alertmanager_payload_keeps_firing_alerts_alive_and_ends_resolved_ones() {
        let now = 1_710_300_000_000;
        let payload = notification().alertmanager_payload(now, 60_000);
        assert_eq!(payload[0]["endsAt"], format_timestamp(now + 300_000));
        assert_eq!(payload[1]["endsAt"], "2024-03-13T00:00:00Z");
        assert_eq!(payload[0]["labels"]["alertname"], "low-accuracy");
    }

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        assert_eq!(backoff_ms(0), 1000);
        assert_eq!(backoff_ms(1), 2000);
        assert_eq!(backoff_ms(3), 8000);
        assert_eq!(backoff_ms(30), 300_000);
        let total: i64 = (0..MAX_ATTEMPTS).map(backoff_ms).sum();
        assert!(
            total > 4 * 3_600_000 - 600_000 && total < 5 * 3_600_000,
            "{total}"
        );
    }
}
