//! The HTTP side of the single TLS port: read the request head (at most
//! 16 KiB) with `httparse`; a WebSocket upgrade is admitted or refused
//! *before* the 101 response (path, ticket, token, Origin), everything else
//! gets a plain HTTP/1.1 answer with `Connection: close`: the portal page,
//! stamped client downloads, and the web chat's static files.
//!
//! Every request must name the relay's public address in its `Host` header
//! (else 421); every answer carries the security headers (no framing, HSTS);
//! downloads and recordings stream from disk, and every write has a
//! deadline (`limits.http_write_timeout_secs`), so a receiver that stalls
//! is dropped instead of holding memory.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use lotse_protocol::{Lang, paths, stamp};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;

use crate::auth::Verdict;
use crate::conn::{self, Admission};
use crate::server::{Shared, Slot};

const MAX_HEAD: usize = 16 * 1024;
/// Bytes read from disk and written per step while streaming a file.
const CHUNK: usize = 64 * 1024;

/// Headers on every HTTP answer: no framing by other sites (the consent
/// and chat pages must not be clickjacked), HTTPS only from now on, no
/// content sniffing, no referrer, no caching.
const SECURITY_HEADERS: [(&str, &str); 6] = [
    (
        "Content-Security-Policy",
        "default-src 'self'; frame-ancestors 'none'",
    ),
    ("X-Frame-Options", "DENY"),
    ("Strict-Transport-Security", "max-age=31536000"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
];

/// The shared WebSocket limits, with a 16 KiB read buffer: tungstenite
/// zero-fills the whole free read buffer before every socket read (128 KiB
/// by default), which was the relay's largest CPU cost under load (perf:
/// 12% in memset). One TLS record holds at most 16 KiB anyway; large
/// frames still arrive whole, in more reads.
fn ws_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    lotse_link::ws_config().read_buffer_size(16 * 1024)
}

/// A stream that first replays bytes already read (the request head), so
/// the WebSocket handshake can parse the request again.
pub struct Prefixed<S> {
    prefix: Vec<u8>,
    pos: usize,
    inner: S,
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.pos < self.prefix.len() {
            let n = buf.remaining().min(self.prefix.len() - self.pos);
            let start = self.pos;
            buf.put_slice(&self.prefix[start..start + n]);
            self.pos += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// What we need from the request head.
struct Head {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn is_upgrade(&self) -> bool {
        self.header("upgrade")
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
    }
}

/// Read until the end of the head; returns the bytes read and the parsed head.
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> Option<(Vec<u8>, Head)> {
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(_)) => {
                let head = Head {
                    method: req.method.unwrap_or("").to_owned(),
                    target: req.path.unwrap_or("/").to_owned(),
                    headers: req
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_owned(),
                                String::from_utf8_lossy(h.value).into_owned(),
                            )
                        })
                        .collect(),
                };
                return Some((buf, head));
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => {}
            _ => return None,
        }
    }
}

