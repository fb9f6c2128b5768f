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
        if let Ok(text) = std::fs::read_to_string(&path) {
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
        std::fs::write(&temporary, hex::encode(key))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o600))?;
        }
        std::fs::rename(&temporary, &path)?;
        Ok(Self(key))
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
