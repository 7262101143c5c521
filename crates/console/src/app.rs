//! The console window (egui). It only reads the shared [`Core`] and draws;
//! everything it wants done goes to the network task as a [`Request`].
//! No IO happens on this thread.
//!
//! [`Core`]: crate::core::Core

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Color32, Key, RichText};
use lotse_link::Pin;
use lotse_protocol::{InputEvent, Role};
use tokio::sync::mpsc;

use crate::core::{
    Command, Control, Event, FileState, NoticeChoice, ScreenPatch, Session, Share, topic_name,
};
use crate::i18n::{Language, Strings};
use crate::net::{self, EngineHandle, Request, Update};
use crate::transcript::Entry;

mod picture;
mod screen_view;
mod transcript_view;

use picture::Picture;
use screen_view::{ScreenView, Zoom};

/// The key that always takes control back from the technician's input
/// forwarding (it is never forwarded itself).
pub const RELEASE_KEY: Key = Key::F12;

/// Start the window and run until it is closed.
pub fn run(
    runtime: &tokio::runtime::Runtime,
    relay: Option<String>,
    pin: Option<String>,
    lang: Option<String>,
) -> anyhow::Result<()> {
    let strings = Strings::new(Language::detect(lang.as_deref()));
    let title = strings.get("app-title");
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(title.clone())
            .with_inner_size([1200.0, 800.0]),
        ..Default::default()
    };
    let handle = runtime.handle().clone();
    eframe::run_native(
        &title,
        options,
        Box::new(move |cc| {
            let ctx = cc.egui_ctx.clone();
            let wake: net::Wake = Arc::new(move || ctx.request_repaint());
            let (engine, updates) = net::spawn(&handle, true, wake);
            Ok(Box::new(ConsoleApp::new(
                engine, updates, strings, relay, pin,
            )))
        }),
    )
    .map_err(|e| anyhow::anyhow!("the window could not be opened: {e}"))
}

/// Per-session things only the window needs.
#[derive(Default)]
struct Tab {
    draft: String,
    custom_notice: String,
    picked_notice: Option<String>,
    save_dir: String,
    screen: ScreenView,
    /// Customer chat lines seen while the chat was open (the rest are new).
    seen_lines: usize,
}

/// The login form.
#[derive(Default)]
struct LoginForm {
    url: String,
    pin: String,
    user: String,
    password: String,
    busy: bool,
    /// The certificate hash the relay presented (trust on first use).
    presented: Option<String>,
}

pub struct ConsoleApp {
    engine: EngineHandle,
    updates: mpsc::Receiver<Update>,
    t: Strings,
    login: LoginForm,
    logged_in: bool,
    connected: bool,
    status: Option<String>,
    error: Option<String>,
    selected: Option<u64>,
    tabs: BTreeMap<u64, Tab>,
    queue_at: Instant,
    profile_name: String,
    avatar_path: String,
    default_dir: String,
    /// The queue panel is open.
    queue_open: bool,
    /// The chat and tools panel beside the screen is open (in the window,
    /// and in full screen: there it starts closed).
    side_open: bool,
    side_open_full: bool,
    /// The screen fills the whole (full-screen) window.
    fullscreen: bool,
}

impl ConsoleApp {
    pub fn new(
        engine: EngineHandle,
        updates: mpsc::Receiver<Update>,
        t: Strings,
        relay: Option<String>,
        pin: Option<String>,
    ) -> Self {
        let default_dir = std::env::var("HOME")
            .map(|h| format!("{h}/Downloads"))
            .unwrap_or_default();
        Self {
            engine,
            updates,
            t,
            login: LoginForm {
                url: relay.unwrap_or_default(),
                pin: pin.unwrap_or_default(),
                ..LoginForm::default()
            },
            logged_in: false,
            connected: false,
            status: None,
            error: None,
            selected: None,
            tabs: BTreeMap::new(),
            queue_at: Instant::now(),
            profile_name: String::new(),
            avatar_path: String::new(),
            default_dir,
            queue_open: true,
            side_open: true,
            side_open_full: false,
            fullscreen: false,
        }
    }

    fn request(&mut self, request: Request) {
        if !self.engine.try_send(request) {
            self.error = Some(self.t.get("error-busy"));
        }
    }

    fn command(&mut self, command: Command) {
        self.request(Request::Command(command));
    }

    /// Take in what the network task reported (also used by tests).
    pub fn apply(&mut self, ctx: &egui::Context, update: Update) {
        match update {
            Update::Patch(patch) => self.apply_patch(ctx, patch),
            Update::Event(event) => self.apply_event(event),
        }
    }

