//! UI tests with egui_kittest: widgets are found by their AccessKit label
//! (what a screen reader announces), clicked and typed into; the harness
//! also fails on any input widget without an accessible name.

use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use lotse_protocol::{ConsentTopic, EndReason, Lang, Message, SiteInfo};
use tokio::sync::mpsc;

use super::*;
use crate::session::{FONT_DEFAULT, FONT_STEP, FileEvent};

struct Win {
    harness: Harness<'static, App>,
    effects: mpsc::Receiver<Effect>,
    events: mpsc::Sender<NetEvent>,
}

fn clock() -> i64 {
    1_700_000_000_000
}

fn site(agreement: bool) -> SiteInfo {
    SiteInfo {
        name: "Beispiel GmbH".into(),
        agreement: agreement.then(|| "Please accept our terms.".into()),
        recording_prompt: None,
        greeting: None,
        survey: Some("How did it go?".into()),
        hold_interval_secs: 30,
        watermark: false,
    }
}

fn start(lang: Lang) -> Win {
    start_with(lang, None)
}

fn start_with(lang: Lang, preview: Option<Preview>) -> Win {
    let (effects_tx, effects) = mpsc::channel(64);
    let (events, events_rx) = mpsc::channel(64);
    let app = App::new(
        Session::new("anna", clock),
        Tr::new(lang),
        effects_tx,
        events_rx,
        "Beispiel GmbH".into(),
    );
    let app = match preview {
        Some(p) => app.with_preview(p),
        None => app,
    };
    let harness = Harness::builder()
        .with_size(egui::vec2(520.0, 640.0))
        .build_ui_state(|ui, app: &mut App| app.draw(ui), app);
    Win {
        harness,
        effects,
        events,
    }
}

impl Win {
    /// Deliver a network event and draw.
    fn event(&mut self, ev: NetEvent) {
        self.events.try_send(ev).expect("room in the channel");
        self.frames();
    }
    fn msg(&mut self, m: Message) {
        self.event(NetEvent::Message(m));
    }
    /// A few frames (spinners keep asking for more, so no `run()`).
    fn frames(&mut self) {
        self.harness.run_steps(3);
    }
    fn click(&mut self, label: &str) {
        self.harness.get_by_label(label).click();
        self.frames();
    }
    fn sent(&mut self) -> Vec<Message> {
        self.effects()
            .into_iter()
            .filter_map(|e| match e {
                Effect::Send(m) => Some(m),
                _ => None,
            })
            .collect()
    }
    fn effects(&mut self) -> Vec<Effect> {
        let mut out = Vec::new();
        while let Ok(e) = self.effects.try_recv() {
            out.push(e);
        }
        out
    }
    fn shows(&self, text: &str) -> bool {
        self.harness
            .query_all_by_label_contains(text)
            .next()
            .is_some()
    }
    fn app(&self) -> &App {
        self.harness.state()
    }
    /// Through the agreement-less site into the queue and to a technician.
    fn chatting(&mut self) {
        self.event(NetEvent::Online {
            resumed: false,
            site: site(false),
        });
        self.click("Request support");
        self.msg(Message::TechnicianJoined {
            name: "Tom".into(),
            avatar: None,
        });
        self.effects();
    }
}

#[test]
fn accept_on_the_agreement_sends_consent_and_asks_the_name() {
    let mut ui = start(Lang::En);
    assert!(ui.shows("Connecting"));
    ui.event(NetEvent::Online {
        resumed: false,
        site: site(true),
    });
    assert!(ui.shows("Please accept our terms."));
    ui.click("Accept");
    assert_eq!(
        ui.sent(),
        vec![Message::Consent {
            topic: ConsentTopic::Agreement,
            granted: true
        }]
    );
    assert!(ui.shows("Your name"));
    // The name is prefilled from the OS user name.
    assert_eq!(ui.app().name, "anna");
    ui.click("Request support");
    assert_eq!(
        ui.sent(),
        vec![Message::Join {
            name: "anna".into(),
            problem: None
        }]
    );
    ui.msg(Message::QueueStatus {
        position: 3,
        estimated_wait_secs: 200,
        technicians_online: 1,
    });
    assert!(ui.shows("You are number 3 in the queue."));
    assert!(ui.shows("about 4 min"));
}

