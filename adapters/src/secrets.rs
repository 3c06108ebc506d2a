//! Secrets the server stores (webhook signing keys, database credentials) encrypted at rest
//! with AES-256-GCM (OpenSSL), under a key ring read from a file or the environment.
//!
//! - **Format** of a stored secret: `v1:<key id>:<nonce>:<ciphertext and tag>`, the last two
//!   base64url. A 96-bit random nonce per encryption; the key id and the secret's purpose
//!   (`context`) are authenticated as additional data, so a ciphertext moved to another row
//!   or another key does not decrypt.
//! - **Key ring**: one line per key, `<id>=<64 hex characters>`; the first line is the
//!   current key (new secrets), the others still decrypt. **Rotation**: put a new key first,
//!   keep the old ones, re-encrypt stored secrets with [`KeyRing::reencrypt`], then drop the
//!   old key from the file.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};
use pganalytics_ports::crypto::CipherError;
use secrecy::{ExposeSecret, SecretBox, SecretString};

const VERSION: &str = "v1";
const NONCE_BYTES: usize = 12;
const TAG_BYTES: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("the key ring is invalid: {0}")]
    InvalidKeyRing(String),
    #[error("the stored secret is not in the v1 format")]
    Malformed,
    #[error("no key {0:?} in the key ring: add it back to decrypt, then re-encrypt")]
    UnknownKey(String),
    /// Wrong key, wrong context, or a modified ciphertext: indistinguishable on purpose.
    #[error("the stored secret does not decrypt (tampered, or another key or purpose)")]
    Undecryptable,
    #[error("encryption failed")]
    Crypto(#[source] openssl::error::ErrorStack),
}

struct Key {
    id: String,
    bytes: SecretBox<[u8; 32]>,
}

/// The keys; the first one encrypts.
pub struct KeyRing {
    keys: Vec<Key>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("KeyRing").field("key_ids", &ids).finish()
    }
}

impl KeyRing {
    /// Reads `<id>=<64 hex>` lines (blank lines and `#` comments ignored).
    pub fn parse(text: &SecretString) -> Result<Self, SecretsError> {
        let bad = |m: String| SecretsError::InvalidKeyRing(m);
        let mut keys: Vec<Key> = Vec::new();
        for (n, line) in text.expose_secret().lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (id, hex_key) = line
                .split_once('=')
                .ok_or_else(|| bad(format!("line {}: expected <id>=<64 hex characters>", n + 1)))?;
            let id = id.trim();
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(bad(format!(
                    "line {}: a key id is letters, digits, - and _",
                    n + 1
                )));
            }
            let mut bytes = [0u8; 32];
            hex::decode_to_slice(hex_key.trim(), &mut bytes).map_err(|_| {
                bad(format!(
                    "line {}: the key must be 64 hex characters (32 bytes)",
                    n + 1
                ))
            })?;
            if keys.iter().any(|k| k.id == id) {
                return Err(bad(format!("line {}: key id {id} appears twice", n + 1)));
            }
            keys.push(Key {
                id: id.to_owned(),
                bytes: SecretBox::new(Box::new(bytes)),
            });
        }
        if keys.is_empty() {
            return Err(bad("no key".into()));
        }
        Ok(Self { keys })
    }

    /// The id of the key new secrets are encrypted with.
    pub fn current_id(&self) -> &str {
        &self.keys[0].id
    }

    /// Encrypts `plaintext` for `context` (what the secret is, e.g. `webhook:42`).
    pub fn encrypt(&self, plaintext: &SecretString, context: &str) -> Result<String, SecretsError> {
        let key = &self.keys[0];
        let mut nonce = [0u8; NONCE_BYTES];
        openssl::rand::rand_bytes(&mut nonce).map_err(SecretsError::Crypto)?;
        let mut tag = [0u8; TAG_BYTES];
        let aad = aad(&key.id, context);
        let mut sealed = encrypt_aead(
            Cipher::aes_256_gcm(),
            key.bytes.expose_secret(),
            Some(&nonce),
            &aad,
            plaintext.expose_secret().as_bytes(),
            &mut tag,
        )
        .map_err(SecretsError::Crypto)?;
        sealed.extend_from_slice(&tag);
        Ok(format!(
            "{VERSION}:{}:{}:{}",
            key.id,
            B64.encode(nonce),
            B64.encode(sealed)
        ))
    }

    /// Decrypts a stored secret of `context`, with whichever key of the ring it names.
    pub fn decrypt(&self, stored: &str, context: &str) -> Result<SecretString, SecretsError> {
        let mut parts = stored.split(':');
        let (Some(VERSION), Some(id), Some(nonce), Some(sealed), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(SecretsError::Malformed);
        };
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| SecretsError::UnknownKey(id.to_owned()))?;
        let nonce = B64.decode(nonce).map_err(|_| SecretsError::Malformed)?;
        let sealed = B64.decode(sealed).map_err(|_| SecretsError::Malformed)?;
        if nonce.len() != NONCE_BYTES || sealed.len() < TAG_BYTES {
            return Err(SecretsError::Malformed);
        }
        let (ciphertext, tag) = sealed.split_at(sealed.len() - TAG_BYTES);
        let plain = decrypt_aead(
            Cipher::aes_256_gcm(),
            key.bytes.expose_secret(),
            Some(&nonce),
            &aad(id, context),
            ciphertext,
            tag,
        )
        .map_err(|_| SecretsError::Undecryptable)?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| SecretsError::Undecryptable)
    }

    /// The secret under the current key (rotation): unchanged when it already is.
    pub fn reencrypt(&self, stored: &str, context: &str) -> Result<String, SecretsError> {
        if stored.split(':').nth(1) == Some(self.current_id()) {
            return Ok(stored.to_owned());
        }
        self.encrypt(&self.decrypt(stored, context)?, context)
    }
}

