//! The master key material that encrypts secrets and tokens at rest. Taken
//! from the configuration when given, otherwise read from a file that is
//! generated (mode 0600, one key) on first start. Either may hold a whole
//! keyring (`id:base64,…`); [`crate::vault`] parses it.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

use crate::config::Settings;

pub const KEY_LEN: usize = 32;

pub struct MasterKey([u8; KEY_LEN]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error("the master key must be base64 of exactly {KEY_LEN} bytes")]
    Malformed,
    #[error("master key ring: {0}")]
    Keyring(String),
    #[error("master key file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl MasterKey {
    pub fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    pub fn from_base64(text: &str) -> Result<Self, MasterKeyError> {
        let raw = STANDARD
            .decode(text.trim())
            .map_err(|_| MasterKeyError::Malformed)?;
        let bytes: [u8; KEY_LEN] = raw.try_into().map_err(|_| MasterKeyError::Malformed)?;
        Ok(Self(bytes))
    }

    pub fn generate() -> Self {
        let mut bytes = [0u8; KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn load_or_create_file(path: &Path) -> Result<Self, MasterKeyError> {
        Self::from_base64(keyring_file(path)?.expose_secret())
    }
}

/// The configured key material: `master_key` when set, else the contents
/// of the key file, generated with one fresh key on first start.
pub fn keyring_text(settings: &Settings) -> Result<SecretString, MasterKeyError> {
    match &settings.master_key {
        Some(value) => Ok(value.clone()),
        None => keyring_file(&settings.master_key_file()),
    }
}

fn keyring_file(path: &Path) -> Result<SecretString, MasterKeyError> {
    let io = |source| MasterKeyError::Io {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(SecretString::from(text.trim().to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            let key = MasterKey::generate();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(path).map_err(io)?;
            file.write_all(STANDARD.encode(key.0).as_bytes())
                .map_err(io)?;
            tracing::info!(path = %path.display(), "generated a new master key");
            Ok(SecretString::from(STANDARD.encode(key.0)))
        }
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_a_private_file_once_and_reads_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/master.key");
        let first = MasterKey::load_or_create_file(&path).unwrap();
        let again = MasterKey::load_or_create_file(&path).unwrap();
        assert_eq!(first.bytes(), again.bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(format!("{first:?}"), "MasterKey(<redacted>)");
    }

    #[test]
    fn rejects_keys_of_the_wrong_length() {
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
        assert!(MasterKey::from_base64("not base64!").is_err());
        let ok = STANDARD.encode([7u8; 32]);
        assert_eq!(MasterKey::from_base64(&ok).unwrap().bytes(), &[7u8; 32]);
    }
}