#[test]
fn decline_on_the_agreement_ends_the_session() {
    let mut ui = start(Lang::En);
    ui.event(NetEvent::Online {
        resumed: false,
        site: site(true),
    });
    ui.click("Decline");
    let effects = ui.effects();
    assert!(effects.contains(&Effect::Send(Message::End {
        reason: EndReason::DeclinedAgreement
    })));
    assert!(effects.contains(&Effect::Finish));
    ui.event(NetEvent::Finished);
    assert!(ui.app().closed, "the window closes itself");
}

#[test]
fn font_size_buttons_and_ctrl_plus_minus() {
    let mut ui = start(Lang::En);
    ui.chatting();
    assert_eq!(ui.app().session.font_size, FONT_DEFAULT);
    ui.click("Larger text");
    assert_eq!(ui.app().session.font_size, FONT_DEFAULT + FONT_STEP);
    ui.harness
        .key_press_modifiers(Modifiers::COMMAND, Key::Plus);
    ui.frames();
    assert_eq!(ui.app().session.font_size, FONT_DEFAULT + 2.0 * FONT_STEP);
    ui.harness
        .key_press_modifiers(Modifiers::COMMAND, Key::Minus);
    ui.frames();
    ui.click("Smaller text");
    assert_eq!(ui.app().session.font_size, FONT_DEFAULT);
}

#[test]
fn leave_on_a_notice_ends_without_survey() {
    let mut ui = start(Lang::En);
    ui.chatting();
    ui.msg(Message::Notice {
        id: Some("outage".into()),
        text: "Our mail server is down.".into(),
    });
    assert!(ui.shows("Our mail server is down."));
    ui.click("Leave the session");
    assert_eq!(
        ui.sent(),
        vec![Message::End {
            reason: EndReason::LeftOnNotice
        }]
    );
    assert!(
        !ui.shows("How did it go?"),
        "no survey after leaving on a notice"
    );
}

#[test]
fn stay_dismisses_a_notice() {
    let mut ui = start(Lang::En);
    ui.chatting();
    ui.msg(Message::Notice {
        id: None,
        text: "Known issue".into(),
    });
    ui.click("Stay");
    assert!(!ui.shows("Known issue"));
    assert!(ui.sent().is_empty());
}

#[test]
fn type_and_send_a_chat_line() {
    let mut ui = start(Lang::En);
    ui.chatting();
    assert!(ui.shows("Tom is helping you."));
    ui.msg(Message::Chat {
        text: "Hello, how can I help?".into(),
        from: Some("Tom".into()),
        at_ms: Some(clock()),
    });
    assert!(ui.shows("Hello, how can I help?"));
    ui.harness.get_by_label("Chat message").focus();
    ui.frames();
    ui.harness
        .get_by_label("Chat message")
        .type_text("Mein Drucker druckt nicht");
    ui.frames();
    ui.click("Send");
    assert_eq!(
        ui.sent(),
        vec![Message::Chat {
            text: "Mein Drucker druckt nicht".into(),
            from: None,
            at_ms: None
        }]
    );
    assert!(ui.shows("Mein Drucker druckt nicht"));
    assert!(ui.app().draft.is_empty());
    // Enter sends too.
    ui.harness
        .get_by_label("Chat message")
        .type_text("zweite Zeile");
    ui.frames();
    ui.harness.key_press(Key::Enter);
    ui.frames();
    assert_eq!(
        ui.sent(),
        vec![Message::Chat {
            text: "zweite Zeile".into(),
            from: None,
            at_ms: None
        }]
    );
}

