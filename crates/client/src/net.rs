//! The network side: a tokio runtime on its own thread that owns the link
//! to the relay and carries out the session's effects that need IO.
//!
//! * Connects with [`lotse_link::connect`] (the stamped pin only), sends
//!   `hello`, waits for `welcome`.
//! * Reliable messages go through an [`Outbox`] (kept until acked, resent
//!   after a reconnect); incoming ones through an [`Inbox`] (duplicates
//!   dropped, everything acked).
//! * A cut → `LinkDown`, jittered exponential backoff, `hello{resume}`.
//! * Bounded channels both ways; every event wakes the UI once.
//! * Files: hashing and chunked uploads run as tasks here (see `files`).
//! * `Finish`: waits (bounded) until the relay acked everything, closes.
//! * Screen sharing and control (only on the session's effects, which
//!   follow the customer's clicks): the [`ShareWorker`] thread sends its
//!   binary frames through a bounded channel; `frame_ack` and `input` from
//!   the technician go straight to the worker and the [`Control`] guard
//!   (which drops input without a grant) instead of through the UI.
//!   After a reconnect the worker sends a keyframe.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use lotse_link::tungstenite::Message as WsMessage;
use lotse_link::{Inbox, LinkError, Outbox, WsStream};
use lotse_protocol::{Envelope, ErrorCode, Lang, Message, PROTOCOL_VERSION, Resume, Role};
use rand::Rng;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::control::Control;
use crate::files::{self, Prepared};
use crate::preview::Preview;
use crate::session::{Effect, Failure, FileEvent, NetEvent, ShareEvent};
use crate::share::{ShareChoice, ShareError, ShareWorker};
use crate::stamp::Target;

/// Called after every event so the UI repaints (egui's `request_repaint`).
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// How long the end waits for the relay to acknowledge what is queued.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(3);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
const PING_EVERY: Duration = Duration::from_secs(30);
const DEAD_AFTER: Duration = Duration::from_secs(90);
const CHANNEL: usize = 256;

/// The UI's ends of the channels.
pub struct NetHandle {
    pub effects: mpsc::Sender<Effect>,
    pub events: mpsc::Receiver<NetEvent>,
    /// The thumbnail of what the technician sees.
    pub preview: Preview,
}

/// Start the network thread.
pub fn start(target: Target, lang: Lang, wake: Waker) -> std::io::Result<NetHandle> {
    let (effects_tx, effects_rx) = mpsc::channel(CHANNEL);
    let (events_tx, events_rx) = mpsc::channel(CHANNEL);
    let preview = Preview::default();
    preview.set_waker(wake.clone());
    let share_preview = preview.clone();
    std::thread::Builder::new()
        .name("lotse-net".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("cannot start the network runtime: {e}");
                    let _ =
                        events_tx.blocking_send(NetEvent::Failed(Failure::Relay(e.to_string())));
                    wake();
                    return;
                }
            };
            lotse_link::install_crypto_provider();
            let mut net = Net::new(target, lang, events_tx, effects_rx, wake);
            net.preview = share_preview;
            runtime.block_on(net.run());
            runtime.shutdown_timeout(Duration::from_secs(1));
        })?;
    Ok(NetHandle {
        effects: effects_tx,
        events: events_rx,
        preview,
    })
}

/// Messages from file tasks back to the network loop.
enum FileMsg {
    Prepared { id: u32, prepared: Prepared },
    Event(FileEvent),
}

struct Upload {
    path: PathBuf,
    prepared: Option<Prepared>,
    task: Option<AbortHandle>,
}

enum Outcome {
    /// The link dropped; try again.
    Retry,
    /// Nothing more to do (failed, finished, or the UI is gone).
    Stop,
}