    fn apply_event(&mut self, event: Event) {
        match event {
            Event::Certificate { sha256 } => {
                if self.login.pin.trim().is_empty() {
                    self.login.pin.clone_from(&sha256);
                }
                self.login.presented = Some(sha256);
            }
            Event::LoggedIn { display_name } => {
                self.logged_in = true;
                self.login.busy = false;
                self.login.password.clear();
                self.error = None;
                self.profile_name = display_name;
            }
            Event::Connected { .. } => {
                self.connected = true;
                self.status = None;
            }
            Event::Disconnected { message } => {
                self.connected = false;
                self.status = Some(self.t.fmt("status-reconnecting", &[("why", &message)]));
            }
            Event::LoggedOut => {
                self.logged_in = false;
                self.connected = false;
                self.login.busy = false;
                self.tabs.clear();
                self.selected = None;
            }
            Event::Queue { .. } => self.queue_at = Instant::now(),
            Event::SessionStarted { session, .. } => {
                self.tab(session);
                self.selected = Some(session);
            }
            Event::Error { code, message, .. } => {
                self.login.busy = false;
                let text = match code.as_str() {
                    "login_failed" => self.t.get("error-login-failed"),
                    "locked_out" => self.t.fmt("error-locked-out", &[("why", &message)]),
                    "picture_too_large" => self.t.get("error-picture-too-large"),
                    _ => message,
                };
                self.error = Some(text);
            }
            Event::Saved { path, .. } => {
                self.status = Some(path.display().to_string());
            }
            _ => {}
        }
    }

    /// The window's things for session `id` (made on first use).
    fn tab(&mut self, id: u64) -> &mut Tab {
        let dir = &self.default_dir;
        self.tabs.entry(id).or_insert_with(|| Tab {
            save_dir: dir.clone(),
            ..Tab::default()
        })
    }

    fn apply_patch(&mut self, ctx: &egui::Context, patch: ScreenPatch) {
        self.tab(patch.session);
        let Some(tab) = self.tabs.get_mut(&patch.session) else {
            return;
        };
        tab.screen.set_cursor(ctx, patch.session, patch.cursor);
        let size = [patch.width as usize, patch.height as usize];
        let same_size = tab
            .screen
            .picture
            .as_ref()
            .is_some_and(|p| p.size() == size);
        if same_size {
            if let Some(picture) = &mut tab.screen.picture {
                for (r, px) in &patch.rects {
                    if r.w == 0 || r.h == 0 {
                        continue;
                    }
                    let at = (r.x as usize, r.y as usize, r.w as usize, r.h as usize);
                    picture.update(at, px);
                }
            }
            return;
        }
        // New or resized screen: upload it whole once (copied out under a
        // short lock, at the size the core has now).
        let core = self.engine.core();
        let Some(s) = core.sessions.get(&patch.session) else {
            return;
        };
        if s.screen.is_empty() {
            return;
        }
        let size = [s.screen.width() as usize, s.screen.height() as usize];
        let rgba = s.screen.rgba().to_vec();
        drop(core);
        let name = format!("screen-{}", patch.session);
        tab.screen.picture = Some(Picture::upload(ctx, &name, size, &rgba));
    }

    fn drain(&mut self, ctx: &egui::Context) {
        while let Ok(update) = self.updates.try_recv() {
            self.apply(ctx, update);
        }
    }

