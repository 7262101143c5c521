//! The client as a screen reader user meets it: a private D-Bus session
//! with the AT-SPI bus switched on (at-spi2-core), the REAL downloaded
//! client under Xvfb, the REAL relay and headless console, and
//! `tests/a11y/walk.py` (pyatspi) reading the client's accessibility tree
//! and pressing its controls through AT-SPI actions, never the mouse.
//!
//! In every step — agreement, recording prompt, name entry, queue, chat, share prompt,
//! survey — every control has a name and a role, the step's controls are
//! there and work when activated, and a new chat line from the technician
//! is announced (a live region, as a screen reader hears it).

use lotse_e2e::a11y::{A11yBus, Announcements, Node};
use lotse_e2e::console::Console;
use lotse_e2e::customer::{Customer, CustomerOptions};
use lotse_e2e::display::Display;
use lotse_e2e::relay::Relay;
use lotse_e2e::scene::{TECH, serve};

/// Every control in `tree` has a name (what a screen reader announces).
fn all_named(tree: &[Node], step: &str) {
    let unnamed: Vec<&Node> = tree
        .iter()
        .filter(|n| n.is_control() && n.name.trim().is_empty())
        .collect();
    assert!(
        unnamed.is_empty(),
        "{step}: controls without a name: {unnamed:#?}"
    );
    assert!(
        tree.iter().any(|n| n.is_control()),
        "{step}: no control in the tree at all"
    );
}

fn has(tree: &[Node], role: &str, name: &str) -> bool {
    tree.iter().any(|n| n.role == role && n.name == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_step_is_named_and_operable_through_at_spi() {
    // The relay's default site texts: agreement and survey are on.
    let relay = Relay::start();
    relay.add_user(TECH.0, TECH.1);
    let bus = A11yBus::start();
    let display = Display::start().expect("Xvfb + openbox");
    let mut console = Console::start(&relay);
    let opts = CustomerOptions {
        env: vec![("DBUS_SESSION_BUS_ADDRESS".into(), bus.address.clone())],
        ..CustomerOptions::default()
    };
    let customer = Customer::start(&relay, &display, opts).await;
    let pid = customer.pid();

    // The agreement.
    let tree = bus.wait_for(pid, "push button", "Accept");
    all_named(&tree, "agreement");
    assert!(has(&tree, "push button", "Decline"), "{tree:#?}");
    bus.press(pid, "push button", "Accept");

    // The recording prompt.
    let tree = bus.wait_for(pid, "push button", "Do not allow");
    all_named(&tree, "recording prompt");
    bus.press(pid, "push button", "Allow");

    // The name entry: a named text field, then Request support.
    let tree = bus.wait_for(pid, "push button", "Request support");
    all_named(&tree, "name entry");
    assert!(
        tree.iter()
            .any(|n| n.role == "entry" && n.name == "Your name"),
        "no text field named \"Your name\": {tree:#?}"
    );
    bus.press(pid, "push button", "Request support");

    // The queue.
    let tree = bus.wait_for(pid, "label", "in the queue");
    all_named(&tree, "queue");

    // The chat: a technician serves and writes.
    let session = serve(&mut console, "Erika").await;
    let mut heard = Announcements::start(&bus, pid);
    console.cmd("say Guten Tag, wie kann ich helfen?");
    let said = heard.wait("tom: Guten Tag, wie kann ich helfen?");
    assert_eq!(said["role"], "status bar", "{said}");
    let tree = bus.wait_for(pid, "label", "Guten Tag, wie kann ich helfen?");
    all_named(&tree, "chat");
    assert!(has(&tree, "push button", "Send"), "{tree:#?}");
    assert!(
        has(&tree, "status bar", "tom: Guten Tag, wie kann ich helfen?"),
        "no live region with the new chat line: {tree:#?}"
    );

    // The technician asks to see the screen; declined through AT-SPI.
    console.cmd("request-share");
    let tree = bus.wait_for(pid, "push button", "Allow");
    all_named(&tree, "share prompt");
    assert!(has(&tree, "push button", "Decline"), "{tree:#?}");
    bus.press(pid, "push button", "Decline");
    let declined = console.event("share_declined").await;
    assert_eq!(declined["session"].as_u64(), Some(session));

    // The end: the survey, rated and sent without a mouse.
    console.cmd("end");
    let tree = bus.wait_for(pid, "push button", "Send rating");
    all_named(&tree, "survey");
    let stars: Vec<&Node> = tree
        .iter()
        .filter(|n| n.name.contains("of 5 stars"))
        .collect();
    assert_eq!(stars.len(), 5, "five named star ratings: {tree:#?}");
    let role = stars[4].role.clone();
    bus.press(pid, &role, "5 of 5 stars");
    bus.press(pid, "push button", "Send rating");
    relay.wait_record(session, &["rating 5/5"]);
}
