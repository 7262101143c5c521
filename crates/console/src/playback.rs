//! Playing back a session recording made by the relay (format:
//! `crates/relay/RECORDING.md`): the screen frames go through the same
//! [`Screen`] the live view uses, at their recorded times, beside the chat.
//!
//! * [`read`] parses a whole recording (a truncated last record — the relay
//!   was killed mid-write — ends it; unknown record kinds are skipped).
//! * [`Player`] applies records up to a point in time.
//! * [`export`] is the scripted form (`--play FILE --export-png OUT.png`):
//!   the final picture as PNG, the chat as JSON lines on stdout.
//! * [`run_window`] is the egui player (`--play FILE`).

use std::path::Path;
use std::time::{Duration, Instant};

use egui::{ColorImage, TextureHandle, TextureOptions, Vec2};
use lotse_console::i18n::{Language, Strings};
use lotse_console::screen::Screen;
use lotse_protocol::{BinaryHeader, BinaryKind};

const MAGIC: &[u8; 8] = b"LOTSEREC";
const VERSION: u8 = 1;
const FILE_HEADER_LEN: usize = 25;
const RECORD_HEADER_LEN: usize = 13;
const KIND_SCREEN: u8 = 1;
const KIND_CHAT: u8 = 2;
const KIND_GAP: u8 = 3;
const KIND_STOP: u8 = 4;

#[derive(Debug, thiserror::Error)]
pub enum PlaybackError {
    #[error("{0}: not a Lotse recording")]
    NotARecording(String),
    #[error("{0}: recording format version {1} is not supported (this console reads version 1)")]
    Version(String, u8),
    #[error("cannot read {0}: {1}")]
    Io(String, std::io::Error),
}

/// A chat line as recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct ChatLine {
    pub from: String,
    pub role: String,
    pub text: String,
    /// Unix time in ms (as the relay stamped it).
    pub at_ms: i64,
}

#[derive(Debug, Clone)]
pub enum Event {
    /// One binary frame (24-byte header + payload) as forwarded.
    Screen(Vec<u8>),
    Chat(ChatLine),
    /// Screen frames were not recorded here.
    Gap,
    /// The recording was closed (session end or consent withdrawn).
    Stop {
        reason: String,
    },
}

#[derive(Debug, Clone)]
pub struct Record {
    /// Milliseconds since the recording started.
    pub t_ms: u64,
    pub event: Event,
}

#[derive(Debug, Clone)]
pub struct Recording {
    pub session: u64,
    /// Unix time in ms.
    pub started_ms: i64,
    pub records: Vec<Record>,
    /// The file ended in the middle of a record.
    pub truncated: bool,
}

impl Recording {
    pub fn duration_ms(&self) -> u64 {
        self.records.last().map_or(0, |r| r.t_ms)
    }
}

fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

/// Parse a recording; `name` only appears in errors.
pub fn parse(bytes: &[u8], name: &str) -> Result<Recording, PlaybackError> {
    if bytes.len() < FILE_HEADER_LEN || &bytes[..8] != MAGIC {
        return Err(PlaybackError::NotARecording(name.to_owned()));
    }
    if bytes[8] != VERSION {
        return Err(PlaybackError::Version(name.to_owned(), bytes[8]));
    }
    let session = be_u64(&bytes[9..17]);
    let started_ms = i64::from_be_bytes(bytes[17..25].try_into().unwrap_or_default());
    let mut records = Vec::new();
    let mut at = FILE_HEADER_LEN;
    let mut truncated = false;
    while at < bytes.len() {
        let Some(head) = bytes.get(at..at + RECORD_HEADER_LEN) else {
            truncated = true;
            break;
        };
        let kind = head[0];
        let t_ms = be_u64(&head[1..9]);
        let len = u32::from_be_bytes([head[9], head[10], head[11], head[12]]) as usize;
        let start = at + RECORD_HEADER_LEN;
        let Some(body) = start.checked_add(len).and_then(|end| bytes.get(start..end)) else {
            truncated = true;
            break;
        };
        at = start + len;
        let event = match kind {
            KIND_SCREEN => Event::Screen(body.to_vec()),
            KIND_CHAT => match serde_json::from_slice(body) {
                Ok(line) => Event::Chat(line),
                Err(e) => {
                    tracing::warn!(error = %e, "unreadable chat record skipped");
                    continue;
                }
            },
            KIND_GAP => Event::Gap,
            KIND_STOP => Event::Stop {
                reason: serde_json::from_slice::<serde_json::Value>(body)
                    .ok()
                    .and_then(|v| v.get("reason")?.as_str().map(str::to_owned))
                    .unwrap_or_default(),
            },
            _ => continue,
        };
        records.push(Record { t_ms, event });
    }
    Ok(Recording {
        session,
        started_ms,
        records,
        truncated,
    })
}