struct Net {
    target: Target,
    lang: Lang,
    events: mpsc::Sender<NetEvent>,
    effects: mpsc::Receiver<Effect>,
    wake: Waker,
    outbox: Outbox,
    inbox: Inbox,
    /// Session id and resume token once welcomed.
    session: Option<(u64, String)>,
    frames_tx: mpsc::Sender<Vec<u8>>,
    frames_rx: mpsc::Receiver<Vec<u8>>,
    file_tx: mpsc::Sender<FileMsg>,
    file_rx: mpsc::Receiver<FileMsg>,
    uploads: HashMap<u32, Upload>,
    stopped_uploads: HashSet<u32>,
    /// Set by `Finish`: give up after this instant.
    finish_by: Option<Instant>,
    /// The relay said the session ended: no reconnects.
    over: bool,
    share: Option<ShareWorker>,
    /// What the running share shows (to start it again with input).
    share_choice: Option<ShareChoice>,
    /// The share being started (its number): starting may wait for the
    /// desktop's own dialog (Wayland), so it runs on a thread and reports
    /// over `started_rx`; a result for another number is thrown away.
    share_starting: Option<u64>,
    share_number: u64,
    started_tx: mpsc::Sender<ShareStarted>,
    started_rx: mpsc::Receiver<ShareStarted>,
    control: Control,
    screen_tx: mpsc::Sender<Vec<u8>>,
    screen_rx: mpsc::Receiver<Vec<u8>>,
    watermark: Option<lotse_desktop::Watermark>,
    preview: Preview,
    /// The customer paused the share: no screen frame leaves.
    paused: bool,
}

/// A share start finished (on its thread).
struct ShareStarted {
    number: u64,
    choice: ShareChoice,
    /// Grant control as soon as it runs (it was started for input).
    grant: bool,
    result: Result<ShareWorker, ShareError>,
}

fn backoff(attempt: u32) -> Duration {
    let base = 500u64.saturating_mul(1u64 << attempt.min(5)).min(15_000);
    let jitter = rand::rng().random_range(0.5..1.5);
    Duration::from_millis((base as f64 * jitter) as u64)
}

impl Net {
    /// What the relay's refusal of our way in means to the customer.
    fn refused(&self) -> Failure {
        if self.target.elevation_key.is_some() {
            Failure::BadLink
        } else {
            Failure::BadTicket
        }
    }

    fn new(
        target: Target,
        lang: Lang,
        events: mpsc::Sender<NetEvent>,
        effects: mpsc::Receiver<Effect>,
        wake: Waker,
    ) -> Self {
        let (frames_tx, frames_rx) = mpsc::channel(4);
        let (file_tx, file_rx) = mpsc::channel(64);
        let (screen_tx, screen_rx) = mpsc::channel(8);
        let (started_tx, started_rx) = mpsc::channel(2);
        Self {
            target,
            lang,
            events,
            effects,
            wake,
            outbox: Outbox::default(),
            inbox: Inbox::default(),
            session: None,
            frames_tx,
            frames_rx,
            file_tx,
            file_rx,
            uploads: HashMap::new(),
            stopped_uploads: HashSet::new(),
            finish_by: None,
            over: false,
            share: None,
            share_choice: None,
            share_starting: None,
            share_number: 0,
            started_tx,
            started_rx,
            control: Control::new(),
            screen_tx,
            screen_rx,
            watermark: None,
            preview: Preview::default(),
            paused: false,
        }
    }

    /// [`Net::emit`] from code that cannot wait.
    fn emit_later(&self, event: NetEvent) {
        let events = self.events.clone();
        let wake = self.wake.clone();
        tokio::spawn(async move {
            if events.send(event).await.is_ok() {
                wake();
            }
        });
    }

    async fn emit(&self, event: NetEvent) {
        if self.events.send(event).await.is_ok() {
            (self.wake)();
        }
    }

    async fn run(mut self) {
        let mut attempt: u32 = 0;
        loop {
            match self.link_once(&mut attempt).await {
                Outcome::Stop => break,
                Outcome::Retry => {}
            }
            if self.over || self.finish_by.is_some_and(|t| t <= Instant::now()) {
                self.emit(NetEvent::Finished).await;
                break;
            }
            attempt = attempt.saturating_add(1);
            self.emit(NetEvent::LinkDown { attempt }).await;
            if let Outcome::Stop = self.wait_offline(backoff(attempt)).await {
                break;
            }
        }
        for upload in self.uploads.values() {
            if let Some(task) = &upload.task {
                task.abort();
            }
        }
        self.stop_share();
        self.watermark = None;
        tracing::info!("network stopped");
    }

