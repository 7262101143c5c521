//! The customer's screen in the window: fitted to the space it has, or 1:1
//! (one customer pixel on one pixel of the technician's display) with
//! scrolling; the customer's pointer drawn over it from the pointer updates
//! of the screen stream; and, while in control, the technician's mouse and
//! keys turned into input events in customer pixels.
//!
//! Drawing only: pixels arrive as textures the app uploads; nothing here
//! does IO.

use egui::containers::scroll_area::{DragScroll, ScrollSource};
use egui::emath::GuiRounding as _;
use egui::{
    Color32, ColorImage, Pos2, Rect, Sense, TextureHandle, TextureOptions, Vec2, WidgetInfo,
};
use lotse_codec::CursorState;
use lotse_protocol::{InputEvent, MouseButton};

use super::picture::Picture;
use super::{RELEASE_KEY, key_events, key_name};

/// How the screen is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Zoom {
    /// As large as the space allows, whole.
    #[default]
    Fit,
    /// One customer pixel on one display pixel; scroll to see the rest.
    Actual,
}

/// The customer's pointer as the window draws it.
pub(super) struct RemoteCursor {
    pub(super) texture: TextureHandle,
    serial: u64,
    /// The hot spot, in customer pixels (may lie off the screen: hidden).
    x: i32,
    y: i32,
    hot: Vec2,
    size: Vec2,
}

/// What the view wants done after a frame.
#[derive(Debug, Default)]
pub(super) struct Forwarded {
    /// Input for the customer's machine, in order.
    pub events: Vec<InputEvent>,
    /// The release key was pressed: give control back.
    pub release: bool,
}

/// One session's screen view.
#[derive(Default)]
pub(super) struct ScreenView {
    pub(super) zoom: Zoom,
    pub(super) picture: Option<Picture>,
    pub(super) cursor: Option<RemoteCursor>,
    /// Display points per customer pixel, as last drawn (0 before).
    pub(super) scale: f32,
    last_pointer: Option<(i32, i32)>,
    /// Buttons pressed on the customer's screen and not released there yet
    /// (their release goes out wherever the pointer is then).
    held: Vec<MouseButton>,
}

impl ScreenView {
    /// Take the pointer of the newest update: upload a new shape, keep the
    /// position. No pointer (none known yet, or an empty shape) draws none.
    pub(super) fn set_cursor(&mut self, ctx: &egui::Context, session: u64, c: Option<CursorState>) {
        let Some(c) = c.filter(|c| c.width > 0 && c.height > 0) else {
            self.cursor = None;
            return;
        };
        let hot = Vec2::new(c.hot_x as f32, c.hot_y as f32);
        let size = Vec2::new(c.width as f32, c.height as f32);
        match &mut self.cursor {
            Some(mine) if mine.serial == c.shape_serial => {
                (mine.x, mine.y) = (c.x, c.y);
            }
            _ => {
                let image = ColorImage::from_rgba_unmultiplied(
                    [c.width as usize, c.height as usize],
                    &c.rgba,
                );
                let texture =
                    ctx.load_texture(format!("cursor-{session}"), image, TextureOptions::LINEAR);
                self.cursor = Some(RemoteCursor {
                    texture,
                    serial: c.shape_serial,
                    x: c.x,
                    y: c.y,
                    hot,
                    size,
                });
            }
        }
    }