fn split_target(target: &str) -> (&str, &str) {
    target.split_once('?').unwrap_or((target, ""))
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Serve one TLS connection (one request). `unauthenticated` counts the
/// connection against its address's cap until it is a technician's link.
// tungstenite's handshake callback returns its (large) ErrorResponse by value.
#[allow(clippy::result_large_err)]
pub async fn serve<S>(
    mut stream: S,
    shared: Arc<Shared>,
    ip: IpAddr,
    deadline: Instant,
    unauthenticated: Slot,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limit = write_timeout(&shared);
    let Ok(Some((bytes, head))) = tokio::time::timeout_at(deadline, read_head(&mut stream)).await
    else {
        let _ = respond(
            &mut stream,
            limit,
            400,
            "text/plain; charset=utf-8",
            &[],
            b"bad request\n",
        )
        .await;
        return;
    };
    // The Host header names the relay, or the request is not for us (a
    // stamp or link must never carry an address a request made up).
    if !head
        .header("host")
        .is_some_and(|h| shared.public.matches_host(h))
    {
        tracing::info!(%ip, host = ?head.header("host").unwrap_or(""), "request for another host refused");
        let text = format!("this server answers only as {}\n", shared.public.origin());
        let _ = respond(
            &mut stream,
            limit,
            421,
            "text/plain; charset=utf-8",
            &[],
            text.as_bytes(),
        )
        .await;
        return;
    }
    if head.is_upgrade() {
        let prefixed = Prefixed {
            prefix: bytes,
            pos: 0,
            inner: stream,
        };
        let mut admitted: Option<Admission> = None;
        let callback = |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
            match admit(req, &shared, ip) {
                Ok(a) => {
                    admitted = Some(a);
                    add_security_headers(resp.headers_mut());
                    Ok(resp)
                }
                Err((status, text)) => {
                    tracing::info!(
                        path = req.uri().path(),
                        status = status.as_u16(),
                        "upgrade refused"
                    );
                    let mut refuse = ErrorResponse::new(Some(text.to_owned()));
                    *refuse.status_mut() = status;
                    add_security_headers(refuse.headers_mut());
                    Err(refuse)
                }
            }
        };
        let ws = tokio::time::timeout_at(
            deadline,
            tokio_tungstenite::accept_hdr_async_with_config(prefixed, callback, Some(ws_config())),
        )
        .await;
        if let (Ok(Ok(ws)), Some(admission)) = (ws, admitted) {
            // An authenticated technician no longer counts against the
            // per-address cap for unauthenticated connections.
            let counted =
                (!matches!(admission, Admission::Technician(_))).then_some(unauthenticated);
            conn::serve(ws, admission, shared, ip, deadline).await;
            drop(counted);
        }
        return;
    }
    http(&mut stream, &head, &shared, limit).await;
    drop(unauthenticated);
}

fn add_security_headers(headers: &mut tokio_tungstenite::tungstenite::http::HeaderMap) {
    use tokio_tungstenite::tungstenite::http::HeaderValue;
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

fn write_timeout(shared: &Shared) -> Duration {
    Duration::from_secs(shared.hub.config().limits.http_write_timeout_secs)
}

/// Write all of `bytes` within `limit`, else fail (the receiver stalled).
async fn send<S: AsyncWrite + Unpin>(
    stream: &mut S,
    bytes: &[u8],
    limit: Duration,
) -> std::io::Result<()> {
    match tokio::time::timeout(limit, stream.write_all(bytes)).await {
        Ok(result) => result,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the receiver stopped taking data",
        )),
    }
}

/// Flush and close within `limit`.
async fn finish<S: AsyncWrite + Unpin>(stream: &mut S, limit: Duration) -> std::io::Result<()> {
    match tokio::time::timeout(limit, stream.flush()).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the receiver stopped taking data",
            ));
        }
    }
    let _ = tokio::time::timeout(limit, stream.shutdown()).await;
    Ok(())
}

/// Send `len` bytes of `file` from its current position in [`CHUNK`]s,
/// each written within `limit`.
async fn send_file<S: AsyncWrite + Unpin>(
    stream: &mut S,
    file: &mut tokio::fs::File,
    mut len: u64,
    limit: Duration,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    while len > 0 {
        let want = usize::try_from(len).map_or(CHUNK, |l| l.min(CHUNK));
        let n = file.read(&mut buf[..want]).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        send(stream, &buf[..n], limit).await?;
        len -= n as u64;
    }
    Ok(())
}

