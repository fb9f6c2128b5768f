//! Notification channels: where alerts are sent (`PUT /api/v1/channels/{channel}`),
//! and how notifications are grouped and repeated (Alertmanager's `group_by`,
//! `group_wait`, `group_interval` and `repeat_interval`).

use serde_json::Value;

use crate::error::FieldError;
use crate::time::{format_duration, parse_duration};

/// How an email channel secures its SMTP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain SMTP, upgraded with STARTTLS when the server offers it.
    Opportunistic,
    /// Plain SMTP that must be upgraded with STARTTLS (fails otherwise).
    StartTls,
    /// No encryption (a relay on localhost).
    None,
    /// TLS from the first byte (`smtps://`).
    Wrapped,
}

/// Where a channel delivers.
#[derive(Debug, Clone, PartialEq)]
pub enum ChannelKind {
    /// POSTs the Alertmanager webhook payload to `url`.
    Webhook {
        /// Receiver URL.
        url: String,
    },
    /// POSTs alerts to `url` + `/api/v2/alerts` of an Alertmanager.
    Alertmanager {
        /// Alertmanager's base URL.
        url: String,
    },
    /// POSTs a Slack incoming-webhook message.
    Slack {
        /// The incoming-webhook URL.
        url: String,
    },
    /// Sends a plain-text mail over SMTP.
    Email {
        /// Host of the SMTP server.
        host: String,
        /// Its port.
        port: u16,
        /// Connection security.
        security: SmtpSecurity,
        /// Sender address.
        from: String,
        /// Recipient addresses.
        to: Vec<String>,
        /// SMTP AUTH user and password, if any.
        credentials: Option<(String, String)>,
    },
}

/// A validated channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    /// Its name (rules refer to it).
    pub name: String,
    /// Where it delivers.
    pub kind: ChannelKind,
    /// Labels whose values split alerts into notification groups.
    pub group_by: Vec<String>,
    /// How long a new group waits for more alerts before its first notification.
    pub group_wait_ms: i64,
    /// How long a group waits before notifying about changes after a notification.
    pub group_interval_ms: i64,
    /// How long before a notification about unchanged firing alerts is sent again.
    pub repeat_interval_ms: i64,
    /// Whether resolved alerts are notified.
    pub send_resolved: bool,
    /// The definition with defaults filled in and the password hidden, for `GET`.
    pub definition: Value,
}

fn http_url(object: &serde_json::Map<String, Value>) -> Result<String, FieldError> {
    let url = object
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| FieldError::new("url", "is required (an http:// or https:// URL)"))?;
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| FieldError::new("url", "must start with http:// or https://"))?;
    if rest.is_empty()
        || rest.starts_with('/')
        || url.len() > 2048
        || url.contains(char::is_whitespace)
    {
        return Err(FieldError::new(
            "url",
            "expected an http:// or https:// URL with a host, at most 2048 bytes",
        ));
    }
    Ok(url.to_string())
}

fn address(value: &Value, field: &str) -> Result<String, FieldError> {
    value
        .as_str()
        .filter(|a| {
            a.len() <= 254
                && a.split_once('@')
                    .is_some_and(|(user, host)| !user.is_empty() && !host.is_empty())
                && !a.contains(char::is_whitespace)
        })
        .map(str::to_string)
        .ok_or_else(|| {
            FieldError::new(
                field,
                "expected an email address such as oncall@example.org",
            )
        })
}