    /// Draw everything (also called by the UI tests).
    pub fn draw(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.drain(&ctx);
        if !self.logged_in {
            if self.fullscreen {
                self.set_fullscreen(&ctx, false);
            }
            egui::CentralPanel::default().show(ui, |ui| self.login_form(ui));
            return;
        }
        let full = self
            .selected
            .filter(|id| self.fullscreen && self.engine.core().sessions.contains_key(id));
        if let Some(id) = full {
            self.fullscreen_view(ui, id);
            return;
        }
        if self.fullscreen {
            // Its session is gone: back to the window.
            self.set_fullscreen(&ctx, false);
        }
        egui::Panel::top("status").show(ui, |ui| self.top_bar(ui));
        let mut open = self.queue_open;
        egui::Panel::left("queue")
            .resizable(true)
            .default_size(260.0)
            .size_range(180.0..=480.0)
            .show_collapsible(ui, &mut open, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("queue-scroll")
                    .show(ui, |ui| self.queue(ui));
            });
        self.queue_open = open;
        egui::CentralPanel::default().show(ui, |ui| self.sessions(ui));
        if !self.engine.core().queue.is_empty() {
            // Waiting times tick in the list.
            ctx.request_repaint_after(Duration::from_secs(1));
        }
    }

    fn labelled_text(
        ui: &mut egui::Ui,
        label: &str,
        value: &mut String,
        password: bool,
    ) -> egui::Response {
        let l = ui.label(label);
        ui.add(
            egui::TextEdit::singleline(value)
                .password(password)
                .desired_width(360.0),
        )
        .labelled_by(l.id)
    }

    fn login_form(&mut self, ui: &mut egui::Ui) {
        ui.heading(self.t.get("login-title"));
        ui.add_space(8.0);
        egui::Grid::new("login").num_columns(2).show(ui, |ui| {
            Self::labelled_text(ui, &self.t.get("login-relay"), &mut self.login.url, false);
            ui.end_row();
            Self::labelled_text(ui, &self.t.get("login-pin"), &mut self.login.pin, false);
            ui.end_row();
            Self::labelled_text(ui, &self.t.get("login-user"), &mut self.login.user, false);
            ui.end_row();
            let pw = Self::labelled_text(
                ui,
                &self.t.get("login-password"),
                &mut self.login.password,
                true,
            );
            ui.end_row();
            if pw.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter)) {
                self.submit_login();
            }
        });
        ui.small(self.t.get("login-pin-hint"));
        if let Some(sha) = &self.login.presented {
            ui.label(self.t.fmt("login-presented", &[("sha256", sha)]));
        }
        ui.horizontal(|ui| {
            let can = !self.login.busy;
            if ui
                .add_enabled(can, egui::Button::new(self.t.get("login-button")))
                .clicked()
            {
                self.submit_login();
            }
            if ui
                .add_enabled(
                    can && !self.login.url.trim().is_empty(),
                    egui::Button::new(self.t.get("login-fetch-certificate")),
                )
                .clicked()
            {
                let url = self.login.url.clone();
                self.login.pin.clear();
                self.request(Request::FetchCertificate { url });
            }
            if self.login.busy {
                // Text, not a spinner: a spinner repaints every frame.
                ui.label(self.t.get("login-busy"));
            }
        });
        self.error_line(ui);
    }

    fn submit_login(&mut self) {
        let pin = self.login.pin.trim();
        let pin = if pin.is_empty() {
            None
        } else {
            match Pin::from_hex(pin) {
                Ok(p) => Some(p),
                Err(_) => {
                    self.error = Some(self.t.get("error-bad-pin"));
                    return;
                }
            }
        };
        if self.login.url.trim().is_empty() || self.login.user.trim().is_empty() {
            self.error = Some(self.t.get("error-missing-fields"));
            return;
        }
        self.error = None;
        self.login.busy = true;
        let request = Request::Login {
            url: self.login.url.trim().to_owned(),
            pin,
            user: self.login.user.trim().to_owned(),
            password: self.login.password.clone(),
        };
        self.request(request);
    }

    fn error_line(&mut self, ui: &mut egui::Ui) {
        if let Some(e) = self.error.clone() {
            ui.horizontal(|ui| {
                ui.colored_label(Color32::from_rgb(200, 40, 40), e);
                if ui.small_button(self.t.get("dismiss")).clicked() {
                    self.error = None;
                }
            });
        }
    }

    fn set_fullscreen(&mut self, ctx: &egui::Context, on: bool) {
        self.fullscreen = on;
        ctx.send_viewport_cmd(egui::ViewportCommand::Fullscreen(on));
    }

    fn top_bar(&mut self, ui: &mut egui::Ui) {
        // Wrapped: Log out stays reachable in a narrow window.
        ui.horizontal_wrapped(|ui| {
            let waiting = self.engine.core().queue.len();
            let toggle = if self.queue_open {
                self.t.get("queue-hide")
            } else {
                self.t.fmt("queue-show", &[("count", &waiting.to_string())])
            };
            if ui.selectable_label(self.queue_open, toggle).clicked() {
                self.queue_open = !self.queue_open;
            }
            ui.strong(self.t.get("app-title"));
            let state = if self.connected {
                self.t.get("status-connected")
            } else {
                self.t.get("status-offline")
            };
            ui.label(state);
            if let Some(s) = &self.status {
                ui.label(s.clone());
            }
            ui.separator();
            Self::labelled_text(
                ui,
                &self.t.get("profile-name"),
                &mut self.profile_name,
                false,
            );
            Self::labelled_text(
                ui,
                &self.t.get("profile-avatar"),
                &mut self.avatar_path,
                false,
            );
            if ui.button(self.t.get("profile-send")).clicked() {
                let display_name = self.profile_name.clone();
                let path = self.avatar_path.trim().to_owned();
                if path.is_empty() {
                    self.command(Command::Profile {
                        display_name,
                        avatar: None,
                    });
                } else {
                    self.request(Request::ProfileWithAvatar {
                        display_name,
                        path: path.into(),
                    });
                }
            }
            if ui.button(self.t.get("logout")).clicked() {
                self.request(Request::Logout);
            }
        });
        self.error_line(ui);
    }

    fn queue(&mut self, ui: &mut egui::Ui) {
        ui.heading(self.t.get("queue-title"));
        let entries = self.engine.core().queue.clone();
        if entries.is_empty() {
            ui.label(self.t.get("queue-empty"));
        }
        let elapsed = self.queue_at.elapsed().as_secs();
        let mut accept = None;
        for e in &entries {
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.strong(&e.name);
                if let Some(p) = &e.problem {
                    ui.label(p);
                }
                let kind = match e.role {
                    Role::WebCustomer => self.t.get("queue-kind-web"),
                    _ => self.t.get("queue-kind-client"),
                };
                let wait = format_wait(e.waiting_secs + elapsed);
                ui.label(
                    self.t
                        .fmt("queue-waiting", &[("secs", &wait), ("kind", &kind)]),
                );
                if ui
                    .button(self.t.fmt("queue-accept", &[("name", &e.name)]))
                    .clicked()
                {
                    accept = Some(e.session);
                }
            });
        }
        let not_listed = self.engine.core().queue_not_listed;
        if not_listed > 0 {
            ui.label(
                self.t
                    .fmt("queue-more", &[("count", &not_listed.to_string())]),
            );
        }
        if let Some(session) = accept {
            self.command(Command::Accept { session });
        }
    }

    fn sessions(&mut self, ui: &mut egui::Ui) {
        let names: Vec<(u64, String, bool)> = self
            .engine
            .core()
            .sessions
            .values()
            .map(|s| (s.id, s.customer_name.clone(), s.ended.is_some()))
            .collect();
        if names.is_empty() {
            ui.label(self.t.get("sessions-none"));
            return;
        }
        ui.horizontal_wrapped(|ui| {
            for (id, name, ended) in &names {
                let label = if *ended {
                    self.t.fmt("tab-ended", &[("name", name)])
                } else {
                    name.clone()
                };
                if ui
                    .selectable_label(self.selected == Some(*id), label)
                    .clicked()
                {
                    self.selected = Some(*id);
                }
            }
        });
        ui.separator();
        let Some(id) = self
            .selected
            .filter(|id| names.iter().any(|(n, _, _)| n == id))
        else {
            return;
        };
        self.session_tab(ui, id);
    }

    fn snapshot(&self, id: u64) -> Option<SessionSnapshot> {
        let core = self.engine.core();
        let s = core.sessions.get(&id)?;
        Some(SessionSnapshot::of(s, &core.notices))
    }

    fn session_tab(&mut self, ui: &mut egui::Ui, id: u64) {
        let Some(view) = self.snapshot(id) else {
            return;
        };
        self.side_panel(ui, id, &view);
        egui::CentralPanel::default().show(ui, |ui| {
            self.screen_toolbar(ui, id, &view);
            self.screen(ui, id, &view);
        });
    }

    /// The chat and tools beside the screen: resizable, and collapsible
    /// so the screen gets the whole width.
    fn side_panel(&mut self, ui: &mut egui::Ui, id: u64, view: &SessionSnapshot) {
        let max = (ui.available_width() * 0.7).max(280.0);
        let mut open = *self.side_open();
        egui::Panel::right("side")
            .resizable(true)
            .default_size(360.0)
            .size_range(260.0..=max)
            .show_collapsible(ui, &mut open, |ui| self.side(ui, id, view));
        *self.side_open() = open;
        if open {
            self.tab(id).seen_lines = view.customer_lines;
        }
    }

    /// Whether the chat and tools show (in the window or in full screen).
    fn side_open(&mut self) -> &mut bool {
        if self.fullscreen {
            &mut self.side_open_full
        } else {
            &mut self.side_open
        }
    }

    /// Customer lines that came while the chat was closed.
    fn unread(&self, id: u64, v: &SessionSnapshot) -> usize {
        let seen = self.tabs.get(&id).map_or(0, |t| t.seen_lines);
        v.customer_lines.saturating_sub(seen)
    }

    /// The label of the chat panel's switch.
    fn side_toggle_label(&mut self, id: u64, v: &SessionSnapshot, short: bool) -> String {
        let unread = self.unread(id, v);
        match (*self.side_open(), short, unread) {
            (true, true, _) => self.t.get("toolbar-chat-hide"),
            (true, false, _) => self.t.get("side-hide"),
            (false, true, 0) => self.t.get("toolbar-chat-show"),
            (false, false, 0) => self.t.get("side-show"),
            (false, true, n) => self
                .t
                .fmt("toolbar-chat-unread", &[("count", &n.to_string())]),
            (false, false, n) => self.t.fmt("side-show-unread", &[("count", &n.to_string())]),
        }
    }

    /// Above the screen: fit or 1:1, full screen, the chat panel, and the
    /// IN CONTROL banner.
    fn screen_toolbar(&mut self, ui: &mut egui::Ui, id: u64, v: &SessionSnapshot) {
        let in_control = v.control == Control::On && v.ended.is_none();
        let side = self.side_toggle_label(id, v, false);
        ui.horizontal_wrapped(|ui| {
            self.zoom_buttons(ui, id);
            if ui.button(self.t.get("screen-fullscreen")).clicked() {
                self.set_fullscreen(ui.ctx(), true);
            }
            if ui.selectable_label(self.side_open, side).clicked() {
                self.side_open = !self.side_open;
            }
            if in_control {
                ui.label(
                    RichText::new(self.t.get("screen-in-control"))
                        .strong()
                        .color(Color32::WHITE)
                        .background_color(Color32::from_rgb(190, 30, 30)),
                );
            }
        });
    }

    /// Fit to window / actual size, and the scale the screen is drawn at.
    fn zoom_buttons(&mut self, ui: &mut egui::Ui, id: u64) {
        let fit = self.t.get("screen-fit");
        let actual = self.t.get("screen-actual");
        let tab = self.tab(id);
        ui.selectable_value(&mut tab.screen.zoom, Zoom::Fit, fit);
        ui.selectable_value(&mut tab.screen.zoom, Zoom::Actual, actual);
        let scale = tab.screen.scale * ui.ctx().pixels_per_point();
        if tab.screen.picture.is_some() && scale > 0.0 {
            let percent = format!("{:.0}", scale * 100.0);
            ui.label(self.t.fmt("screen-zoom", &[("percent", &percent)]));
        }
    }

    /// Full screen: the customer's screen in the whole window, a small
    /// floating toolbar over it, and the chat panel when switched on.
    fn fullscreen_view(&mut self, ui: &mut egui::Ui, id: u64) {
        let Some(view) = self.snapshot(id) else {
            return;
        };
        let ctx = ui.ctx().clone();
        let in_control = view.control == Control::On && view.ended.is_none();
        // Escape leaves full screen, unless it belongs to the customer.
        if !in_control && ui.input(|i| i.key_pressed(Key::Escape)) {
            self.set_fullscreen(&ctx, false);
        }
        self.side_panel(ui, id, &view);
        let screen = egui::CentralPanel::default()
            .frame(egui::Frame::NONE.fill(Color32::from_gray(24)))
            .show(ui, |ui| self.screen(ui, id, &view))
            .response
            .rect;
        egui::Area::new(ui.make_persistent_id(("fullscreen-toolbar", id)))
            .order(egui::Order::Foreground)
            .fixed_pos(screen.center_top() + egui::vec2(0.0, 6.0))
            .pivot(egui::Align2::CENTER_TOP)
            .show(&ctx, |ui| {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    ui.horizontal(|ui| self.floating_toolbar(ui, id, &view));
                });
            });
    }

    fn floating_toolbar(&mut self, ui: &mut egui::Ui, id: u64, v: &SessionSnapshot) {
        ui.strong(&v.name);
        let live = v.ended.is_none();
        if v.control == Control::On && live {
            ui.label(
                RichText::new(self.t.get("screen-in-control"))
                    .strong()
                    .color(Color32::WHITE)
                    .background_color(Color32::from_rgb(190, 30, 30)),
            );
            if ui.button(self.t.get("session-release-control")).clicked() {
                self.command(Command::ReleaseControl { session: id });
            }
        } else if v.share == Share::On
            && live
            && ui
                .add_enabled(
                    v.control == Control::Off,
                    egui::Button::new(self.t.get("session-request-control")),
                )
                .clicked()
        {
            self.command(Command::RequestControl { session: id });
        }
        if v.share == Share::On && live && ui.button(self.t.get("session-stop-share")).clicked() {
            self.command(Command::StopShare { session: id });
        }
        let chat = self.side_toggle_label(id, v, true);
        if ui.selectable_label(self.side_open_full, chat).clicked() {
            self.side_open_full = !self.side_open_full;
        }
        self.zoom_buttons(ui, id);
        if ui.button(self.t.get("screen-exit-fullscreen")).clicked() {
            self.set_fullscreen(ui.ctx(), false);
        }
    }

    /// The side panel: who, actions, state; the tools; the transcript
    /// filling the rest; the message line at the bottom.
    fn side(&mut self, ui: &mut egui::Ui, id: u64, v: &SessionSnapshot) {
        let live = v.ended.is_none();
        egui::ScrollArea::vertical()
            .id_salt(("side-head-scroll", id))
            .max_height(ui.available_height() * 0.5)
            .show(ui, |ui| self.side_head(ui, id, v, live));
        ui.separator();
        ui.with_layout(egui::Layout::bottom_up(egui::Align::Min), |ui| {
            self.compose(ui, id, live);
            ui.separator();
            ui.with_layout(egui::Layout::top_down(egui::Align::Min), |ui| {
                self.chat(ui, id, v);
            });
        });
    }

    fn side_head(&mut self, ui: &mut egui::Ui, id: u64, v: &SessionSnapshot, live: bool) {
        ui.heading(&v.name);
        if let Some(p) = &v.problem {
            ui.label(p);
        }
        if v.peer_away {
            ui.colored_label(
                Color32::from_rgb(200, 140, 0),
                self.t.get("session-peer-away"),
            );
        }
        if v.paused && v.share == Share::On {
            ui.colored_label(Color32::from_rgb(200, 140, 0), self.t.get("session-paused"));
        }
        if let Some(reason) = &v.ended {
            let reason = transcript_view::end_reason(&self.t, reason);
            ui.colored_label(
                Color32::GRAY,
                self.t.fmt("session-ended", &[("reason", &reason)]),
            );
            if ui.button(self.t.get("session-close")).clicked() {
                self.command(Command::Close { session: id });
                self.tabs.remove(&id);
                self.selected = None;
            }
        }

        // Actions.
        ui.horizontal_wrapped(|ui| {
            ui.add_enabled_ui(live, |ui| {
                if ui.button(self.t.get("session-nudge")).clicked() {
                    self.command(Command::Nudge { session: id });
                }
                match v.share {
                    Share::On => {
                        if ui.button(self.t.get("session-stop-share")).clicked() {
                            self.command(Command::StopShare { session: id });
                        }
                    }
                    _ => {
                        if ui.button(self.t.get("session-request-share")).clicked() {
                            self.command(Command::RequestShare { session: id });
                        }
                    }
                }
                match v.control {
                    Control::On => {
                        if ui.button(self.t.get("session-release-control")).clicked() {
                            self.command(Command::ReleaseControl { session: id });
                        }
                    }
                    _ => {
                        if ui
                            .add_enabled(
                                v.share == Share::On,
                                egui::Button::new(self.t.get("session-request-control")),
                            )
                            .clicked()
                        {
                            self.command(Command::RequestControl { session: id });
                        }
                    }
                }
                if v.role == Role::WebCustomer && ui.button(self.t.get("session-elevate")).clicked()
                {
                    self.command(Command::Elevate { session: id });
                }
                if ui.button(self.t.get("session-hand-back")).clicked() {
                    self.command(Command::HandBack { session: id });
                }
                if ui.button(self.t.get("session-end")).clicked() {
                    self.command(Command::End { session: id });
                }
            });
        });
        let share_state = match v.share {
            Share::Off => self.t.get("state-off"),
            Share::Requested => self.t.get("state-asked"),
            Share::On => self.t.get("state-granted"),
        };
        let control_state = match v.control {
            Control::Off => self.t.get("state-off"),
            Control::Requested => self.t.get("state-asked"),
            Control::On => self.t.get("state-granted"),
        };
        ui.label(
            self.t
                .fmt("session-share-state", &[("state", &share_state)]),
        );
        ui.label(
            self.t
                .fmt("session-control-state", &[("state", &control_state)]),
        );

        egui::CollapsingHeader::new(self.t.get("notice-title"))
            .id_salt(("notices", id))
            .default_open(true)
            .show(ui, |ui| self.notices(ui, id, v, live));
        egui::CollapsingHeader::new(self.t.get("files-title"))
            .id_salt(("files", id))
            .default_open(true)
            .show(ui, |ui| self.files(ui, id, v, live));
        egui::CollapsingHeader::new(self.t.get("consent-title"))
            .id_salt(("consents", id))
            .show(ui, |ui| {
                for (topic, granted) in &v.grants {
                    let state = if *granted {
                        self.t.get("state-granted")
                    } else {
                        self.t.get("state-refused")
                    };
                    ui.label(format!("{}: {state}", topic_label(&self.t, topic)));
                }
                ui.separator();
                ui.label(self.t.get("consent-history"));
                for (topic, granted, at) in &v.history {
                    let state = if *granted {
                        self.t.get("state-granted")
                    } else {
                        self.t.get("state-refused")
                    };
                    ui.label(format!("{at}  {}: {state}", topic_label(&self.t, topic)));
                }
            });
    }

    /// The transcript: chat and the session's events, each with its time.
    fn chat(&mut self, ui: &mut egui::Ui, id: u64, v: &SessionSnapshot) {
        ui.horizontal(|ui| {
            ui.label(RichText::new(self.t.get("chat-title")).strong());
            if ui.small_button(self.t.get("chat-copy")).clicked() {
                let text = transcript_view::plain_all(&self.t, &v.name, &v.transcript);
                ui.ctx().copy_text(text);
            }
        });
        egui::ScrollArea::vertical()
            .id_salt(("chat", id))
            .auto_shrink(false)
            .stick_to_bottom(true)
            .show(ui, |ui| {
                transcript_view::show(ui, &self.t, &v.name, &v.transcript);
            });
    }

    fn compose(&mut self, ui: &mut egui::Ui, id: u64, live: bool) {
        let message = self.t.get("chat-message");
        let send_label = self.t.get("chat-send");
        let tab = self.tab(id);
        let mut send = false;
        ui.add_enabled_ui(live, |ui| {
            ui.horizontal(|ui| {
                let label = ui.label(message);
                let width = (ui.available_width() - button_width(ui, &send_label)).max(120.0);
                let r = ui
                    .add(egui::TextEdit::singleline(&mut tab.draft).desired_width(width))
                    .labelled_by(label.id);
                if r.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter)) {
                    send = true;
                    r.request_focus();
                }
                if ui.button(send_label).clicked() {
                    send = true;
                }
            });
        });
        if send && !tab.draft.trim().is_empty() {
            let text = std::mem::take(&mut tab.draft);
            self.command(Command::Say { session: id, text });
        }
    }

    fn notices(&mut self, ui: &mut egui::Ui, id: u64, v: &SessionSnapshot, live: bool) {
        let Some(tab) = self.tabs.get_mut(&id) else {
            return;
        };
        let mut choice = None;
        ui.add_enabled_ui(live, |ui| {
            if !v.notices.is_empty() {
                ui.horizontal_wrapped(|ui| {
                    let selected = tab
                        .picked_notice
                        .as_ref()
                        .and_then(|p| v.notices.iter().find(|(nid, _)| nid == p))
                        .map(|(_, text)| short(text, 40))
                        .unwrap_or_else(|| self.t.get("notice-pick"));
                    egui::ComboBox::from_label(self.t.get("notice-site"))
                        .selected_text(selected)
                        .show_ui(ui, |ui| {
                            for (nid, text) in &v.notices {
                                ui.selectable_value(
                                    &mut tab.picked_notice,
                                    Some(nid.clone()),
                                    short(text, 60),
                                );
                            }
                        });
                    if ui
                        .add_enabled(
                            tab.picked_notice.is_some(),
                            egui::Button::new(self.t.get("notice-send")),
                        )
                        .clicked()
                    {
                        choice = tab.picked_notice.clone().map(NoticeChoice::Id);
                    }
                });
            }
            let label = ui.label(self.t.get("notice-custom"));
            ui.horizontal(|ui| {
                let send = self.t.get("notice-send-custom");
                let width = (ui.available_width() - button_width(ui, &send)).max(120.0);
                ui.add(egui::TextEdit::singleline(&mut tab.custom_notice).desired_width(width))
                    .labelled_by(label.id);
                if ui
                    .add_enabled(
                        !tab.custom_notice.trim().is_empty(),
                        egui::Button::new(send),
                    )
                    .clicked()
                {
                    choice = Some(NoticeChoice::Text(std::mem::take(&mut tab.custom_notice)));
                }
            });
        });
        if let Some(notice) = choice {
            self.command(Command::Notice {
                session: id,
                notice,
            });
        }
    }

    fn files(&mut self, ui: &mut egui::Ui, id: u64, v: &SessionSnapshot, live: bool) {
        let Some(tab) = self.tabs.get_mut(&id) else {
            return;
        };
        ui.horizontal(|ui| {
            let label = ui.label(self.t.get("files-folder"));
            let width = ui.available_width().max(120.0);
            ui.add(egui::TextEdit::singleline(&mut tab.save_dir).desired_width(width))
                .labelled_by(label.id);
        });
        let dir = tab.save_dir.trim().to_owned();
        let mut action = None;
        if v.files.is_empty() {
            ui.label(self.t.get("files-none"));
        }
        for f in &v.files {
            ui.label(format!("{} ({})", f.name, format_size(f.size)));
            ui.small(format!("SHA-256 {}", f.sha256));
            match &f.state {
                FileState::Offered => {
                    ui.add_enabled_ui(live, |ui| {
                        ui.horizontal(|ui| {
                            if ui
                                .button(self.t.fmt("files-accept", &[("name", &f.name)]))
                                .clicked()
                            {
                                action = Some(Command::AcceptFile {
                                    session: id,
                                    id: f.id,
                                    dir: dir.clone().into(),
                                });
                            }
                            if ui
                                .button(self.t.fmt("files-decline", &[("name", &f.name)]))
                                .clicked()
                            {
                                action = Some(Command::DeclineFile {
                                    session: id,
                                    id: f.id,
                                });
                            }
                        });
                    });
                }
                FileState::Receiving { received } => {
                    let frac = if f.size == 0 {
                        1.0
                    } else {
                        *received as f32 / f.size as f32
                    };
                    ui.add(egui::ProgressBar::new(frac).show_percentage());
                }
                FileState::Done { path, ok } => {
                    let text = match (ok, path) {
                        (true, Some(p)) => self
                            .t
                            .fmt("files-saved", &[("path", &p.display().to_string())]),
                        _ => self.t.get("files-corrupt"),
                    };
                    ui.label(text);
                }
                FileState::Declined => {
                    ui.label(self.t.get("files-declined"));
                }
                FileState::Cancelled { reason } => {
                    ui.label(self.t.fmt("files-cancelled", &[("reason", reason)]));
                }
            }
        }
        if let Some(cmd) = action {
            self.command(cmd);
        }
    }

    fn screen(&mut self, ui: &mut egui::Ui, id: u64, v: &SessionSnapshot) {
        let in_control = v.control == Control::On && v.ended.is_none();
        let label = self.t.get("screen-label");
        let waiting = if v.share == Share::On {
            self.t.get("screen-waiting")
        } else {
            self.t.get("screen-none")
        };
        let tab = self.tab(id);
        if tab.screen.picture.is_none() {
            ui.centered_and_justified(|ui| {
                ui.label(waiting);
            });
            return;
        }
        let before = tab.screen.scale;
        let forwarded = tab.screen.show(ui, id, in_control, &label);
        if tab.screen.scale != before {
            // The zoom shown above the screen follows on the next frame.
            ui.ctx().request_repaint();
        }
        if forwarded.release {
            self.command(Command::ReleaseControl { session: id });
        } else {
            for event in forwarded.events {
                self.command(Command::Input { session: id, event });
            }
        }
    }
}