    /// Between attempts: keep taking effects (queued in the outbox).
    async fn wait_offline(&mut self, delay: Duration) -> Outcome {
        let retry_at = Instant::now() + delay;
        loop {
            let finish_at = self.finish_by.unwrap_or(retry_at);
            tokio::select! {
                () = tokio::time::sleep_until(retry_at) => return Outcome::Retry,
                () = tokio::time::sleep_until(finish_at), if self.finish_by.is_some() => {
                    self.emit(NetEvent::Finished).await;
                    return Outcome::Stop;
                }
                effect = self.effects.recv() => {
                    let Some(effect) = effect else { return Outcome::Stop };
                    if let Some(outcome) = self.offline_effect(effect).await {
                        return outcome;
                    }
                }
                Some(msg) = self.file_rx.recv() => self.file_msg(msg).await,
                Some(started) = self.started_rx.recv() => {
                    if let Some(grant) = self.share_started(started).await {
                        self.outbox.stamp(Envelope::new(grant));
                    }
                }
                Some(frame) = self.frames_rx.recv() => {
                    // A chunk cannot cross a cut; the session cancels the upload.
                    drop(frame);
                }
                Some(frame) = self.screen_rx.recv() => {
                    // Lost with the link; a keyframe follows the reconnect.
                    drop(frame);
                }
            }
        }
    }

    async fn offline_effect(&mut self, effect: Effect) -> Option<Outcome> {
        match effect {
            Effect::Send(msg) => {
                if msg.is_reliable() {
                    self.outbox.stamp(Envelope::new(msg));
                }
                None
            }
            Effect::Finish => {
                if self.session.is_none() || self.over {
                    self.emit(NetEvent::Finished).await;
                    return Some(Outcome::Stop);
                }
                self.finish_by = Some(Instant::now() + FLUSH_TIMEOUT);
                None
            }
            other => {
                self.side_effect(other);
                None
            }
        }
    }

    /// Connect, greet, and serve one link until it drops.
    async fn link_once(&mut self, attempt: &mut u32) -> Outcome {
        let url = self.target.customer_url();
        let ws = match tokio::time::timeout(
            CONNECT_TIMEOUT,
            lotse_link::connect(&url, self.target.pin, None),
        )
        .await
        {
            Err(_) => {
                tracing::warn!("connecting to the relay timed out");
                return Outcome::Retry;
            }
            Ok(Err(LinkError::WrongCertificate(detail))) => {
                tracing::error!("refusing the relay: {detail}");
                self.emit(NetEvent::Failed(Failure::WrongCertificate)).await;
                return Outcome::Stop;
            }
            Ok(Err(LinkError::Refused(status))) if matches!(status, 401 | 403 | 404 | 410) => {
                tracing::error!(status, "the relay refused this client");
                let failure = if self.session.is_some() {
                    Failure::SessionLost
                } else {
                    self.refused()
                };
                self.emit(NetEvent::Failed(failure)).await;
                return Outcome::Stop;
            }
            Ok(Err(e)) => {
                tracing::warn!("cannot reach the relay: {e}");
                return Outcome::Retry;
            }
            Ok(Ok(ws)) => ws,
        };
        self.serve(ws, attempt).await
    }

