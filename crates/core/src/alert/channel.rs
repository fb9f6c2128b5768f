//! Notification channels: where alerts are sent (`PUT /api/v1/channels/{channel}`),
//! and how notifications are grouped and repeated (Alertmanager's `group_by`,
//! `group_wait`, `group_interval` and `repeat_interval`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::FieldError;
use crate::time::{Duration, HOUR_MS, MINUTE_MS};

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
    /// Sends PagerDuty Events API v2 events (`POST {url}/v2/enqueue`): one `trigger`
    /// per firing alert and one `resolve` per resolved one, with the alert's
    /// fingerprint as `dedup_key`.
    PagerDuty {
        /// The Events API's base URL (default `https://events.pagerduty.com`).
        url: String,
        /// The integration's routing key.
        routing_key: String,
    },
    /// Sends SMS through Twilio's Messages resource, or places voice calls through its
    /// Calls resource reading a TwiML `<Say>` message.
    Twilio {
        /// The REST API's base URL (default `https://api.twilio.com`).
        url: String,
        /// The account SID (`AC…`), the user of HTTP basic auth.
        account_sid: String,
        /// The auth token, the password of HTTP basic auth.
        auth_token: String,
        /// The sending number (E.164).
        from: String,
        /// The numbers messaged or called (E.164).
        to: Vec<String>,
        /// Calls instead of text messages.
        call: bool,
    },
    /// Creates and closes Opsgenie alerts (`POST {url}/v2/alerts`, with the alert's
    /// fingerprint as `alias`).
    Opsgenie {
        /// The Alert API's base URL (default `https://api.opsgenie.com`).
        url: String,
        /// The API integration's key (`Authorization: GenieKey …`).
        api_key: String,
    },
}

/// `mode` of a Twilio channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TwilioMode {
    /// Text messages (the default).
    Sms,
    /// Voice calls.
    Call,
}

/// The `type` of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelType {
    /// [`ChannelKind::Webhook`].
    Webhook,
    /// [`ChannelKind::Alertmanager`].
    Alertmanager,
    /// [`ChannelKind::Slack`].
    Slack,
    /// [`ChannelKind::Email`].
    Email,
    /// [`ChannelKind::PagerDuty`].
    PagerDuty,
    /// [`ChannelKind::Twilio`].
    Twilio,
    /// [`ChannelKind::Opsgenie`].
    Opsgenie,
}

impl ChannelType {
    const ALL: [ChannelType; 7] = [
        ChannelType::Webhook,
        ChannelType::Alertmanager,
        ChannelType::Slack,
        ChannelType::Email,
        ChannelType::PagerDuty,
        ChannelType::Twilio,
        ChannelType::Opsgenie,
    ];

    /// Its name in a definition.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelType::Webhook => "webhook",
            ChannelType::Alertmanager => "alertmanager",
            ChannelType::Slack => "slack",
            ChannelType::Email => "email",
            ChannelType::PagerDuty => "pagerduty",
            ChannelType::Twilio => "twilio",
            ChannelType::Opsgenie => "opsgenie",
        }
    }
}

impl Serialize for ChannelType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ChannelType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const EXPECTED: &str =
            "expected webhook, alertmanager, slack, email, pagerduty, twilio or opsgenie";
        struct Name;
        impl serde::de::Visitor<'_> for Name {
            type Value = ChannelType;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<ChannelType, E> {
                ChannelType::ALL
                    .into_iter()
                    .find(|kind| kind.as_str() == name)
                    .ok_or_else(|| E::custom(EXPECTED))
            }
        }
        deserializer.deserialize_str(Name)
    }
}

/// `starttls` of an `smtp://` email channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartTls {
    /// Upgrade when the server offers it (the default).
    Opportunistic,
    /// Upgrade or fail.
    Required,
    /// Stay plain.
    Never,
}

/// `to` of an email or Twilio channel: one recipient, or a list of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged, expecting = "expected one to 100 email addresses")]
pub enum Recipients {
    /// `"to": "oncall@example.org"`
    One(String),
    /// `"to": ["a@example.org", "b@example.org"]`
    Many(Vec<String>),
}