/// Read and parse a recording file.
pub fn read(path: &Path) -> Result<Recording, PlaybackError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| PlaybackError::Io(name.clone(), e))?;
    parse(&bytes, &name)
}

/// Applies a recording's records in time order.
pub struct Player {
    rec: Recording,
    next: usize,
    pub screen: Screen,
    /// (ms since the start, line) of the chat so far.
    pub chat: Vec<(u64, ChatLine)>,
    /// Complete screen updates and images applied.
    pub updates: u32,
    /// Screen data that could not be decoded (e.g. after a gap, until the
    /// next keyframe).
    pub errors: u32,
    pub gaps: u32,
    /// Why the recording was last closed.
    pub stopped: Option<String>,
}

impl Player {
    pub fn new(rec: Recording) -> Self {
        Self {
            rec,
            next: 0,
            screen: Screen::default(),
            chat: Vec::new(),
            updates: 0,
            errors: 0,
            gaps: 0,
            stopped: None,
        }
    }

    pub fn recording(&self) -> &Recording {
        &self.rec
    }

    /// Back to the beginning.
    pub fn restart(&mut self) {
        let rec = std::mem::replace(
            &mut self.rec,
            Recording {
                session: 0,
                started_ms: 0,
                records: Vec::new(),
                truncated: false,
            },
        );
        *self = Self::new(rec);
    }

    /// Time of the next record not applied yet.
    pub fn next_at(&self) -> Option<u64> {
        self.rec.records.get(self.next).map(|r| r.t_ms)
    }

    /// Apply every record up to `t_ms` (going back restarts and replays).
    /// Returns whether anything changed.
    pub fn seek(&mut self, t_ms: u64) -> bool {
        let mut changed = false;
        if self.next > 0
            && self
                .rec
                .records
                .get(self.next - 1)
                .is_some_and(|r| r.t_ms > t_ms)
        {
            self.restart();
            changed = true;
        }
        while let Some(rec) = self.rec.records.get(self.next) {
            if rec.t_ms > t_ms {
                break;
            }
            let event = rec.event.clone();
            let t = rec.t_ms;
            self.next += 1;
            changed = true;
            self.apply(t, event);
        }
        changed
    }

    fn apply(&mut self, t_ms: u64, event: Event) {
        match event {
            Event::Screen(frame) => {
                let Ok((head, payload)) = BinaryHeader::parse(&frame) else {
                    self.errors += 1;
                    return;
                };
                match head.kind {
                    BinaryKind::ScreenUpdate => {
                        match self
                            .screen
                            .apply_update_piece(head.seq, payload, head.is_last())
                        {
                            Ok(true) => self.updates += 1,
                            Ok(false) => {}
                            Err(_) => self.errors += 1,
                        }
                    }
                    BinaryKind::ImageFrame => match self.screen.apply_image(payload) {
                        Ok(()) => self.updates += 1,
                        Err(_) => self.errors += 1,
                    },
                    BinaryKind::FileChunk => {}
                }
            }
            Event::Chat(line) => self.chat.push((t_ms, line)),
            Event::Gap => {
                // The codec stream continues from what was lost: start
                // over with a fresh decoder, which waits for a keyframe.
                self.gaps += 1;
                self.screen = Screen::default();
            }
            Event::Stop { reason } => self.stopped = Some(reason),
        }
    }
}

/// `--play FILE --export-png OUT`: decode everything, write the final
/// picture, print each chat line and then a summary as JSON lines.
pub fn export(file: &Path, png: &Path) -> anyhow::Result<()> {
    use std::io::Write;
    let rec = read(file)?;
    let duration = rec.duration_ms();
    let truncated = rec.truncated;
    let session = rec.session;
    let started_ms = rec.started_ms;
    let mut player = Player::new(rec);
    player.seek(u64::MAX);
    let mut out = std::io::stdout().lock();
    for (t_ms, line) in &player.chat {
        let json = serde_json::json!({
            "type": "chat",
            "t_ms": t_ms,
            "from": line.from,
            "role": line.role,
            "text": line.text,
            "at_ms": line.at_ms,
        });
        writeln!(out, "{json}")?;
    }
    let summary = serde_json::json!({
        "type": "summary",
        "session": session,
        "started_ms": started_ms,
        "duration_ms": duration,
        "updates": player.updates,
        "errors": player.errors,
        "gaps": player.gaps,
        "width": player.screen.width(),
        "height": player.screen.height(),
        "truncated": truncated,
        "stopped": player.stopped,
    });
    writeln!(out, "{summary}")?;
    out.flush()?;
    player.screen.save_png(png)?;
    Ok(())
}