/// The head of an answer with the security headers and `extra`.
fn response_head(status: u16, content_type: &str, len: u64, extra: &[(&str, String)]) -> String {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        421 => "Misdirected Request",
        _ => "Internal Server Error",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\nConnection: close\r\n"
    );
    for (k, v) in SECURITY_HEADERS {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// Decide an upgrade before the 101 response.
fn admit(
    req: &Request,
    shared: &Shared,
    ip: IpAddr,
) -> Result<Admission, (StatusCode, &'static str)> {
    let path = req.uri().path();
    let query = req.uri().query().unwrap_or("");
    let config = shared.hub.config();
    match path {
        p if p == paths::CUSTOMER => {
            if let Some(key) = query_param(query, "key")
                && query_param(query, "ticket").is_none()
            {
                // A `lotse://join?key=KEY` link: checked at hello, where it
                // can only take its web chat session over.
                let ip_key = format!("ticket-ip:{ip}");
                if let Verdict::Locked(_) = shared.keys.check(&ip_key) {
                    return Err((
                        StatusCode::TOO_MANY_REQUESTS,
                        "too many bad keys; try again later",
                    ));
                }
                if key.is_empty()
                    || key.len() > 64
                    || !key
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    shared.keys.fail(&ip_key);
                    return Err((StatusCode::FORBIDDEN, "this link's key is not valid"));
                }
                return Ok(Admission::Elevate {
                    key: key.to_owned(),
                });
            }
            match query_param(query, "ticket") {
                Some(ticket) => {
                    let ip_key = format!("ticket-ip:{ip}");
                    if let Verdict::Locked(_) = shared.keys.check(&ip_key) {
                        return Err((
                            StatusCode::TOO_MANY_REQUESTS,
                            "too many bad tickets; try again later",
                        ));
                    }
                    match shared.verify_ticket(ticket) {
                        Some(key) => Ok(Admission::Customer {
                            key: (!key.is_empty()).then_some(key),
                        }),
                        None => {
                            shared.keys.fail(&ip_key);
                            Err((
                                StatusCode::FORBIDDEN,
                                "this download's ticket is invalid or expired; download the program again",
                            ))
                        }
                    }
                }
                None if config.public_queue => Ok(Admission::Customer { key: None }),
                None => Err((StatusCode::FORBIDDEN, "a ticket is required")),
            }
        }
        p if p == paths::WEB => {
            if !config.click_to_chat {
                return Err((StatusCode::FORBIDDEN, "the web chat is switched off"));
            }
            let origin = req
                .headers()
                .get("origin")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if origin == shared.public.origin()
                || config.allowed_origins.iter().any(|o| o == origin)
            {
                Ok(Admission::Web)
            } else {
                Err((StatusCode::FORBIDDEN, "origin not allowed"))
            }
        }
        p if p == paths::LOGIN => Ok(Admission::Login),
        p if p == paths::TECHNICIAN => {
            let token = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or("");
            match shared.tokens.check(token.trim()) {
                Some(info) => Ok(Admission::Technician(info)),
                None => Err((StatusCode::UNAUTHORIZED, "log in first")),
            }
        }
        _ => Err((StatusCode::NOT_FOUND, "no such WebSocket path")),
    }
}

async fn respond<S: AsyncWrite + Unpin>(
    stream: &mut S,
    limit: Duration,
    status: u16,
    content_type: &str,
    extra: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let head = response_head(status, content_type, body.len() as u64, extra);
    send(stream, head.as_bytes(), limit).await?;
    send(stream, body, limit).await?;
    finish(stream, limit).await
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn http<S: AsyncWrite + Unpin>(
    stream: &mut S,
    head: &Head,
    shared: &Shared,
    limit: Duration,
) {
    const TEXT: &str = "text/plain; charset=utf-8";
    if head.method != "GET" && head.method != "HEAD" {
        let _ = respond(stream, limit, 405, TEXT, &[], b"only GET is served here\n").await;
        return;
    }
    let (path, query) = split_target(&head.target);
    let lang = if head
        .header("accept-language")
        .is_some_and(|l| l.trim_start().to_ascii_lowercase().starts_with("de"))
    {
        Lang::De
    } else {
        Lang::En
    };
    let result = match path {
        "/" => {
            if let Some(index) = shared.web_dir.as_ref().map(|d| d.join("index.html"))
                && let Ok(body) = tokio::fs::read(&index).await
            {
                respond(stream, limit, 200, "text/html; charset=utf-8", &[], &body).await
            } else {
                let body = portal(shared);
                respond(
                    stream,
                    limit,
                    200,
                    "text/html; charset=utf-8",
                    &[],
                    body.as_bytes(),
                )
                .await
            }
        }
        "/api/site" => {
            // What the portal page needs to choose between chat and download.
            let config = shared.hub.config();
            let body = serde_json::json!({
                "name": config.site_name,
                "click_to_chat": config.click_to_chat,
                "public_queue": config.public_queue,
                "lang": if lang == Lang::De { "de" } else { "en" },
            })
            .to_string();
            respond(
                stream,
                limit,
                200,
                "application/json; charset=utf-8",
                &[],
                body.as_bytes(),
            )
            .await
        }
        p if p.starts_with("/download/") => {
            let os = &p["/download/".len()..];
            let key = query_param(query, "key").unwrap_or("");
            download(stream, shared, os, key, head.method == "HEAD", lang).await
        }
        p if p.starts_with("/web/") => static_file(stream, shared, &p["/web/".len()..]).await,
        p if p.starts_with("/api/recordings/") => {
            recording(stream, head, shared, &p["/api/recordings/".len()..]).await
        }
        _ => respond(stream, limit, 404, TEXT, &[], b"not found\n").await,
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "HTTP response not delivered");
    }
}

