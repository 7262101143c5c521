//! Start-up and the accept loop: data directory (certificate, secret,
//! database, default config), TLS (rustls with `ring`, TLS 1.2 and 1.3
//! only), a semaphore capping connections, per-address caps on
//! unauthenticated connections and TLS handshakes (so one address cannot
//! take every slot), TCP_NODELAY, and a graceful shutdown that tells every
//! peer the relay is going away.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use hmac::{Hmac, Mac};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;

use crate::auth::{Limiter, Logins, Tokens};
use crate::config::{Config, DEFAULT_TOML};
use crate::pairing::Hub;
use crate::recording::Recorder;
use crate::store::Store;

/// Everything the connection tasks share.
#[derive(Debug)]
pub struct Shared {
    pub hub: Arc<Hub>,
    pub store: Store,
    pub tokens: Arc<Tokens>,
    /// Failed logins per account on an address, and per address.
    pub logins: Logins,
    /// Bad tickets per address.
    pub keys: Limiter,
    secret: Vec<u8>,
    pub cert_sha256: String,
    /// Where clients reach the relay (`public_url`, default the listen address).
    pub public: PublicUrl,
    /// Connections per address that are not an authenticated technician link.
    pub unauthenticated: Arc<PerAddress>,
    pub web_dir: Option<PathBuf>,
    pub shutdown: watch::Receiver<bool>,
}

/// The relay's public address: downloads are stamped with it, and only
/// requests naming it in their Host header are served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    /// Lowercase; IPv6 in brackets.
    pub host: String,
    pub port: u16,
}

impl PublicUrl {
    /// From `public_url`, else the listen address (which must then be a
    /// specific one: no client can reach 0.0.0.0).
    pub fn new(config: &Config, local: SocketAddr) -> anyhow::Result<Self> {
        if let Some((host, port)) = config.public_authority() {
            return Ok(Self { host, port });
        }
        if local.ip().is_unspecified() {
            bail!(
                "bad config key `public_url`: the relay listens on {local}, an address no client can use; \
                 set public_url = \"https://HOST[:PORT]\" (how customers reach it) in relay.toml"
            );
        }
        let host = match local.ip() {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        };
        Ok(Self {
            host,
            port: local.port(),
        })
    }

    /// `HOST` or `HOST:PORT` (port 443 left out).
    pub fn authority(&self) -> String {
        if self.port == 443 {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The relay's WebSocket base URL, as stamped into downloads.
    pub fn ws_url(&self) -> String {
        format!("wss://{}", self.authority())
    }

    /// The relay's own web origin (what a browser sends as `Origin`).
    pub fn origin(&self) -> String {
        format!("https://{}", self.authority())
    }

    /// Whether an HTTP `Host` header names this relay.
    pub fn matches_host(&self, host: &str) -> bool {
        crate::config::split_host_port(host.trim())
            .is_some_and(|(h, p)| h == self.host && p == self.port)
    }
}

/// Open connections per address (IPv6: per /64, the block one subscriber
/// usually holds), with a cap; a taken [`Slot`] counts until dropped.
#[derive(Debug, Default)]
pub struct PerAddress {
    counts: std::sync::Mutex<HashMap<IpAddr, usize>>,
}

/// One connection counted in a [`PerAddress`] table.
#[derive(Debug)]
pub struct Slot {
    table: Arc<PerAddress>,
    key: IpAddr,
}

/// The address a per-address cap counts `ip` under.
fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(
                u128::from(v6) & !u128::from(u64::MAX),
            )),
        },
    }
}