#[test]
fn end_session_ends_then_asks_the_survey() {
    let mut ui = start(Lang::En);
    ui.chatting();
    ui.click("End session");
    assert_eq!(
        ui.sent(),
        vec![Message::End {
            reason: EndReason::EndedByCustomer
        }],
        "the session ends at the click"
    );
    assert!(ui.shows("How did it go?"));
    ui.click("4 of 5 stars");
    ui.click("Send rating");
    assert_eq!(
        ui.sent(),
        vec![Message::SurveyAnswer {
            rating: 4,
            comment: String::new()
        }]
    );
    assert!(ui.shows("Ending the session"));
}

#[test]
fn reconnecting_is_shown_during_a_cut() {
    let mut ui = start(Lang::En);
    ui.chatting();
    ui.event(NetEvent::LinkDown { attempt: 1 });
    assert!(ui.shows("reconnecting"));
    ui.event(NetEvent::Online {
        resumed: true,
        site: site(false),
    });
    assert!(!ui.shows("reconnecting"));
}

#[test]
fn a_wrong_certificate_gets_a_clear_message() {
    let mut ui = start(Lang::En);
    ui.event(NetEvent::Failed(Failure::WrongCertificate));
    assert!(ui.shows("Cannot connect"));
    assert!(ui.shows("no connection was made"));
    ui.click("Close");
    assert!(ui.app().closed);
}

#[test]
fn german_texts() {
    let mut ui = start(Lang::De);
    ui.event(NetEvent::Online {
        resumed: false,
        site: site(true),
    });
    ui.click("Zustimmen");
    assert!(ui.shows("Ihr Name"));
}

#[test]
fn the_chooser_opens_with_the_keyboard_in_its_path_field() {
    let mut ui = start(Lang::En);
    ui.chatting();
    ui.click("Send file…");
    ui.frames();
    assert!(ui.harness.get_by_label("File to send").is_focused());
}

#[test]
fn send_a_file_through_the_chooser_with_progress_and_cancel() {
    let mut ui = start(Lang::En);
    ui.chatting();
    ui.click("Send file…");
    assert!(ui.shows("Choose files to send"));
    let field = ui.harness.get_by_label("File to send");
    field.focus();
    ui.frames();
    ui.harness
        .get_by_label("File to send")
        .type_text("/tmp/bericht.pdf");
    ui.frames();
    ui.click("Send this file");
    let effects = ui.effects();
    assert_eq!(
        effects,
        vec![Effect::PrepareFile {
            id: 1,
            path: "/tmp/bericht.pdf".into()
        }]
    );
    ui.event(NetEvent::File(FileEvent::Ready {
        id: 1,
        name: "bericht.pdf".into(),
        size: 1000,
        sha256: "ab".repeat(32),
    }));
    assert!(ui.shows("waiting for the technician to accept"));
    assert!(matches!(
        ui.sent().as_slice(),
        [Message::FileOffer {
            id: 1,
            size: 1000,
            ..
        }]
    ));
    ui.msg(Message::FileAccept { id: 1 });
    assert_eq!(ui.effects(), vec![Effect::StartUpload { id: 1 }]);
    ui.event(NetEvent::File(FileEvent::Progress { id: 1, sent: 400 }));
    assert!(
        ui.harness
            .query_by_label("Progress of bericht.pdf")
            .is_some()
    );
    ui.click("Cancel");
    assert_eq!(
        ui.effects(),
        vec![
            Effect::StopUpload { id: 1 },
            Effect::Send(Message::FileCancel {
                id: 1,
                reason: "cancelled".into()
            })
        ]
    );
    assert!(ui.shows("cancelled"));
}

