//! The chat window (egui). Drawing only: it reads the [`Session`], turns
//! clicks into [`Command`]s, passes IO effects to the network thread and
//! repaints when that thread wakes it. No IO happens here.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use egui::{
    Align, Color32, FontId, Id, Key, Layout, Modifiers, RichText, ScrollArea, TextEdit,
    TextureHandle, TextureOptions, Ui, ViewportCommand,
};
use lotse_protocol::limits;
use lotse_protocol::{EndReason, ErrorCode};
use tokio::sync::mpsc;

use crate::i18n::Tr;
use crate::picker::{Outcome, Picker};
use crate::preview::Preview;
use crate::session::{
    Avatar, Command, ControlState, Effect, Failure, FileProblem, LinkState, NetEvent, Phase,
    Request, Session, ShareChoice, ShareState, Speaker, StampFault, SystemNote, Transfer,
    TransferState, Trouble,
};
use crate::share_picker::{self, SharePicker};

const DEFAULT_AVATAR_PNG: &[u8] = include_bytes!("../../../assets/avatar/default.png");
const AVATAR_SIZE: f32 = 40.0;

/// The window's state beyond the session: text being typed, textures.
pub struct App {
    pub session: Session,
    tr: Tr,
    effects: mpsc::Sender<Effect>,
    events: mpsc::Receiver<NetEvent>,
    /// Effects not yet accepted by a full channel.
    pending: VecDeque<Effect>,
    net_gone: bool,
    /// Title shown (to set it only when it changes).
    title: String,
    fallback_title: String,
    pub name: String,
    pub problem: String,
    pub draft: String,
    pub rating: u8,
    pub comment: String,
    avatar_tex: Option<(String, TextureHandle)>,
    default_avatar: Option<TextureHandle>,
    /// The customer is done: the next close request is let through.
    may_close: bool,
    /// Close even if the network never confirms the end.
    close_deadline: Option<Instant>,
    focused: bool,
    picker: Option<Picker>,
    /// Debug builds only: a file to offer once the technician joined.
    auto_offer: Option<PathBuf>,
    /// The window asked to close (tests read it).
    pub closed: bool,
    /// The phase drawn last; a new phase moves the keyboard focus to its
    /// main control, so the whole flow works with Enter alone.
    shown_phase: Option<std::mem::Discriminant<Phase>>,
    focus_pending: bool,
    /// What to share (after Allow, or from CHANGE SHARING).
    share_picker: Option<SharePicker>,
    /// A nudge shake: when it started and where the window was (`None`:
    /// the desktop does not let a window move itself, as on Wayland; the
    /// contents shake inside the window instead).
    shake: Option<(Instant, Option<egui::Pos2>)>,
    /// The consent prompt whose Allow button got the keyboard focus.
    prompt_focused: Option<Request>,
    /// What the window system said last (logged when it changes).
    window_state: Option<WindowState>,
    /// `ui` passes so far (the first few are logged).
    passes: u64,
    /// An IME composition is open (see `raw_input_hook`).
    composing: bool,
    /// Set by the signal watcher (SIGTERM, SIGHUP, SIGINT): quit now.
    quit: Option<Arc<AtomicBool>>,
    quitting: bool,
    /// The thumbnail of what the technician sees (from the share worker),
    /// its texture and the number of the one uploaded.
    preview: Option<Preview>,
    preview_tex: Option<TextureHandle>,
    preview_seen: u64,
}

/// Focused, covered, minimized, asked to close: as eframe reports them.
type WindowState = (Option<bool>, Option<bool>, Option<bool>, bool);

impl App {
    pub fn new(
        session: Session,
        tr: Tr,
        effects: mpsc::Sender<Effect>,
        events: mpsc::Receiver<NetEvent>,
        fallback_title: String,
    ) -> Self {
        let name = session.name_hint.clone();
        Self {
            session,
            tr,
            effects,
            events,
            pending: VecDeque::new(),
            net_gone: false,
            title: String::new(),
            fallback_title,
            name,
            problem: String::new(),
            draft: String::new(),
            rating: 0,
            comment: String::new(),
            avatar_tex: None,
            default_avatar: None,
            may_close: false,
            close_deadline: None,
            focused: true,
            picker: None,
            auto_offer: None,
            closed: false,
            shown_phase: None,
            focus_pending: false,
            share_picker: None,
            shake: None,
            prompt_focused: None,
            window_state: None,
            passes: 0,
            composing: false,
            quit: None,
            quitting: false,
            preview: None,
            preview_tex: None,
            preview_seen: 0,
        }
    }

    /// Show the thumbnail of what the technician sees from `preview`.
    pub fn with_preview(mut self, preview: Preview) -> Self {
        self.preview = Some(preview);
        self
    }

    /// Upload the newest thumbnail, if there is a new one (the scaling
    /// happened on the share thread).
    fn poll_preview(&mut self, ctx: &egui::Context) {
        let Some(preview) = &self.preview else { return };
        let Some((number, newest)) = preview.newer_than(self.preview_seen) else {
            return;
        };
        self.preview_seen = number;
        self.preview_tex = newest.map(|t| {
            let image = egui::ColorImage::from_rgba_unmultiplied(
                [t.width as usize, t.height as usize],
                &t.rgba,
            );
            match self.preview_tex.take() {
                Some(mut tex) => {
                    tex.set(image, TextureOptions::LINEAR);
                    tex
                }
                None => ctx.load_texture("lotse-preview", image, TextureOptions::LINEAR),
            }
        });
    }

    /// Quit (end the session, no survey, close) once `flag` is set.
    pub fn with_quit_flag(mut self, flag: Arc<AtomicBool>) -> Self {
        self.quit = Some(flag);
        self
    }

    /// Debug builds: offer this file as soon as a technician serves.
    #[cfg(debug_assertions)]
    pub fn with_auto_offer(mut self, path: Option<PathBuf>) -> Self {
        self.auto_offer = path;
        self
    }

    /// Feed a command to the session and carry out its effects.
    pub fn command(&mut self, ctx: &egui::Context, cmd: Command) {
        let effects = self.session.on_command(cmd);
        self.dispatch(ctx, effects);
    }

