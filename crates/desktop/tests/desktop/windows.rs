//! The window list.

use lotse_desktop::list_apps;

use crate::support::Xvfb;

#[test]
fn apps_are_grouped_with_geometry_and_stacking() {
    let x = Xvfb::start(640, 480);
    x.window("Alpha", 10, 20, 100, 50, 0x112233);
    x.window("Beta", 200, 20, 100, 50, 0x445566);
    x.window("Alpha", 10, 200, 120, 60, 0x778899);
    let apps = list_apps().expect("list");
    let ids: Vec<&str> = apps.iter().map(|a| a.id.as_str()).collect();
    // The application with the top-most window first.
    assert_eq!(ids, ["Alpha", "Beta"]);
    let alpha = &apps[0];
    assert_eq!(alpha.windows.len(), 2);
    let top = &alpha.windows[0];
    assert_eq!((top.x, top.y, top.width, top.height), (10, 200, 120, 60));
    assert!(top.stacking > alpha.windows[1].stacking);
    assert_eq!(top.title, "Alpha");
}

#[test]
fn apps_under_a_window_manager() {
    let x = Xvfb::start(640, 480).with_openbox();
    let w = x.window("Gamma", 50, 60, 100, 50, 0x112233);
    let icon_atom = x.atom("_NET_WM_ICON");
    let mut icon = vec![2u32, 2];
    icon.extend([0xffff_0000u32; 4]);
    use x11rb::wrapper::ConnectionExt as _;
    x.conn
        .change_property32(
            x11rb::protocol::xproto::PropMode::REPLACE,
            w,
            icon_atom,
            x11rb::protocol::xproto::AtomEnum::CARDINAL,
            &icon,
        )
        .expect("icon");
    x.sync();
    let apps = crate::support::wait_for("openbox to list the window", || {
        let a = list_apps().ok()?;
        a.iter().any(|g| g.id == "Gamma").then_some(a)
    });
    let g = apps.iter().find(|g| g.id == "Gamma").expect("Gamma");
    let icon = g.icon.as_ref().expect("icon");
    assert_eq!((icon.width, icon.height), (32, 32));
    assert_eq!(&icon.rgba[0..4], &[255, 0, 0, 255]);
    assert_eq!((g.windows[0].width, g.windows[0].height), (100, 50));
}