#[test]
fn the_whole_pre_session_flow_works_with_enter_alone() {
    let mut ui = start(Lang::En);
    ui.event(NetEvent::Online {
        resumed: false,
        site: SiteInfo {
            recording_prompt: Some("Record?".into()),
            ..site(true)
        },
    });
    ui.harness.key_press(Key::Enter);
    ui.frames();
    assert!(ui.shows("Record?"), "Enter accepted the agreement");
    ui.harness.key_press(Key::Enter);
    ui.frames();
    assert!(ui.shows("Your name"), "Enter allowed recording");
    ui.harness.key_press(Key::Enter);
    ui.frames();
    assert_eq!(
        ui.sent(),
        vec![
            Message::Consent {
                topic: ConsentTopic::Agreement,
                granted: true
            },
            Message::Consent {
                topic: ConsentTopic::Recording,
                granted: true
            },
            Message::Join {
                name: "anna".into(),
                problem: None
            }
        ]
    );
    // Once a technician serves, typing goes straight into the chat.
    ui.msg(Message::TechnicianJoined {
        name: "Tom".into(),
        avatar: None,
    });
    ui.harness.event(egui::Event::Text("Hi".into()));
    ui.frames();
    ui.harness.key_press(Key::Enter);
    ui.frames();
    assert_eq!(
        ui.sent(),
        vec![Message::Chat {
            text: "Hi".into(),
            from: None,
            at_ms: None
        }]
    );
}

#[test]
fn share_request_shows_allow_and_decline_and_decline_sends_nothing_to_capture() {
    let mut ui = start(Lang::En);
    ui.chatting();
    let _ = ui.effects();
    ui.msg(Message::ShareRequest);
    assert!(ui.shows("asks to see your screen"));
    ui.click("Decline");
    let effects = ui.effects();
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::StartShare(_))),
        "{effects:?}"
    );
    assert!(effects.contains(&Effect::Send(Message::ShareDecline)));
    assert_eq!(ui.app().session.share, ShareState::Off);
    ui.msg(Message::ShareRequest);
    ui.click("Allow");
    // Allowed, but nothing captured until the customer picks.
    let effects = ui.effects();
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::StartShare(_))),
        "{effects:?}"
    );
    assert_eq!(ui.app().session.share, ShareState::Picking);
}

/// While sharing, the chat window shows a thumbnail of what the
/// technician sees; it goes away with the share.
#[test]
fn the_thumbnail_of_what_leaves_shows_while_sharing() {
    let preview = Preview::default();
    let mut ui = start_with(Lang::En, Some(preview.clone()));
    ui.chatting();
    ui.msg(Message::ShareRequest);
    ui.click("Allow");
    let _ = ui
        .harness
        .state_mut()
        .session
        .on_command(Command::ShareChosen(ShareChoice::Screen { monitor: 0 }));
    ui.frames();
    assert!(!ui.shows("What the technician sees"), "nothing left yet");
    // 640×400, all one colour, as the share worker would put it.
    preview.put(
        640,
        400,
        640 * 4,
        &[0x40, 0x80, 0xc0, 0xff].repeat(640 * 400),
    );
    ui.frames();
    assert!(ui.shows("What the technician sees"));
    let tex = ui
        .app()
        .preview_tex
        .as_ref()
        .expect("the thumbnail's texture");
    assert_eq!(tex.size(), [256, 160]);
    preview.clear();
    ui.frames();
    assert!(!ui.shows("What the technician sees"), "gone with the share");
}

