//! The requests of the paging providers, as each documents them: PagerDuty's Events
//! API v2, Twilio's Messages and Calls resources, and Opsgenie's Alert API. A
//! notification becomes one request per alert for PagerDuty and Opsgenie (each alert
//! is one incident there, its fingerprint the key that resolves it) and one per
//! recipient for Twilio.

use std::collections::BTreeMap;

use modelwatch_core::alert::AlertSnapshot;
use modelwatch_core::time::{format_timestamp, truncate};
use serde_json::{Value, json};

/// A request's body.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// `application/json`.
    Json(Value),
    /// `application/x-www-form-urlencoded`, in this order.
    Form(Vec<(&'static str, String)>),
}

/// How a request authenticates.
#[derive(Debug, Clone, PartialEq)]
pub enum Auth {
    /// Not at all (the secret is in the URL or the body).
    None,
    /// HTTP basic auth: user and password.
    Basic(String, String),
    /// `Authorization: GenieKey <key>`.
    GenieKey(String),
}

/// One HTTP `POST` to a receiver.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// Where.
    pub url: String,
    /// What.
    pub body: Body,
    /// With which credentials.
    pub auth: Auth,
}

impl Outgoing {
    /// A JSON `POST` without credentials.
    pub fn json(url: String, body: Value) -> Self {
        Self {
            url,
            body: Body::Json(body),
            auth: Auth::None,
        }
    }
}

/// `application/x-www-form-urlencoded` encoding (the WHATWG rules: `*-._` and
/// alphanumerics as they are, space as `+`, every other byte `%XX`).
pub fn form_encode(pairs: &[(&'static str, String)]) -> String {
    let encode = |text: &str| {
        let mut out = String::new();
        for byte in text.bytes() {
            match byte {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                    out.push(char::from(byte))
                }
                b' ' => out.push('+'),
                other => out.push_str(&format!("%{other:02X}")),
            }
        }
        out
    };
    pairs
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

fn label<'a>(alert: &'a AlertSnapshot, name: &str) -> &'a str {
    alert.labels.get(name).map_or("", String::as_str)
}

/// PagerDuty's severity for modelwatch's `severity` label (one of `critical`,
/// `error`, `warning`, `info`; anything else is `warning`).
pub fn pagerduty_severity(severity: &str) -> &'static str {
    match severity.to_ascii_lowercase().as_str() {
        "critical" | "page" | "fatal" => "critical",
        "error" | "high" | "major" => "error",
        "info" | "low" | "none" | "informational" => "info",
        _ => "warning",
    }
}

/// Opsgenie's priority for modelwatch's `severity` label (`critical` P1, `error` P2,
/// `warning` P3, `info` P5; anything else P3).
pub fn opsgenie_priority(severity: &str) -> &'static str {
    match pagerduty_severity(severity) {
        "critical" => "P1",
        "error" => "P2",
        "info" => "P5",
        _ => "P3",
    }
}

/// A one-line summary of an alert: its `summary` annotation, or its name and model.
fn summary(alert: &AlertSnapshot) -> String {
    alert
        .annotations
        .get("summary")
        .cloned()
        .unwrap_or_else(|| {
            format!(
                "{} on model {}",
                label(alert, "alertname"),
                label(alert, "model")
            )
        })
}

/// PagerDuty Events API v2 (`POST {url}/v2/enqueue`): a `trigger` for each firing
/// alert and a `resolve` for each resolved one, keyed by the alert's fingerprint.
pub fn pagerduty(url: &str, routing_key: &str, alerts: &[AlertSnapshot]) -> Vec<Outgoing> {
    let endpoint = format!("{url}/v2/enqueue");
    alerts
        .iter()
        .map(|alert| {
            let body = if alert.is_resolved() {
                json!({
                    "routing_key": routing_key,
                    "event_action": "resolve",
                    "dedup_key": alert.fingerprint,
                })
            } else {
                let model = label(alert, "model");
                json!({
                    "routing_key": routing_key,
                    "event_action": "trigger",
                    "dedup_key": alert.fingerprint,
                    "client": "modelwatch",
                    "payload": {
                        "summary": truncate(&summary(alert), 1000),
                        "source": if model.is_empty() { "modelwatch" } else { model },
                        "severity": pagerduty_severity(label(alert, "severity")),
                        "timestamp": format_timestamp(alert.starts_at_ms),
                        "component": model,
                        "group": label(alert, "alertname"),
                        "class": alert.annotations.get("metric").map_or("", String::as_str),
                        "custom_details": {
                            "labels": alert.labels,
                            "annotations": alert.annotations,
                        },
                    },
                })
            };
            Outgoing::json(endpoint.clone(), body)
        })
        .collect()
}

/// Escapes text for XML content and attributes.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// What a text message says: the notification's title and one line per alert (Twilio
/// takes at most 1,600 characters).
pub fn sms_text(title: &str, alerts: &[AlertSnapshot]) -> String {
    let mut text = title.to_string();
    for alert in alerts {
        let status = if alert.is_resolved() {
            "resolved"
        } else {
            "firing"
        };
        text.push_str(&format!("\n[{status}] {}", summary(alert)));
    }
    truncate(&text, 1590)
}