fn email(object: &serde_json::Map<String, Value>) -> Result<ChannelKind, FieldError> {
    let smtp = object
        .get("smtp")
        .and_then(Value::as_str)
        .ok_or_else(|| FieldError::new("smtp", "is required, e.g. smtp://mail.example.org:587"))?;
    let (wrapped, rest) = if let Some(rest) = smtp.strip_prefix("smtps://") {
        (true, rest)
    } else if let Some(rest) = smtp.strip_prefix("smtp://") {
        (false, rest)
    } else {
        return Err(FieldError::new(
            "smtp",
            "must start with smtp:// or smtps://",
        ));
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => (
            host,
            port.parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| FieldError::new("smtp", "the port must be 1 to 65535"))?,
        ),
        None => (rest, if wrapped { 465 } else { 25 }),
    };
    if host.is_empty() || host.contains(['/', '@', ' ']) {
        return Err(FieldError::new("smtp", "expected smtp://host[:port]"));
    }
    let security = match (wrapped, object.get("starttls").and_then(Value::as_str)) {
        (true, None) => SmtpSecurity::Wrapped,
        (true, Some(_)) => {
            return Err(FieldError::new("starttls", "does not apply to smtps://"));
        }
        (false, None | Some("opportunistic")) => SmtpSecurity::Opportunistic,
        (false, Some("required")) => SmtpSecurity::StartTls,
        (false, Some("never")) => SmtpSecurity::None,
        (false, Some(_)) => {
            return Err(FieldError::new(
                "starttls",
                "expected \"opportunistic\", \"required\" or \"never\"",
            ));
        }
    };
    let from = address(
        object
            .get("from")
            .ok_or_else(|| FieldError::new("from", "is required"))?,
        "from",
    )?;
    let to = match object.get("to") {
        Some(Value::String(_)) => vec![address(&object["to"], "to")?],
        Some(Value::Array(items)) if !items.is_empty() && items.len() <= 100 => items
            .iter()
            .enumerate()
            .map(|(i, v)| address(v, &format!("to[{i}]")))
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(FieldError::new("to", "expected one to 100 email addresses"));
        }
    };
    let text = |key: &str| -> Result<Option<String>, FieldError> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.len() <= 1024 => Ok(Some(s.clone())),
            Some(_) => Err(FieldError::new(key, "expected a string")),
        }
    };
    let credentials = match (text("username")?, text("password")?) {
        (Some(user), Some(password)) => Some((user, password)),
        (None, None) => None,
        (Some(_), None) => return Err(FieldError::new("password", "is required with `username`")),
        (None, Some(_)) => return Err(FieldError::new("username", "is required with `password`")),
    };
    Ok(ChannelKind::Email {
        host: host.to_string(),
        port,
        security,
        from,
        to,
        credentials,
    })
}

