//! The secret vault: AES-256-GCM envelopes under a keyring.
//!
//! Every ciphertext names the key that sealed it (`v1:{key id}:{base64 of
//! nonce ‖ ciphertext ‖ tag}`), so a new key can be made active while the
//! old ones still open what they sealed; `calbridge rotate-key` then
//! re-seals everything with the active key and the old key can go.
//!
//! The associated data binds each envelope to its key id and its purpose
//! (which column it belongs to), so a ciphertext copied into another
//! column, or relabelled with another key id, fails to open.

use std::collections::BTreeMap;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

use crate::config::Settings;
use crate::master_key::{self, KEY_LEN, MasterKeyError};

/// The id of a key given without one (the generated file, or a bare
/// base64 `master_key`).
pub const DEFAULT_KEY_ID: &str = "default";
const VERSION: &str = "v1";
const NONCE_LEN: usize = 12;

/// What a sealed value is for; part of the associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    ClientSecret,
    /// A legacy Exchange (password authentication) password.
    LegacyExchangePassword,
    /// A calendar connection's Graph access token.
    AccessToken,
    /// A calendar connection's refresh token.
    RefreshToken,
    /// A room's change-notification `clientState` (application mode).
    SubscriptionClientState,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Purpose::ClientSecret => "integration.client_secret",
            Purpose::LegacyExchangePassword => "legacy_exchange_settings.password",
            Purpose::AccessToken => "calendar_connections.access_token",
            Purpose::RefreshToken => "calendar_connections.refresh_token",
            Purpose::SubscriptionClientState => "room_links.client_state",
        }
    }
}

/// A ciphertext as stored. Its Debug shows the key id only.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed(String);

impl Sealed {
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    pub fn as_stored(&self) -> &str {
        &self.0
    }

    pub fn key_id(&self) -> Option<&str> {
        let mut parts = self.0.splitn(3, ':');
        (parts.next()? == VERSION).then_some(())?;
        parts.next()
    }
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealed(key {:?})", self.key_id().unwrap_or("?"))
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VaultError {
    #[error("the ciphertext is not in a format this version understands")]
    Malformed,
    #[error("the ciphertext was sealed with key {0:?}, which is not in the keyring")]
    UnknownKey(String),
    #[error("the ciphertext does not open: it was altered or belongs elsewhere")]
    Tampered,
}

pub struct Vault {
    active: String,
    keys: BTreeMap<String, Aes256Gcm>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("active", &self.active)
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Vault {
    /// The keyring from the configuration (or the generated key file).
    pub fn load(settings: &Settings) -> Result<Self, MasterKeyError> {
        let text = master_key::keyring_text(settings)?;
        Self::parse(&text, settings.master_key_active.as_deref())
    }

    /// `base64` (one key, id `default`) or `id:base64,id:base64,…`. The
    /// active key is `active` when given, else the first one listed.
    pub fn parse(text: &SecretString, active: Option<&str>) -> Result<Self, MasterKeyError> {
        let mut keys = BTreeMap::new();
        let mut first = None;
        for entry in text.expose_secret().split(',').map(str::trim) {
            let (id, b64) = entry.split_once(':').unwrap_or((DEFAULT_KEY_ID, entry));
            let id = valid_key_id(id.trim())?;
            let cipher = cipher_from_base64(b64)?;
            if keys.insert(id.to_owned(), cipher).is_some() {
                return Err(MasterKeyError::Keyring(format!(
                    "key id {id:?} appears twice"
                )));
            }
            first.get_or_insert_with(|| id.to_owned());
        }
        let active = active
            .map(str::to_owned)
            .or(first)
            .ok_or(MasterKeyError::Malformed)?;
        if !keys.contains_key(&active) {
            return Err(MasterKeyError::Keyring(format!(
                "the active key {active:?} is not in the keyring"
            )));
        }
        Ok(Self { active, keys })
    }

    pub fn active_key_id(&self) -> &str {
        &self.active
    }

    pub fn seal(&self, purpose: Purpose, plaintext: &SecretString) -> Sealed {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = associated_data(&self.active, purpose);
        let ciphertext = self.keys[&self.active]
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.expose_secret().as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut body = nonce.to_vec();
        body.extend_from_slice(&ciphertext);
        Sealed(format!(
            "{VERSION}:{}:{}",
            self.active,
            STANDARD.encode(body)
        ))
    }

    pub fn open(&self, purpose: Purpose, sealed: &Sealed) -> Result<SecretString, VaultError> {
        let (key_id, body) = split(sealed)?;
        let cipher = self
            .keys
            .get(key_id)
            .ok_or_else(|| VaultError::UnknownKey(key_id.to_owned()))?;
        if body.len() < NONCE_LEN {
            return Err(VaultError::Malformed);
        }
        let (nonce, ciphertext) = body.split_at(NONCE_LEN);
        let aad = associated_data(key_id, purpose);
        let plain = cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Tampered)?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| VaultError::Tampered)
    }

    /// `None` when `sealed` already uses the active key; otherwise the same
    /// secret sealed with it.
    pub fn reseal(&self, purpose: Purpose, sealed: &Sealed) -> Result<Option<Sealed>, VaultError> {
        if sealed.key_id() == Some(self.active.as_str()) {
            return Ok(None);
        }
        Ok(Some(self.seal(purpose, &self.open(purpose, sealed)?)))
    }
}

