//! Technician authentication: argon2 password hashes (in the store),
//! random bearer tokens kept only in memory, and brute-force protection.
//!
//! * [`Limiter`] counts failures per key (an address, an account on one
//!   address, a session key). Each failure adds a growing delay before the
//!   answer; after `max_failures` the key is locked out, for longer each
//!   time it is locked again. Time comes from `tokio::time` so tests can
//!   run it on a paused clock.
//! * [`Logins`] is the login path: a guess is *reserved* (counted as a
//!   failure for its account on its address, and for its address) before
//!   its password is hashed, so concurrent guesses cannot pass the limit;
//!   at most [`Logins::CONCURRENT_HASHES`] argon2 checks run at once
//!   (19 MiB each); an unknown user costs the same check as a known one
//!   (against a dummy hash), so the answer's timing does not tell whether a
//!   user exists.
//! * [`Tokens`] are revoked at logout and when their account is removed
//!   or replaced (noticed by [`watch_accounts`] polling the database, which
//!   the CLI changes from another process); revoking also closes every
//!   technician link opened with the token.

use std::cell::Cell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

use crate::store::{Account, Store};

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
    VERIFICATIONS.with(|n| n.set(n.get() + 1));
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

thread_local! {
    /// argon2 verifications run on this thread (tests count them).
    static VERIFICATIONS: Cell<u64> = const { Cell::new(0) };
}

/// How many password verifications ran on the calling thread so far.
#[cfg(test)]
fn verifications() -> u64 {
    VERIFICATIONS.with(Cell::get)
}

/// A hash of a random password with the same parameters as real ones:
/// unknown users are checked against it, so they cost the same time.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&random_token()).unwrap_or_default())
}