    async fn serve(&mut self, ws: WsStream, attempt: &mut u32) -> Outcome {
        let (mut sink, mut stream) = ws.split();
        let resume = self.session.as_ref().map(|(session, token)| Resume {
            session: *session,
            token: token.clone(),
            last_seq: self.inbox.last(),
        });
        let resuming = resume.is_some();
        let hello = Message::Hello {
            version: PROTOCOL_VERSION,
            role: Role::Customer,
            agent: format!("lotse-client {}", env!("CARGO_PKG_VERSION")),
            lang: self.lang,
            resume,
        };
        if send_text(&mut sink, &Envelope::new(hello)).await.is_err() {
            return Outcome::Retry;
        }
        // The first answer must be `welcome` (or an error).
        let first = tokio::time::timeout(CONNECT_TIMEOUT, next_envelope(&mut stream)).await;
        let site = match first {
            Ok(Some(Ok(env))) => match env.msg {
                Message::Welcome {
                    session,
                    resume_token,
                    site,
                    last_seq,
                    ..
                } => {
                    let old = self.session.as_ref().map(|(s, _)| *s);
                    if resuming && session.is_some() && session != old {
                        tracing::error!("the relay started a new session instead of resuming");
                        self.emit(NetEvent::Failed(Failure::SessionLost)).await;
                        return Outcome::Stop;
                    }
                    if let (Some(session), Some(token)) = (session, resume_token) {
                        self.session = Some((session, token));
                    }
                    self.outbox.ack(last_seq);
                    site
                }
                Message::Error { code, message, .. } => {
                    tracing::error!(?code, "relay refused hello: {message}");
                    let failure = match code {
                        ErrorCode::VersionMismatch => Failure::VersionMismatch,
                        ErrorCode::BadKey => self.refused(),
                        ErrorCode::NotFound if resuming => Failure::SessionLost,
                        ErrorCode::RateLimited | ErrorCode::Internal => return Outcome::Retry,
                        _ => Failure::Relay(message),
                    };
                    self.emit(NetEvent::Failed(failure)).await;
                    return Outcome::Stop;
                }
                other => {
                    tracing::warn!("expected welcome, got {other:?}");
                    return Outcome::Retry;
                }
            },
            Ok(Some(Err(e))) => {
                tracing::warn!("bad first message: {e}");
                return Outcome::Retry;
            }
            Ok(None) | Err(_) => return Outcome::Retry,
        };
        *attempt = 0;
        tracing::info!(resumed = resuming, "connected to the relay");
        if let Some(share) = &self.share {
            // Frames sent before the cut may be lost: start over.
            share.resync();
        }
        // Resend what the relay has not acknowledged, oldest first.
        let unacked: Vec<Envelope> = self.outbox.unacked().cloned().collect();
        for env in &unacked {
            if send_text(&mut sink, env).await.is_err() {
                return Outcome::Retry;
            }
        }
        self.emit(NetEvent::Online {
            resumed: resuming,
            site,
        })
        .await;
        if self.finish_by.is_some() && self.outbox.pending_len() == 0 {
            return self.finished(&mut sink).await;
        }

        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        let mut last_rx = Instant::now();
        loop {
            let finish_at = self.finish_by.unwrap_or_else(Instant::now);
            tokio::select! {
                biased;
                effect = self.effects.recv() => {
                    let Some(effect) = effect else {
                        let _ = sink.close().await;
                        return Outcome::Stop;
                    };
                    match effect {
                        Effect::Send(msg) => {
                            let env = self.outbox.stamp(Envelope::new(msg));
                            if send_text(&mut sink, &env).await.is_err() {
                                return Outcome::Retry;
                            }
                        }
                        Effect::Finish => {
                            if self.outbox.pending_len() == 0 || self.over {
                                return self.finished(&mut sink).await;
                            }
                            self.finish_by = Some(Instant::now() + FLUSH_TIMEOUT);
                        }
                        other => self.side_effect(other),
                    }
                }
                incoming = stream.next() => {
                    last_rx = Instant::now();
                    match incoming {
                        Some(Ok(WsMessage::Text(text))) => {
                            match lotse_protocol::decode_text(text.as_str()) {
                                Ok(env) => {
                                    if let Err(()) = self.receive(env, &mut sink).await {
                                        return Outcome::Retry;
                                    }
                                    if self.finish_by.is_some() && self.outbox.pending_len() == 0 {
                                        return self.finished(&mut sink).await;
                                    }
                                }
                                Err(e) => {
                                    if let Err(()) = self.undecodable(text.as_str(), &e, &mut sink).await {
                                        return Outcome::Retry;
                                    }
                                }
                            }
                        }
                        Some(Ok(WsMessage::Close(frame))) => {
                            tracing::info!(?frame, "relay closed the link");
                            return if self.over { self.stop_over().await } else { Outcome::Retry };
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => {
                            tracing::warn!("link error: {e}");
                            return if self.over { self.stop_over().await } else { Outcome::Retry };
                        }
                        None => {
                            return if self.over { self.stop_over().await } else { Outcome::Retry };
                        }
                    }
                }
                Some(msg) = self.file_rx.recv() => self.file_msg(msg).await,
                Some(started) = self.started_rx.recv() => {
                    if let Some(grant) = self.share_started(started).await {
                        // Before any frame of the new share goes out.
                        let env = self.outbox.stamp(Envelope::new(grant));
                        if send_text(&mut sink, &env).await.is_err() {
                            return Outcome::Retry;
                        }
                    }
                }
                Some(frame) = self.frames_rx.recv() => {
                    let id = frame_id(&frame);
                    if id.is_some_and(|id| self.stopped_uploads.contains(&id)) {
                        continue;
                    }
                    if sink.send(WsMessage::binary(frame)).await.is_err() {
                        return Outcome::Retry;
                    }
                }
                Some(frame) = self.screen_rx.recv() => {
                    // Only frames of the share running now, and none while
                    // the customer paused it (a keyframe follows the resume).
                    let current = self.share.as_ref().map(ShareWorker::stream);
                    if self.paused || frame_id(&frame).is_none() || frame_id(&frame) != current {
                        continue;
                    }
                    if sink.send(WsMessage::binary(frame)).await.is_err() {
                        return Outcome::Retry;
                    }
                }
                () = tokio::time::sleep_until(finish_at), if self.finish_by.is_some() => {
                    tracing::warn!(
                        pending = self.outbox.pending_len(),
                        "the relay did not confirm everything before the end"
                    );
                    return self.finished(&mut sink).await;
                }
                _ = ping.tick() => {
                    if last_rx.elapsed() > DEAD_AFTER {
                        tracing::warn!("relay silent for too long; reconnecting");
                        return Outcome::Retry;
                    }
                    if sink.send(WsMessage::Ping(Vec::new().into())).await.is_err() {
                        return Outcome::Retry;
                    }
                }
            }
        }
    }

    /// The relay ended the session and closed the link.
    async fn stop_over(&mut self) -> Outcome {
        if self.finish_by.is_some() {
            self.emit(NetEvent::Finished).await;
        }
        // Keep serving effects such as notifications? Nothing is left to
        // send; a later `Finish` finds the channel closed, which the UI
        // treats as finished.
        Outcome::Stop
    }

    async fn finished(&mut self, sink: &mut Sink) -> Outcome {
        let _ = sink.close().await;
        self.emit(NetEvent::Finished).await;
        Outcome::Stop
    }

    /// A frame from the relay that does not decode: reported to the
    /// session as an error and, if numbered, used up and acknowledged (the
    /// rule of [`Inbox`], docs/PROTOCOL.md §5), so what follows arrives.
    async fn undecodable(
        &mut self,
        text: &str,
        e: &lotse_protocol::ProtocolError,
        sink: &mut Sink,
    ) -> Result<(), ()> {
        tracing::warn!("refused a bad message from the relay: {e}");
        if self.inbox.refuse(text).is_some() {
            let ack = Envelope::new(Message::Ack {
                seq: self.inbox.last(),
            });
            send_text(sink, &ack).await?;
        }
        let code = match e {
            lotse_protocol::ProtocolError::TooLarge { .. } => ErrorCode::TooLarge,
            _ => ErrorCode::Malformed,
        };
        self.emit(NetEvent::Message(Message::error(code, e.to_string())))
            .await;
        Ok(())
    }

    /// One envelope from the relay.
    async fn receive(&mut self, env: Envelope, sink: &mut Sink) -> Result<(), ()> {
        if let Message::Ack { seq } = env.msg {
            self.outbox.ack(seq);
            return Ok(());
        }
        let reliable = env.seq.is_some();
        let fresh = self.inbox.accept(&env);
        if reliable {
            let ack = Envelope::new(Message::Ack {
                seq: self.inbox.last(),
            });
            send_text(sink, &ack).await?;
        }
        if !fresh {
            return Ok(());
        }
        match &env.msg {
            Message::End { .. } => {
                self.over = true;
                // Nothing of the desktop survives the end.
                self.stop_share();
            }
            Message::FrameAck { frame } => {
                if let Some(share) = &self.share {
                    share.frame_acked(*frame);
                }
                return Ok(());
            }
            Message::KeyframeRequest => {
                if let Some(share) = &self.share {
                    share.keyframe_requested();
                }
                return Ok(());
            }
            Message::Input { event } => {
                // Applied only under the customer's grant while sharing;
                // dropped and counted otherwise (see control.rs).
                self.control.apply(event);
                return Ok(());
            }
            // The technician ends these at once; the session follows.
            Message::ShareStop => self.stop_share(),
            Message::ControlRevoke => self.control.revoke(),
            _ => {}
        }
        self.emit(NetEvent::Message(env.msg)).await;
        Ok(())
    }

    /// Start capturing `choice` (the customer allowed and chose it) on a
    /// thread: on Wayland this waits for the desktop's dialog, which must
    /// not stop the link. `input`: ask the desktop for input in the same
    /// dialog; `grant`: grant control once it runs.
    fn begin_share(&mut self, choice: ShareChoice, input: bool, grant: bool) {
        self.stop_share();
        self.share_number += 1;
        let number = self.share_number;
        self.share_starting = Some(number);
        let tx = self.started_tx.clone();
        let screen_tx = self.screen_tx.clone();
        let preview = self.preview.clone();
        let spawned = std::thread::Builder::new()
            .name("lotse-share-start".into())
            .spawn(move || {
                let result = ShareWorker::start(&choice, screen_tx, preview, input);
                // Nobody waits any more: dropping the worker stops it.
                let _ = tx.blocking_send(ShareStarted {
                    number,
                    choice,
                    grant,
                    result,
                });
            });
        if let Err(e) = spawned {
            tracing::warn!("the share thread could not start: {e}");
            self.share_starting = None;
            self.emit_later(NetEvent::Share(ShareEvent::Failed(e.to_string())));
        }
    }

    /// A share start finished. Returns the `share_grant` to send, or
    /// reports the failure.
    async fn share_started(&mut self, started: ShareStarted) -> Option<Message> {
        if self.share_starting != Some(started.number) {
            // Stopped (or replaced) while the desktop's dialog was open.
            return None;
        }
        self.share_starting = None;
        let choice = started.choice;
        match started.result {
            Ok(mut worker) => {
                if let Some(monitor) = worker.monitor() {
                    let injector = worker.take_injector().unwrap_or(Err(
                        lotse_desktop::DesktopError::Unsupported("no injector for this share"),
                    ));
                    if let Err(e) = self.control.share_started(monitor, worker.mask(), injector) {
                        // Sharing works without it; control will be refused
                        // (or, on Wayland, asked of the desktop later).
                        if started.grant || !worker.can_ask_for_input() {
                            tracing::warn!("remote control is not available: {e}");
                        } else {
                            tracing::debug!("no input with this share: {e}");
                        }
                    }
                }
                let (width, height) = worker.size();
                tracing::info!(?choice, width, height, "screen sharing started");
                self.share = Some(worker);
                self.share_choice = Some(choice.clone());
                self.emit(NetEvent::Share(ShareEvent::Started { width, height }))
                    .await;
                if started.grant && !self.control.grant() {
                    tracing::warn!("control could not be granted on the new share");
                }
                Some(Message::ShareGrant {
                    scope: choice.scope(),
                    width,
                    height,
                })
            }
            Err(ShareError::Desktop(lotse_desktop::DesktopError::Declined)) if started.grant => {
                // Control declined in the desktop's dialog: the screen
                // stays shared as the customer allowed it before (the
                // desktop restores that choice without asking).
                tracing::info!("input declined in the desktop's dialog: sharing the screen alone");
                self.control.share_stopped();
                self.emit(NetEvent::Share(ShareEvent::InputDeclined)).await;
                self.begin_share(choice, false, false);
                None
            }
            Err(e) => {
                tracing::warn!("screen sharing could not start: {e}");
                self.control.share_stopped();
                self.emit(NetEvent::Share(ShareEvent::Failed(e.to_string())))
                    .await;
                None
            }
        }
    }

    /// Capture and control end now; queued frames of the share are dropped.
    fn stop_share(&mut self) {
        self.share_starting = None;
        self.paused = false;
        self.share_choice = None;
        self.control.share_stopped();
        if let Some(mut share) = self.share.take() {
            share.stop();
            self.preview.clear();
            tracing::info!(
                updates = share.updates_sent(),
                applied_input = self.control.applied(),
                dropped_input = self.control.dropped(),
                "screen sharing stopped"
            );
        }
        while self.screen_rx.try_recv().is_ok() {}
    }

    async fn file_msg(&mut self, msg: FileMsg) {
        match msg {
            FileMsg::Prepared { id, prepared } => {
                let Some(upload) = self.uploads.get_mut(&id) else {
                    return;
                };
                upload.prepared = Some(prepared.clone());
                upload.task = None;
                self.emit(NetEvent::File(FileEvent::Ready {
                    id,
                    name: prepared.name,
                    size: prepared.size,
                    sha256: prepared.sha256,
                }))
                .await;
            }
            FileMsg::Event(ev) => {
                if let FileEvent::AllSent { id } | FileEvent::Failed { id, .. } = &ev
                    && let Some(u) = self.uploads.get_mut(id)
                {
                    u.task = None;
                }
                self.emit(NetEvent::File(ev)).await;
            }
        }
    }

    /// Effects that are not link traffic.
    fn side_effect(&mut self, effect: Effect) {
        match effect {
            Effect::OpenUrl(url) => {
                tokio::task::spawn_blocking(move || {
                    if let Err(e) = webbrowser::open(&url) {
                        tracing::warn!("could not open the browser: {e}");
                    }
                });
            }
            Effect::Notify { from, text } => {
                tokio::task::spawn_blocking(move || notify(&from, &text));
            }
            Effect::PrepareFile { id, path } => {
                let tx = self.file_tx.clone();
                let task_path = path.clone();
                let task = tokio::spawn(async move {
                    let msg = match files::prepare(&task_path).await {
                        Ok(prepared) => FileMsg::Prepared { id, prepared },
                        Err(problem) => FileMsg::Event(FileEvent::Failed { id, problem }),
                    };
                    let _ = tx.send(msg).await;
                });
                self.uploads.insert(
                    id,
                    Upload {
                        path,
                        prepared: None,
                        task: Some(task.abort_handle()),
                    },
                );
            }
            Effect::StartUpload { id } => {
                let Some(upload) = self.uploads.get_mut(&id) else {
                    return;
                };
                let Some(prepared) = upload.prepared.clone() else {
                    return;
                };
                let path = upload.path.clone();
                let frames = self.frames_tx.clone();
                let tx = self.file_tx.clone();
                let task = tokio::spawn(async move {
                    let progress_tx = tx.clone();
                    let result = files::upload(id, &path, &prepared, &frames, |sent| {
                        // Progress may be dropped when the UI is busy; the
                        // end state never is.
                        let _ =
                            progress_tx.try_send(FileMsg::Event(FileEvent::Progress { id, sent }));
                    })
                    .await;
                    let ev = match result {
                        Ok(()) => FileEvent::AllSent { id },
                        Err(problem) => FileEvent::Failed { id, problem },
                    };
                    let _ = tx.send(FileMsg::Event(ev)).await;
                });
                upload.task = Some(task.abort_handle());
            }
            Effect::StopUpload { id } => {
                self.stopped_uploads.insert(id);
                if let Some(upload) = self.uploads.remove(&id)
                    && let Some(task) = upload.task
                {
                    task.abort();
                }
            }
            Effect::StopShare => self.stop_share(),
            Effect::StartShare(choice) => {
                let input = self.control.is_granted();
                self.begin_share(choice, input, input);
            }
            Effect::GrantControl => {
                // Wayland: the running share has no input; the desktop asks
                // once more (screen and input in one dialog) and the share
                // starts again with it.
                if self
                    .share
                    .as_ref()
                    .is_some_and(ShareWorker::can_ask_for_input)
                    && let Some(choice) = self.share_choice.clone()
                {
                    tracing::info!("asking the desktop for input: the share starts again");
                    self.begin_share(choice, true, true);
                    return;
                }
                if !self.control.grant() {
                    tracing::warn!("control grant without a running share");
                }
            }
            Effect::RevokeControl => self.control.revoke(),
            Effect::PauseShare(pause) => {
                // Frames stop here at once; the worker stops capturing
                // and input is dropped until the resume.
                self.paused = pause;
                if let Some(share) = &self.share {
                    share.pause(pause);
                }
                self.control.pause(pause);
            }
            Effect::Alarm => crate::nudge::sound_alarm(),
            Effect::Watermark(site) => {
                self.watermark = None;
                if let Some(site) = site {
                    let tr = crate::i18n::Tr::new(self.lang);
                    let text = tr.f("watermark-text", &[("site", &site)]);
                    match lotse_desktop::Watermark::show(&text) {
                        Ok(w) => self.watermark = Some(w),
                        Err(e @ lotse_desktop::DesktopError::OwnIndicator) => {
                            tracing::info!("no watermark: {e}");
                            self.emit_later(NetEvent::Share(ShareEvent::DesktopIndicator));
                        }
                        Err(e) => tracing::warn!("the watermark could not be shown: {e}"),
                    }
                }
            }
            Effect::Send(_)
            | Effect::Finish
            | Effect::Attention
            | Effect::Close
            | Effect::Shake => {
                tracing::debug!("effect not handled by the network side: {effect:?}");
            }
        }
    }
}

type Sink = futures_util::stream::SplitSink<WsStream, WsMessage>;

async fn send_text(sink: &mut Sink, env: &Envelope) -> Result<(), ()> {
    sink.send(WsMessage::text(lotse_protocol::encode_text(env)))
        .await
        .map_err(|e| tracing::warn!("send failed: {e}"))
}

/// The next text envelope (skipping pings), `None` when the link closed.
async fn next_envelope(
    stream: &mut futures_util::stream::SplitStream<WsStream>,
) -> Option<Result<Envelope, String>> {
    loop {
        match stream.next().await? {
            Ok(WsMessage::Text(text)) => {
                return Some(lotse_protocol::decode_text(text.as_str()).map_err(|e| e.to_string()));
            }
            Ok(WsMessage::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// Transfer id of a file chunk frame.
fn frame_id(frame: &[u8]) -> Option<u32> {
    lotse_protocol::BinaryHeader::parse(frame)
        .ok()
        .map(|(h, _)| h.id)
}

/// A desktop notification; a missing notification service is only logged.
fn notify(from: &str, text: &str) {
    let body: String = text.chars().take(200).collect();
    match notify_rust::Notification::new()
        .appname("Lotse")
        .summary(from)
        .body(&body)
        .timeout(notify_rust::Timeout::Milliseconds(6000))
        .show()
    {
        Ok(_) => tracing::debug!("notification shown"),
        Err(e) => tracing::info!("no desktop notification (no notification service?): {e}"),
    }
}

#[cfg(test)]
#[path = "net_tests.rs"]
mod tests;
