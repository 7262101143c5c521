//! The console window (egui). It only reads the shared [`Core`] and draws;
//! everything it wants done goes to the network task as a [`Request`].
//! No IO happens on this thread.
//!
//! [`Core`]: crate::core::Core

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Color32, ColorImage, Key, RichText, Sense, TextureHandle, TextureOptions, Vec2};
use lotse_link::Pin;
use lotse_protocol::{InputEvent, MouseButton, Role};
use tokio::sync::mpsc;

use crate::core::{
    Command, Control, Event, FileState, NoticeChoice, ScreenPatch, Session, Share, topic_name,
};
use crate::i18n::{Language, Strings};
use crate::net::{self, EngineHandle, Request, Update};

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
    /// Scale the screen to fit (true) or show it 1:1.
    fit: bool,
    texture: Option<TextureHandle>,
    last_pointer: Option<(i32, i32)>,
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
                let dir = self.default_dir.clone();
                self.tabs.entry(session).or_insert_with(|| Tab {
                    fit: true,
                    save_dir: dir,
                    ..Tab::default()
                });
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

    fn apply_patch(&mut self, ctx: &egui::Context, patch: ScreenPatch) {
        let tab = self.tabs.entry(patch.session).or_default();
        let size = [patch.width as usize, patch.height as usize];
        let same_size = tab.texture.as_ref().is_some_and(|t| t.size() == size);
        if same_size {
            if let Some(tex) = &mut tab.texture {
                for (r, px) in &patch.rects {
                    if r.w == 0 || r.h == 0 {
                        continue;
                    }
                    let image =
                        ColorImage::from_rgba_unmultiplied([r.w as usize, r.h as usize], px);
                    tex.set_partial([r.x as usize, r.y as usize], image, TextureOptions::LINEAR);
                }
            }
            return;
        }
        // New or resized screen: upload it whole once.
        let core = self.engine.core();
        let Some(s) = core.sessions.get(&patch.session) else {
            return;
        };
        if s.screen.is_empty() {
            return;
        }
        let image = ColorImage::from_rgba_unmultiplied(size, s.screen.rgba());
        drop(core);
        tab.texture = Some(ctx.load_texture(
            format!("screen-{}", patch.session),
            image,
            TextureOptions::LINEAR,
        ));
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
            egui::CentralPanel::default().show(ui, |ui| self.login_form(ui));
            return;
        }
        egui::Panel::top("status").show(ui, |ui| self.top_bar(ui));
        egui::Panel::left("queue")
            .default_size(300.0)
            .show(ui, |ui| self.queue(ui));
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

    fn top_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
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

    fn session_tab(&mut self, ui: &mut egui::Ui, id: u64) {
        let dir = self.default_dir.clone();
        self.tabs.entry(id).or_insert_with(|| Tab {
            fit: true,
            save_dir: dir,
            ..Tab::default()
        });
        let core = self.engine.core();
        let Some(s) = core.sessions.get(&id) else {
            return;
        };
        let view = SessionSnapshot::of(s, &core.notices);
        drop(core);

        egui::Panel::right(("side", id))
            .default_size(380.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt(("side-scroll", id))
                    .show(ui, |ui| self.side(ui, id, &view));
            });
        egui::CentralPanel::default().show(ui, |ui| self.screen(ui, id, &view));
    }

    fn side(&mut self, ui: &mut egui::Ui, id: u64, v: &SessionSnapshot) {
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
            ui.colored_label(
                Color32::GRAY,
                self.t.fmt("session-ended", &[("reason", reason)]),
            );
            if ui.button(self.t.get("session-close")).clicked() {
                self.command(Command::Close { session: id });
                self.tabs.remove(&id);
                self.selected = None;
            }
        }
        let live = v.ended.is_none();

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

        ui.separator();
        self.chat(ui, id, v, live);
        ui.separator();
        self.notices(ui, id, v, live);
        ui.separator();
        self.files(ui, id, v, live);
        ui.separator();
        egui::CollapsingHeader::new(self.t.get("consent-title"))
            .id_salt(("consents", id))
            .show(ui, |ui| {
                for (topic, granted) in &v.grants {
                    let state = if *granted {
                        self.t.get("state-granted")
                    } else {
                        self.t.get("state-refused")
                    };
                    ui.label(format!("{}: {state}", self.topic_label(topic)));
                }
                ui.separator();
                ui.label(self.t.get("consent-history"));
                for (topic, granted, at) in &v.history {
                    let state = if *granted {
                        self.t.get("state-granted")
                    } else {
                        self.t.get("state-refused")
                    };
                    ui.label(format!("{at}  {}: {state}", self.topic_label(topic)));
                }
            });
    }

    fn topic_label(&self, topic: &str) -> String {
        self.t.get(&format!("topic-{}", topic.replace('_', "-")))
    }

    fn chat(&mut self, ui: &mut egui::Ui, id: u64, v: &SessionSnapshot, live: bool) {
        ui.label(RichText::new(self.t.get("chat-title")).strong());
        egui::ScrollArea::vertical()
            .id_salt(("chat", id))
            .max_height(240.0)
            .stick_to_bottom(true)
            .show(ui, |ui| {
                for (from, text, mine) in &v.chat {
                    let who = RichText::new(format!("{from}:")).strong();
                    let who = if *mine {
                        who.color(Color32::from_rgb(40, 110, 200))
                    } else {
                        who
                    };
                    ui.horizontal_wrapped(|ui| {
                        ui.label(who);
                        ui.label(text);
                    });
                }
            });
        let Some(tab) = self.tabs.get_mut(&id) else {
            return;
        };
        let mut send = false;
        ui.add_enabled_ui(live, |ui| {
            ui.horizontal(|ui| {
                let label = ui.label(self.t.get("chat-message"));
                let r = ui
                    .add(egui::TextEdit::singleline(&mut tab.draft).desired_width(220.0))
                    .labelled_by(label.id);
                if r.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter)) {
                    send = true;
                    r.request_focus();
                }
                if ui.button(self.t.get("chat-send")).clicked() {
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
        ui.label(RichText::new(self.t.get("notice-title")).strong());
        let Some(tab) = self.tabs.get_mut(&id) else {
            return;
        };
        let mut choice = None;
        ui.add_enabled_ui(live, |ui| {
            if !v.notices.is_empty() {
                ui.horizontal(|ui| {
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
            ui.horizontal(|ui| {
                let label = ui.label(self.t.get("notice-custom"));
                ui.add(egui::TextEdit::singleline(&mut tab.custom_notice).desired_width(200.0))
                    .labelled_by(label.id);
                if ui
                    .add_enabled(
                        !tab.custom_notice.trim().is_empty(),
                        egui::Button::new(self.t.get("notice-send-custom")),
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
        ui.label(RichText::new(self.t.get("files-title")).strong());
        let Some(tab) = self.tabs.get_mut(&id) else {
            return;
        };
        ui.horizontal(|ui| {
            let label = ui.label(self.t.get("files-folder"));
            ui.add(egui::TextEdit::singleline(&mut tab.save_dir).desired_width(220.0))
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
        let Some(tab) = self.tabs.get_mut(&id) else {
            return;
        };
        ui.horizontal(|ui| {
            ui.checkbox(&mut tab.fit, self.t.get("screen-fit"));
            if in_control {
                ui.label(
                    RichText::new(self.t.get("screen-in-control"))
                        .strong()
                        .color(Color32::WHITE)
                        .background_color(Color32::from_rgb(190, 30, 30)),
                );
            }
        });
        let Some(texture) = tab.texture.clone() else {
            ui.centered_and_justified(|ui| {
                ui.label(if v.share == Share::On {
                    self.t.get("screen-waiting")
                } else {
                    self.t.get("screen-none")
                });
            });
            return;
        };
        let [w, h] = texture.size();
        let native = Vec2::new(w as f32, h as f32);
        let mut events = Vec::new();
        let mut release = false;
        egui::ScrollArea::both()
            .id_salt(("screen", id))
            .show(ui, |ui| {
                let size = if tab.fit {
                    let avail = ui.available_size();
                    let scale = (avail.x / native.x)
                        .min(avail.y / native.y)
                        .clamp(0.05, 4.0);
                    native * scale
                } else {
                    native
                };
                let sense = if in_control {
                    Sense::click()
                } else {
                    Sense::hover()
                };
                let response = ui.add(
                    egui::Image::from_texture(egui::load::SizedTexture::new(texture.id(), size))
                        .alt_text(self.t.get("screen-label"))
                        .sense(sense),
                );
                if in_control {
                    // Keys go to the customer while the screen has the
                    // keyboard focus (click it); the chat keeps its own.
                    if response.clicked() {
                        response.request_focus();
                    }
                    let keyboard = response.has_focus();
                    let rect = response.rect;
                    // A red frame: what happens here happens on the customer's machine.
                    ui.painter().rect_stroke(
                        rect,
                        0.0,
                        egui::Stroke::new(3.0, Color32::from_rgb(190, 30, 30)),
                        egui::StrokeKind::Outside,
                    );
                    ui.input(|i| {
                        if i.key_pressed(RELEASE_KEY) {
                            release = true;
                            return;
                        }
                        if let Some(pos) = i.pointer.hover_pos()
                            && rect.contains(pos)
                        {
                            let x = ((pos.x - rect.min.x) / rect.width() * native.x) as i32;
                            let y = ((pos.y - rect.min.y) / rect.height() * native.y) as i32;
                            if tab.last_pointer != Some((x, y)) {
                                tab.last_pointer = Some((x, y));
                                events.push(InputEvent::MouseMove { x, y });
                            }
                            for e in &i.events {
                                if let egui::Event::PointerButton {
                                    button, pressed, ..
                                } = e
                                {
                                    let button = match button {
                                        egui::PointerButton::Secondary => MouseButton::Right,
                                        egui::PointerButton::Middle => MouseButton::Middle,
                                        _ => MouseButton::Left,
                                    };
                                    events.push(InputEvent::MouseButton {
                                        button,
                                        down: *pressed,
                                    });
                                }
                                if let egui::Event::MouseWheel { delta, .. } = e {
                                    events.push(InputEvent::Wheel {
                                        dx: delta.x.round() as i32,
                                        dy: delta.y.round() as i32,
                                    });
                                }
                            }
                        }
                        for e in i.events.iter().filter(|_| keyboard) {
                            match e {
                                egui::Event::Text(text) => {
                                    events.push(InputEvent::Text { text: text.clone() });
                                }
                                egui::Event::Key {
                                    key,
                                    pressed,
                                    repeat: false,
                                    modifiers,
                                    ..
                                } => {
                                    if let Some(name) = key_name(*key, modifiers) {
                                        events.extend(key_events(name, *pressed, modifiers));
                                    }
                                }
                                _ => {}
                            }
                        }
                    });
                }
            });
        if release {
            self.command(Command::ReleaseControl { session: id });
        } else {
            for event in events {
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
    chat: Vec<(String, String, bool)>,
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
            chat: s
                .chat
                .iter()
                .map(|c| (c.from.clone(), c.text.clone(), c.role == Role::Technician))
                .collect(),
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
