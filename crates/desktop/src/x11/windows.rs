//! The customer's open windows, grouped by application, for the
//! "share these applications" picker.

use x11rb::protocol::xproto::{ConnectionExt as _, MapState, Window};

use crate::DesktopError;
use crate::xutil::{WATERMARK_CLASS, Xconn};

pub use crate::apps::{AppGroup, ICON_SIZE, Icon, WindowInfo};

/// Lists the open top-level windows grouped by application, the
/// application with the top-most window first.
///
/// Uses the window manager's `_NET_CLIENT_LIST_STACKING`; without a window
/// manager, the mapped, viewable children of the root window. Desktop and
/// dock windows and our own watermark are left out.
pub fn list_apps() -> Result<Vec<AppGroup>, DesktopError> {
    let x = Xconn::connect()?;
    let mut clients = x
        .prop_u32(x.root, x.atoms._NET_CLIENT_LIST_STACKING, 16 * 1024)?
        .unwrap_or_default();
    if clients.is_empty() {
        let tree = x.conn.query_tree(x.root)?.reply()?;
        for w in tree.children {
            let Ok(a) = x.conn.get_window_attributes(w)?.reply() else {
                continue;
            };
            if a.map_state == MapState::VIEWABLE && !a.override_redirect {
                clients.push(w);
            }
        }
    }
    let mut windows = Vec::new();
    for (stacking, &w) in clients.iter().enumerate() {
        // Windows may vanish while we ask: skip those.
        if let Ok(Some(info)) = window_info(&x, w, stacking) {
            windows.push(info);
        }
    }
    windows.sort_by_key(|w| std::cmp::Reverse(w.stacking));
    let mut groups: Vec<AppGroup> = Vec::new();
    for win in windows {
        match groups.iter_mut().find(|g| g.id == win.app_id) {
            Some(g) => {
                if g.icon.is_none() {
                    g.icon = win.icon.clone();
                }
                g.windows.push(win);
            }
            None => groups.push(AppGroup {
                id: win.app_id.clone(),
                name: if win.title.is_empty() {
                    win.app_id.clone()
                } else {
                    win.title.clone()
                },
                icon: win.icon.clone(),
                windows: vec![win],
            }),
        }
    }
    Ok(groups)
}

fn window_info(x: &Xconn, w: Window, stacking: usize) -> Result<Option<WindowInfo>, DesktopError> {
    let types = x
        .prop_u32(w, x.atoms._NET_WM_WINDOW_TYPE, 32)?
        .unwrap_or_default();
    if types
        .iter()
        .any(|&t| t == x.atoms._NET_WM_WINDOW_TYPE_DESKTOP || t == x.atoms._NET_WM_WINDOW_TYPE_DOCK)
    {
        return Ok(None);
    }
    let app_id = match x.wm_class(w)? {
        Some((_, class)) if !class.is_empty() => class,
        Some((instance, _)) => instance,
        None => format!("window-{w:#x}"),
    };
    if app_id == WATERMARK_CLASS {
        return Ok(None);
    }
    let g = x.conn.get_geometry(w)?.reply()?;
    let t = x.conn.translate_coordinates(w, x.root, 0, 0)?.reply()?;
    let title = x.title(w)?;
    let icon = x
        .prop_u32(w, x.atoms._NET_WM_ICON, 1 << 20)?
        .and_then(|v| icon_from_net_wm_icon(&v));
    Ok(Some(WindowInfo {
        id: w,
        app_id,
        title,
        x: i32::from(t.dst_x),
        y: i32::from(t.dst_y),
        width: u32::from(g.width),
        height: u32::from(g.height),
        stacking,
        icon,
    }))
}

/// Picks the best image of a `_NET_WM_ICON` value (width, height, then
/// width×height ARGB words, repeated) and scales it to 32×32 RGBA.
/// Malformed data gives `None`.
pub fn icon_from_net_wm_icon(v: &[u32]) -> Option<Icon> {
    let mut best: Option<(u32, u32, &[u32])> = None;
    let mut i = 0usize;
    while i + 2 <= v.len() {
        let (w, h) = (v[i], v[i + 1]);
        let n = (w as usize).checked_mul(h as usize)?;
        let data = v.get(i + 2..(i + 2).checked_add(n)?)?;
        i += 2 + n;
        if w == 0 || h == 0 {
            continue;
        }
        // Prefer the smallest image at least 32 wide, else the largest.
        let better = match best {
            None => true,
            Some((bw, _, _)) => {
                if bw >= ICON_SIZE {
                    w >= ICON_SIZE && w < bw
                } else {
                    w > bw
                }
            }
        };
        if better {
            best = Some((w, h, data));
        }
    }
    let (w, h, data) = best?;
    let mut rgba = Vec::with_capacity((ICON_SIZE * ICON_SIZE * 4) as usize);
    for ty in 0..ICON_SIZE {
        for tx in 0..ICON_SIZE {
            // Box filter over the source pixels that map to this one.
            let sx0 = (u64::from(tx) * u64::from(w) / u64::from(ICON_SIZE)) as u32;
            let sx1 = ((u64::from(tx + 1) * u64::from(w)).div_ceil(u64::from(ICON_SIZE)) as u32)
                .max(sx0 + 1);
            let sy0 = (u64::from(ty) * u64::from(h) / u64::from(ICON_SIZE)) as u32;
            let sy1 = ((u64::from(ty + 1) * u64::from(h)).div_ceil(u64::from(ICON_SIZE)) as u32)
                .max(sy0 + 1);
            let mut acc = [0u64; 4];
            let mut cnt = 0u64;
            for sy in sy0..sy1.min(h) {
                for sx in sx0..sx1.min(w) {
                    let p = data[(sy as usize) * (w as usize) + sx as usize];
                    let a = u64::from(p >> 24);
                    // Weight colour by alpha so transparent edges stay clean.
                    acc[0] += u64::from((p >> 16) & 0xff) * a;
                    acc[1] += u64::from((p >> 8) & 0xff) * a;
                    acc[2] += u64::from(p & 0xff) * a;
                    acc[3] += a;
                    cnt += 1;
                }
            }
            let px = match (acc[0].checked_div(acc[3]), acc[3].checked_div(cnt)) {
                (Some(r), Some(a)) => [
                    r as u8,
                    (acc[1] / acc[3]) as u8,
                    (acc[2] / acc[3]) as u8,
                    a as u8,
                ],
                _ => [0, 0, 0, 0],
            };
            rgba.extend_from_slice(&px);
        }
    }
    Some(Icon {
        width: ICON_SIZE,
        height: ICON_SIZE,
        rgba,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icon_scaled_and_malformed_rejected() {
        let mut v = vec![2, 2];
        v.extend([0xffff_0000u32, 0xffff_0000, 0xff00_00ff, 0x0000_0000]);
        let icon = icon_from_net_wm_icon(&v).expect("icon");
        assert_eq!(icon.rgba.len(), 32 * 32 * 4);
        assert_eq!(&icon.rgba[0..4], &[255, 0, 0, 255]);
        let last = icon.rgba.len() - 4;
        assert_eq!(icon.rgba[last + 3], 0);
        assert!(icon_from_net_wm_icon(&[100, 100, 1, 2, 3]).is_none());
        assert!(icon_from_net_wm_icon(&[u32::MAX, u32::MAX]).is_none());
        assert!(icon_from_net_wm_icon(&[]).is_none());
    }
}