    fn dispatch(&mut self, ctx: &egui::Context, effects: Vec<Effect>) {
        let mut queue: VecDeque<Effect> = effects.into();
        while let Some(effect) = queue.pop_front() {
            match effect {
                Effect::Close => {
                    self.may_close = true;
                    self.closed = true;
                    ctx.send_viewport_cmd(ViewportCommand::Close);
                    // The close lands in the next frame: make sure there is one.
                    ctx.request_repaint();
                }
                Effect::Attention => {
                    ctx.send_viewport_cmd(ViewportCommand::Visible(true));
                    ctx.send_viewport_cmd(ViewportCommand::Minimized(false));
                    ctx.send_viewport_cmd(ViewportCommand::Focus);
                    ctx.send_viewport_cmd(ViewportCommand::RequestUserAttention(
                        egui::UserAttentionType::Critical,
                    ));
                }
                Effect::Shake => {
                    let origin = ctx.input(|i| i.viewport().outer_rect.map(|r| r.min));
                    if origin.is_none() {
                        tracing::info!("the window cannot move itself here; it shakes inside");
                    }
                    // A shake already running keeps its origin.
                    let origin = self.shake.map_or(origin, |(_, o)| o);
                    self.shake = Some((Instant::now(), origin));
                    ctx.request_repaint();
                }
                Effect::Notify { .. } if self.focused => {}
                Effect::Finish => {
                    let deadline =
                        Instant::now() + crate::net::FLUSH_TIMEOUT + Duration::from_secs(2);
                    self.close_deadline = Some(deadline);
                    ctx.request_repaint_after(deadline - Instant::now());
                    if self.net_gone {
                        queue.extend(self.session.on_event(NetEvent::Finished));
                    } else {
                        self.send_to_net(effect);
                    }
                }
                other => {
                    if !self.net_gone {
                        self.send_to_net(other);
                    }
                }
            }
        }
    }