/// A channel as sent (`PUT /api/v1/channels/{channel}`, or `[channels.NAME]` in the
/// configuration file): one flat object whose fields depend on its `type`
/// ([`Channel::from_definition`] checks which apply).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
pub struct ChannelDefinition {
    /// Where it delivers.
    #[serde(rename = "type")]
    pub kind: ChannelType,
    /// The receiver (`webhook`, `alertmanager`, `slack`), or the provider's base URL
    /// (`pagerduty`, `twilio`, `opsgenie`; default the provider's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The integration's routing key (`pagerduty`; a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_key: Option<String>,
    /// The account SID (`twilio`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_sid: Option<String>,
    /// The auth token (`twilio`; a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_token: Option<String>,
    /// `sms` or `call` (`twilio`; default `sms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<TwilioMode>,
    /// The API integration's key (`opsgenie`; a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// `smtp://host[:port]` or `smtps://host[:port]` (`email`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp: Option<String>,
    /// STARTTLS on `smtp://` (`email`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starttls: Option<StartTls>,
    /// Sender address (`email`), or sending number (`twilio`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Recipient addresses (`email`), or the numbers messaged or called (`twilio`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Recipients>,
    /// SMTP AUTH user (`email`, with `password`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// SMTP AUTH password (`email`, with `username`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Whether the credentials may be sent over a connection that is not encrypted
    /// (`email`; default false: with credentials, `opportunistic` STARTTLS becomes
    /// `required`, and `never` is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_auth: Option<bool>,
    /// Labels whose values split alerts into notification groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<Vec<String>>,
    /// How long a new group waits before its first notification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_wait: Option<Duration>,
    /// How long a group waits before notifying about changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_interval: Option<Duration>,
    /// How long before unchanged firing alerts are notified again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_interval: Option<Duration>,
    /// Whether resolved alerts are notified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_resolved: Option<bool>,
}

impl ChannelDefinition {
    /// The first field set that a channel of its type does not take.
    fn foreign_field(&self) -> Option<&'static str> {
        let fields = [
            ("url", self.url.is_some()),
            ("smtp", self.smtp.is_some()),
            ("starttls", self.starttls.is_some()),
            ("from", self.from.is_some()),
            ("to", self.to.is_some()),
            ("username", self.username.is_some()),
            ("password", self.password.is_some()),
            ("insecure_auth", self.insecure_auth.is_some()),
            ("routing_key", self.routing_key.is_some()),
            ("account_sid", self.account_sid.is_some()),
            ("auth_token", self.auth_token.is_some()),
            ("mode", self.mode.is_some()),
            ("api_key", self.api_key.is_some()),
        ];
        let taken: &[&str] = match self.kind {
            ChannelType::Webhook | ChannelType::Alertmanager | ChannelType::Slack => &["url"],
            ChannelType::Email => &[
                "smtp",
                "starttls",
                "from",
                "to",
                "username",
                "password",
                "insecure_auth",
            ],
            ChannelType::PagerDuty => &["url", "routing_key"],
            ChannelType::Twilio => &["url", "account_sid", "auth_token", "mode", "from", "to"],
            ChannelType::Opsgenie => &["url", "api_key"],
        };
        fields
            .iter()
            .find(|(name, set)| *set && !taken.contains(name))
            .map(|(name, _)| *name)
    }

    /// The secrets it holds, by field: stored sealed, never shown.
    pub fn secrets_mut(&mut self) -> [&mut Option<String>; 4] {
        [
            &mut self.password,
            &mut self.routing_key,
            &mut self.auth_token,
            &mut self.api_key,
        ]
    }
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
    /// The definition with defaults filled in: what is stored (the password with it,
    /// to be used) and, with the password hidden, shown.
    pub definition: ChannelDefinition,
}

fn http_url(url: Option<&String>) -> Result<String, FieldError> {
    let url =
        url.ok_or_else(|| FieldError::new("url", "is required (an http:// or https:// URL)"))?;
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
    Ok(url.clone())
}

/// The required `from` of a channel, checked by `check`.
fn required_from(
    from: Option<&str>,
    check: fn(&str, &str) -> Result<String, FieldError>,
) -> Result<String, FieldError> {
    check(
        from.ok_or_else(|| FieldError::new("from", "is required"))?,
        "from",
    )
}