/// `--play FILE`: a window that replays the recording in real time.
pub fn run_window(file: &Path, lang: Option<&str>) -> anyhow::Result<()> {
    // Read before the window opens: no file IO on the UI thread.
    let rec = read(file)?;
    let t = Strings::new(Language::detect(lang));
    let title = t.fmt(
        "playback-title",
        &[
            ("session", rec.session.to_string()),
            ("file", file.display().to_string()),
        ],
    );
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(title.clone())
            .with_inner_size([1200.0, 800.0]),
        ..Default::default()
    };
    let app = PlaybackApp {
        player: Player::new(rec),
        t,
        playing: Some((Instant::now(), 0)),
        paused_at: 0,
        texture: None,
    };
    eframe::run_native(&title, options, Box::new(move |_cc| Ok(Box::new(app))))
        .map_err(|e| anyhow::anyhow!("the window could not be opened: {e}"))
}

struct PlaybackApp {
    player: Player,
    t: Strings,
    /// Playing: since when, from which position (ms).
    playing: Option<(Instant, u64)>,
    /// Position while paused (ms).
    paused_at: u64,
    texture: Option<TextureHandle>,
}

fn clock(ms: u64) -> String {
    let s = ms / 1000;
    format!("{}:{:02}.{}", s / 60, s % 60, (ms % 1000) / 100)
}

impl PlaybackApp {
    fn position(&self) -> u64 {
        match self.playing {
            Some((since, from)) => {
                from + u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
            }
            None => self.paused_at,
        }
    }

    fn upload(&mut self, ctx: &egui::Context) {
        let changes = self.player.screen.take_changes();
        if self.player.screen.is_empty() {
            return;
        }
        let size = [
            self.player.screen.width() as usize,
            self.player.screen.height() as usize,
        ];
        match &mut self.texture {
            Some(tex) if tex.size() == size => {
                for r in changes {
                    let (r, px) = self.player.screen.patch(r);
                    if r.w == 0 || r.h == 0 {
                        continue;
                    }
                    let image =
                        ColorImage::from_rgba_unmultiplied([r.w as usize, r.h as usize], &px);
                    tex.set_partial([r.x as usize, r.y as usize], image, TextureOptions::LINEAR);
                }
            }
            _ => {
                let image = ColorImage::from_rgba_unmultiplied(size, self.player.screen.rgba());
                self.texture = Some(ctx.load_texture("playback", image, TextureOptions::LINEAR));
            }
        }
    }

    fn controls(&mut self, ui: &mut egui::Ui) {
        let total = self.player.recording().duration_ms();
        ui.horizontal(|ui| {
            let pos = self.position().min(total);
            if self.playing.is_some() {
                if ui.button(self.t.get("playback-pause")).clicked() {
                    self.paused_at = pos;
                    self.playing = None;
                }
            } else if ui.button(self.t.get("playback-play")).clicked() {
                let from = if pos >= total { 0 } else { pos };
                self.playing = Some((Instant::now(), from));
            }
            if ui.button(self.t.get("playback-restart")).clicked() {
                self.player.restart();
                self.texture = None;
                self.paused_at = 0;
                if self.playing.is_some() {
                    self.playing = Some((Instant::now(), 0));
                }
            }
            let mut seek = pos;
            let slider = ui.add(
                egui::Slider::new(&mut seek, 0..=total.max(1))
                    .show_value(false)
                    .text(self.t.fmt(
                        "playback-time",
                        &[("pos", clock(pos)), ("total", clock(total))],
                    )),
            );
            if slider.changed() {
                self.paused_at = seek;
                if self.playing.is_some() {
                    self.playing = Some((Instant::now(), seek));
                }
            }
            if self.player.gaps > 0 {
                ui.label(self.t.get("playback-gaps"));
            }
        });
    }
}