/// `GET /api/recordings/SESSION` with a technician's bearer token: the
/// session's recording file (format in `crates/relay/RECORDING.md`),
/// streamed from disk after everything queued for it was written.
async fn recording<S: AsyncWrite + Unpin>(
    stream: &mut S,
    head: &Head,
    shared: &Shared,
    id: &str,
) -> std::io::Result<()> {
    const TEXT: &str = "text/plain; charset=utf-8";
    let limit = write_timeout(shared);
    let token = head
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let Some(info) = shared.tokens.check(token.trim()) else {
        return respond(
            stream,
            limit,
            401,
            TEXT,
            &[("WWW-Authenticate", "Bearer".into())],
            b"log in as a technician first (Authorization: Bearer TOKEN)\n",
        )
        .await;
    };
    let Ok(sid) = id.parse::<u64>() else {
        return respond(stream, limit, 404, TEXT, &[], b"no such session\n").await;
    };
    let recorder = shared.hub.recorder();
    if !crate::recording::may_fetch(recorder, &shared.store, sid, &info.user).await {
        tracing::warn!(
            session = sid,
            user = info.user,
            "recording refused: not this technician's session"
        );
        return respond(
            stream,
            limit,
            403,
            TEXT,
            &[],
            b"only the technician who served this session may fetch its recording\n",
        )
        .await;
    }
    recorder.sync().await;
    let path = crate::recording::file_path(recorder.dir(), sid);
    let Ok(mut file) = tokio::fs::File::open(&path).await else {
        return respond(
            stream,
            limit,
            404,
            TEXT,
            &[],
            b"this session has no recording (the customer did not allow it)\n",
        )
        .await;
    };
    let len = file.metadata().await?.len();
    shared
        .hub
        .event(sid, &info.user, "recording_fetched", format!("{len} bytes"));
    let head_text = response_head(
        200,
        "application/octet-stream",
        len,
        &[(
            "Content-Disposition",
            format!("attachment; filename=\"session-{sid}.lrec\""),
        )],
    );
    send(stream, head_text.as_bytes(), limit).await?;
    if head.method == "GET" {
        send_file(stream, &mut file, len, limit).await?;
    }
    finish(stream, limit).await
}

/// The built-in portal page (used when the web directory has no index.html).
fn portal(shared: &Shared) -> String {
    let name = html_escape(&shared.hub.config().site_name);
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{name}</title></head><body>\n<h1>{name}</h1>\n<p>Download the support program / Support-Programm herunterladen:</p>\n<ul>\n<li><a href=\"/download/windows\">Windows</a></li>\n<li><a href=\"/download/macos\">macOS</a></li>\n<li><a href=\"/download/linux\">Linux</a> &mdash; <code>chmod +x lotse &amp;&amp; ./lotse</code></li>\n</ul>\n</body></html>\n"
    )
}