impl Channel {
    /// Validates a channel definition.
    pub fn new(name: &str, definition: &Value) -> Result<Channel, FieldError> {
        crate::schema::validate_model_name(name).map_err(|e| {
            FieldError::new("channel", e.message.replace("model name", "channel name"))
        })?;
        let object = definition
            .as_object()
            .ok_or_else(|| FieldError::new("body", "expected a JSON object"))?;
        let kind_name = object.get("type").and_then(Value::as_str).ok_or_else(|| {
            FieldError::new("type", "is required: webhook, alertmanager, slack or email")
        })?;
        let mut known = vec![
            "type",
            "group_by",
            "group_wait",
            "group_interval",
            "repeat_interval",
            "send_resolved",
        ];
        let kind = match kind_name {
            "webhook" => ChannelKind::Webhook {
                url: http_url(object)?,
            },
            "alertmanager" => ChannelKind::Alertmanager {
                url: http_url(object)?,
            },
            "slack" => ChannelKind::Slack {
                url: http_url(object)?,
            },
            "email" => email(object)?,
            _ => {
                return Err(FieldError::new(
                    "type",
                    "expected webhook, alertmanager, slack or email",
                ));
            }
        };
        match kind {
            ChannelKind::Email { .. } => {
                known.extend(["smtp", "starttls", "from", "to", "username", "password"]);
            }
            _ => known.push("url"),
        }
        if let Some(unknown) = object.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(FieldError::new(unknown.as_str(), "unknown field"));
        }
        // Alertmanager groups and repeats on its own; it needs every change at once
        // and firing alerts refreshed before they would expire there.
        let (wait, interval, repeat) = match kind {
            ChannelKind::Alertmanager { .. } => ("0s", "0s", "1m"),
            _ => ("30s", "5m", "4h"),
        };
        let duration = |key: &str, default: &str| -> Result<i64, FieldError> {
            match object.get(key) {
                None | Some(Value::Null) => Ok(parse_duration(default).unwrap_or(0)),
                Some(Value::String(text)) => {
                    parse_duration(text).map_err(|e| FieldError::new(key, e))
                }
                Some(_) => Err(FieldError::new(key, "expected a duration such as \"30s\"")),
            }
        };
        let group_wait_ms = duration("group_wait", wait)?;
        let group_interval_ms = duration("group_interval", interval)?;
        let repeat_interval_ms = duration("repeat_interval", repeat)?;
        if repeat_interval_ms < 1000 {
            return Err(FieldError::new("repeat_interval", "must be at least 1s"));
        }
        let group_by = match object.get("group_by") {
            None | Some(Value::Null) => vec!["alertname".to_string(), "model".to_string()],
            Some(Value::Array(items)) if items.len() <= 32 => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_str()
                        .filter(|s| !s.is_empty() && s.len() <= 64)
                        .map(str::to_string)
                        .ok_or_else(|| {
                            FieldError::new(format!("group_by[{i}]"), "expected a label name")
                        })
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(FieldError::new(
                    "group_by",
                    "expected at most 32 label names",
                ));
            }
        };
        let send_resolved = match object.get("send_resolved") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(FieldError::new("send_resolved", "expected true or false")),
        };
        let mut shown = definition.clone();
        shown["group_by"] = serde_json::json!(group_by);
        shown["group_wait"] = Value::String(format_duration(group_wait_ms));
        shown["group_interval"] = Value::String(format_duration(group_interval_ms));
        shown["repeat_interval"] = Value::String(format_duration(repeat_interval_ms));
        shown["send_resolved"] = Value::Bool(send_resolved);
        if shown.get("password").is_some() {
            shown["password"] = Value::String("<hidden>".into());
        }
        Ok(Channel {
            name: name.to_string(),
            kind,
            group_by,
            group_wait_ms,
            group_interval_ms,
            repeat_interval_ms,
            send_resolved,
            definition: shown,
        })
    }

    /// The channel's type name.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            ChannelKind::Webhook { .. } => "webhook",
            ChannelKind::Alertmanager { .. } => "alertmanager",
            ChannelKind::Slack { .. } => "slack",
            ChannelKind::Email { .. } => "email",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_follow_alertmanager() {
        let channel = Channel::new(
            "ops",
            &json!({"type": "webhook", "url": "http://127.0.0.1:9000/hook"}),
        )
        .unwrap();
        assert_eq!(channel.group_wait_ms, 30_000);
        assert_eq!(channel.group_interval_ms, 300_000);
        assert_eq!(channel.repeat_interval_ms, 4 * 3_600_000);
        assert_eq!(channel.group_by, ["alertname", "model"]);
        let am = Channel::new(
            "am",
            &json!({"type": "alertmanager", "url": "http://127.0.0.1:9093"}),
        )
        .unwrap();
        assert_eq!((am.group_wait_ms, am.repeat_interval_ms), (0, 60_000));
    }

    #[test]
    fn email_settings_are_parsed_and_the_password_hidden() {
        let channel = Channel::new(
            "mail",
            &json!({"type": "email", "smtp": "smtp://127.0.0.1:2525", "from": "mw@example.org",
                    "to": ["oncall@example.org"], "username": "mw", "password": "secret", "starttls": "required"}),
        )
        .unwrap();
        let ChannelKind::Email {
            host,
            port,
            security,
            credentials,
            ..
        } = &channel.kind
        else {
            panic!("not an email channel");
        };
        assert_eq!(
            (host.as_str(), *port, *security),
            ("127.0.0.1", 2525, SmtpSecurity::StartTls)
        );
        assert_eq!(credentials.as_ref().unwrap().1, "secret");
        assert_eq!(channel.definition["password"], "<hidden>");
    }

    #[test]
    fn validation_names_the_field() {
        let field = |body: Value| Channel::new("c", &body).unwrap_err().field;
        assert_eq!(field(json!({})), "type");
        assert_eq!(field(json!({"type": "pager"})), "type");
        assert_eq!(field(json!({"type": "webhook"})), "url");
        assert_eq!(field(json!({"type": "webhook", "url": "ftp://x"})), "url");
        assert_eq!(field(json!({"type": "webhook", "url": "http://"})), "url");
        assert_eq!(
            field(json!({"type": "webhook", "url": "http://x", "group_wait": "soon"})),
            "group_wait"
        );
        assert_eq!(
            field(json!({"type": "webhook", "url": "http://x", "smtp": "smtp://x"})),
            "smtp"
        );
        assert_eq!(
            field(json!({"type": "email", "from": "a@b", "to": ["c@d"]})),
            "smtp"
        );
        assert_eq!(
            field(json!({"type": "email", "smtp": "smtp://h:0", "from": "a@b", "to": ["c@d"]})),
            "smtp"
        );
        assert_eq!(
            field(json!({"type": "email", "smtp": "smtp://h", "from": "nobody", "to": ["c@d"]})),
            "from"
        );
        assert_eq!(
            field(json!({"type": "email", "smtp": "smtp://h", "from": "a@b", "to": ["c@d", "x"]})),
            "to[1]"
        );
        assert_eq!(
            field(
                json!({"type": "email", "smtp": "smtp://h", "from": "a@b", "to": "c@d", "username": "u"})
            ),
            "password"
        );
        assert_eq!(
            Channel::new("A B", &json!({})).unwrap_err().field,
            "channel"
        );
    }
}