/// Name of a key to forward, or `None` for keys that arrive as text.
/// With Ctrl or Alt held, letters and digits are sent as keys too.
fn key_name(key: Key, modifiers: &egui::Modifiers) -> Option<String> {
    let named = match key {
        Key::Enter => "Return",
        Key::Backspace => "BackSpace",
        Key::Tab => "Tab",
        Key::Escape => "Escape",
        Key::Delete => "Delete",
        Key::Insert => "Insert",
        Key::Home => "Home",
        Key::End => "End",
        Key::PageUp => "Page_Up",
        Key::PageDown => "Page_Down",
        Key::ArrowUp => "Up",
        Key::ArrowDown => "Down",
        Key::ArrowLeft => "Left",
        Key::ArrowRight => "Right",
        Key::F1 => "F1",
        Key::F2 => "F2",
        Key::F3 => "F3",
        Key::F4 => "F4",
        Key::F5 => "F5",
        Key::F6 => "F6",
        Key::F7 => "F7",
        Key::F8 => "F8",
        Key::F9 => "F9",
        Key::F10 => "F10",
        Key::F11 => "F11",
        _ if modifiers.ctrl || modifiers.alt || modifiers.command => {
            // The character the key types (the customer's side maps any
            // single character), else egui's name ("space", "a", "1").
            let symbol = match key {
                Key::Minus => "-",
                Key::Plus => "+",
                Key::Equals => "=",
                Key::Comma => ",",
                Key::Period => ".",
                Key::Semicolon => ";",
                Key::Colon => ":",
                Key::Slash => "/",
                Key::Backslash => "\\",
                Key::Pipe => "|",
                Key::Questionmark => "?",
                Key::Exclamationmark => "!",
                Key::OpenBracket => "[",
                Key::CloseBracket => "]",
                Key::OpenCurlyBracket => "{",
                Key::CloseCurlyBracket => "}",
                Key::Backtick => "`",
                Key::Quote => "'",
                _ => return Some(key.name().to_ascii_lowercase()),
            };
            return Some(symbol.to_owned());
        }
        _ => return None,
    };
    Some(named.to_owned())
}