    /// Draw the screen in all the space `ui` has left; while `in_control`,
    /// turn the technician's input over it into customer input.
    pub(super) fn show(
        &mut self,
        ui: &mut egui::Ui,
        salt: u64,
        in_control: bool,
        label: &str,
    ) -> Forwarded {
        let mut out = Forwarded::default();
        let Some([w, h]) = self.picture.as_ref().map(Picture::size) else {
            return out;
        };
        let native = Vec2::new(w as f32, h as f32);
        let ppp = ui.ctx().pixels_per_point();
        match self.zoom {
            Zoom::Fit => {
                let (area, _) = ui.allocate_exact_size(ui.available_size(), Sense::hover());
                let scale = (area.width() / native.x)
                    .min(area.height() / native.y)
                    .clamp(0.05, 4.0);
                let rect =
                    Rect::from_center_size(area.center(), native * scale).round_to_pixels(ppp);
                self.picture(ui, salt, rect, native, in_control, label, &mut out);
            }
            Zoom::Actual => {
                // In control, the wheel and drags belong to the customer;
                // the scroll bars still move the view.
                let source = ScrollSource {
                    scroll_bar: true,
                    drag: if in_control {
                        DragScroll::Never
                    } else {
                        DragScroll::Always
                    },
                    mouse_wheel: !in_control,
                };
                egui::ScrollArea::both()
                    .id_salt(("screen", salt))
                    .auto_shrink(false)
                    .scroll_source(source)
                    .show(ui, |ui| {
                        let size = native / ppp;
                        let (outer, _) =
                            ui.allocate_exact_size(size.max(ui.available_size()), Sense::hover());
                        // A screen smaller than the space sits in its middle.
                        let rect =
                            Rect::from_center_size(outer.center(), size).round_to_pixels(ppp);
                        self.picture(ui, salt, rect, native, in_control, label, &mut out);
                    });
            }
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn picture(
        &mut self,
        ui: &mut egui::Ui,
        salt: u64,
        rect: Rect,
        native: Vec2,
        in_control: bool,
        label: &str,
        out: &mut Forwarded,
    ) {
        let sense = if in_control {
            Sense::click()
        } else {
            Sense::hover()
        };
        let response = ui.interact(rect, ui.make_persistent_id(("screen-picture", salt)), sense);
        response.widget_info(|| WidgetInfo::labeled(egui::Role::Image, true, label));
        let painter = ui.painter().with_clip_rect(ui.clip_rect().intersect(rect));
        let uv = Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0));
        if let Some(picture) = &self.picture {
            picture.paint(&painter, rect);
        }
        if let Some(c) = &self.cursor {
            painter.image(
                c.texture.id(),
                cursor_rect(rect, native, c),
                uv,
                Color32::WHITE,
            );
        }
        self.scale = rect.width() / native.x;
        if !in_control {
            self.held.clear();
            return;
        }
        // A red frame: what happens here happens on the customer's machine.
        ui.painter().rect_stroke(
            rect,
            0.0,
            egui::Stroke::new(3.0, Color32::from_rgb(190, 30, 30)),
            egui::StrokeKind::Outside,
        );
        // Keys go to the customer while the screen has the keyboard focus
        // (click it); the chat keeps its own.
        if response.clicked() {
            response.request_focus();
        }
        if response.has_focus() {
            // Tab, the arrows and Escape are the customer's keys while the
            // screen has the keyboard, not a way to move the focus here.
            let keys = egui::EventFilter {
                tab: true,
                horizontal_arrows: true,
                vertical_arrows: true,
                escape: true,
            };
            ui.memory_mut(|m| m.set_focus_lock_filter(response.id, keys));
        }
        self.forward(ui, &response, rect, native, out);
    }

    fn forward(
        &mut self,
        ui: &egui::Ui,
        response: &egui::Response,
        rect: Rect,
        native: Vec2,
        out: &mut Forwarded,
    ) {
        let keyboard = response.has_focus();
        let over = response.contains_pointer();
        ui.input(|i| {
            if i.key_pressed(RELEASE_KEY) {
                out.release = true;
                return;
            }
            if (over || !self.held.is_empty())
                && let Some(pos) = i.pointer.latest_pos()
            {
                let at = to_remote(pos, rect, native);
                if self.last_pointer != Some(at) {
                    self.last_pointer = Some(at);
                    out.events.push(InputEvent::MouseMove { x: at.0, y: at.1 });
                }
            }
            for e in &i.events {
                match e {
                    egui::Event::PointerButton {
                        button, pressed, ..
                    } => {
                        let button = match button {
                            egui::PointerButton::Secondary => MouseButton::Right,
                            egui::PointerButton::Middle => MouseButton::Middle,
                            _ => MouseButton::Left,
                        };
                        let held = self.held.contains(&button);
                        if *pressed && over && !held {
                            self.held.push(button);
                        } else if !*pressed && held {
                            self.held.retain(|b| *b != button);
                        } else {
                            continue;
                        }
                        out.events.push(InputEvent::MouseButton {
                            button,
                            down: *pressed,
                        });
                    }
                    egui::Event::MouseWheel { delta, .. } if over => {
                        out.events.push(InputEvent::Wheel {
                            dx: delta.x.round() as i32,
                            dy: delta.y.round() as i32,
                        });
                    }
                    egui::Event::Text(text) if keyboard => {
                        out.events.push(InputEvent::Text { text: text.clone() });
                    }
                    egui::Event::Key {
                        key,
                        pressed,
                        repeat: false,
                        modifiers,
                        ..
                    } if keyboard && *key != RELEASE_KEY => {
                        if let Some(name) = key_name(*key, modifiers) {
                            out.events.extend(key_events(name, *pressed, modifiers));
                        }
                    }
                    _ => {}
                }
            }
        });
    }
}

/// The customer pixel under `pos` on a picture of `native` pixels drawn in
/// `rect` (at any scale, scrolled or not), held inside the picture.
pub(super) fn to_remote(pos: Pos2, rect: Rect, native: Vec2) -> (i32, i32) {
    let axis = |p: f32, min: f32, len: f32, n: f32| {
        let v = ((p - min) / len * n).floor();
        v.clamp(0.0, (n - 1.0).max(0.0)) as i32
    };
    (
        axis(pos.x, rect.min.x, rect.width(), native.x),
        axis(pos.y, rect.min.y, rect.height(), native.y),
    )
}

/// Where the pointer's picture goes on a screen of `native` pixels drawn in
/// `rect`: its hot spot on the customer's pointer position, at the
/// picture's scale.
pub(super) fn cursor_rect(rect: Rect, native: Vec2, c: &RemoteCursor) -> Rect {
    let scale = rect.width() / native.x;
    let at = Vec2::new(c.x as f32, c.y as f32) - c.hot;
    Rect::from_min_size(rect.min + at * scale, c.size * scale)
}