/// Issue 11 §4: the name field stops at the protocol's limit and says so;
/// a join the relay refuses brings the name entry back with the reason
/// and the typed name, ready to try again.
#[test]
fn the_name_stops_at_the_limit_and_a_refused_join_can_be_retried() {
    let mut ui = start(Lang::En);
    ui.event(NetEvent::Online {
        resumed: false,
        site: site(false),
    });
    assert!(
        ui.shows("4 / 80 characters"),
        "the prefilled name is counted"
    );
    let name = ui.harness.get_by_label("Your name");
    name.focus();
    ui.frames();
    ui.harness
        .get_by_label("Your name")
        .type_text(&"x".repeat(91));
    ui.frames();
    assert_eq!(
        ui.app().name.chars().count(),
        lotse_protocol::limits::NAME_CHARS,
        "the field stops at the limit"
    );
    assert!(ui.shows("The limit of 80 characters is reached."));
    ui.click("Request support");
    let sent = ui.sent();
    let [Message::Join { name, .. }] = &sent[..] else {
        panic!("{sent:?}")
    };
    assert_eq!(name.chars().count(), 80);
    assert!(ui.shows("Joining the queue"));

    ui.msg(Message::Error {
        code: lotse_protocol::ErrorCode::Malformed,
        message: "the name must have 1 to 80 characters".into(),
        fatal: false,
        retry_after_secs: None,
        refused_seq: None,
    });
    assert!(!ui.shows("Joining the queue"), "no endless spinner");
    assert!(ui.shows("The support service did not accept this"));
    assert!(ui.shows("the name must have 1 to 80 characters"));
    assert_eq!(ui.app().name.chars().count(), 80, "what was typed stays");
    ui.click("Request support");
    assert!(matches!(&ui.sent()[..], [Message::Join { .. }]));
    assert!(ui.shows("Joining the queue"));
}

/// Issue 11 §4: a refused chat line is back in the input box with the reason.
#[test]
fn a_refused_chat_line_is_back_in_the_input_box() {
    let mut ui = start(Lang::En);
    ui.chatting();
    ui.harness.get_by_label("Chat message").focus();
    ui.frames();
    ui.harness.get_by_label("Chat message").type_text("Hallo?");
    ui.frames();
    ui.click("Send");
    assert_eq!(ui.sent().len(), 1);
    assert!(ui.app().draft.is_empty());
    ui.msg(Message::Error {
        code: lotse_protocol::ErrorCode::TooLarge,
        message: "chat line too long".into(),
        fatal: false,
        retry_after_secs: None,
        refused_seq: None,
    });
    assert_eq!(ui.app().draft, "Hallo?");
    assert!(ui.shows("Your message was not sent"));
    ui.click("OK");
    assert!(!ui.shows("Your message was not sent"));
}

/// A window the window manager has not focused yet (or never does): the
/// name field waits for it without asking egui for the focus again every
/// frame. Each ask interrupts the input method, and under X11 that fed
/// eframe an endless loop of IME events that kept the window deaf to its
/// close button and keys (`take_focus`, docs/RELIABILITY.md).
#[test]
fn an_unfocused_window_does_not_interrupt_the_input_method_every_frame() {
    let mut ui = start(Lang::En);
    let unfocused = |input: &mut egui::RawInput| {
        input.focused = false;
        input
            .viewports
            .entry(egui::ViewportId::ROOT)
            .or_default()
            .focused = Some(false);
    };
    unfocused(ui.harness.input_mut());
    ui.event(NetEvent::Online {
        resumed: false,
        site: site(false),
    });
    assert!(ui.shows("Request support"), "the name entry is shown");
    let interrupts = (0..10)
        .filter(|_| {
            unfocused(ui.harness.input_mut());
            ui.harness.step();
            ui.harness
                .output()
                .platform_output
                .ime
                .as_ref()
                .is_some_and(|ime| ime.should_interrupt_composition)
        })
        .count();
    assert_eq!(interrupts, 0, "frames that interrupted the input method");
    // Once the window is focused, the name field has the keyboard.
    ui.harness.input_mut().focused = true;
    ui.harness
        .input_mut()
        .viewports
        .entry(egui::ViewportId::ROOT)
        .or_default()
        .focused = Some(true);
    ui.frames();
    ui.harness
        .input_mut()
        .events
        .push(egui::Event::Text("!".into()));
    ui.frames();
    assert_eq!(ui.app().name, "anna!", "typed text reaches the name field");
}