/// The key events for one press or release of `name` with `modifiers`
/// held: Ctrl, Alt and Shift go down before the key and up after it (the
/// customer's side knows no modifier flags, only keys).
fn key_events(name: String, pressed: bool, modifiers: &egui::Modifiers) -> Vec<InputEvent> {
    let held: Vec<&str> = [
        (modifiers.ctrl || modifiers.command, "Control_L"),
        (modifiers.alt, "Alt_L"),
        (modifiers.shift, "Shift_L"),
    ]
    .into_iter()
    .filter_map(|(on, k)| on.then_some(k))
    .collect();
    let key = InputEvent::Key {
        key: name,
        down: pressed,
    };
    let mods = |down: bool| {
        held.iter().map(move |k| InputEvent::Key {
            key: (*k).to_owned(),
            down,
        })
    };
    if pressed {
        mods(true).chain(std::iter::once(key)).collect()
    } else {
        std::iter::once(key).chain(mods(false).rev()).collect()
    }
}

/// What one session tab draws, copied out of the core under a short lock.
struct SessionSnapshot {
    name: String,
    problem: Option<String>,
    role: Role,
    peer_away: bool,
    paused: bool,
    ended: Option<String>,
    share: Share,
    control: Control,
    /// Chat and the session's events in time order.
    transcript: Vec<Entry>,
    /// How many chat lines came from the customer (to count new ones).
    customer_lines: usize,
    grants: Vec<(String, bool)>,
    history: Vec<(String, bool, String)>,
    notices: Vec<(String, String)>,
    files: Vec<crate::core::FileView>,
}

