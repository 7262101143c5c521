//! What to share: after the customer allowed screen sharing (or pressed
//! CHANGE SHARING), this modal offers the whole screen (which monitor, when
//! there are several) or chosen applications from the open windows,
//! grouped by application with icon and window titles.
//!
//! The monitor and window lists come from the X server, so they are read on
//! a helper thread (`lotse-list-apps`), never on the UI thread. The whole
//! primary screen is preselected and the Share button has the keyboard
//! focus: Enter shares, Escape cancels.
//!
//! Where the desktop asks once more in its own dialog (Wayland), no
//! program may list windows: the picker says that the desktop asks next,
//! and offers "single windows, chosen in the desktop's dialog" only where
//! that dialog has them.

use std::collections::{BTreeSet, HashMap};
use std::sync::mpsc::{Receiver, TryRecvError, sync_channel};

use egui::{Id, RichText, ScrollArea, TextureHandle, TextureOptions, Ui};
use lotse_desktop::{AppGroup, DesktopDialog, MonitorInfo};

use crate::i18n::Tr;
use crate::share::ShareChoice;

/// Monitors and applications, as listed.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub monitors: Vec<MonitorInfo>,
    pub apps: Vec<AppGroup>,
    /// The desktop's own dialog comes next (Wayland).
    pub dialog: Option<DesktopDialog>,
}

/// What the customer selected so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selected {
    Screen(usize),
    Apps(BTreeSet<String>),
    /// Windows chosen in the desktop's own dialog.
    Windows,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Open,
    Chosen(ShareChoice),
    /// Closed without a choice (before sharing: a decline).
    Cancelled,
    /// Change mode only: stop sharing.
    Stop,
}

pub struct SharePicker {
    /// Opened from CHANGE SHARING (offers Stop sharing; Cancel keeps the share).
    pub changing: bool,
    pub listing: Option<Listing>,
    pub error: Option<String>,
    pub selected: Selected,
    loading: Option<Receiver<Result<Listing, String>>>,
    icons: HashMap<String, TextureHandle>,
    focused: bool,
}

impl SharePicker {
    /// Opens the picker and starts listing monitors and windows.
    pub fn new(ctx: &egui::Context, changing: bool) -> Self {
        let (tx, rx) = sync_channel(1);
        let repaint = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("lotse-list-apps".into())
            .spawn(move || {
                let listing = lotse_desktop::monitors()
                    .and_then(|monitors| {
                        let apps = lotse_desktop::list_apps()?;
                        let dialog = lotse_desktop::desktop_dialog();
                        Ok(Listing {
                            monitors,
                            apps,
                            dialog,
                        })
                    })
                    .map_err(|e| e.to_string());
                let _ = tx.send(listing);
                repaint.request_repaint();
            });
        let mut picker = Self::with_listing(None, changing);
        match spawned {
            Ok(_) => picker.loading = Some(rx),
            Err(e) => picker.error = Some(e.to_string()),
        }
        picker
    }

    /// A picker with a listing already there (tests).
    pub fn with_listing(listing: Option<Listing>, changing: bool) -> Self {
        let mut picker = Self {
            changing,
            listing: None,
            error: None,
            selected: Selected::Screen(0),
            loading: None,
            icons: HashMap::new(),
            focused: false,
        };
        if let Some(l) = listing {
            picker.set_listing(l);
        }
        picker
    }

    fn set_listing(&mut self, listing: Listing) {
        let primary = listing
            .monitors
            .iter()
            .find(|m| m.primary)
            .map_or(0, |m| m.index);
        self.selected = Selected::Screen(primary);
        self.listing = Some(listing);
    }

    fn poll(&mut self) {
        let Some(rx) = &self.loading else { return };
        match rx.try_recv() {
            Ok(Ok(listing)) => {
                self.loading = None;
                let apps: Vec<&str> = listing.apps.iter().map(|a| a.id.as_str()).collect();
                tracing::info!(
                    monitors = listing.monitors.len(),
                    ?apps,
                    "share picker: screens and applications listed"
                );
                self.set_listing(listing);
            }
            Ok(Err(e)) => {
                self.loading = None;
                tracing::warn!("share picker: listing failed: {e}");
                self.error = Some(e);
            }
            Err(TryRecvError::Disconnected) => self.loading = None,
            Err(TryRecvError::Empty) => {}
        }
    }

