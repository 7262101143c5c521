//! A small in-window file chooser. A native dialog would need GTK or the
//! Wayland portal stack linked into a download that must start on any
//! Linux desktop; this one is plain egui, keyboard-usable, labelled for
//! screen readers, and testable. Directory listings are read on a helper
//! thread (no IO on the UI thread). Files can also be dropped onto the
//! window.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, TryRecvError, sync_channel};

use egui::{Id, RichText, ScrollArea, TextEdit, Ui};

use crate::i18n::Tr;

const MAX_ENTRIES: usize = 5000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub is_dir: bool,
}

type Listing = Result<(PathBuf, Vec<Entry>), String>;

pub struct Picker {
    pub dir: PathBuf,
    /// The chosen (or typed) path.
    pub path_text: String,
    pub entries: Vec<Entry>,
    pub error: Option<String>,
    listing: Option<Receiver<Listing>>,
    /// The path field takes the keyboard once, when the chooser opens: a
    /// path can be typed (or pasted) at once.
    focus_path: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Open,
    Picked(PathBuf),
    Cancelled,
}

impl Picker {
    pub fn new(start: PathBuf, ctx: &egui::Context) -> Self {
        let mut picker = Self {
            dir: start.clone(),
            path_text: String::new(),
            entries: Vec::new(),
            error: None,
            listing: None,
            focus_path: true,
        };
        picker.list(start, ctx);
        picker
    }

    /// Where the chooser starts: the home directory.
    pub fn home() -> PathBuf {
        std::env::var_os("HOME")
            .or_else(|| std::env::var_os("USERPROFILE"))
            .map_or_else(|| PathBuf::from("/"), PathBuf::from)
    }

    fn list(&mut self, dir: PathBuf, ctx: &egui::Context) {
        let (tx, rx) = sync_channel(1);
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("lotse-list-dir".into())
            .spawn(move || {
                let _ = tx.send(read_dir(&dir));
                ctx.request_repaint();
            });
        match spawned {
            Ok(_) => self.listing = Some(rx),
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    fn poll(&mut self) {
        let Some(rx) = &self.listing else { return };
        match rx.try_recv() {
            Ok(Ok((dir, entries))) => {
                self.dir = dir;
                self.entries = entries;
                self.error = None;
                self.listing = None;
            }
            Ok(Err(e)) => {
                self.error = Some(e);
                self.listing = None;
            }
            Err(TryRecvError::Disconnected) => self.listing = None,
            Err(TryRecvError::Empty) => {}
        }
    }

    /// Draw the chooser as a modal window.
    pub fn show(&mut self, ctx: &egui::Context, tr: &Tr) -> Outcome {
        self.poll();
        let mut outcome = Outcome::Open;
        let modal = egui::Modal::new(Id::unique("lotse-file-picker")).show(ctx, |ui| {
            ui.set_width(420.0);
            outcome = self.contents(ui, tr);
        });
        if modal.should_close() && outcome == Outcome::Open {
            outcome = Outcome::Cancelled;
        }
        outcome
    }

    fn contents(&mut self, ui: &mut Ui, tr: &Tr) -> Outcome {
        let mut outcome = Outcome::Open;
        ui.heading(tr.t("file-dialog-title"));
        ui.horizontal(|ui| {
            if ui
                .add_enabled(
                    self.dir.parent().is_some(),
                    egui::Button::new(tr.t("picker-up")),
                )
                .clicked()
                && let Some(parent) = self.dir.parent().map(Path::to_path_buf)
            {
                self.list(parent, ui.ctx());
            }
            ui.label(RichText::new(self.dir.display().to_string()).monospace());
        });
        if let Some(e) = &self.error {
            ui.colored_label(egui::Color32::from_rgb(0xb0, 0x30, 0x30), e);
        }
        ScrollArea::vertical()
            .max_height(260.0)
            .auto_shrink([false, false])
            .show(ui, |ui| {
                let entries = self.entries.clone();
                for entry in &entries {
                    let full = self.dir.join(&entry.name);
                    let label = if entry.is_dir {
                        format!("{}/", entry.name)
                    } else {
                        entry.name.clone()
                    };
                    let selected = !entry.is_dir && self.path_text == full.display().to_string();
                    let response = ui.selectable_label(selected, label);
                    if response.clicked() {
                        if entry.is_dir {
                            self.list(full.clone(), ui.ctx());
                        } else {
                            self.path_text = full.display().to_string();
                        }
                    }
                    if response.double_clicked() && !entry.is_dir {
                        outcome = Outcome::Picked(full);
                    }
                }
            });
        let label = ui.label(tr.t("picker-path"));
        let field = ui
            .add(TextEdit::singleline(&mut self.path_text).desired_width(f32::INFINITY))
            .labelled_by(label.id);
        if self.focus_path {
            crate::app::take_focus(&field);
            if field.has_focus() {
                self.focus_path = false;
                tracing::info!("keyboard ready: file path");
            }
        }
        let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        ui.horizontal(|ui| {
            let ready = !self.path_text.trim().is_empty();
            let send = ui
                .add_enabled(ready, egui::Button::new(tr.t("picker-send")))
                .clicked();
            if (send || enter) && ready {
                outcome = Outcome::Picked(PathBuf::from(self.path_text.trim()));
            }
            if ui.button(tr.t("button-cancel")).clicked() {
                outcome = Outcome::Cancelled;
            }
        });
        outcome
    }
}

/// Directories first, then files; hidden entries left out.
fn read_dir(dir: &Path) -> Listing {
    let read = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut entries: Vec<Entry> = read
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                return None;
            }
            let is_dir = std::fs::metadata(e.path()).is_ok_and(|m| m.is_dir());
            Some(Entry { name, is_dir })
        })
        .take(MAX_ENTRIES)
        .collect();
    entries.sort_by(|a, b| {
        b.is_dir
            .cmp(&a.is_dir)
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
    });
    Ok((dir.to_path_buf(), entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_directories_first_without_hidden_files() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("b.txt"), "b").expect("write");
        std::fs::write(dir.path().join("A.txt"), "a").expect("write");
        std::fs::write(dir.path().join(".hidden"), "h").expect("write");
        std::fs::create_dir(dir.path().join("zeta")).expect("mkdir");
        let (_, entries) = read_dir(dir.path()).expect("list");
        let names: Vec<_> = entries
            .iter()
            .map(|e| (e.name.as_str(), e.is_dir))
            .collect();
        assert_eq!(
            names,
            vec![("zeta", true), ("A.txt", false), ("b.txt", false)]
        );
        assert!(read_dir(&dir.path().join("missing")).is_err());
    }
}
