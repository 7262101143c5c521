//! Start-up and the accept loop: data directory (certificate, secret,
//! database, default config), TLS (rustls with `ring`, TLS 1.2 and 1.3
//! only), a semaphore capping connections, TCP_NODELAY, and a graceful
//! shutdown that tells every peer the relay is going away.

use std::net::SocketAddr;
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
    pub local_addr: SocketAddr,
    pub web_dir: Option<PathBuf>,
    pub shutdown: watch::Receiver<bool>,
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
        local_addr,
        web_dir: crate::http::find_web_dir(&config.web_dir, data_dir),
        shutdown: stop_rx,
    });
    on_ready(local_addr, &cert_sha256);

    let hold = {
        let hub = hub.clone();
        let every = Duration::from_secs(u64::from(config.hold_interval_secs));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tick.tick().await;
                hub.hold_tick();
            }
        })
    };

    let permits = Arc::new(Semaphore::new(limits.max_connections));
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
            let _ = socket.set_nodelay(true);
            let acceptor = acceptor.clone();
            let shared = shared.clone();
            tokio::spawn(async move {
                let deadline = tokio::time::Instant::now() + handshake;
                match tokio::time::timeout_at(deadline, acceptor.accept(socket)).await {
                    Ok(Ok(tls)) => crate::http::serve(tls, shared, peer.ip(), deadline).await,
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
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