impl eframe::App for PlaybackApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        let total = self.player.recording().duration_ms();
        if self.playing.is_some() && self.position() > total {
            self.paused_at = total;
            self.playing = None;
        }
        if self.player.seek(self.position()) {
            if self.player.screen.is_empty() {
                // Replayed from the start (or after a gap): no picture yet.
                self.texture = None;
            }
            self.upload(&ctx);
        }
        if self.playing.is_some() {
            // Wake up exactly when the next record is due.
            if let Some(next) = self.player.next_at() {
                let wait = next.saturating_sub(self.position());
                ctx.request_repaint_after(Duration::from_millis(wait.min(250)));
            } else {
                ctx.request_repaint_after(Duration::from_millis(250));
            }
        }
        egui::Panel::top("playback-controls").show(ui, |ui| self.controls(ui));
        egui::Panel::right("playback-chat")
            .default_size(320.0)
            .show(ui, |ui| {
                ui.heading(self.t.get("playback-chat"));
                egui::ScrollArea::vertical()
                    .stick_to_bottom(true)
                    .show(ui, |ui| {
                        for (t_ms, line) in &self.player.chat {
                            ui.label(self.t.fmt(
                                "playback-chat-line",
                                &[
                                    ("time", clock(*t_ms)),
                                    ("from", line.from.clone()),
                                    ("text", line.text.clone()),
                                ],
                            ));
                        }
                    });
            });
        egui::CentralPanel::default().show(ui, |ui| {
            let Some(texture) = &self.texture else {
                ui.centered_and_justified(|ui| ui.label(self.t.get("playback-no-screen")));
                return;
            };
            let [w, h] = texture.size();
            let native = Vec2::new(w as f32, h as f32);
            let avail = ui.available_size();
            let scale = (avail.x / native.x)
                .min(avail.y / native.y)
                .clamp(0.05, 1.0);
            ui.add(
                egui::Image::from_texture(egui::load::SizedTexture::new(
                    texture.id(),
                    native * scale,
                ))
                .alt_text(self.t.get("playback-screen")),
            );
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(out: &mut Vec<u8>, kind: u8, t_ms: u64, body: &[u8]) {
        out.push(kind);
        out.extend_from_slice(&t_ms.to_be_bytes());
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(body);
    }

    fn header(session: u64) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.push(VERSION);
        out.extend_from_slice(&session.to_be_bytes());
        out.extend_from_slice(&1_800_000_000_000i64.to_be_bytes());
        out
    }

    #[test]
    fn frames_and_chat_play_in_time_order_and_a_cut_tail_is_tolerated() {
        let (w, h) = (64u32, 32u32);
        let bgra: Vec<u8> = (0..w * h)
            .flat_map(|i| [(i % 251) as u8, 7, 99, 255])
            .collect();
        let mut enc = lotse_codec::Encoder::new(lotse_codec::EncoderConfig::default());
        let update = enc
            .encode(&lotse_codec::Frame {
                width: w,
                height: h,
                stride: (w * 4) as usize,
                bgra: &bgra,
            })
            .expect("keyframe");
        let frame = BinaryHeader {
            kind: BinaryKind::ScreenUpdate,
            flags: lotse_protocol::FLAG_LAST,
            id: 1,
            session: 9,
            seq: 1,
        }
        .frame(&update);
        let mut file = header(9);
        record(
            &mut file,
            KIND_CHAT,
            5,
            br#"{"from":"Erika","role":"customer","text":"hallo","at_ms":1}"#,
        );
        record(&mut file, KIND_SCREEN, 40, &frame);
        record(&mut file, 99, 41, b"future kind");
        record(
            &mut file,
            KIND_STOP,
            50,
            br#"{"reason":"ended_by_customer","final":true}"#,
        );
        // A record cut off by a crash.
        file.extend_from_slice(&[KIND_CHAT, 0, 0]);
        let rec = parse(&file, "t").unwrap();
        assert!(rec.truncated);
        assert_eq!(rec.session, 9);
        assert_eq!(rec.records.len(), 3);
        let mut player = Player::new(rec);
        assert!(player.seek(10));
        assert_eq!(player.chat.len(), 1);
        assert!(player.screen.is_empty());
        player.seek(u64::MAX);
        assert_eq!(player.updates, 1);
        assert_eq!((player.screen.width(), player.screen.height()), (w, h));
        assert_eq!(&player.screen.rgba()[..4], &[99, 7, 0, 255]);
        assert_eq!(player.stopped.as_deref(), Some("ended_by_customer"));
        // Seeking back replays from the start.
        player.seek(10);
        assert!(player.screen.is_empty());
        assert_eq!(player.chat.len(), 1);
    }

    #[test]
    fn other_files_are_refused() {
        assert!(matches!(
            parse(b"hello", "x"),
            Err(PlaybackError::NotARecording(_))
        ));
        let mut v2 = header(1);
        v2[8] = 2;
        assert!(matches!(parse(&v2, "x"), Err(PlaybackError::Version(_, 2))));
    }
}