/// The client program for `os`, stamped for this relay and `key`:
/// streamed from disk (without an old stamp), then the new stamp.
async fn download<S: AsyncWrite + Unpin>(
    stream: &mut S,
    shared: &Shared,
    os: &str,
    key: &str,
    head_only: bool,
    lang: Lang,
) -> std::io::Result<()> {
    const TEXT: &str = "text/plain; charset=utf-8";
    let limit = write_timeout(shared);
    let Some(path) = shared.download_path(os) else {
        return respond(
            stream,
            limit,
            404,
            TEXT,
            &[],
            b"unknown system; use /download/linux, /download/windows or /download/macos\n",
        )
        .await;
    };
    if key.len() > 64
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return respond(
            stream,
            limit,
            400,
            TEXT,
            &[],
            b"a session key has at most 64 letters, digits, - or _\n",
        )
        .await;
    }
    let Some((mut exe, program_len)) = open_program(&path).await else {
        tracing::warn!(path = %path.display(), "no client build for {os}");
        return respond(stream, limit,
            404,
            TEXT,
            &[],
            format!("no client program for {os} is available on this server yet; please ask your support contact\n").as_bytes(),
        )
        .await;
    };
    let expires_at = crate::server::unix_now() + shared.hub.config().ticket_ttl_secs;
    let st = stamp::Stamp {
        relay_url: shared.public.ws_url(),
        cert_sha256: shared.cert_sha256.clone(),
        ticket: shared.make_ticket(key, expires_at),
        site_name: shared.hub.config().site_name.clone(),
        lang,
        expires_at,
    };
    let stamp_bytes = stamp::encode(&st);
    let file = if os == "windows" {
        "lotse.exe"
    } else {
        "lotse"
    };
    let head = response_head(
        200,
        "application/octet-stream",
        program_len + stamp_bytes.len() as u64,
        &[(
            "Content-Disposition",
            format!("attachment; filename=\"{file}\""),
        )],
    );
    send(stream, head.as_bytes(), limit).await?;
    if !head_only {
        if let Err(e) = send_file(stream, &mut exe, program_len, limit).await {
            tracing::info!(error = %e, "download not delivered; connection closed");
            return Err(e);
        }
        send(stream, &stamp_bytes, limit).await?;
    }
    finish(stream, limit).await
}

/// The program at `path`, positioned at its start, and its length without
/// any stamp it already carries.
async fn open_program(path: &Path) -> Option<(tokio::fs::File, u64)> {
    use tokio::io::AsyncSeekExt;
    let mut exe = tokio::fs::File::open(path).await.ok()?;
    let total = exe.metadata().await.ok()?.len();
    let tail_len = total.min(stamp::TRAILER_LEN as u64);
    exe.seek(std::io::SeekFrom::Start(total - tail_len))
        .await
        .ok()?;
    let mut tail = vec![0u8; usize::try_from(tail_len).ok()?];
    exe.read_exact(&mut tail).await.ok()?;
    exe.seek(std::io::SeekFrom::Start(0)).await.ok()?;
    Some((exe, stamp::unstamped_len_from_tail(total, &tail)))
}

/// A file of the web chat: flat names only (no directories, no dots first).
async fn static_file<S: AsyncWrite + Unpin>(
    stream: &mut S,
    shared: &Shared,
    name: &str,
) -> std::io::Result<()> {
    const TEXT: &str = "text/plain; charset=utf-8";
    let limit = write_timeout(shared);
    let safe = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    let content_type = match Path::new(name).extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "ftl") => "application/json; charset=utf-8",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("ico") => "image/x-icon",
        Some("wav") => "audio/wav",
        Some("woff2") => "font/woff2",
        _ => "",
    };
    let Some(dir) = shared
        .web_dir
        .as_ref()
        .filter(|_| safe && !content_type.is_empty())
    else {
        return respond(stream, limit, 404, TEXT, &[], b"not found\n").await;
    };
    match tokio::fs::read(dir.join(name)).await {
        Ok(body) => respond(stream, limit, 200, content_type, &[], &body).await,
        Err(_) => respond(stream, limit, 404, TEXT, &[], b"not found\n").await,
    }
}

/// Where the web chat files are: configured, else the source tree's
/// `assets/web`, else `web` next to the executable.
pub fn find_web_dir(configured: &str, data_dir: &Path) -> Option<PathBuf> {
    if !configured.is_empty() {
        return Some(data_dir.join(configured));
    }
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/web");
    if source.is_dir() {
        return Some(source);
    }
    let exe = std::env::current_exe().ok()?;
    let beside = exe.parent()?.join("web");
    beside.is_dir().then_some(beside)
}