    fn send_to_net(&mut self, effect: Effect) {
        if !self.pending.is_empty() {
            self.pending.push_back(effect);
            return;
        }
        match self.effects.try_send(effect) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(effect)) => self.pending.push_back(effect),
            Err(mpsc::error::TrySendError::Closed(_)) => self.net_gone = true,
        }
    }

    /// Take what the network side reported.
    pub fn poll(&mut self, ctx: &egui::Context) {
        while let Some(effect) = self.pending.pop_front() {
            match self.effects.try_send(effect) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(effect)) => {
                    self.pending.push_front(effect);
                    ctx.request_repaint_after(Duration::from_millis(50));
                    break;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    self.net_gone = true;
                    self.pending.clear();
                }
            }
        }
        loop {
            match self.events.try_recv() {
                Ok(event) => {
                    let effects = self.session.on_event(event);
                    self.dispatch(ctx, effects);
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    if !self.net_gone {
                        self.net_gone = true;
                        if self.session.phase == Phase::Ending {
                            let effects = self.session.on_event(NetEvent::Finished);
                            self.dispatch(ctx, effects);
                        }
                    }
                    break;
                }
            }
        }
        if !self.quitting && self.quit.as_ref().is_some_and(|q| q.load(Ordering::SeqCst)) {
            self.quitting = true;
            tracing::info!("quitting: ending the session without the survey");
            self.command(ctx, Command::Quit);
        }
        if self.session.waits_for_relay() {
            self.session.tick();
            // Check the deadline again even if nothing else happens.
            ctx.request_repaint_after(Duration::from_secs(1));
        }
        if let Some(text) = self.session.returned_draft.take() {
            // A refused line: back into the input box, before what was
            // typed since.
            if self.draft.trim().is_empty() {
                self.draft = text;
            } else {
                self.draft = format!("{text}\n{}", self.draft);
            }
            self.draft = limits::truncate_chars(&self.draft, limits::CHAT_CHARS).to_owned();
        }
        if self.session.can_send_files()
            && let Some(path) = self.auto_offer.take()
        {
            self.command(ctx, Command::SendFile(path));
        }
        if let Some(deadline) = self.close_deadline
            && Instant::now() >= deadline
            && !self.may_close
        {
            tracing::warn!("closing without the relay's confirmation");
            self.dispatch(ctx, vec![Effect::Close]);
        }
    }

    /// The customer closed the window: end the session first.
    fn close_requested(&mut self, ctx: &egui::Context) {
        if self.may_close {
            return;
        }
        // Ending may allow closing right away (nothing left to say to
        // the relay); only otherwise does the window stay for now.
        self.command(ctx, Command::EndSession);
        if !self.may_close {
            ctx.send_viewport_cmd(ViewportCommand::CancelClose);
        }
    }

    /// Window-level input: close requests, focus, Ctrl +/−.
    fn window_input(&mut self, ctx: &egui::Context) {
        let (close, focused) = ctx.input(|i| {
            (
                i.viewport().close_requested(),
                i.viewport().focused.unwrap_or(true),
            )
        });
        // Coming back to the window with no widget focused (the window
        // manager focused it late, or the customer switched away and back):
        // the phase's main control takes the keyboard again.
        if focused && !self.focused && ctx.memory(|m| m.focused().is_none()) {
            self.focus_pending = true;
        }
        if focused != self.focused {
            tracing::debug!(focused, "window focus changed");
        }
        self.focused = focused;
        if close {
            self.close_requested(ctx);
        }
        let (bigger, smaller) = ctx.input_mut(|i| {
            let bigger = i.consume_key(Modifiers::COMMAND, Key::Plus)
                || i.consume_key(Modifiers::COMMAND, Key::Equals);
            let smaller = i.consume_key(Modifiers::COMMAND, Key::Minus);
            (bigger, smaller)
        });
        if bigger {
            self.session.bigger_font();
        }
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        if self.session.can_send_files() {
            for path in dropped {
                self.command(ctx, Command::SendFile(path));
            }
        }
        if smaller {
            self.session.smaller_font();
        }
    }

    /// Draw the whole window into `ui`.
    pub fn draw(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        self.poll(&ctx);
        self.window_input(&ctx);
        self.update_title(&ctx);
        let phase = std::mem::discriminant(&self.session.phase);
        if self.shown_phase != Some(phase) {
            self.shown_phase = Some(phase);
            self.focus_pending = true;
        }

        self.shake_step(&ctx);
        egui::Panel::top("lotse-top").show(ui, |ui| self.top_bar(ui));
        if matches!(self.session.share, ShareState::Active(_))
            || self.session.control == ControlState::On
        {
            egui::Panel::top("lotse-share-banner").show(ui, |ui| self.share_banner(ui));
        }
        if !self.session.notices.is_empty() {
            egui::Panel::top("lotse-notices").show(ui, |ui| self.notices(ui));
        }
        if matches!(self.session.phase, Phase::Waiting | Phase::Chatting) {
            egui::Panel::bottom("lotse-compose").show(ui, |ui| self.compose(ui));
        }
        egui::CentralPanel::default().show(ui, |ui| self.body(ui));
        if let Some(picker) = &mut self.picker {
            match picker.show(&ctx, &self.tr) {
                Outcome::Open => {}
                Outcome::Cancelled => self.picker = None,
                Outcome::Picked(path) => {
                    self.picker = None;
                    self.command(&ctx, Command::SendFile(path));
                }
            }
        }
        self.share_picker_step(&ctx);
    }

    /// How far the contents are shifted now by a shake inside the window.
    fn inner_shake(&self) -> Option<f32> {
        match self.shake {
            Some((start, None)) => crate::nudge::shake_offset(start.elapsed()),
            _ => None,
        }
    }

    /// Move the window along the shake path; exactly back at the end.
    fn shake_step(&mut self, ctx: &egui::Context) {
        let Some((start, origin)) = self.shake else {
            return;
        };
        match (crate::nudge::shake_offset(start.elapsed()), origin) {
            (Some(dx), Some(origin)) => {
                ctx.send_viewport_cmd(ViewportCommand::OuterPosition(origin + egui::vec2(dx, 0.0)));
                ctx.request_repaint_after(Duration::from_millis(16));
            }
            // Drawn shifted by `inner_shake` in `ui`.
            (Some(_), None) => ctx.request_repaint_after(Duration::from_millis(16)),
            (None, Some(origin)) => {
                ctx.send_viewport_cmd(ViewportCommand::OuterPosition(origin));
                self.shake = None;
                tracing::info!(x = origin.x, y = origin.y, "nudge shake over, window back");
            }
            (None, None) => {
                self.shake = None;
                tracing::info!("nudge shake over");
            }
        }
    }

    /// Open, draw and answer the share picker.
    fn share_picker_step(&mut self, ctx: &egui::Context) {
        let picking = self.session.share == ShareState::Picking;
        let active = matches!(self.session.share, ShareState::Active(_));
        match &self.share_picker {
            None if picking => self.share_picker = Some(SharePicker::new(ctx, false)),
            // The request went away (technician left, session ended).
            Some(p) if (!p.changing && !picking) || (p.changing && !active) => {
                self.share_picker = None;
            }
            _ => {}
        }
        let Some(picker) = &mut self.share_picker else {
            return;
        };
        let changing = picker.changing;
        match picker.show(ctx, &self.tr) {
            share_picker::Outcome::Open => {}
            share_picker::Outcome::Chosen(choice) => {
                self.share_picker = None;
                self.command(ctx, Command::ShareChosen(choice));
            }
            share_picker::Outcome::Cancelled => {
                self.share_picker = None;
                if !changing {
                    self.command(ctx, Command::SharePickerClosed);
                }
            }
            share_picker::Outcome::Stop => {
                self.share_picker = None;
                self.command(ctx, Command::StopSharing);
            }
        }
    }

    /// Above the chat while sharing: STOP SCREEN SHARING (whole screen) or
    /// CHANGE SHARING (applications), and whether control is active.
    fn share_banner(&mut self, ui: &mut Ui) {
        let red = Color32::from_rgb(0xb0, 0x20, 0x20);
        egui::Frame::new()
            .fill(Color32::from_rgb(0xfd, 0xe8, 0xe8))
            .inner_margin(6.0)
            .show(ui, |ui| {
                ui.horizontal_wrapped(|ui| match &self.session.share {
                    ShareState::Active(ShareChoice::Screen { .. }) => {
                        ui.label(RichText::new(self.tr.t("sharing-screen")).color(red));
                        let stop = egui::Button::new(
                            RichText::new(self.tr.t("button-stop-screen-sharing"))
                                .strong()
                                .color(Color32::WHITE),
                        )
                        .fill(red);
                        if ui.add(stop).clicked() {
                            self.command(ui.ctx(), Command::StopSharing);
                        }
                    }
                    ShareState::Active(
                        choice @ (ShareChoice::Apps { .. } | ShareChoice::Windows),
                    ) => {
                        let text = if *choice == ShareChoice::Windows {
                            "sharing-windows"
                        } else {
                            "sharing-apps"
                        };
                        ui.label(RichText::new(self.tr.t(text)).color(red));
                        let change = egui::Button::new(
                            RichText::new(self.tr.t("button-change-sharing"))
                                .strong()
                                .color(Color32::WHITE),
                        )
                        .fill(red);
                        if ui.add(change).clicked() && self.share_picker.is_none() {
                            self.share_picker = Some(SharePicker::new(ui.ctx(), true));
                        }
                    }
                    _ => {}
                });
                if matches!(self.session.share, ShareState::Active(_)) {
                    ui.horizontal_wrapped(|ui| {
                        if self.session.paused {
                            ui.label(
                                RichText::new(self.tr.t("sharing-paused"))
                                    .strong()
                                    .color(red),
                            );
                            if ui.button(self.tr.t("button-resume")).clicked() {
                                self.command(ui.ctx(), Command::PauseSharing(false));
                            }
                        } else if ui
                            .button(self.tr.t("button-pause"))
                            .on_hover_text(self.tr.t("pause-hint"))
                            .clicked()
                        {
                            self.command(ui.ctx(), Command::PauseSharing(true));
                        }
                    });
                }
                self.poll_preview(ui.ctx());
                if let Some(tex) = &self.preview_tex
                    && matches!(self.session.share, ShareState::Active(_))
                {
                    egui::CollapsingHeader::new(self.tr.t("preview-heading"))
                        .default_open(true)
                        .show(ui, |ui| {
                            let size = tex.size_vec2();
                            let scale = (ui.available_width() / size.x).min(1.0);
                            ui.add(
                                egui::Image::new(tex)
                                    .fit_to_exact_size(size * scale)
                                    .alt_text(self.tr.t("preview-heading")),
                            );
                        });
                }
                if self.session.control == ControlState::On {
                    ui.horizontal_wrapped(|ui| {
                        ui.label(
                            RichText::new(self.tr.t("control-active"))
                                .strong()
                                .color(red),
                        );
                        if ui.button(self.tr.t("button-stop-control")).clicked() {
                            self.command(ui.ctx(), Command::StopControl);
                        }
                    });
                }
            });
    }

    /// Allow/Decline for the technician's share or control request.
    fn prompts(&mut self, ui: &mut Ui) {
        let name = self
            .session
            .technician
            .as_ref()
            .map(|t| t.name.clone())
            .unwrap_or_default();
        let asks = [
            (self.session.share == ShareState::Asked).then_some(Request::ScreenShare),
            (self.session.control == ControlState::Asked).then_some(Request::Control),
        ];
        for request in asks.into_iter().flatten() {
            let text = match request {
                Request::ScreenShare => self.tr.f("prompt-share", &[("name", &name)]),
                Request::Control => self.tr.f("prompt-control", &[("name", &name)]),
            };
            egui::Frame::group(ui.style())
                .fill(Color32::from_rgb(0xe6, 0xf0, 0xff))
                .show(ui, |ui| {
                    ui.label(
                        RichText::new(text)
                            .size(self.session.font_size)
                            .color(Color32::BLACK),
                    );
                    ui.horizontal(|ui| {
                        let allow = ui.button(self.tr.t("button-allow"));
                        if self.prompt_focused != Some(request) {
                            take_focus(&allow);
                            if allow.has_focus() && self.focused {
                                self.prompt_focused = Some(request);
                                tracing::info!("keyboard ready: Allow for {request:?}");
                            }
                        }
                        let decline = ui.button(self.tr.t("button-decline"));
                        let answer = if allow.clicked() {
                            Some(true)
                        } else if decline.clicked() {
                            Some(false)
                        } else {
                            None
                        };
                        if let Some(yes) = answer {
                            self.prompt_focused = None;
                            let cmd = match request {
                                Request::ScreenShare => Command::ShareAnswer(yes),
                                Request::Control => Command::ControlAnswer(yes),
                            };
                            self.command(ui.ctx(), cmd);
                        }
                    });
                });
        }
    }

    fn update_title(&mut self, ctx: &egui::Context) {
        let site = self
            .session
            .site
            .as_ref()
            .map(|s| s.name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| self.fallback_title.clone());
        let title = if site.is_empty() {
            self.tr.t("window-title")
        } else {
            self.tr.f("window-title-site", &[("site", &site)])
        };
        if title != self.title {
            ctx.send_viewport_cmd(ViewportCommand::Title(title.clone()));
            self.title = title;
        }
    }

    fn top_bar(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            let status = match self.session.link {
                LinkState::Reconnecting(_) => Some(self.tr.t("status-reconnecting")),
                LinkState::Online => None,
            };
            if let Some(status) = status {
                ui.label(RichText::new(status).color(Color32::from_rgb(0xc0, 0x60, 0x00)));
            } else {
                ui.label(RichText::new(self.title.clone()).strong());
            }
            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                let live = !matches!(
                    self.session.phase,
                    Phase::Failed(_) | Phase::Ended(_) | Phase::Ending
                );
                if live
                    && ui
                        .button(self.tr.t("button-end-session"))
                        .on_hover_text(self.tr.t("tip-end-session"))
                        .clicked()
                {
                    self.command(ui.ctx(), Command::EndSession);
                }
                let larger = ui
                    .add_enabled(
                        self.session.font_size < crate::session::FONT_MAX,
                        egui::Button::new("A+"),
                    )
                    .accessible_name(self.tr.t("button-font-larger"))
                    .on_hover_text(self.tr.t("tip-font-larger"));
                if larger.clicked() {
                    self.session.bigger_font();
                }
                let smaller = ui
                    .add_enabled(
                        self.session.font_size > crate::session::FONT_MIN,
                        egui::Button::new("A−"),
                    )
                    .accessible_name(self.tr.t("button-font-smaller"))
                    .on_hover_text(self.tr.t("tip-font-smaller"));
                if smaller.clicked() {
                    self.session.smaller_font();
                }
            });
        });
    }

    fn notices(&mut self, ui: &mut Ui) {
        let notices = self.session.notices.clone();
        for notice in notices {
            egui::Frame::group(ui.style())
                .fill(Color32::from_rgb(0xff, 0xf4, 0xd6))
                .show(ui, |ui| {
                    ui.label(
                        RichText::new(self.tr.t("notice-heading"))
                            .strong()
                            .color(Color32::from_rgb(0x60, 0x40, 0x00)),
                    );
                    ui.label(RichText::new(&notice.text).color(Color32::BLACK));
                    ui.horizontal(|ui| {
                        if ui.button(self.tr.t("button-leave")).clicked() {
                            self.command(ui.ctx(), Command::LeaveOnNotice);
                        }
                        if ui.button(self.tr.t("button-stay")).clicked() {
                            self.command(ui.ctx(), Command::DismissNotice(notice.key));
                        }
                    });
                });
        }
    }

    fn body(&mut self, ui: &mut Ui) {
        match self.session.phase.clone() {
            Phase::Connecting => {
                if self.session.trouble == Some(Trouble::ConnectUnanswered) {
                    self.trouble_box(ui);
                } else {
                    ui.horizontal(|ui| {
                        busy_indicator(ui);
                        ui.label(self.tr.t("connecting"));
                    });
                }
            }
            Phase::Failed(failure) => self.failed(ui, &failure),
            Phase::Agreement(text) => {
                ui.heading(self.tr.t("agreement-heading"));
                self.long_text(ui, &text);
                ui.horizontal(|ui| {
                    let accept = ui.button(self.tr.t("button-accept"));
                    self.focus_first(&accept, "Accept");
                    if accept.clicked() {
                        self.command(ui.ctx(), Command::AcceptAgreement);
                    }
                    if ui.button(self.tr.t("button-decline")).clicked() {
                        self.command(ui.ctx(), Command::DeclineAgreement);
                    }
                });
            }
            Phase::RecordingPrompt(text) => {
                ui.heading(self.tr.t("recording-heading"));
                self.long_text(ui, &text);
                ui.horizontal(|ui| {
                    let allow = ui.button(self.tr.t("button-allow"));
                    self.focus_first(&allow, "Allow recording");
                    if allow.clicked() {
                        self.command(ui.ctx(), Command::Recording(true));
                    }
                    if ui.button(self.tr.t("button-dont-allow")).clicked() {
                        self.command(ui.ctx(), Command::Recording(false));
                    }
                });
            }
            Phase::NameEntry => self.name_entry(ui),
            Phase::Waiting | Phase::Chatting => self.session_view(ui),
            Phase::Survey { question, .. } => self.survey(ui, &question),
            Phase::Ending => {
                ui.horizontal(|ui| {
                    busy_indicator(ui);
                    ui.label(self.tr.t("ending"));
                });
            }
            Phase::Ended(reason) => {
                ui.heading(self.tr.t("ended-heading"));
                ui.label(self.end_text(reason));
                ui.label(self.tr.t("ended-removal"));
                let close = ui.button(self.tr.t("button-close"));
                self.focus_first(&close, "Close");
                if close.clicked() {
                    self.command(ui.ctx(), Command::EndSession);
                }
            }
        }
    }

    /// Give `response` the keyboard focus if the phase just changed.
    /// Stays pending until the widget holds the focus in a focused window
    /// (a window manager may focus the window only after its first frames).
    ///
    /// Logs `keyboard ready: {what}` once it holds: typed keys reach the
    /// widget from then on (the tests wait for this line before typing).
    fn focus_first(&mut self, response: &egui::Response, what: &str) {
        if self.focus_pending {
            take_focus(response);
            if response.has_focus() && self.focused {
                self.focus_pending = false;
                tracing::info!("keyboard ready: {what}");
            }
        }
    }

    fn long_text(&self, ui: &mut Ui, text: &str) {
        ScrollArea::vertical()
            .max_height(ui.available_height() - 60.0)
            .auto_shrink([false, true])
            .show(ui, |ui| {
                ui.label(RichText::new(text).size(self.session.font_size));
            });
    }

    fn failed(&mut self, ui: &mut Ui, failure: &Failure) {
        ui.heading(self.tr.t("failed-heading"));
        let text = match failure {
            Failure::Stamp(StampFault::Missing) => self.tr.t("failed-stamp-missing"),
            Failure::Stamp(StampFault::Altered) => self.tr.t("failed-stamp-altered"),
            Failure::Stamp(StampFault::Expired) => self.tr.t("failed-stamp-expired"),
            Failure::Stamp(StampFault::Invalid) => self.tr.t("failed-stamp-invalid"),
            Failure::OwnFile(detail) => self.tr.f("failed-own-file", &[("detail", detail)]),
            Failure::WrongCertificate => self.tr.t("failed-certificate"),
            Failure::BadTicket => self.tr.t("failed-ticket"),
            Failure::BadLink => self.tr.t("failed-link"),
            Failure::VersionMismatch => self.tr.t("failed-version"),
            Failure::SessionLost => self.tr.t("failed-session-lost"),
            Failure::Relay(detail) => self.tr.f("failed-relay", &[("detail", detail)]),
        };
        ui.label(RichText::new(text).size(self.session.font_size));
        ui.add_space(8.0);
        let close = ui.button(self.tr.t("button-close"));
        self.focus_first(&close, "Close");
        if close.clicked() {
            self.command(ui.ctx(), Command::EndSession);
        }
    }

    fn name_entry(&mut self, ui: &mut Ui) {
        ui.heading(self.tr.t("name-heading"));
        self.trouble_box(ui);
        let name_label = ui.label(self.tr.t("name-label"));
        let name = ui
            .add(
                TextEdit::singleline(&mut self.name)
                    .char_limit(limits::NAME_CHARS)
                    .desired_width(f32::INFINITY),
            )
            .labelled_by(name_label.id);
        self.focus_first(&name, "name");
        self.limit_note(ui, &self.name.clone(), limits::NAME_CHARS, true);
        let problem_label = ui.label(self.tr.t("problem-label"));
        ui.add(
            TextEdit::multiline(&mut self.problem)
                .char_limit(limits::PROBLEM_CHARS)
                .desired_rows(4)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(problem_label.id);
        self.limit_note(ui, &self.problem.clone(), limits::PROBLEM_CHARS, true);
        let ready = !self.name.trim().is_empty();
        let submit_by_enter = name.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter)) && ready;
        let clicked = ui
            .add_enabled(ready, egui::Button::new(self.tr.t("button-join")))
            .clicked();
        if clicked || submit_by_enter {
            let cmd = Command::Join {
                name: self.name.clone(),
                problem: self.problem.clone(),
            };
            self.command(ui.ctx(), cmd);
        }
    }

    fn session_view(&mut self, ui: &mut Ui) {
        if self.session.phase == Phase::Waiting {
            self.waiting_info(ui);
        } else if let Some(tech) = self.session.technician.clone() {
            ui.horizontal(|ui| {
                self.avatar(ui, tech.avatar.as_ref(), &tech.name);
                ui.label(
                    RichText::new(self.tr.f("serving", &[("name", &tech.name)]))
                        .size(self.session.font_size)
                        .strong(),
                );
            });
        }
        ui.separator();
        self.trouble_box(ui);
        self.prompts(ui);
        self.transfers(ui);
        self.chat(ui);
    }

    /// Under a field with a limit: how much is used ("n / limit" when
    /// `always` or near the limit) and a message once the limit is reached.
    fn limit_note(&self, ui: &mut Ui, text: &str, limit: usize, always: bool) {
        let count = text.chars().count();
        let limit_text = limit.to_string();
        if count >= limit {
            ui.label(
                RichText::new(self.tr.f("field-full", &[("limit", &limit_text)]))
                    .color(Color32::from_rgb(0xb0, 0x30, 0x30)),
            );
        } else if always || count * 10 >= limit * 9 {
            let count = count.to_string();
            ui.label(
                RichText::new(
                    self.tr
                        .f("field-count", &[("count", &count), ("limit", &limit_text)]),
                )
                .small()
                .weak(),
            );
        }
    }

    /// What the relay refused or did not answer, with the way forward.
    fn trouble_box(&mut self, ui: &mut Ui) {
        let Some(trouble) = self.session.trouble.clone() else {
            return;
        };
        let detail = |code: &ErrorCode, message: &str| {
            let code = serde_json::to_value(code)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            if message.trim().is_empty() {
                code
            } else {
                format!("{code}: {message}")
            }
        };
        let (text, keep_waiting) = match &trouble {
            Trouble::JoinRefused { code, message } => (
                self.tr.f(
                    "trouble-join-refused",
                    &[("detail", &detail(code, message))],
                ),
                false,
            ),
            Trouble::ChatRefused { code, message } => (
                self.tr.f(
                    "trouble-chat-refused",
                    &[("detail", &detail(code, message))],
                ),
                false,
            ),
            Trouble::Refused { code, message } => (
                self.tr
                    .f("trouble-refused", &[("detail", &detail(code, message))]),
                false,
            ),
            Trouble::JoinUnanswered => (self.tr.t("trouble-join-unanswered"), true),
            Trouble::ConnectUnanswered => (self.tr.t("trouble-connect-unanswered"), true),
        };
        egui::Frame::group(ui.style())
            .fill(Color32::from_rgb(0xfd, 0xe8, 0xe8))
            .show(ui, |ui| {
                ui.label(
                    RichText::new(text)
                        .size(self.session.font_size)
                        .color(Color32::from_rgb(0x80, 0x10, 0x10)),
                );
                ui.horizontal(|ui| {
                    let label = if keep_waiting {
                        self.tr.t("button-keep-waiting")
                    } else {
                        self.tr.t("button-dismiss")
                    };
                    if ui.button(label).clicked() {
                        self.command(ui.ctx(), Command::DismissTrouble);
                    }
                    if trouble == Trouble::ConnectUnanswered
                        && ui.button(self.tr.t("button-close")).clicked()
                    {
                        self.command(ui.ctx(), Command::EndSession);
                    }
                });
            });
    }

    fn waiting_info(&self, ui: &mut Ui) {
        let size = self.session.font_size;
        let site = self.session.site.clone().unwrap_or_default();
        let (position, wait) = self
            .session
            .queue
            .map_or((String::new(), String::new()), |q| {
                (q.position.to_string(), self.wait_text(q.wait_secs))
            });
        if let Some(q) = self.session.queue
            && let Some(greeting) = site.greeting.filter(|g| !g.trim().is_empty())
        {
            // Like the relay's texts: `{wait}` in whole minutes, at least 1.
            let minutes = q.wait_secs.div_ceil(60).max(1).to_string();
            let text = greeting
                .replace("{position}", &position)
                .replace("{wait}", &minutes);
            ui.label(RichText::new(text).size(size));
        }
        if let Some(q) = self.session.queue {
            ui.label(
                RichText::new(self.tr.f("queue-position", &[("position", &position)]))
                    .size(size)
                    .strong(),
            );
            ui.label(RichText::new(self.tr.f("queue-wait", &[("wait", &wait)])).size(size));
            if q.technicians_online == 0 && self.session.no_technician.is_none() {
                ui.label(RichText::new(self.tr.t("queue-no-one-online")).size(size));
            }
        } else if self.session.trouble != Some(Trouble::JoinUnanswered) {
            ui.horizontal(|ui| {
                busy_indicator(ui);
                ui.label(self.tr.t("queue-joining"));
            });
        }
        if let Some(text) = &self.session.no_technician {
            ui.label(
                RichText::new(text)
                    .size(size)
                    .color(Color32::from_rgb(0xb0, 0x30, 0x30)),
            );
        }
        if let Some(hold) = &self.session.hold {
            ui.label(RichText::new(hold).size(size).italics());
        }
    }

    fn wait_text(&self, secs: u64) -> String {
        if secs < 60 {
            self.tr.t("wait-under-minute")
        } else {
            let minutes = secs.div_ceil(60).to_string();
            self.tr.f("wait-minutes", &[("minutes", &minutes)])
        }
    }

    fn avatar(&mut self, ui: &mut Ui, avatar: Option<&Avatar>, name: &str) {
        let texture = match avatar {
            Some(a) => {
                let key = format!("{name}:{}x{}:{}", a.width, a.height, a.rgba.len());
                if self.avatar_tex.as_ref().is_none_or(|(k, _)| *k != key) {
                    let image = egui::ColorImage::from_rgba_unmultiplied(
                        [a.width as usize, a.height as usize],
                        &a.rgba,
                    );
                    let tex =
                        ui.ctx()
                            .load_texture("technician-avatar", image, TextureOptions::LINEAR);
                    self.avatar_tex = Some((key, tex));
                }
                self.avatar_tex.as_ref().map(|(_, t)| t.clone())
            }
            None => {
                if self.default_avatar.is_none() {
                    self.default_avatar = crate::session::decode_image(DEFAULT_AVATAR_PNG)
                        .ok()
                        .map(|a| {
                            let image = egui::ColorImage::from_rgba_unmultiplied(
                                [a.width as usize, a.height as usize],
                                &a.rgba,
                            );
                            ui.ctx()
                                .load_texture("default-avatar", image, TextureOptions::LINEAR)
                        });
                }
                self.default_avatar.clone()
            }
        };
        if let Some(tex) = texture {
            ui.add(
                egui::Image::new(&tex)
                    .fit_to_exact_size(egui::vec2(AVATAR_SIZE, AVATAR_SIZE))
                    .corner_radius(AVATAR_SIZE / 2.0)
                    .alt_text(self.tr.f("avatar-alt", &[("name", name)])),
            );
        }
    }

    fn chat(&mut self, ui: &mut Ui) {
        let size = self.session.font_size;
        let entries = self.session.chat.clone();
        let technician = self.session.technician.clone();
        ScrollArea::vertical()
            .auto_shrink([false, false])
            .stick_to_bottom(true)
            .show(ui, |ui| {
                for entry in &entries {
                    let time = local_time(entry.at_ms);
                    match &entry.speaker {
                        Speaker::System(note) => {
                            let text = format!("{time} · {}", self.note_text(note));
                            ui.label(RichText::new(text).size(size * 0.9).italics().weak());
                        }
                        Speaker::Me => {
                            ui.horizontal_wrapped(|ui| {
                                ui.add_space(AVATAR_SIZE + 8.0);
                                ui.vertical(|ui| {
                                    ui.label(
                                        RichText::new(format!("{} · {time}", self.tr.t("me")))
                                            .size(size * 0.85)
                                            .weak(),
                                    );
                                    ui.label(RichText::new(&entry.text).size(size));
                                });
                            });
                        }
                        Speaker::Technician(name) => {
                            ui.horizontal_wrapped(|ui| {
                                let avatar = technician
                                    .as_ref()
                                    .filter(|t| t.name == *name)
                                    .and_then(|t| t.avatar.as_ref());
                                self.avatar(ui, avatar, name);
                                ui.vertical(|ui| {
                                    ui.label(
                                        RichText::new(format!("{name} · {time}"))
                                            .size(size * 0.85)
                                            .strong(),
                                    );
                                    ui.label(RichText::new(&entry.text).size(size));
                                });
                            });
                        }
                    }
                    ui.add_space(4.0);
                }
            });
        // A live region: screen readers announce the newest line from the
        // technician or the session as it comes.
        let newest = entries.iter().rev().find_map(|e| match &e.speaker {
            Speaker::Me => None,
            Speaker::System(note) => Some(self.note_text(note)),
            Speaker::Technician(name) => Some(format!("{name}: {}", e.text)),
        });
        if let Some(text) = newest {
            ui.ctx()
                .accesskit_node_builder(Id::unique("lotse-chat-live"), |node| {
                    node.set_role(egui::accesskit::Role::Status);
                    node.set_live(egui::accesskit::Live::Polite);
                    node.set_label(text);
                });
        }
    }

    fn note_text(&self, note: &SystemNote) -> String {
        match note {
            SystemNote::TechnicianJoined(name) => self.tr.f("note-joined", &[("name", name)]),
            SystemNote::ReturnedToQueue => self.tr.t("note-returned"),
            SystemNote::Nudged => self.tr.t("note-nudged"),
            SystemNote::Asked(Request::ScreenShare) => self.tr.t("note-share-asked"),
            SystemNote::Asked(Request::Control) => self.tr.t("note-control-asked"),
            SystemNote::Allowed(Request::ScreenShare) => self.tr.t("note-share-allowed"),
            SystemNote::Allowed(Request::Control) => self.tr.t("note-control-allowed"),
            SystemNote::Declined(Request::ScreenShare) => self.tr.t("note-share-declined"),
            SystemNote::Declined(Request::Control) => self.tr.t("note-control-declined"),
            SystemNote::ShareStopped => self.tr.t("note-share-stopped"),
            SystemNote::ControlStopped => self.tr.t("note-control-stopped"),
            SystemNote::Paused => self.tr.t("note-paused"),
            SystemNote::Resumed => self.tr.t("note-resumed"),
            SystemNote::ShareFailed(detail) => {
                self.tr.f("note-share-failed", &[("detail", detail)])
            }
            SystemNote::ControlNeedsShare => self.tr.t("note-control-needs-share"),
            SystemNote::DesktopIndicator => self.tr.t("note-desktop-indicator"),
            SystemNote::PeerAway => self.tr.t("note-peer-away"),
            SystemNote::PeerBack => self.tr.t("note-peer-back"),
            SystemNote::Ended(reason) => self.end_text(*reason),
        }
    }

    fn end_text(&self, reason: EndReason) -> String {
        match reason {
            EndReason::EndedByTechnician => self.tr.t("end-by-technician"),
            EndReason::CustomerGone => self.tr.t("end-gone"),
            EndReason::RelayShutdown => self.tr.t("end-shutdown"),
            EndReason::DeclinedAgreement => self.tr.t("end-declined"),
            EndReason::LeftOnNotice => self.tr.t("end-left"),
            EndReason::Elevated => self.tr.t("end-elevated"),
            EndReason::EndedByCustomer => self.tr.t("end-by-me"),
        }
    }

    fn transfers(&mut self, ui: &mut Ui) {
        let transfers: Vec<Transfer> = self.session.transfers.clone();
        for t in transfers.iter().rev().take(4) {
            ui.horizontal(|ui| {
                let status = match &t.state {
                    TransferState::Preparing => self.tr.t("file-preparing"),
                    TransferState::Offered => self.tr.t("file-offered"),
                    TransferState::Sending => self.tr.t("file-sending"),
                    TransferState::Checking => self.tr.t("file-checking"),
                    TransferState::Done => self.tr.t("file-done"),
                    TransferState::Declined => self.tr.t("file-declined"),
                    TransferState::Cancelled => self.tr.t("file-cancelled"),
                    TransferState::Failed(p) => self.problem_text(p),
                };
                ui.label(format!("{} — {status}", t.name));
                if t.state.is_active() {
                    ui.add(
                        egui::ProgressBar::new(t.progress())
                            .desired_width(120.0)
                            .show_percentage(),
                    )
                    .accessible_name(self.tr.f("file-progress", &[("name", &t.name)]));
                    if ui.button(self.tr.t("button-cancel")).clicked() {
                        self.command(ui.ctx(), Command::CancelFile(t.id));
                    }
                }
            });
        }
    }

    fn problem_text(&self, p: &FileProblem) -> String {
        match p {
            FileProblem::Vanished => self.tr.t("file-vanished"),
            FileProblem::Unreadable(detail) => self.tr.f("file-unreadable", &[("detail", detail)]),
            FileProblem::PeerGone => self.tr.t("file-peer-gone"),
            FileProblem::Interrupted => self.tr.t("file-interrupted"),
            FileProblem::Corrupted => self.tr.t("file-corrupted"),
            FileProblem::Stopped(reason) => self.tr.f("file-stopped", &[("reason", reason)]),
            FileProblem::Refused(reason) => self.tr.f("file-refused", &[("reason", reason)]),
        }
    }

    fn compose(&mut self, ui: &mut Ui) {
        let can_chat = self.session.technician.is_some();
        let size = self.session.font_size;
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            let hint = if can_chat {
                self.tr.t("chat-hint")
            } else {
                self.tr.t("chat-hint-waiting")
            };
            let edit = ui.add_enabled(
                can_chat,
                TextEdit::multiline(&mut self.draft)
                    .char_limit(limits::CHAT_CHARS)
                    .desired_rows(2)
                    .desired_width(ui.available_width() - 190.0)
                    .font(FontId::proportional(size))
                    .hint_text(hint)
                    .return_key(Some(egui::KeyboardShortcut::new(
                        Modifiers::SHIFT,
                        Key::Enter,
                    ))),
            );
            let edit = edit.accessible_name(self.tr.t("chat-input"));
            if can_chat {
                self.focus_first(&edit, "chat");
            }
            let enter =
                edit.has_focus() && ui.input_mut(|i| i.consume_key(Modifiers::NONE, Key::Enter));
            let send = ui
                .add_enabled(can_chat, egui::Button::new(self.tr.t("button-send")))
                .clicked();
            if (send || enter) && !self.draft.trim().is_empty() {
                let text = std::mem::take(&mut self.draft);
                self.command(ui.ctx(), Command::SendChat(text));
                edit.request_focus();
            }
            let can_files = self.session.can_send_files() && self.picker.is_none();
            if ui
                .add_enabled(can_files, egui::Button::new(self.tr.t("button-send-file")))
                .clicked()
            {
                self.open_picker(ui.ctx());
            }
        });
        self.limit_note(ui, &self.draft.clone(), limits::CHAT_CHARS, false);
        ui.add_space(4.0);
    }

    fn open_picker(&mut self, ctx: &egui::Context) {
        self.picker = Some(Picker::new(Picker::home(), ctx));
    }

    fn survey(&mut self, ui: &mut Ui, question: &str) {
        ui.heading(self.tr.t("survey-heading"));
        ui.label(RichText::new(question).size(self.session.font_size));
        ui.horizontal(|ui| {
            for rating in 1..=5u8 {
                let response = ui
                    .selectable_label(self.rating == rating, rating.to_string())
                    .accessible_name(
                        self.tr
                            .f("survey-rating", &[("rating", &rating.to_string())]),
                    );
                if response.clicked() {
                    self.rating = rating;
                }
            }
        });
        let comment_label = ui.label(self.tr.t("survey-comment"));
        ui.add(
            TextEdit::multiline(&mut self.comment)
                .char_limit(limits::SURVEY_COMMENT_CHARS)
                .desired_rows(3),
        )
        .labelled_by(comment_label.id);
        self.limit_note(
            ui,
            &self.comment.clone(),
            limits::SURVEY_COMMENT_CHARS,
            true,
        );
        ui.horizontal(|ui| {
            if ui
                .add_enabled(
                    self.rating > 0,
                    egui::Button::new(self.tr.t("button-send-survey")),
                )
                .clicked()
            {
                let cmd = Command::SurveyAnswer {
                    rating: self.rating,
                    comment: self.comment.clone(),
                };
                self.command(ui.ctx(), cmd);
            }
            if ui.button(self.tr.t("button-skip")).clicked() {
                self.command(ui.ctx(), Command::SkipSurvey);
            }
        });
    }
}

