//! A TCP proxy in front of the relay that can cut every link (a network
//! outage) while the console keeps its direct link.

use crate::relay::Relay;

/// A TCP proxy in front of the relay that can cut every link and refuse
/// new ones for a while (a network outage).
pub struct Proxy {
    pub addr: std::net::SocketAddr,
    blocked: std::sync::Arc<std::sync::atomic::AtomicBool>,
    links: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// A relay with `config` whose public address (in the stamp of its
    /// downloads and in every request's Host) is a proxy in front of it.
    pub async fn relay_behind(config: &str) -> (Relay, Proxy) {
        let target = std::sync::Arc::new(std::sync::OnceLock::new());
        let proxy = Proxy::start(target.clone()).await;
        let mut relay = Relay::start_with_config(&format!(
            "public_url = \"https://{}\"\n{config}",
            proxy.addr
        ));
        relay.host = proxy.addr.to_string();
        target.set(relay.addr).expect("target set once");
        (relay, proxy)
    }

    /// A proxy that forwards to `target` once it is set (the relay starts
    /// after the proxy: its public address is the proxy's).
    pub async fn start(target: std::sync::Arc<std::sync::OnceLock<std::net::SocketAddr>>) -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let blocked = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let links = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (b, l) = (blocked.clone(), links.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let Some(target) = target.get().copied() else {
                    drop(inbound);
                    continue;
                };
                if b.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                l.lock().expect("links").push(task.abort_handle());
            }
        });
        Self {
            addr,
            blocked,
            links,
            accept,
        }
    }

    /// Drop every link and refuse new ones until [`Proxy::restore`].
    pub fn cut(&self) {
        self.cut_from(0);
    }

    /// How many links were made so far (for [`Proxy::cut_from`]).
    pub fn links_so_far(&self) -> usize {
        self.links.lock().expect("links").len()
    }

    /// Drop the links made since [`Proxy::links_so_far`] said `first`
    /// (e.g. the customer's, while the technician's stays) and refuse new
    /// ones until [`Proxy::restore`].
    pub fn cut_from(&self, first: usize) {
        self.blocked
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let links = self.links.lock().expect("links");
        for link in links.iter().skip(first) {
            link.abort();
        }
    }

    /// Take links again.
    pub fn restore(&self) {
        self.blocked
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}