fn associated_data(key_id: &str, purpose: Purpose) -> String {
    format!("calbridge:{VERSION}:{key_id}:{}", purpose.label())
}

fn split(sealed: &Sealed) -> Result<(&str, Vec<u8>), VaultError> {
    let mut parts = sealed.0.splitn(3, ':');
    let (Some(VERSION), Some(key_id), Some(b64)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(VaultError::Malformed);
    };
    let body = STANDARD.decode(b64).map_err(|_| VaultError::Malformed)?;
    Ok((key_id, body))
}

/// Key ids appear inside ciphertexts, between `:` separators.
fn valid_key_id(id: &str) -> Result<&str, MasterKeyError> {
    let ok = !id.is_empty()
        && id.len() <= 32
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(id)
    } else {
        Err(MasterKeyError::Keyring(format!(
            "key id {id:?}: use 1 to 32 letters, digits, '-' or '_'"
        )))
    }
}

fn cipher_from_base64(b64: &str) -> Result<Aes256Gcm, MasterKeyError> {
    let raw = STANDARD
        .decode(b64.trim())
        .map_err(|_| MasterKeyError::Malformed)?;
    let bytes: [u8; KEY_LEN] = raw.try_into().map_err(|_| MasterKeyError::Malformed)?;
    Ok(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> String {
        STANDARD.encode([byte; KEY_LEN])
    }

    fn ring(text: &str, active: Option<&str>) -> Vault {
        Vault::parse(&SecretString::from(text.to_owned()), active).unwrap()
    }

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn round_trip_names_the_key() {
        let vault = ring(&key(1), None);
        let sealed = vault.seal(Purpose::ClientSecret, &secret("abc~secret"));
        assert_eq!(sealed.key_id(), Some(DEFAULT_KEY_ID));
        assert!(!sealed.as_stored().contains("abc~secret"));
        let opened = vault.open(Purpose::ClientSecret, &sealed).unwrap();
        assert_eq!(opened.expose_secret(), "abc~secret");
        assert_eq!(format!("{sealed:?}"), "Sealed(key \"default\")");
    }

    #[test]
    fn same_secret_seals_differently_each_time() {
        let vault = ring(&key(1), None);
        let a = vault.seal(Purpose::ClientSecret, &secret("x"));
        let b = vault.seal(Purpose::ClientSecret, &secret("x"));
        assert_ne!(a, b, "a fresh nonce every time");
    }

    #[test]
    fn unknown_key_id_is_reported() {
        let old = ring(&format!("k1:{}", key(1)), None);
        let sealed = old.seal(Purpose::ClientSecret, &secret("s"));
        let other = ring(&format!("k2:{}", key(2)), None);
        assert_eq!(
            other.open(Purpose::ClientSecret, &sealed).unwrap_err(),
            VaultError::UnknownKey("k1".into())
        );
    }

    #[test]
    fn tampering_is_detected() {
        let vault = ring(&format!("k1:{},k2:{}", key(1), key(2)), None);
        let sealed = vault.seal(Purpose::ClientSecret, &secret("s3cret"));
        let stored = sealed.as_stored();
        // Flip one bit of the ciphertext.
        let (head, b64) = stored.rsplit_once(':').unwrap();
        let mut body = STANDARD.decode(b64).unwrap();
        *body.last_mut().unwrap() ^= 1;
        let flipped = Sealed::from_stored(format!("{head}:{}", STANDARD.encode(&body)));
        assert_eq!(
            vault.open(Purpose::ClientSecret, &flipped).unwrap_err(),
            VaultError::Tampered
        );
        // Relabel it as sealed by the other key.
        let relabelled = Sealed::from_stored(stored.replacen("k1", "k2", 1));
        assert_eq!(
            vault.open(Purpose::ClientSecret, &relabelled).unwrap_err(),
            VaultError::Tampered
        );
        assert_eq!(
            vault
                .open(
                    Purpose::ClientSecret,
                    &Sealed::from_stored("garbage".into())
                )
                .unwrap_err(),
            VaultError::Malformed
        );
    }

    #[test]
    fn rotation_reseals_with_the_active_key_only_when_needed() {
        let before = ring(&format!("old:{}", key(1)), None);
        let sealed = before.seal(Purpose::ClientSecret, &secret("value"));
        let after = ring(&format!("old:{},new:{}", key(1), key(2)), Some("new"));
        assert_eq!(after.active_key_id(), "new");
        let resealed = after
            .reseal(Purpose::ClientSecret, &sealed)
            .unwrap()
            .unwrap();
        assert_eq!(resealed.key_id(), Some("new"));
        assert_eq!(
            after.reseal(Purpose::ClientSecret, &resealed).unwrap(),
            None
        );
        // The old key can now be dropped.
        let only_new = ring(&format!("new:{}", key(2)), None);
        let opened = only_new.open(Purpose::ClientSecret, &resealed).unwrap();
        assert_eq!(opened.expose_secret(), "value");
    }

    #[test]
    fn keyring_configuration_errors_are_explained() {
        let parse = |t: &str, a: Option<&str>| Vault::parse(&secret(t), a).map(|_| ());
        assert!(parse("k1:short", None).is_err());
        assert!(parse(&format!("k1:{0},k1:{0}", key(1)), None).is_err());
        assert!(parse(&format!("k1:{}", key(1)), Some("k9")).is_err());
        assert!(parse(&format!("bad id:{}", key(1)), None).is_err());
        assert!(format!("{:?}", ring(&key(3), None)).contains("default"));
    }
}