impl PerAddress {
    fn counts(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Count one more connection from `ip`, unless it already has `cap`.
    pub fn take(self: &Arc<Self>, ip: IpAddr, cap: usize) -> Option<Slot> {
        let key = bucket(ip);
        let mut counts = self.counts();
        let n = counts.entry(key).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(Slot {
            table: self.clone(),
            key,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.table.counts();
        if let Some(n) = counts.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Shared {
    fn mac(&self, body: &str) -> Option<String> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).ok()?;
        mac.update(body.as_bytes());
        Some(hex::encode(mac.finalize().into_bytes()))
    }

    /// `KEY.EXPIRY.MAC` for a download.
    pub fn make_ticket(&self, key: &str, expires_at: u64) -> String {
        let body = format!("{key}.{expires_at}");
        let mac = self.mac(&body).unwrap_or_default();
        format!("{body}.{mac}")
    }

    /// The key of a valid, unexpired ticket.
    pub fn verify_ticket(&self, ticket: &str) -> Option<String> {
        let mut parts = ticket.rsplitn(3, '.');
        let mac_hex = parts.next()?;
        let expiry: u64 = parts.next()?.parse().ok()?;
        let key = parts.next()?;
        if expiry <= unix_now() {
            return None;
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).ok()?;
        mac.update(format!("{key}.{expiry}").as_bytes());
        mac.verify_slice(&hex::decode(mac_hex).ok()?).ok()?;
        Some(key.to_owned())
    }

    pub fn download_path(&self, os: &str) -> Option<PathBuf> {
        if let Some(p) = self.hub.config().download_path(os) {
            return Some(p);
        }
        let name = match os {
            "linux" => "lotse",
            "windows" => "lotse.exe",
            "macos" => "lotse-macos",
            _ => return None,
        };
        let exe = std::env::current_exe().ok()?;
        Some(exe.parent()?.join(name))
    }
}

/// Read the config file (writing the default one first if missing).
pub fn load_config(data_dir: &Path) -> anyhow::Result<Config> {
    let path = data_dir.join("relay.toml");
    if !path.exists() {
        std::fs::write(&path, DEFAULT_TOML)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Config::parse(&text).with_context(|| format!("in {}", path.display()))
}

fn write_private(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(data)?;
    Ok(())
}

/// The HMAC secret for tickets, created on first start.
fn load_secret(data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    let path = data_dir.join("secret");
    if !path.exists() {
        write_private(&path, crate::auth::random_token().as_bytes())?;
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let secret = hex::decode(text.trim()).context("the secret file is damaged")?;
    if secret.len() < 32 {
        bail!("the secret file {} is too short", path.display());
    }
    Ok(secret)
}

/// Certificate chain and key: configured PEM files, or the self-signed pair
/// in the data directory (created on first start).
fn load_cert(
    config: &Config,
    data_dir: &Path,
) -> anyhow::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let (cert_path, key_path) = if config.tls.cert.is_empty() {
        let cert = data_dir.join("cert.pem");
        let key = data_dir.join("key.pem");
        if !cert.exists() || !key.exists() {
            let generated = rcgen::generate_simple_self_signed(vec![
                "localhost".to_owned(),
                "127.0.0.1".to_owned(),
            ])
            .context("cannot create a certificate")?;
            let _ = std::fs::remove_file(&key);
            write_private(&key, generated.signing_key.serialize_pem().as_bytes())?;
            std::fs::write(&cert, generated.cert.pem())?;
        }
        (cert, key)
    } else {
        (
            data_dir.join(&config.tls.cert),
            data_dir.join(&config.tls.key),
        )
    };
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut std::io::BufReader::new(
        std::fs::File::open(&cert_path)
            .with_context(|| format!("tls.cert: cannot open {}", cert_path.display()))?,
    ))
    .collect::<Result<_, _>>()
    .with_context(|| format!("tls.cert: {} is not a PEM certificate", cert_path.display()))?;
    if certs.is_empty() {
        bail!("tls.cert: {} holds no certificate", cert_path.display());
    }
    let key = rustls_pemfile::private_key(&mut std::io::BufReader::new(
        std::fs::File::open(&key_path)
            .with_context(|| format!("tls.key: cannot open {}", key_path.display()))?,
    ))
    .with_context(|| format!("tls.key: cannot read {}", key_path.display()))?
    .with_context(|| format!("tls.key: {} holds no private key", key_path.display()))?;
    Ok((certs, key))
}

/// Start the relay on `listen` and serve until `shutdown` resolves.
/// `on_ready` gets the bound address and the certificate fingerprint.
pub async fn run(
    data_dir: &Path,
    listen: &str,
    on_ready: impl FnOnce(SocketAddr, &str),
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    lotse_link::install_crypto_provider();
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let config = Arc::new(load_config(data_dir)?);
    let secret = load_secret(data_dir)?;
    let (certs, key) = load_cert(&config, data_dir)?;
    let cert_sha256 = hex::encode(Sha256::digest(certs[0].as_ref()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the certificate and key do not fit together")?;
    let acceptor = TlsAcceptor::from(Arc::new(tls));

    let store = Store::open(&data_dir.join("relay.sqlite"))?;
    let db = store.spawn_writer()?;
    let recordings = data_dir.join(crate::recording::DIR_NAME);
    let recorder = Recorder::spawn(recordings.clone(), db.clone())
        .with_context(|| format!("cannot use {}", recordings.display()))?;
    // Session ids continue above every id with a record or a recording.
    let last_session = store
        .max_session_id()?
        .max(crate::recording::max_session_id(&recordings));
    let hub = Arc::new(Hub::new(
        config.clone(),
        db,
        recorder,
        last_session,
        store.recent_waits(20)?,
    ));
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let local_addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let limits = &config.limits;
    let tokens = Arc::new(Tokens::default());
    let accounts = tokio::spawn(crate::auth::watch_accounts(store.clone(), tokens.clone()));
    let shared = Arc::new(Shared {
        hub: hub.clone(),
        store,
        tokens: tokens.clone(),
        logins: Logins::new(
            limits.login_max_failures,
            Duration::from_secs(limits.login_lockout_secs),
        ),
        keys: Limiter::new(20, Duration::from_secs(limits.login_lockout_secs)),
        secret,
        cert_sha256: cert_sha256.clone(),
        public: PublicUrl::new(&config, local_addr)?,
        unauthenticated: Arc::new(PerAddress::default()),
        web_dir: crate::http::find_web_dir(&config.web_dir, data_dir),
        shutdown: stop_rx,
    });
    on_ready(local_addr, &cert_sha256);

    let hold = hub.spawn_hold_ticker();

    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let handshakes = Arc::new(PerAddress::default());
    let handshake_budget = Arc::new(Semaphore::new(limits.max_handshakes));
    let handshake = Duration::from_secs(limits.handshake_timeout_secs);
    let accept_loop = async {
        let mut backoff = Duration::from_millis(10);
        loop {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let (socket, peer) = match listener.accept().await {
                Ok(ok) => {
                    backoff = Duration::from_millis(10);
                    ok
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            };
            // Per-address caps, counted here in accept order: one address
            // cannot hold every slot (or every handshake) the relay has.
            let Some(unauthenticated) = shared
                .unauthenticated
                .take(peer.ip(), limits.max_unauthenticated_per_address)
            else {
                tracing::debug!(ip = %peer.ip(), "too many unauthenticated connections from one address; closed");
                continue;
            };
            let Some(shaking) = handshakes.take(peer.ip(), limits.max_handshakes_per_address)
            else {
                tracing::debug!(ip = %peer.ip(), "too many TLS handshakes from one address; closed");
                continue;
            };
            let _ = socket.set_nodelay(true);
            let acceptor = acceptor.clone();
            let shared = shared.clone();
            let budget = handshake_budget.clone();
            tokio::spawn(async move {
                let deadline = tokio::time::Instant::now() + handshake;
                let tls = tokio::time::timeout_at(deadline, async {
                    let _turn = budget.acquire_owned().await.ok()?;
                    Some(acceptor.accept(socket).await)
                })
                .await;
                drop(shaking);
                match tls {
                    Ok(Some(Ok(tls))) => {
                        crate::http::serve(tls, shared, peer.ip(), deadline, unauthenticated).await;
                    }
                    Ok(Some(Err(e))) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Ok(None) => {}
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
                drop(permit);
            });
        }
    };
    tokio::select! {
        () = accept_loop => {}
        () = shutdown => {
            tracing::info!("shutting down");
        }
    }
    hold.abort();
    accounts.abort();
    hub.shutdown();
    // Recordings are closed by now; make sure they are on disk.
    hub.recorder().sync().await;
    let _ = stop_tx.send(true);
    // Give the links a moment to send their goodbyes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while permits.available_permits() < limits.max_connections
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_url_defaults_to_a_specific_listen_address() {
        let config = Config::default();
        let local: SocketAddr = "127.0.0.1:8443".parse().unwrap();
        let public = PublicUrl::new(&config, local).unwrap();
        assert_eq!(public.ws_url(), "wss://127.0.0.1:8443");
        assert!(public.matches_host("127.0.0.1:8443"));
        assert!(!public.matches_host("127.0.0.1"));
        assert!(!public.matches_host("evil.example:8443"));
        let v6 = PublicUrl::new(&config, "[::1]:443".parse().unwrap()).unwrap();
        assert_eq!(v6.origin(), "https://[::1]");
        assert!(v6.matches_host("[::1]:443") && v6.matches_host("[::1]"));
        let e = PublicUrl::new(&config, "0.0.0.0:443".parse().unwrap()).unwrap_err();
        assert!(e.to_string().contains("public_url"), "{e}");
        let config = Config::parse("public_url = \"https://support.example.com\"\n").unwrap();
        let public = PublicUrl::new(&config, "0.0.0.0:8443".parse().unwrap()).unwrap();
        assert_eq!(public.ws_url(), "wss://support.example.com");
        assert!(public.matches_host("Support.Example.com:443"));
    }

    #[test]
    fn per_address_caps_count_and_release() {
        let table = Arc::new(PerAddress::default());
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = table.take(a, 2).unwrap();
        let _second = table.take(a, 2).unwrap();
        assert!(table.take(a, 2).is_none());
        assert!(table.take(b, 2).is_some());
        drop(first);
        assert!(table.take(a, 2).is_some());
        // One IPv6 /64 is one address.
        let x: IpAddr = "2001:db8::1".parse().unwrap();
        let y: IpAddr = "2001:db8::ffff:2".parse().unwrap();
        let _x = table.take(x, 1).unwrap();
        assert!(table.take(y, 1).is_none());
    }
}
