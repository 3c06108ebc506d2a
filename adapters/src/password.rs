//! bcrypt password hashing, run on tokio's blocking pool so that a login never stalls the
//! async workers (cost 12 takes ~0.27 s in release here). The cost is a setting: production
//! keeps it at 12 or more, tests use 4.

use async_trait::async_trait;
use pganalytics_ports::crypto::{PasswordError, PasswordHasher};
use secrecy::{ExposeSecret, SecretString};

/// The lowest cost accepted outside tests.
pub const MIN_PRODUCTION_COST: u32 = 12;

#[derive(Debug, Clone)]
pub struct Bcrypt {
    cost: u32,
    /// A hash of a random password at the same cost, verified against when there is no user,
    /// so that "no such user" takes as long as "wrong password".
    dummy: String,
}

fn internal(e: impl std::error::Error + Send + Sync + 'static) -> PasswordError {
    PasswordError::Internal(Box::new(e))
}

impl Bcrypt {
    /// # Errors
    /// When the cost is outside bcrypt's range (4–31).
    pub fn new(cost: u32) -> Result<Self, PasswordError> {
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(|e| internal(std::io::Error::other(e.to_string())))?;
        let dummy = bcrypt::hash(random, cost).map_err(internal)?;
        Ok(Self { cost, dummy })
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, PasswordError> + Send + 'static,
) -> Result<T, PasswordError> {
    tokio::task::spawn_blocking(work).await.map_err(internal)?
}

#[async_trait]
impl PasswordHasher for Bcrypt {
    async fn hash(&self, password: SecretString) -> Result<String, PasswordError> {
        let cost = self.cost;
        blocking(move || {
            bcrypt::non_truncating_hash(password.expose_secret(), cost).map_err(|e| match e {
                bcrypt::BcryptError::Truncation(_) => PasswordError::TooLong,
                other => internal(other),
            })
        })
        .await
    }

    async fn verify(
        &self,
        password: SecretString,
        hash: Option<String>,
    ) -> Result<bool, PasswordError> {
        let exists = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy.clone());
        let matched = blocking(move || {
            match bcrypt::non_truncating_verify(password.expose_secret(), &hash) {
                Ok(ok) => Ok(ok),
                // Too long to have been set: a mismatch, after the same work.
                Err(bcrypt::BcryptError::Truncation(_)) => Ok(false),
                Err(e) => Err(internal(e)),
            }
        })
        .await?;
        Ok(exists && matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let b = Bcrypt::new(4).unwrap();
        let h = b.hash(secret("correct horse battery")).await.unwrap();
        assert!(h.starts_with("$2b$04$"), "{h}");
        assert!(
            b.verify(secret("correct horse battery"), Some(h.clone()))
                .await
                .unwrap()
        );
        assert!(
            !b.verify(secret("correct horse batterY"), Some(h.clone()))
                .await
                .unwrap()
        );
        // Salted: the same password hashes differently each time.
        assert_ne!(h, b.hash(secret("correct horse battery")).await.unwrap());
    }

    #[tokio::test]
    async fn no_user_is_a_mismatch_after_the_same_work_and_long_passwords_are_refused() {
        let b = Bcrypt::new(4).unwrap();
        assert!(!b.verify(secret("anything"), None).await.unwrap());
        // 71 bytes and bcrypt's terminating NUL fill its 72; one more is refused, not cut.
        assert!(matches!(
            b.hash(secret(&"x".repeat(72))).await,
            Err(PasswordError::TooLong)
        ));
        let h = b.hash(secret(&"x".repeat(71))).await.unwrap();
        assert!(
            b.verify(secret(&"x".repeat(71)), Some(h.clone()))
                .await
                .unwrap()
        );
        assert!(!b.verify(secret(&"x".repeat(72)), Some(h)).await.unwrap());
        assert!(Bcrypt::new(3).is_err(), "bcrypt's minimum cost is 4");
    }
}