impl Recipients {
    /// One to `most` recipients (`to`), each checked by `check`; `what` names them in
    /// the error.
    fn parse(
        to: &Option<Self>,
        most: usize,
        what: &str,
        check: fn(&str, &str) -> Result<String, FieldError>,
    ) -> Result<Vec<String>, FieldError> {
        match to {
            Some(Self::One(to)) => Ok(vec![check(to, "to")?]),
            Some(Self::Many(items)) if !items.is_empty() && items.len() <= most => items
                .iter()
                .enumerate()
                .map(|(i, to)| check(to, &format!("to[{i}]")))
                .collect(),
            _ => Err(FieldError::new(
                "to",
                format!("expected one to {most} {what}"),
            )),
        }
    }
}

fn address(address: &str, field: &str) -> Result<String, FieldError> {
    let valid = address.len() <= 254
        && address
            .split_once('@')
            .is_some_and(|(user, host)| !user.is_empty() && !host.is_empty())
        && !address.contains(char::is_whitespace);
    if !valid {
        return Err(FieldError::new(
            field,
            "expected an email address such as oncall@example.org",
        ));
    }
    Ok(address.to_string())
}

fn email(definition: &ChannelDefinition) -> Result<ChannelKind, FieldError> {
    let smtp = definition
        .smtp
        .as_deref()
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
    let security = match (wrapped, definition.starttls) {
        (true, None) => SmtpSecurity::Wrapped,
        (true, Some(_)) => {
            return Err(FieldError::new("starttls", "does not apply to smtps://"));
        }
        (false, None | Some(StartTls::Opportunistic)) => SmtpSecurity::Opportunistic,
        (false, Some(StartTls::Required)) => SmtpSecurity::StartTls,
        (false, Some(StartTls::Never)) => SmtpSecurity::None,
    };
    let from = required_from(definition.from.as_deref(), address)?;
    let to = Recipients::parse(&definition.to, 100, "email addresses", address)?;
    let text = |field: &str, value: &Option<String>| match value {
        Some(text) if text.len() > 1024 => Err(FieldError::new(field, "at most 1024 bytes")),
        other => Ok(other.clone()),
    };
    let credentials = match (
        text("username", &definition.username)?,
        text("password", &definition.password)?,
    ) {
        (Some(user), Some(password)) => Some((user, password)),
        (None, None) => None,
        (Some(_), None) => return Err(FieldError::new("password", "is required with `username`")),
        (None, Some(_)) => return Err(FieldError::new("username", "is required with `password`")),
    };
    // Credentials never travel in clear text unless the definition says they may.
    let security = match (security, &credentials, definition.insecure_auth) {
        (_, None, _) | (_, Some(_), Some(true)) => security,
        (SmtpSecurity::Opportunistic, Some(_), _) => SmtpSecurity::StartTls,
        (SmtpSecurity::None, Some(_), _) => {
            return Err(FieldError::new(
                "starttls",
                "`never` would send the password unencrypted: use `required` or smtps://, or set `insecure_auth: true`",
            ));
        }
        (secure, Some(_), _) => secure,
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

/// A provider's secret: required, 1 to 1024 bytes, no whitespace.
fn secret(value: &Option<String>, field: &str) -> Result<String, FieldError> {
    match value {
        Some(text)
            if !text.is_empty() && text.len() <= 1024 && !text.contains(char::is_whitespace) =>
        {
            Ok(text.clone())
        }
        Some(_) => Err(FieldError::new(
            field,
            "expected 1 to 1024 bytes without spaces",
        )),
        None => Err(FieldError::new(field, "is required")),
    }
}

/// A phone number in E.164 form: `+` and 8 to 15 digits.
fn phone(number: &str, field: &str) -> Result<String, FieldError> {
    let digits = number.strip_prefix('+').unwrap_or("");
    if (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(number.to_string())
    } else {
        Err(FieldError::new(
            field,
            "expected a phone number in E.164 form, such as +14155550100",
        ))
    }
}

/// The base URL of a provider's API: the one given, or the provider's own.
fn base_url(definition: &mut ChannelDefinition, default: &str) -> Result<String, FieldError> {
    let url = http_url(Some(
        definition.url.get_or_insert_with(|| default.to_string()),
    ))?;
    Ok(url.trim_end_matches('/').to_string())
}

fn twilio(definition: &mut ChannelDefinition) -> Result<ChannelKind, FieldError> {
    let url = base_url(definition, "https://api.twilio.com")?;
    let account_sid = match &definition.account_sid {
        Some(sid)
            if sid.len() == 34
                && sid.starts_with("AC")
                && sid[2..].bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            sid.clone()
        }
        Some(_) => {
            return Err(FieldError::new(
                "account_sid",
                "expected AC followed by 32 hexadecimal digits",
            ));
        }
        None => return Err(FieldError::new("account_sid", "is required")),
    };
    let auth_token = secret(&definition.auth_token, "auth_token")?;
    let from = required_from(definition.from.as_deref(), phone)?;
    let to = Recipients::parse(&definition.to, 20, "phone numbers", phone)?;
    let call = definition.mode == Some(TwilioMode::Call);
    definition.mode = Some(definition.mode.unwrap_or(TwilioMode::Sms));
    Ok(ChannelKind::Twilio {
        url,
        account_sid,
        auth_token,
        from,
        to,
        call,
    })
}

impl Channel {
    /// Checks a channel's name (the rules of model names).
    pub fn check_name(name: &str) -> Result<(), FieldError> {
        crate::schema::validate_resource_name(name, "channel", "channel name")
    }

    /// Reads and validates a channel definition sent as JSON.
    pub fn new(name: &str, definition: &Value) -> Result<Channel, FieldError> {
        Self::check_name(name)?;
        Self::from_definition(name, crate::definition::from_json(definition)?)
    }

    /// Validates a channel definition.
    pub fn from_definition(
        name: &str,
        mut definition: ChannelDefinition,
    ) -> Result<Channel, FieldError> {
        Self::check_name(name)?;
        let kind = match definition.kind {
            ChannelType::Webhook => ChannelKind::Webhook {
                url: http_url(definition.url.as_ref())?,
            },
            ChannelType::Alertmanager => ChannelKind::Alertmanager {
                url: http_url(definition.url.as_ref())?,
            },
            ChannelType::Slack => ChannelKind::Slack {
                url: http_url(definition.url.as_ref())?,
            },
            ChannelType::Email => email(&definition)?,
            ChannelType::PagerDuty => ChannelKind::PagerDuty {
                url: base_url(&mut definition, "https://events.pagerduty.com")?,
                routing_key: secret(&definition.routing_key, "routing_key")?,
            },
            ChannelType::Twilio => twilio(&mut definition)?,
            ChannelType::Opsgenie => ChannelKind::Opsgenie {
                url: base_url(&mut definition, "https://api.opsgenie.com")?,
                api_key: secret(&definition.api_key, "api_key")?,
            },
        };
        if let Some(field) = definition.foreign_field() {
            return Err(FieldError::new(
                field,
                format!(
                    "unknown field for a channel of type {}",
                    definition.kind.as_str()
                ),
            ));
        }
        // Alertmanager groups and repeats on its own; it needs every change at once
        // and firing alerts refreshed before they would expire there.
        let (wait, interval, repeat) = match kind {
            ChannelKind::Alertmanager { .. } => (0, 0, MINUTE_MS),
            _ => (30_000, 5 * MINUTE_MS, 4 * HOUR_MS),
        };
        let or = |duration: &Option<Duration>, default: i64| {
            duration.as_ref().map_or(default, Duration::ms)
        };
        let group_wait_ms = or(&definition.group_wait, wait);
        let group_interval_ms = or(&definition.group_interval, interval);
        let repeat_interval_ms = or(&definition.repeat_interval, repeat);
        if repeat_interval_ms < 1000 {
            return Err(FieldError::new("repeat_interval", "must be at least 1s"));
        }
        let group_by = definition
            .group_by
            .clone()
            .unwrap_or_else(|| vec!["alertname".to_string(), "model".to_string()]);
        if group_by.len() > 32 {
            return Err(FieldError::new(
                "group_by",
                "expected at most 32 label names",
            ));
        }
        if let Some(i) = group_by.iter().position(|l| l.is_empty() || l.len() > 64) {
            return Err(FieldError::new(
                format!("group_by[{i}]"),
                "expected a label name",
            ));
        }
        // A phone call about alerts that ended wakes someone for nothing.
        let calls = matches!(kind, ChannelKind::Twilio { call: true, .. });
        let send_resolved = definition.send_resolved.unwrap_or(!calls);
        definition.group_by = Some(group_by.clone());
        definition.group_wait = Some(Duration::from_ms(group_wait_ms));
        definition.group_interval = Some(Duration::from_ms(group_interval_ms));
        definition.repeat_interval = Some(Duration::from_ms(repeat_interval_ms));
        definition.send_resolved = Some(send_resolved);
        Ok(Channel {
            name: name.to_string(),
            kind,
            group_by,
            group_wait_ms,
            group_interval_ms,
            repeat_interval_ms,
            send_resolved,
            definition,
        })
    }

    /// The channel as `GET` shows it: its definition, secrets hidden, and its name.
    pub fn to_json(&self) -> Value {
        let mut shown = self.definition.clone();
        for secret in shown.secrets_mut() {
            if secret.is_some() {
                *secret = Some("<hidden>".to_string());
            }
        }
        let mut body = serde_json::to_value(&shown).unwrap_or_default();
        body["name"] = Value::String(self.name.clone());
        body
    }

    /// The channel's type name.
    pub fn type_name(&self) -> &'static str {
        self.definition.kind.as_str()
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
        assert_eq!(channel.to_json()["password"], "<hidden>");
        assert_eq!(channel.definition.password.as_deref(), Some("secret"));
    }

    #[test]
    fn credentials_never_travel_unencrypted_unless_allowed() {
        let security = |extra: Value| {
            let mut body = json!({"type": "email", "smtp": "smtp://127.0.0.1:2525",
                                  "from": "mw@example.org", "to": "oncall@example.org"});
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            Channel::new("mail", &body).map(|c| match c.kind {
                ChannelKind::Email { security, .. } => security,
                _ => panic!("not an email channel"),
            })
        };
        let login = json!({"username": "mw", "password": "secret"});
        // Without credentials, opportunistic stays opportunistic.
        assert_eq!(security(json!({})).unwrap(), SmtpSecurity::Opportunistic);
        // With them, STARTTLS becomes required, and `never` is refused...
        assert_eq!(security(login.clone()).unwrap(), SmtpSecurity::StartTls);
        let mut never = login.clone();
        never["starttls"] = json!("never");
        assert_eq!(security(never.clone()).unwrap_err().field, "starttls");
        // ...unless the definition says clear text is fine.
        never["insecure_auth"] = json!(true);
        assert_eq!(security(never).unwrap(), SmtpSecurity::None);
        let mut opportunistic = login;
        opportunistic["insecure_auth"] = json!(true);
        assert_eq!(
            security(opportunistic).unwrap(),
            SmtpSecurity::Opportunistic
        );
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

    #[test]
    fn unknown_fields_and_bad_durations_are_named() {
        let error = |body: Value| Channel::new("c", &body).unwrap_err();
        let unknown = error(json!({"type": "slack", "url": "https://x", "colour": "red"}));
        assert_eq!(unknown.field, "colour");
        assert!(
            unknown.message.contains("unknown field `colour`"),
            "{unknown}"
        );
        let duration =
            error(json!({"type": "slack", "url": "https://x", "repeat_interval": "often"}));
        assert_eq!(duration.field, "repeat_interval");
        assert!(duration.message.contains("often"), "{duration}");
        assert_eq!(
            error(json!({"type": "email", "smtp": "smtp://h", "from": "a@b", "to": "c@d", "starttls": "maybe"})).field,
            "starttls"
        );
    }

    #[test]
    fn paging_providers_default_to_their_own_urls_and_hide_their_secrets() {
        let pagerduty =
            Channel::new("pd", &json!({"type": "pagerduty", "routing_key": "R0abc"})).unwrap();
        assert_eq!(
            pagerduty.kind,
            ChannelKind::PagerDuty {
                url: "https://events.pagerduty.com".into(),
                routing_key: "R0abc".into()
            }
        );
        assert_eq!(pagerduty.to_json()["routing_key"], "<hidden>");
        assert_eq!(pagerduty.to_json()["url"], "https://events.pagerduty.com");
        let sid = "AC0123456789abcdef0123456789abcdef";
        let call = Channel::new(
            "phone",
            &json!({"type": "twilio", "account_sid": sid, "auth_token": "tok", "from": "+15005550006",
                    "to": "+14155550100", "mode": "call", "url": "http://127.0.0.1:9/"}),
        )
        .unwrap();
        let ChannelKind::Twilio {
            url,
            to,
            call: calls,
            ..
        } = &call.kind
        else {
            panic!("not a twilio channel");
        };
        assert_eq!(
            (url.as_str(), to.as_slice(), *calls),
            (
                "http://127.0.0.1:9",
                &["+14155550100".to_string()][..],
                true
            )
        );
        // Calls about resolved alerts wake people for nothing: off unless asked for.
        assert!(!call.send_resolved);
        assert_eq!(call.to_json()["auth_token"], "<hidden>");
        assert_eq!(call.to_json()["account_sid"], sid);
        let opsgenie = Channel::new("og", &json!({"type": "opsgenie", "api_key": "k-1"})).unwrap();
        assert_eq!(opsgenie.to_json()["api_key"], "<hidden>");
        assert!(opsgenie.send_resolved);
    }

    #[test]
    fn paging_providers_name_the_bad_field() {
        let field = |body: Value| Channel::new("c", &body).unwrap_err().field;
        let sid = "AC0123456789abcdef0123456789abcdef";
        assert_eq!(field(json!({"type": "pagerduty"})), "routing_key");
        assert_eq!(
            field(json!({"type": "pagerduty", "routing_key": "a b"})),
            "routing_key"
        );
        assert_eq!(
            field(json!({"type": "pagerduty", "routing_key": "k", "to": "x"})),
            "to"
        );
        assert_eq!(
            field(json!({"type": "opsgenie", "api_key": "k", "url": "ftp://x"})),
            "url"
        );
        assert_eq!(
            field(json!({"type": "opsgenie", "api_key": "k", "routing_key": "k"})),
            "routing_key"
        );
        assert_eq!(
            field(
                json!({"type": "twilio", "account_sid": "XX1", "auth_token": "t", "from": "+15005550006", "to": "+14155550100"})
            ),
            "account_sid"
        );
        assert_eq!(
            field(
                json!({"type": "twilio", "account_sid": sid, "from": "+15005550006", "to": "+14155550100"})
            ),
            "auth_token"
        );
        assert_eq!(
            field(
                json!({"type": "twilio", "account_sid": sid, "auth_token": "t", "from": "555", "to": "+14155550100"})
            ),
            "from"
        );
        assert_eq!(
            field(
                json!({"type": "twilio", "account_sid": sid, "auth_token": "t", "from": "+15005550006", "to": []})
            ),
            "to"
        );
        assert_eq!(
            field(
                json!({"type": "twilio", "account_sid": sid, "auth_token": "t", "from": "+15005550006", "to": "+14155550100", "mode": "fax"})
            ),
            "mode"
        );
        assert_eq!(
            field(json!({"type": "webhook", "url": "http://x", "api_key": "k"})),
            "api_key"
        );
    }

    #[test]
    fn the_stored_definition_gives_back_the_same_channel() {
        let sent = json!({"type": "email", "smtp": "smtps://mail.example.org", "from": "mw@example.org",
                          "to": "oncall@example.org", "username": "mw", "password": "secret",
                          "group_wait": "60s"});
        let channel = Channel::new("mail", &sent).unwrap();
        assert_eq!(
            channel.to_json().to_string(),
            r#"{"from":"mw@example.org","group_by":["alertname","model"],"group_interval":"5m","group_wait":"1m","name":"mail","password":"<hidden>","repeat_interval":"4h","send_resolved":true,"smtp":"smtps://mail.example.org","to":"oncall@example.org","type":"email","username":"mw"}"#
        );
        let stored: ChannelDefinition =
            serde_json::from_str(&serde_json::to_string(&channel.definition).unwrap()).unwrap();
        assert_eq!(Channel::from_definition("mail", stored).unwrap(), channel);
    }
}