impl eframe::App for App {
    /// Drops the empty IME preedits some Wayland desktops (GNOME) answer
    /// to every text-input update while nothing is being composed: each one
    /// is an input event, which makes egui-winit update the text-input
    /// area again, which brings the next one — the window would be drawn
    /// for ever (60 times a second, on the CPU without a GPU).
    fn raw_input_hook(&mut self, _ctx: &egui::Context, raw_input: &mut egui::RawInput) {
        raw_input.events.retain(|ev| match ev {
            egui::Event::Ime(egui::ImeEvent::Preedit { text, .. }) if text.is_empty() => {
                std::mem::replace(&mut self.composing, false)
            }
            egui::Event::Ime(egui::ImeEvent::Preedit { .. }) => {
                self.composing = true;
                true
            }
            egui::Event::Ime(egui::ImeEvent::Commit(_)) => {
                self.composing = false;
                true
            }
            _ => true,
        });
    }

    /// Also runs while the window is hidden or fully covered (eframe then
    /// skips `ui`): the session keeps going, and a nudge can bring the
    /// window to the front.
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.poll(ctx);
        let state: WindowState = ctx.input(|i| {
            let v = i.viewport();
            (v.focused, v.occluded, v.minimized, v.close_requested())
        });
        if self.window_state != Some(state) {
            tracing::debug!(
                focused = ?state.0,
                occluded = ?state.1,
                minimized = ?state.2,
                close = state.3,
                passes = self.passes,
                "window state"
            );
            self.window_state = Some(state);
        }
        let (minimized, close) = ctx.input(|i| {
            let v = i.viewport();
            (v.minimized == Some(true), v.close_requested())
        });
        // No `ui` runs while minimized; closing from the task bar still
        // ends the session properly.
        if minimized && close {
            self.close_requested(ctx);
        }
    }

    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        self.passes += 1;
        if self.passes <= 3 || self.passes.is_multiple_of(50) {
            tracing::debug!(pass = self.passes, causes = ?ui.ctx().repaint_causes(), "window drawn");
        }
        match self.inner_shake() {
            Some(dx) => {
                let rect = ui.max_rect().translate(egui::vec2(dx, 0.0));
                ui.scope_builder(egui::UiBuilder::new().max_rect(rect), |ui| self.draw(ui));
            }
            None => self.draw(ui),
        }
    }
}