/// The text of a new key ring holding one random key, named after `now`.
fn new_ring_text(now: time::OffsetDateTime) -> Result<String, SecretsError> {
    let mut key = [0u8; 32];
    openssl::rand::rand_bytes(&mut key).map_err(SecretsError::Crypto)?;
    Ok(format!(
        "# pgAnalytics secrets key ring: <id>=<64 hex>; the first key encrypts.\n\
         # Rotation: docs/operations.md. Back this file up: without it the stored\n\
         # secrets cannot be read.\nk{}={}\n",
        now.unix_timestamp(),
        hex::encode(key)
    ))
}

impl KeyRing {
    /// The key ring from `env` (its text) when set, else from the file at `path`, which is
    /// created with one random key (mode 0600) on first use, at `now`.
    pub fn load_or_create(
        env: Option<&SecretString>,
        path: &std::path::Path,
        now: time::OffsetDateTime,
    ) -> Result<Self, SecretsError> {
        if let Some(text) = env {
            return Self::parse(text);
        }
        let io =
            |e: std::io::Error| SecretsError::InvalidKeyRing(format!("{}: {e}", path.display()));
        if !path.exists() {
            let text = new_ring_text(now)?;
            crate::fs::write_atomic(path, text.as_bytes(), 0o600).map_err(io)?;
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        Self::parse(&SecretString::from(text))
    }

    /// A key ring of one random key, in memory only (the memory backend).
    pub fn generate(now: time::OffsetDateTime) -> Result<Self, SecretsError> {
        Self::parse(&SecretString::from(new_ring_text(now)?))
    }
}

impl pganalytics_ports::crypto::SecretCipher for KeyRing {
    fn seal(&self, plaintext: &SecretString, purpose: &str) -> Result<String, CipherError> {
        self.encrypt(plaintext, purpose)
            .map_err(|e| CipherError::Internal(Box::new(e)))
    }

    fn open(&self, sealed: &str, purpose: &str) -> Result<SecretString, CipherError> {
        self.decrypt(sealed, purpose)
            .map_err(|e| CipherError::Undecryptable(e.to_string()))
    }

