//! Keyed hashing of personal data: values of `pii: true` features are replaced by
//! `HMAC-SHA256(key, value)` (hex, first 128 bits) before anything is written to disk.
//!
//! The key is 32 random bytes kept in `<data dir>/pii.key` (mode 0600), created at
//! first start. Equal values hash equally, so counts, distinct values and drift of a
//! PII feature still work; the plain value cannot be recovered without the key.

use std::path::Path;

use hmac::{Hmac, Mac};
use modelwatch_core::{FeatureValue, Model};
use sha2::Sha256;

/// The server's PII hashing key.
#[derive(Clone)]
pub struct PiiKey([u8; 32]);

impl std::fmt::Debug for PiiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PiiKey(..)")
    }
}

impl PiiKey {
    /// Loads the key from `data_dir`, creating it on first use.
    pub fn load_or_create(data_dir: &Path) -> std::io::Result<Self> {
        let path = data_dir.join("pii.key");
        // Only a missing key is created: replacing an unreadable one would silently
        // change every hash.
        let existing = match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("{}: {e}", path.display()),
                ));
            }
        };
        if let Some(text) = existing {
            let bytes = hex::decode(text.trim()).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            })?;
            let key: [u8; 32] = bytes.try_into().map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: expected 32 bytes", path.display()),
                )
            })?;
            return Ok(Self(key));
        }
        let key: [u8; 32] = rand::random();
        let temporary = data_dir.join("pii.key.tmp");
        {
            use std::io::Write;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&temporary)?;
            file.write_all(hex::encode(key).as_bytes())?;
            file.sync_all()?;
        }
        std::fs::rename(&temporary, &path)?;
        // Make the rename durable before any hash made with this key is stored.
        std::fs::File::open(data_dir)?.sync_all()?;
        Ok(Self(key))
    }

    /// A key for another purpose, derived from this one (HMAC-SHA256 of `purpose`), so
    /// one key file serves both and neither key reveals the other.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The keyed hash of `value`.
    pub fn hash(&self, value: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(value.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// Replaces the values of the model's PII features in `features` by their hashes.
    pub fn protect(&self, model: &Model, features: &mut [FeatureValue]) {
        for (spec, value) in model.features().iter().zip(features.iter_mut()) {
            if !spec.pii {
                continue;
            }
            let plain = match value {
                FeatureValue::Category(s) => std::mem::take(s),
                FeatureValue::Number(f) => f.to_string(),
                FeatureValue::Missing | FeatureValue::TypeError => continue,
            };
            *value = FeatureValue::Category(self.hash(&plain));
        }
    }
}
