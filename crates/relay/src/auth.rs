//! Technician authentication: argon2 password hashes (in the store),
//! random bearer tokens kept only in memory, and brute-force protection.
//!
//! [`Limiter`] counts failures per key (an address, an account, a session
//! key). Each failure adds a growing delay before the answer; after
//! `max_failures` the key is locked out for `lockout`. Time comes from
//! `tokio::time` so tests can run it on a paused clock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use tokio::time::Instant;

/// Hash a password for storage.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Check a password against a stored hash (slow on purpose: run it off
/// the async threads).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A random secret as 64 hex digits (tokens, resume tokens).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Constant-time comparison of two secrets.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Who a token belongs to.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub user: String,
    pub display_name: String,
    pub expires: Instant,
}

/// Valid technician tokens (in memory only: a relay restart logs everyone out).
#[derive(Debug, Default)]
pub struct Tokens {
    map: Mutex<HashMap<String, TokenInfo>>,
}

impl Tokens {
    pub const LIFETIME: Duration = Duration::from_secs(12 * 3600);

    pub fn issue(&self, user: &str, display_name: &str) -> String {
        let token = random_token();
        let info = TokenInfo {
            user: user.to_owned(),
            display_name: display_name.to_owned(),
            expires: Instant::now() + Self::LIFETIME,
        };
        if let Ok(mut map) = self.map.lock() {
            let now = Instant::now();
            map.retain(|_, t| t.expires > now);
            map.insert(token.clone(), info);
        }
        token
    }

    pub fn check(&self, token: &str) -> Option<TokenInfo> {
        let map = self.map.lock().ok()?;
        map.get(token)
            .filter(|t| t.expires > Instant::now())
            .cloned()
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// What the limiter says about an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead.
    Allowed,
    /// Locked out; try again after this long.
    Locked(Duration),
}

/// Failed-attempt counter with growing delays and lockout.
#[derive(Debug)]
pub struct Limiter {
    max_failures: u32,
    lockout: Duration,
    map: Mutex<HashMap<String, Failures>>,
}

impl Limiter {
    /// Failures older than this are forgotten.
    const FORGET: Duration = Duration::from_secs(3600);
    const BASE_DELAY: Duration = Duration::from_millis(250);
    const MAX_DELAY: Duration = Duration::from_secs(8);

    pub fn new(max_failures: u32, lockout: Duration) -> Self {
        Self {
            max_failures,
            lockout,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// May `key` try now?
    pub fn check(&self, key: &str) -> Verdict {
        let now = Instant::now();
        let Ok(mut map) = self.map.lock() else {
            return Verdict::Allowed;
        };
        match map.get(key).copied() {
            Some(f) => match f.locked_until {
                Some(until) if until > now => Verdict::Locked(until - now),
                Some(_) => {
                    map.remove(key);
                    Verdict::Allowed
                }
                None => Verdict::Allowed,
            },
            None => Verdict::Allowed,
        }
    }

    /// Record a failure; returns the delay to wait before answering.
    pub fn fail(&self, key: &str) -> Duration {
        let now = Instant::now();
        let Ok(mut map) = self.map.lock() else {
            return Self::MAX_DELAY;
        };
        if map.len() > 100_000 {
            map.retain(|_, f| now.duration_since(f.last) < Self::FORGET);
        }
        let entry = map.entry(key.to_owned()).or_insert(Failures {
            count: 0,
            last: now,
            locked_until: None,
        });
        if now.duration_since(entry.last) >= Self::FORGET {
            entry.count = 0;
        }
        entry.count += 1;
        entry.last = now;
        if entry.count >= self.max_failures {
            entry.locked_until = Some(now + self.lockout);
        }
        let shift = entry.count.saturating_sub(1).min(6);
        (Self::BASE_DELAY * (1u32 << shift)).min(Self::MAX_DELAY)
    }

    /// A success clears the counter.
    pub fn succeed(&self, key: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn delays_grow_then_lock_out_then_expire() {
        let limiter = Limiter::new(3, Duration::from_secs(300));
        assert_eq!(limiter.check("a"), Verdict::Allowed);
        assert_eq!(limiter.fail("a"), Duration::from_millis(250));
        assert_eq!(limiter.fail("a"), Duration::from_millis(500));
        assert_eq!(limiter.check("a"), Verdict::Allowed);
        limiter.fail("a");
        assert_eq!(
            limiter.check("a"),
            Verdict::Locked(Duration::from_secs(300))
        );
        assert_eq!(
            limiter.check("b"),
            Verdict::Allowed,
            "other keys unaffected"
        );
        tokio::time::advance(Duration::from_secs(200)).await;
        assert_eq!(
            limiter.check("a"),
            Verdict::Locked(Duration::from_secs(100))
        );
        tokio::time::advance(Duration::from_secs(101)).await;
        assert_eq!(limiter.check("a"), Verdict::Allowed);
    }

    #[test]
    fn passwords() {
        let hash = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd"));
    }
}