    fn reseal(&self, sealed: &str, purpose: &str) -> Result<Option<String>, CipherError> {
        let again = self
            .reencrypt(sealed, purpose)
            .map_err(|e| CipherError::Undecryptable(e.to_string()))?;
        Ok((again != sealed).then_some(again))
    }

    fn current_key_id(&self) -> String {
        self.current_id().to_owned()
    }
}

fn aad(key_id: &str, context: &str) -> Vec<u8> {
    format!("pganalytics-secret:{VERSION}:{key_id}:{context}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(text: &str) -> KeyRing {
        KeyRing::parse(&SecretString::from(text.to_owned())).unwrap()
    }

    const OLD: &str = "old=0000000000000000000000000000000000000000000000000000000000000001";
    const NEW: &str = "new=00000000000000000000000000000000000000000000000000000000000000ff";

    fn plain(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn a_secret_round_trips_and_never_appears_in_what_is_stored() {
        let r = ring(OLD);
        let stored = r
            .encrypt(&plain("hunter2-webhook-key"), "webhook:1")
            .unwrap();
        assert!(stored.starts_with("v1:old:"));
        assert!(!stored.contains("hunter2"));
        assert_eq!(
            r.decrypt(&stored, "webhook:1").unwrap().expose_secret(),
            "hunter2-webhook-key"
        );
        // A fresh nonce each time.
        assert_ne!(
            stored,
            r.encrypt(&plain("hunter2-webhook-key"), "webhook:1")
                .unwrap()
        );
        assert!(
            !format!("{r:?}").contains("0000"),
            "Debug shows key ids only"
        );
    }

    #[test]
    fn tampering_another_purpose_or_another_key_do_not_decrypt() {
        let r = ring(OLD);
        let stored = r.encrypt(&plain("s3cret"), "webhook:1").unwrap();
        assert!(matches!(
            r.decrypt(&stored, "webhook:2"),
            Err(SecretsError::Undecryptable)
        ));
        let mut bytes = stored.clone().into_bytes();
        let last = bytes.len() - 3;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert!(matches!(
            r.decrypt(&tampered, "webhook:1"),
            Err(SecretsError::Undecryptable)
        ));
        let other = ring("old=1111111111111111111111111111111111111111111111111111111111111111");
        assert!(matches!(
            other.decrypt(&stored, "webhook:1"),
            Err(SecretsError::Undecryptable)
        ));
        assert!(matches!(
            ring(NEW).decrypt(&stored, "webhook:1"),
            Err(SecretsError::UnknownKey(_))
        ));
        assert!(matches!(
            r.decrypt("v2:old:a:b", "webhook:1"),
            Err(SecretsError::Malformed)
        ));
    }

    #[test]
    fn rotation_keeps_old_secrets_readable_and_moves_them_to_the_new_key() {
        let before = ring(OLD);
        let stored = before.encrypt(&plain("db-password"), "database:7").unwrap();
        let during = ring(&format!(
            "{NEW}\n# kept until every secret is re-encrypted\n{OLD}\n"
        ));
        assert_eq!(during.current_id(), "new");
        assert_eq!(
            during
                .decrypt(&stored, "database:7")
                .unwrap()
                .expose_secret(),
            "db-password"
        );
        let moved = during.reencrypt(&stored, "database:7").unwrap();
        assert!(moved.starts_with("v1:new:"));
        assert_eq!(during.reencrypt(&moved, "database:7").unwrap(), moved);
        let after = ring(NEW);
        assert_eq!(
            after.decrypt(&moved, "database:7").unwrap().expose_secret(),
            "db-password"
        );
    }

    #[test]
    fn a_bad_key_ring_says_what_is_wrong_without_echoing_keys() {
        for (text, says) in [
            ("", "no key"),
            ("k=abcd", "64 hex"),
            ("k 0000", "expected"),
            (&format!("{OLD}\n{OLD}") as &str, "twice"),
        ] {
            let e = KeyRing::parse(&SecretString::from(text.to_owned())).unwrap_err();
            assert!(e.to_string().contains(says), "{text:?}: {e}");
            assert!(!e.to_string().contains("0000000000"), "{e}");
        }
    }
}