impl SessionSnapshot {
    fn of(s: &Session, notices: &[lotse_protocol::NoticeInfo]) -> Self {
        Self {
            name: s.customer_name.clone(),
            problem: s.problem.clone(),
            role: s.role,
            peer_away: s.peer_away,
            paused: s.paused,
            ended: s.ended.clone(),
            share: s.share,
            control: s.control,
            transcript: s.transcript(),
            customer_lines: s.chat.iter().filter(|c| c.role != Role::Technician).count(),
            grants: s.current_grants().into_iter().collect(),
            history: s
                .consents
                .iter()
                .map(|c| (topic_name(c.topic), c.granted, format_time(c.at_ms)))
                .collect(),
            notices: notices
                .iter()
                .map(|n| (n.id.clone(), n.text.clone()))
                .collect(),
            files: s.files.clone(),
        }
    }
}

/// The room a button with `text` takes in a row (with the space before
/// it), so a text field beside it can take exactly the rest: a field sized
/// from the room left would otherwise widen a resizable panel frame by frame.
fn button_width(ui: &egui::Ui, text: &str) -> f32 {
    let galley = egui::WidgetText::from(text).into_galley(
        ui,
        Some(egui::TextWrapMode::Extend),
        f32::INFINITY,
        egui::TextStyle::Button,
    );
    galley.size().x + 2.0 * ui.spacing().button_padding.x + ui.spacing().item_spacing.x + 1.0
}

/// A consent topic (wire name) in words.
fn topic_label(t: &Strings, topic: &str) -> String {
    t.get(&format!("topic-{}", topic.replace('_', "-")))
}

fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(max).collect();
        s.push('…');
        s
    }
}

fn format_wait(secs: u64) -> String {
    format!("{}:{:02}", secs / 60, secs % 60)
}

fn format_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1u32 << 20)),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

/// `HH:MM:SS` (UTC) of a millisecond timestamp.
fn format_time(at_ms: i64) -> String {
    let secs = at_ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

impl eframe::App for ConsoleApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.draw(ui);
    }
}

#[cfg(test)]
mod tests;
