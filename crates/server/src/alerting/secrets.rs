//! Channel secrets: a receiver URL's credentials, path and query (a Slack webhook's
//! path is its secret), an SMTP password, and the paging providers' keys (PagerDuty's
//! routing key, Twilio's auth token, Opsgenie's API key). They are stored encrypted (AES-256-GCM
//! with a key derived from the server's key file, `pii.key`), shown only to admins, and
//! written to logs and event details redacted ([`redact_url`]).

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use modelwatch_core::alert::ChannelDefinition;

/// The prefix of a sealed value in a stored definition.
const SEALED: &str = "sealed:v1:";

/// Seals and opens channel secrets.
pub struct SecretBox(LessSafeKey);

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    /// A box whose key is derived from the server's key file.
    pub fn new(pii: &crate::pii::PiiKey) -> Self {
        let key = pii.derive("modelwatch channel secrets v1");
        let key = UnboundKey::new(&AES_256_GCM, &key).expect("a 32-byte key fits AES-256");
        Self(LessSafeKey::new(key))
    }

    /// `plain` encrypted with a fresh random nonce, as `sealed:v1:<hex>`.
    pub fn seal(&self, plain: &str) -> String {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let mut data = plain.as_bytes().to_vec();
        self.0
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
            .expect("sealing a string cannot fail");
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&data);
        format!("{SEALED}{}", hex::encode(sealed))
    }

    /// The plain text of a sealed value; a value that is not sealed (stored before
    /// secrets were) is returned as it is.
    pub fn open(&self, text: &str) -> Result<String, String> {
        let Some(hex_text) = text.strip_prefix(SEALED) else {
            return Ok(text.to_string());
        };
        let bytes = hex::decode(hex_text).map_err(|_| "a sealed value is damaged".to_string())?;
        if bytes.len() < NONCE_LEN {
            return Err("a sealed value is damaged".into());
        }
        let (nonce, data) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| "bad nonce".to_string())?;
        let mut data = data.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::empty(), &mut data)
            .map_err(|_| "a sealed value does not open with this key file".to_string())?;
        String::from_utf8(plain.to_vec()).map_err(|_| "a sealed value is damaged".into())
    }

    /// The definition as stored: its URL and secrets (password, routing key, auth
    /// token, API key) sealed.
    pub fn seal_definition(&self, definition: &ChannelDefinition) -> ChannelDefinition {
        let mut sealed = definition.clone();
        sealed.url = sealed.url.as_deref().map(|u| self.seal(u));
        for secret in sealed.secrets_mut() {
            *secret = secret.as_deref().map(|s| self.seal(s));
        }
        sealed
    }

    /// A stored definition with its URL and secrets opened.
    pub fn open_definition(&self, stored: ChannelDefinition) -> Result<ChannelDefinition, String> {
        let mut opened = stored;
        opened.url = opened.url.as_deref().map(|u| self.open(u)).transpose()?;
        for secret in opened.secrets_mut() {
            *secret = secret.as_deref().map(|s| self.open(s)).transpose()?;
        }
        Ok(opened)
    }
}

/// A URL without its secrets, for logs, event details and non-admins: the scheme, the
/// user name, host and port are kept; a password becomes `<hidden>`, and a path other
/// than `/` or a query becomes `/<hidden>`.
pub fn redact_url(url: &str) -> String {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return "<hidden>".to_string();
    };
    let mut shown = format!("{}://", parsed.scheme());
    if !parsed.username().is_empty() {
        shown.push_str(parsed.username());
        if parsed.password().is_some() {
            shown.push_str(":<hidden>");
        }
        shown.push('@');
    }
    shown.push_str(parsed.host_str().unwrap_or(""));
    if let Some(port) = parsed.port() {
        shown.push_str(&format!(":{port}"));
    }
    if parsed.path() != "/" || parsed.query().is_some() {
        shown.push_str("/<hidden>");
    }
    shown
}

/// A channel as a non-admin sees it: its URL redacted (the password is hidden for
/// everyone).
pub fn shown_to_non_admin(mut channel: serde_json::Value) -> serde_json::Value {
    if let Some(url) = channel.get("url").and_then(|u| u.as_str()) {
        channel["url"] = serde_json::Value::String(redact_url(url));
    }
    channel
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_secrets() {
        assert_eq!(
            redact_url("https://user:pass@hooks.example.org:8443/services/T0/B0/secret?token=x"),
            "https://user:<hidden>@hooks.example.org:8443/<hidden>"
        );
        assert_eq!(redact_url("http://127.0.0.1:9093"), "http://127.0.0.1:9093");
        assert_eq!(redact_url("not a url"), "<hidden>");
    }

    #[test]
    fn sealed_values_open_with_the_same_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let key = crate::pii::PiiKey::load_or_create(dir.path()).unwrap();
        let secrets = SecretBox::new(&key);
        let sealed = secrets.seal("http://user:pass@example.org/hook");
        assert!(sealed.starts_with(SEALED));
        assert!(!sealed.contains("pass"));
        assert_eq!(
            secrets.open(&sealed).unwrap(),
            "http://user:pass@example.org/hook"
        );
        assert_eq!(secrets.open("plain").unwrap(), "plain");
        let other = tempfile::tempdir().unwrap();
        let other = SecretBox::new(&crate::pii::PiiKey::load_or_create(other.path()).unwrap());
        assert!(other.open(&sealed).is_err());
    }
}