    /// The choice the Share button would make, if valid.
    pub fn choice(&self) -> Option<ShareChoice> {
        match &self.selected {
            Selected::Screen(monitor) => {
                self.listing.as_ref()?;
                Some(ShareChoice::Screen { monitor: *monitor })
            }
            Selected::Apps(apps) if !apps.is_empty() => Some(ShareChoice::Apps {
                apps: apps.iter().cloned().collect(),
            }),
            Selected::Apps(_) => None,
            Selected::Windows => Some(ShareChoice::Windows),
        }
    }

    /// Draw the picker as a modal window.
    pub fn show(&mut self, ctx: &egui::Context, tr: &Tr) -> Outcome {
        self.poll();
        let mut outcome = Outcome::Open;
        let modal = egui::Modal::new(Id::unique("lotse-share-picker")).show(ctx, |ui| {
            ui.set_width(400.0);
            outcome = self.contents(ui, tr);
        });
        if modal.should_close() && outcome == Outcome::Open {
            outcome = Outcome::Cancelled;
        }
        outcome
    }

    fn contents(&mut self, ui: &mut Ui, tr: &Tr) -> Outcome {
        let mut outcome = Outcome::Open;
        ui.heading(tr.t("share-picker-heading"));
        if let Some(e) = &self.error {
            ui.colored_label(
                egui::Color32::from_rgb(0xb0, 0x30, 0x30),
                tr.f("share-picker-error", &[("detail", e)]),
            );
        }
        match self.listing.clone() {
            None if self.error.is_none() => {
                ui.horizontal(|ui| {
                    crate::app::busy_indicator(ui);
                    ui.label(tr.t("share-picker-loading"));
                });
            }
            None => {}
            Some(listing) => self.options(ui, tr, &listing),
        }
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            let choice = self.choice();
            let share = ui.add_enabled(choice.is_some(), egui::Button::new(tr.t("button-share")));
            if !self.focused && choice.is_some() {
                crate::app::take_focus(&share);
                self.focused = share.has_focus();
                if self.focused {
                    tracing::info!("share picker: ready, Share has the keyboard focus");
                }
            }
            if share.clicked()
                && let Some(choice) = choice
            {
                outcome = Outcome::Chosen(choice);
            }
            if self.changing && ui.button(tr.t("button-stop-sharing")).clicked() {
                outcome = Outcome::Stop;
            }
            if ui.button(tr.t("button-cancel")).clicked() {
                outcome = Outcome::Cancelled;
            }
        });
        outcome
    }

    fn options(&mut self, ui: &mut Ui, tr: &Tr, listing: &Listing) {
        for m in &listing.monitors {
            let label = if listing.monitors.len() == 1 {
                tr.t("share-whole-screen")
            } else {
                tr.f(
                    "share-monitor",
                    &[
                        ("number", &(m.index + 1).to_string()),
                        ("size", &format!("{}×{}", m.width, m.height)),
                    ],
                )
            };
            let on = self.selected == Selected::Screen(m.index);
            if ui.radio(on, label).clicked() {
                self.selected = Selected::Screen(m.index);
            }
        }
        ui.add_space(6.0);
        if let Some(dialog) = listing.dialog {
            if dialog.windows {
                let on = self.selected == Selected::Windows;
                if ui.radio(on, tr.t("share-windows-by-desktop")).clicked() {
                    self.selected = Selected::Windows;
                }
            } else {
                ui.label(RichText::new(tr.t("share-only-screen-here")).weak());
            }
            ui.add_space(6.0);
            ui.label(tr.t("share-desktop-asks-next"));
            return;
        }
        let apps_on = matches!(self.selected, Selected::Apps(_));
        if ui.radio(apps_on, tr.t("share-apps")).clicked() && !apps_on {
            self.selected = Selected::Apps(BTreeSet::new());
        }
        if listing.apps.is_empty() {
            ui.label(RichText::new(tr.t("share-no-apps")).weak());
            return;
        }
        ScrollArea::vertical()
            .max_height(240.0)
            .auto_shrink([false, true])
            .show(ui, |ui| {
                for app in &listing.apps {
                    ui.horizontal(|ui| {
                        ui.add_space(18.0);
                        if let Some(tex) = self.icon(ui.ctx(), app) {
                            ui.add(
                                egui::Image::new(&tex).fit_to_exact_size(egui::vec2(20.0, 20.0)),
                            );
                        }
                        let mut checked =
                            matches!(&self.selected, Selected::Apps(s) if s.contains(&app.id));
                        let titles: Vec<&str> = app
                            .windows
                            .iter()
                            .map(|w| w.title.as_str())
                            .take(3)
                            .collect();
                        let label = if titles.is_empty() {
                            app.name.clone()
                        } else {
                            format!("{} — {}", app.id, titles.join(", "))
                        };
                        if ui.checkbox(&mut checked, label).changed() {
                            let mut set = match &self.selected {
                                Selected::Apps(s) => s.clone(),
                                Selected::Screen(_) | Selected::Windows => BTreeSet::new(),
                            };
                            if checked {
                                set.insert(app.id.clone());
                            } else {
                                set.remove(&app.id);
                            }
                            self.selected = Selected::Apps(set);
                        }
                    });
                }
            });
    }

    fn icon(&mut self, ctx: &egui::Context, app: &AppGroup) -> Option<TextureHandle> {
        if let Some(t) = self.icons.get(&app.id) {
            return Some(t.clone());
        }
        let icon = app.icon.as_ref()?;
        let (w, h) = (icon.width as usize, icon.height as usize);
        if icon.rgba.len() != w * h * 4 || w == 0 || h == 0 {
            return None;
        }
        let image = egui::ColorImage::from_rgba_unmultiplied([w, h], &icon.rgba);
        let tex = ctx.load_texture(
            format!("app-icon-{}", app.id),
            image,
            TextureOptions::LINEAR,
        );
        self.icons.insert(app.id.clone(), tex.clone());
        Some(tex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing() -> Listing {
        let m = |index, primary| MonitorInfo {
            index,
            x: 0,
            y: 0,
            width: 1280,
            height: 800,
            primary,
        };
        Listing {
            monitors: vec![m(0, false), m(1, true)],
            apps: Vec::new(),
            dialog: None,
        }
    }

    #[test]
    fn primary_screen_is_preselected_and_apps_need_a_pick() {
        let mut p = SharePicker::with_listing(Some(listing()), false);
        assert_eq!(p.choice(), Some(ShareChoice::Screen { monitor: 1 }));
        p.selected = Selected::Apps(BTreeSet::new());
        assert_eq!(p.choice(), None);
        p.selected = Selected::Apps(["XTerm".to_owned()].into());
        assert_eq!(
            p.choice(),
            Some(ShareChoice::Apps {
                apps: vec!["XTerm".into()]
            })
        );
        // Nothing listed yet: nothing to share.
        let empty = SharePicker::with_listing(None, false);
        assert_eq!(empty.choice(), None);
    }

    /// Where the desktop's dialog offers single windows, the keyboard
    /// reaches them: from Share (focused), Shift+Tab selects the option
    /// with Space, Tab returns to Share, Enter shares.
    #[test]
    fn single_windows_are_reachable_by_keyboard() {
        use egui::{Key, Modifiers};
        let listing = Listing {
            monitors: vec![MonitorInfo {
                index: 0,
                x: 0,
                y: 0,
                width: 1280,
                height: 800,
                primary: true,
            }],
            apps: Vec::new(),
            dialog: Some(DesktopDialog {
                windows: true,
                input: true,
            }),
        };
        let tr = Tr::new(lotse_protocol::Lang::En);
        let mut h = egui_kittest::Harness::builder()
            .with_size(egui::vec2(520.0, 640.0))
            .build_ui_state(
                |ui, (p, out): &mut (SharePicker, Outcome)| {
                    let o = p.show(ui.ctx(), &tr);
                    if o != Outcome::Open {
                        *out = o;
                    }
                },
                (
                    SharePicker::with_listing(Some(listing), false),
                    Outcome::Open,
                ),
            );
        h.run_steps(3);
        h.key_press_modifiers(Modifiers::SHIFT, Key::Tab);
        h.key_press(Key::Space);
        h.run_steps(2);
        assert_eq!(h.state().0.selected, Selected::Windows);
        h.key_press(Key::Tab);
        h.key_press(Key::Enter);
        h.run_steps(2);
        assert_eq!(h.state().1, Outcome::Chosen(ShareChoice::Windows));
    }
}