/// What a call reads out: the firing alerts, once.
pub fn call_text(alerts: &[AlertSnapshot]) -> String {
    let firing: Vec<String> = alerts
        .iter()
        .filter(|a| !a.is_resolved())
        .map(summary)
        .collect();
    truncate(
        &format!(
            "This is modelwatch. {} alert{} firing. {}",
            firing.len(),
            if firing.len() == 1 { " is" } else { "s are" },
            firing.join(". ")
        ),
        3000,
    )
}

/// Where and as whom a Twilio channel sends.
pub struct TwilioTarget<'a> {
    /// The REST API's base URL.
    pub url: &'a str,
    /// The account SID (basic auth user).
    pub account_sid: &'a str,
    /// The auth token (basic auth password).
    pub auth_token: &'a str,
    /// The sending number.
    pub from: &'a str,
    /// The numbers texted or called.
    pub to: &'a [String],
    /// Calls instead of text messages.
    pub call: bool,
}

/// Twilio: one SMS per recipient through the Messages resource, or one call through
/// the Calls resource reading `<Say>` TwiML (calls only about firing alerts).
pub fn twilio(target: &TwilioTarget<'_>, title: &str, alerts: &[AlertSnapshot]) -> Vec<Outgoing> {
    let TwilioTarget {
        url,
        account_sid,
        auth_token,
        from,
        to,
        call,
    } = *target;
    let auth = Auth::Basic(account_sid.to_string(), auth_token.to_string());
    if call && alerts.iter().all(AlertSnapshot::is_resolved) {
        return Vec::new();
    }
    let (resource, field, content) = if call {
        let twiml = format!(
            "<Response><Say>{}</Say></Response>",
            xml_escape(&call_text(alerts))
        );
        ("Calls", "Twiml", twiml)
    } else {
        ("Messages", "Body", sms_text(title, alerts))
    };
    let endpoint = format!("{url}/2010-04-01/Accounts/{account_sid}/{resource}.json");
    to.iter()
        .map(|number| Outgoing {
            url: endpoint.clone(),
            body: Body::Form(vec![
                ("To", number.clone()),
                ("From", from.to_string()),
                (field, content.clone()),
            ]),
            auth: auth.clone(),
        })
        .collect()
}

/// Opsgenie's Alert API: create (`POST {url}/v2/alerts`) each firing alert with its
/// fingerprint as `alias`, and close each resolved one by that alias.
pub fn opsgenie(url: &str, api_key: &str, alerts: &[AlertSnapshot]) -> Vec<Outgoing> {
    let auth = Auth::GenieKey(api_key.to_string());
    alerts
        .iter()
        .map(|alert| {
            let (endpoint, body) = if alert.is_resolved() {
                (
                    format!(
                        "{url}/v2/alerts/{}/close?identifierType=alias",
                        alert.fingerprint
                    ),
                    json!({"source": "modelwatch", "note": format!("Resolved: {}", summary(alert))}),
                )
            } else {
                let mut details: BTreeMap<String, String> = alert.labels.clone();
                for (name, value) in &alert.annotations {
                    details.insert(format!("annotation.{name}"), value.clone());
                }
                details.insert("starts_at".into(), format_timestamp(alert.starts_at_ms));
                let model = label(alert, "model");
                let tags: Vec<String> = ["alertname", "model", "severity"]
                    .iter()
                    .filter(|name| !label(alert, name).is_empty())
                    .map(|name| format!("{name}:{}", label(alert, name)))
                    .chain(["modelwatch".to_string()])
                    .collect();
                (
                    format!("{url}/v2/alerts"),
                    json!({
                        "message": truncate(&format!("[{}] {}: {}", label(alert, "severity"), label(alert, "alertname"), model), 129),
                        "alias": alert.fingerprint,
                        "description": truncate(&summary(alert), 14_000),
                        "priority": opsgenie_priority(label(alert, "severity")),
                        "tags": tags,
                        "details": details,
                        "entity": model,
                        "source": "modelwatch",
                    }),
                )
            };
            Outgoing {
                url: endpoint,
                body: Body::Json(body),
                auth: auth.clone(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_encoded_as_browsers_do() {
        let body = form_encode(&[("To", "+14155550100".into()), ("Body", "a b&c=d é".into())]);
        assert_eq!(body, "To=%2B14155550100&Body=a+b%26c%3Dd+%C3%A9");
    }

    #[test]
    fn xml_special_characters_are_escaped() {
        assert_eq!(
            xml_escape(r#"<a & 'b' "c">"#),
            "&lt;a &amp; &apos;b&apos; &quot;c&quot;&gt;"
        );
    }

    #[test]
    fn severities_map_to_each_providers_scale() {
        assert_eq!(pagerduty_severity("critical"), "critical");
        assert_eq!(pagerduty_severity("warning"), "warning");
        assert_eq!(pagerduty_severity("INFO"), "info");
        assert_eq!(pagerduty_severity("whatever"), "warning");
        assert_eq!(opsgenie_priority("critical"), "P1");
        assert_eq!(opsgenie_priority("error"), "P2");
        assert_eq!(opsgenie_priority("warning"), "P3");
        assert_eq!(opsgenie_priority("info"), "P5");
    }
}