/// Give `response` the keyboard focus unless it already has it.
///
/// Never ask again for a focus the widget holds: every `request_focus`
/// makes egui interrupt the input method; egui-winit then turns X11's
/// input context off and on, and winit answers with two IME events.
/// eframe handles each by painting at once a window that winit does not
/// yet count as shown, inside winit's event loop, and that paint asked for
/// the focus again. The IME events never ran out: the client painted for
/// up to half a minute without reading its X queue, deaf to the window
/// manager's focus, every key and the close button (docs/RELIABILITY.md).
///
/// `Response::has_focus` is false in an unfocused window, so this asks
/// egui's memory, which keeps a widget's focus while the window has none.
pub(crate) fn take_focus(response: &egui::Response) {
    if !response.ctx.memory(|m| m.has_focus(response.id)) {
        response.request_focus();
    }
}

/// A turning arc that says "working on it", redrawn 20 times a second.
///
/// Not `egui::Spinner`: that asks for the next frame at once, every frame.
/// Under X11 eframe then paints a window that winit does not yet count as
/// shown (no VisibilityNotify read yet) in a loop that never returns to
/// the event queue, so the window ignores every key and click for good.
/// A frame at a set time lets the event loop run in between.
pub(crate) fn busy_indicator(ui: &mut Ui) {
    let size = ui.style().spacing.interact_size.y;
    let (rect, response) = ui.allocate_exact_size(egui::vec2(size, size), egui::Sense::hover());
    response.widget_info(|| egui::WidgetInfo::new(egui::Role::ProgressIndicator));
    if !ui.is_rect_visible(rect) {
        return;
    }
    let time = ui.input(|i| i.time);
    let radius = rect.height() * 0.5 - 2.0;
    let start = time * std::f64::consts::TAU;
    let points: Vec<egui::Pos2> = (0..=16)
        .map(|k| {
            let angle = start + f64::from(k) / 16.0 * 240f64.to_radians();
            let (sin, cos) = angle.sin_cos();
            rect.center() + radius * egui::vec2(cos as f32, sin as f32)
        })
        .collect();
    let color = ui.visuals().strong_text_color();
    ui.painter()
        .add(egui::Shape::line(points, egui::Stroke::new(3.0, color)));
    ui.ctx().request_repaint_after(Duration::from_millis(50));
}

/// `HH:MM` in local time.
fn local_time(at_ms: i64) -> String {
    use chrono::TimeZone as _;
    chrono::Local
        .timestamp_millis_opt(at_ms)
        .single()
        .map(|t| t.format("%H:%M").to_string())
        .unwrap_or_default()
}

/// The window's look: readable defaults; our own Ctrl +/− for the chat.
pub fn setup_context(ctx: &egui::Context) {
    ctx.options_mut(|o| o.zoom_with_keyboard = false);
    ctx.set_visuals(egui::Visuals::light());
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;