/// The account `user` if `password` is its password. Always runs exactly
/// one argon2 verification, also for unknown users. Blocking (SQLite,
/// argon2): run it off the async threads.
pub fn check_login(store: &Store, user: &str, password: &str) -> Option<Account> {
    let account = store.account(user).ok().flatten();
    let hash: &str = match &account {
        Some(a) => &a.hash,
        None => dummy_hash(),
    };
    let right = verify_password(password, hash);
    account.filter(|_| right)
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
#[derive(Clone)]
pub struct TokenInfo {
    /// The token itself (to revoke it at logout).
    pub token: String,
    pub user: String,
    pub display_name: String,
    /// The account's creation time: a removed and re-added account with
    /// the same name does not inherit the old account's tokens.
    pub created_ms: i64,
    pub expires: Instant,
}

impl std::fmt::Debug for TokenInfo {
    /// Without the token: logs never contain secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenInfo")
            .field("user", &self.user)
            .field("display_name", &self.display_name)
            .field("created_ms", &self.created_ms)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

struct TokenEntry {
    info: TokenInfo,
    /// Technician links opened with this token (closed on revoke).
    links: Vec<Weak<Notify>>,
}

impl TokenEntry {
    fn close_links(&self) {
        for kill in self.links.iter().filter_map(Weak::upgrade) {
            kill.notify_one();
        }
    }
}

/// Valid technician tokens (in memory only: a relay restart logs everyone out).
#[derive(Default)]
pub struct Tokens {
    map: Mutex<HashMap<String, TokenEntry>>,
}

impl std::fmt::Debug for Tokens {
    /// Only how many: logs never contain tokens.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.map.lock().map_or(0, |m| m.len());
        f.debug_struct("Tokens").field("valid", &n).finish()
    }
}

impl Tokens {
    pub const LIFETIME: Duration = Duration::from_secs(12 * 3600);

    pub fn issue(&self, account: &Account) -> String {
        let token = random_token();
        let info = TokenInfo {
            token: token.clone(),
            user: account.name.clone(),
            display_name: account.display_name.clone(),
            created_ms: account.created_ms,
            expires: Instant::now() + Self::LIFETIME,
        };
        if let Ok(mut map) = self.map.lock() {
            let now = Instant::now();
            map.retain(|_, t| t.info.expires > now);
            map.insert(
                token.clone(),
                TokenEntry {
                    info,
                    links: Vec::new(),
                },
            );
        }
        token
    }

    pub fn check(&self, token: &str) -> Option<TokenInfo> {
        let map = self.map.lock().ok()?;
        map.get(token)
            .filter(|t| t.info.expires > Instant::now())
            .map(|t| t.info.clone())
    }

    /// Register a technician link opened with `token`: `kill` is notified
    /// when the token is revoked. False: the token is no longer valid (the
    /// caller closes the link).
    pub fn attach(&self, token: &str, kill: &Arc<Notify>) -> bool {
        let Ok(mut map) = self.map.lock() else {
            return false;
        };
        match map.get_mut(token) {
            Some(t) if t.info.expires > Instant::now() => {
                t.links.retain(|l| l.strong_count() > 0);
                t.links.push(Arc::downgrade(kill));
                true
            }
            _ => false,
        }
    }

    /// Revoke `token` (logout) and close its links.
    pub fn revoke(&self, token: &str) {
        let removed = self.map.lock().ok().and_then(|mut m| m.remove(token));
        if let Some(entry) = removed {
            entry.close_links();
        }
    }

    /// Revoke every token whose account is not in `accounts` (name,
    /// created_ms) or which expired, closing their links. Returns the
    /// number revoked.
    pub fn keep_accounts(&self, accounts: &[(String, i64)]) -> usize {
        let Ok(mut map) = self.map.lock() else {
            return 0;
        };
        let now = Instant::now();
        let gone: Vec<String> = map
            .iter()
            .filter(|(_, t)| {
                t.info.expires <= now
                    || !accounts.iter().any(|(name, created)| {
                        *name == t.info.user && *created == t.info.created_ms
                    })
            })
            .map(|(token, _)| token.clone())
            .collect();
        for token in &gone {
            if let Some(entry) = map.remove(token) {
                entry.close_links();
            }
        }
        gone.len()
    }

    fn is_empty(&self) -> bool {
        self.map.lock().map_or(true, |m| m.is_empty())
    }
}

/// How often the relay looks for removed accounts (`user remove` runs as
/// another process on the same database).
pub const ACCOUNT_POLL: Duration = Duration::from_secs(1);

/// Revoke the tokens (and close the links) of accounts that were removed
/// or replaced, and of expired tokens; runs until the relay stops.
pub async fn watch_accounts(store: Store, tokens: Arc<Tokens>) {
    let mut tick = tokio::time::interval(ACCOUNT_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if tokens.is_empty() {
            continue;
        }
        let store = store.clone();
        let users = tokio::task::spawn_blocking(move || store.users()).await;
        match users {
            Ok(Ok(users)) => {
                let accounts: Vec<(String, i64)> =
                    users.into_iter().map(|u| (u.name, u.created_ms)).collect();
                let revoked = tokens.keep_accounts(&accounts);
                if revoked > 0 {
                    tracing::info!(revoked, "tokens of removed accounts or expired revoked");
                }
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot read the accounts"),
            Err(e) => tracing::warn!(error = %e, "account check failed"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    /// How often this key was locked out (each lockout lasts twice as long
    /// as the one before).
    lockouts: u32,
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

/// Failed-attempt counter with growing delays and growing lockouts.
#[derive(Debug)]
pub struct Limiter {
    max_failures: u32,
    lockout: Duration,
    map: Mutex<HashMap<String, Failures>>,
}

impl Limiter {
    /// Failures older than this are forgotten (lockouts with them).
    const FORGET: Duration = Duration::from_secs(3600);
    const BASE_DELAY: Duration = Duration::from_millis(250);
    const MAX_DELAY: Duration = Duration::from_secs(8);
    /// A repeated lockout lasts at most this many times `lockout`.
    const MAX_LOCKOUT_FACTOR: u32 = 64;

    pub fn new(max_failures: u32, lockout: Duration) -> Self {
        Self {
            max_failures,
            lockout,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// The entry of `key` as of `now`: an expired lock is lifted (its
    /// count starts again, the lockout count stays), old failures are
    /// forgotten.
    fn entry<'m>(
        map: &'m mut HashMap<String, Failures>,
        key: &str,
        now: Instant,
    ) -> &'m mut Failures {
        if map.len() > 100_000 {
            map.retain(|_, f| {
                f.locked_until.is_some_and(|u| u > now) || now.duration_since(f.last) < Self::FORGET
            });
        }
        let f = map.entry(key.to_owned()).or_insert(Failures {
            count: 0,
            lockouts: 0,
            last: now,
            locked_until: None,
        });
        match f.locked_until {
            Some(until) if until > now => {}
            Some(_) => {
                f.locked_until = None;
                f.count = 0;
                f.last = now;
            }
            None if now.duration_since(f.last) >= Self::FORGET => {
                f.count = 0;
                f.lockouts = 0;
            }
            None => {}
        }
        f
    }

    fn verdict(f: &Failures, now: Instant) -> Verdict {
        match f.locked_until {
            Some(until) if until > now => Verdict::Locked(until - now),
            _ => Verdict::Allowed,
        }
    }

    /// Count one failure of `f` (limit `max`); returns the delay before
    /// answering it.
    fn count(&self, f: &mut Failures, max: u32, now: Instant) -> Duration {
        f.count += 1;
        f.last = now;
        if f.count >= max && f.locked_until.is_none() {
            let factor = 1u32 << f.lockouts.min(6);
            f.lockouts += 1;
            f.locked_until = Some(now + self.lockout * factor.min(Self::MAX_LOCKOUT_FACTOR));
        }
        let shift = f.count.saturating_sub(1).min(6);
        (Self::BASE_DELAY * (1u32 << shift)).min(Self::MAX_DELAY)
    }

    /// May `key` try now?
    pub fn check(&self, key: &str) -> Verdict {
        let now = Instant::now();
        let Ok(mut map) = self.map.lock() else {
            return Verdict::Allowed;
        };
        let verdict = Self::verdict(Self::entry(&mut map, key, now), now);
        if verdict == Verdict::Allowed
            && map
                .get(key)
                .is_some_and(|f| f.count == 0 && f.lockouts == 0)
        {
            map.remove(key);
        }
        verdict
    }

    /// Record a failure; returns the delay to wait before answering.
    pub fn fail(&self, key: &str) -> Duration {
        let now = Instant::now();
        let Ok(mut map) = self.map.lock() else {
            return Self::MAX_DELAY;
        };
        let max = self.max_failures;
        let f = Self::entry(&mut map, key, now);
        self.count(f, max, now)
    }

    /// Reserve one attempt for every `(key, limit)` at once, *before* it is
    /// checked: it counts as a failure until [`Limiter::succeed`] clears
    /// the key, so concurrent attempts cannot pass a limit together.
    /// Ok(delay to wait before answering a failure), or Err(how long the
    /// first locked key stays locked) with nothing counted.
    pub fn reserve(&self, keys: &[(&str, u32)]) -> Result<Duration, Duration> {
        let now = Instant::now();
        let Ok(mut map) = self.map.lock() else {
            return Err(Self::MAX_DELAY);
        };
        let locked = keys
            .iter()
            .filter_map(
                |(key, _)| match Self::verdict(Self::entry(&mut map, key, now), now) {
                    Verdict::Locked(d) => Some(d),
                    Verdict::Allowed => None,
                },
            )
            .max();
        if let Some(wait) = locked {
            return Err(wait);
        }
        let mut delay = Duration::ZERO;
        for (key, max) in keys {
            let f = Self::entry(&mut map, key, now);
            delay = delay.max(self.count(f, *max, now));
        }
        Ok(delay)
    }

    /// A success clears the counter (and the lockout history).
    pub fn succeed(&self, key: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(key);
        }
    }
}

/// The login path's guards: guesses counted before hashing, per account
/// on one address and per address; a bound on concurrent argon2 checks.
#[derive(Debug)]
pub struct Logins {
    limiter: Limiter,
    max_failures: u32,
    hashing: Semaphore,
}

/// A reserved login attempt (already counted as a failure).
#[derive(Debug)]
pub struct Attempt<'a> {
    logins: &'a Logins,
    account_key: String,
    /// Delay before answering if the password is wrong.
    pub delay: Duration,
}

impl Logins {
    /// argon2 checks running at the same time (each takes 19 MiB).
    pub const CONCURRENT_HASHES: usize = 2;
    /// An address may fail this many times `max_failures` (over all
    /// accounts) before it is locked out of every account.
    const ADDRESS_FACTOR: u32 = 4;

    pub fn new(max_failures: u32, lockout: Duration) -> Self {
        // The dummy hash is made once, now, so even the first unknown
        // user costs no more than a known one.
        let _ = std::thread::Builder::new()
            .name("dummy-hash".into())
            .spawn(|| dummy_hash().len());
        Self {
            limiter: Limiter::new(max_failures, lockout),
            max_failures,
            hashing: Semaphore::new(Self::CONCURRENT_HASHES),
        }
    }

    /// Reserve a guess of `user` from `ip`, or Err(time until unlocked).
    /// A lockout holds for this account on this address (so an attacker
    /// cannot lock the real user out elsewhere), and for an address that
    /// failed too often over all accounts.
    pub fn begin(&self, user: &str, ip: IpAddr) -> Result<Attempt<'_>, Duration> {
        let account_key = format!("login:{user}@{ip}");
        let address_key = format!("login-ip:{ip}");
        let delay = self.limiter.reserve(&[
            (&account_key, self.max_failures),
            (
                &address_key,
                self.max_failures.saturating_mul(Self::ADDRESS_FACTOR),
            ),
        ])?;
        Ok(Attempt {
            logins: self,
            account_key,
            delay,
        })
    }

    /// Check the password (one argon2 verification, also for unknown
    /// users) once a hashing slot is free, on a blocking thread.
    pub async fn verify(&self, store: &Store, user: &str, password: String) -> Option<Account> {
        let _slot = self.hashing.acquire().await.ok()?;
        let store = store.clone();
        let user = user.to_owned();
        tokio::task::spawn_blocking(move || check_login(&store, &user, &password))
            .await
            .ok()
            .flatten()
    }
}

impl Attempt<'_> {
    /// The password was right: this account on this address starts afresh
    /// (the address's count over all accounts stays).
    pub fn succeed(self) {
        self.logins.limiter.succeed(&self.account_key);
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

    #[tokio::test(start_paused = true)]
    async fn concurrent_guesses_are_counted_before_checking() {
        // 100 guesses reserved at the same moment (none answered yet):
        // only the limit passes, the rest are locked out unhashed.
        let logins = Logins::new(5, Duration::from_secs(300));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let attempts: Vec<_> = (0..100).map(|_| logins.begin("anna", ip)).collect();
        assert_eq!(attempts.iter().filter(|a| a.is_ok()).count(), 5);
        assert!(
            attempts[5..]
                .iter()
                .all(|a| matches!(a, Err(d) if *d == Duration::from_secs(300)))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn lockout_is_per_account_and_address_and_grows() {
        let logins = Logins::new(3, Duration::from_secs(60));
        let attacker: IpAddr = "192.0.2.66".parse().unwrap();
        let user: IpAddr = "192.0.2.7".parse().unwrap();
        let delays: Vec<Duration> = (0..3)
            .map(|_| logins.begin("bert", attacker).unwrap().delay)
            .collect();
        assert_eq!(
            delays,
            [250, 500, 1000].map(Duration::from_millis),
            "growing delays"
        );
        assert_eq!(
            logins.begin("bert", attacker).unwrap_err(),
            Duration::from_secs(60)
        );
        // The real user on another address is not locked out, and a
        // success there does not unlock the attacker.
        logins.begin("bert", user).unwrap().succeed();
        assert!(logins.begin("bert", attacker).is_err());
        // Other accounts from the attacker's address still get tries.
        assert!(logins.begin("carl", attacker).is_ok());

        // Again and again: each lockout lasts twice as long as the last.
        tokio::time::advance(Duration::from_secs(61)).await;
        for _ in 0..3 {
            assert!(logins.begin("bert", attacker).is_ok());
        }
        assert_eq!(
            logins.begin("bert", attacker).unwrap_err(),
            Duration::from_secs(120)
        );
        tokio::time::advance(Duration::from_secs(121)).await;
        for _ in 0..3 {
            assert!(logins.begin("bert", attacker).is_ok());
        }
        assert_eq!(
            logins.begin("bert", attacker).unwrap_err(),
            Duration::from_secs(240)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_address_failing_on_many_accounts_is_locked_out_of_all() {
        let logins = Logins::new(2, Duration::from_secs(60));
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        // 2 per account, 8 per address.
        for n in 0..4 {
            for _ in 0..2 {
                assert!(logins.begin(&format!("user{n}"), ip).is_ok());
            }
        }
        assert!(logins.begin("someone-else", ip).is_err());
        let other: IpAddr = "192.0.2.10".parse().unwrap();
        assert!(logins.begin("someone-else", other).is_ok());
    }

    fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("relay.sqlite")).unwrap();
        (dir, store)
    }

    #[test]
    fn unknown_users_cost_one_password_check_like_known_ones() {
        let (_dir, store) = temp_store();
        store
            .add_user("vera", "Vera", &hash_password("richtig-123").unwrap())
            .unwrap();
        dummy_hash(); // made once per process, not per login
        for (user, password, ok) in [
            ("vera", "richtig-123", true),
            ("vera", "falsch-123", false),
            ("nobody", "falsch-123", false),
            ("nobody", "", false),
        ] {
            let before = verifications();
            assert_eq!(check_login(&store, user, password).is_some(), ok, "{user}");
            assert_eq!(
                verifications() - before,
                1,
                "{user}/{password:?}: one argon2 verification"
            );
        }
        // The dummy hash has the real hashes' parameters.
        let real = hash_password("x").unwrap();
        let params = |h: &str| {
            let h = PasswordHash::new(h).unwrap();
            (h.algorithm.to_string(), h.version, h.params.to_string())
        };
        assert_eq!(params(dummy_hash()), params(&real));
    }

    fn account(name: &str, created_ms: i64) -> Account {
        Account {
            name: name.into(),
            display_name: name.into(),
            hash: String::new(),
            created_ms,
        }
    }

    #[tokio::test]
    async fn revoked_tokens_close_their_links() {
        let tokens = Tokens::default();
        let rita = tokens.issue(&account("rita", 1));
        let otto = tokens.issue(&account("otto", 2));
        let (rita_link, otto_link) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        assert!(tokens.attach(&rita, &rita_link));
        assert!(tokens.attach(&otto, &otto_link));

        // rita removed, otto re-added (another account with the same name).
        let revoked = tokens.keep_accounts(&[("otto".into(), 3)]);
        assert_eq!(revoked, 2);
        assert!(tokens.check(&rita).is_none() && tokens.check(&otto).is_none());
        rita_link.notified().await;
        otto_link.notified().await;
        assert!(!tokens.attach(&rita, &rita_link), "no new links");

        // Logout.
        let anna = tokens.issue(&account("anna", 4));
        let anna_link = Arc::new(Notify::new());
        assert!(tokens.attach(&anna, &anna_link));
        assert_eq!(tokens.keep_accounts(&[("anna".into(), 4)]), 0);
        assert!(tokens.check(&anna).is_some());
        tokens.revoke(&anna);
        assert!(tokens.check(&anna).is_none());
        anna_link.notified().await;
    }

    #[test]
    fn passwords() {
        let hash = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd"));
    }
}
