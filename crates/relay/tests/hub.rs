//! The hub in-process (the relay's library target), on tokio's paused
//! clock: the grace period after a customer's link is lost and the hold
//! interval, checked to the second without waiting for either (no sleeps:
//! the tests move the clock); queue updates only to the customers whose
//! place changed; chat forwarded in order, each line once; input stopped
//! while the customer has paused the share.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};
use std::time::Duration;

use lotse_protocol::{EndReason, Envelope, Lang, Message, Resume, Role, decode_text};
use lotse_relay::config::Config;
use lotse_relay::pairing::{Handled, Hub, Incoming, Link, Out};
use lotse_relay::recording::Recorder;
use lotse_relay::store::Job;
use tokio::sync::mpsc;

const IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

struct Peer {
    link: Link,
    rx: mpsc::Receiver<Out>,
    _bulk: mpsc::Receiver<Out>,
}

impl Peer {
    fn new(hub: &Hub) -> Self {
        let (link, rx, bulk) = hub.new_link(IP);
        Self {
            link,
            rx,
            _bulk: bulk,
        }
    }

    /// Everything sent to this peer so far (other tasks get to run first).
    async fn drain(&mut self) -> Vec<Envelope> {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        let mut got = Vec::new();
        while let Ok(out) = self.rx.try_recv() {
            if let Out::Text(text) = out {
                got.push(decode_text(&text).expect("the relay sends what decodes"));
            }
        }
        got
    }

    /// The next message for which `pick` says yes. The paused clock runs
    /// ahead by itself while every task waits, so a message that never
    /// comes ends the wait at once instead of hanging.
    async fn next<T>(&mut self, mut pick: impl FnMut(&Envelope) -> Option<T>) -> T {
        let found = tokio::time::timeout(Duration::from_secs(24 * 3600), async {
            while let Some(out) = self.rx.recv().await {
                if let Out::Text(text) = out
                    && let Some(found) = pick(&decode_text(&text).expect("decodes"))
                {
                    return Some(found);
                }
            }
            None
        })
        .await;
        found.ok().flatten().expect("the message arrives")
    }
}

struct Setup {
    hub: Arc<Hub>,
    records: Receiver<Job>,
    _dir: tempfile::TempDir,
}

fn hub(config: &str) -> Setup {
    hub_with_records(config, 4096)
}

/// A hub whose record writer (this test) takes at most `slots` entries
/// before it reads them.
fn hub_with_records(config: &str, slots: usize) -> Setup {
    let dir = tempfile::tempdir().expect("temp dir");
    let (db, records) = sync_channel(slots);
    let recorder = Recorder::spawn(dir.path().join("recordings"), db.clone()).expect("recorder");
    let config = Config::parse(config).expect("config");
    let hub = Arc::new(Hub::new(Arc::new(config), db, recorder, 0, Vec::new()));
    Setup {
        hub,
        records,
        _dir: dir,
    }
}

fn numbered(seq: u64, msg: Message) -> Incoming {
    Incoming::Full(Envelope::new(msg).with_seq(seq))
}

/// A customer who joined the queue: the session id and resume token.
async fn waiting_customer(hub: &Hub, name: &str) -> (Peer, u64, String) {
    let mut c = Peer::new(hub);
    let sid = hub
        .customer_hello(&c.link, Role::Customer, Lang::En, None, None)
        .expect("session");
    let token = c
        .next(|e| match &e.msg {
            Message::Welcome { resume_token, .. } => resume_token.clone(),
            _ => None,
        })
        .await;
    let join = Message::Join {
        name: name.into(),
        problem: None,
    };
    assert_eq!(
        hub.customer_message(sid, c.link.id, numbered(1, join)),
        Handled::Ok
    );
    (c, sid, token)
}

fn ended(records: &Receiver<Job>, sid: u64) -> Option<String> {
    records.try_iter().find_map(|job| match job {
        Job::Ended { id, reason, .. } if id == sid => Some(reason),
        _ => None,
    })
}

#[tokio::test(start_paused = true)]
async fn a_lost_customer_is_kept_exactly_the_grace_period() {
    let Setup { hub, records, .. } = hub("[limits]\ngrace_secs = 30\n");
    let (c, sid, _) = waiting_customer(&hub, "Erika").await;
    let mut t = Peer::new(&hub);
    hub.tech_hello(&t.link, "anna", "Anna");
    let accept = numbered(1, Message::Accept { session: sid });
    assert_eq!(hub.tech_message(t.link.id, accept), Handled::Ok);
    t.next(|e| matches!(e.msg, Message::SessionStarted { .. }).then_some(()))
        .await;

    hub.customer_gone(sid, c.link.id);
    let away = t.next(|e| match e.msg {
        Message::PeerAway { grace_secs } => Some((grace_secs, e.session)),
        _ => None,
    });
    assert_eq!(away.await, (30, Some(sid)));

    tokio::time::advance(Duration::from_secs(29)).await;
    let early = t.drain().await;
    assert!(
        !early.iter().any(|e| matches!(e.msg, Message::End { .. })),
        "ended before the grace period: {early:?}"
    );
    tokio::time::advance(Duration::from_secs(1)).await;
    let reason = t
        .next(|e| match e.msg {
            Message::End { reason } if e.session == Some(sid) => Some(reason),
            _ => None,
        })
        .await;
    assert_eq!(reason, EndReason::CustomerGone);
    assert_eq!(ended(&records, sid).as_deref(), Some("customer_gone"));
}

#[tokio::test(start_paused = true)]
async fn a_customer_back_within_the_grace_period_keeps_the_session() {
    let Setup { hub, records, .. } = hub("[limits]\ngrace_secs = 30\n");
    let (c, sid, token) = waiting_customer(&hub, "Erika").await;
    let mut t = Peer::new(&hub);
    hub.tech_hello(&t.link, "anna", "Anna");
    hub.tech_message(t.link.id, numbered(1, Message::Accept { session: sid }));
    hub.customer_gone(sid, c.link.id);
    tokio::time::advance(Duration::from_secs(29)).await;

    let mut back = Peer::new(&hub);
    let resume = Resume {
        session: sid,
        token,
        last_seq: 0,
    };
    let resumed = hub.customer_hello(&back.link, Role::Customer, Lang::En, None, Some(resume));
    assert_eq!(resumed, Some(sid));
    t.next(|e| matches!(e.msg, Message::PeerBack).then_some(()))
        .await;
    // Long past the first link's grace period: the session goes on.
    tokio::time::advance(Duration::from_secs(120)).await;
    assert!(
        !t.drain()
            .await
            .iter()
            .any(|e| matches!(e.msg, Message::End { .. }))
    );
    assert_eq!(ended(&records, sid), None);
    let chat = lotse_relay::pairing::wire::parse(r#"{"type":"chat","seq":2,"text":"still here"}"#)
        .expect("chat");
    assert_eq!(hub.customer_message(sid, back.link.id, chat), Handled::Ok);
    let line = t
        .next(|e| match &e.msg {
            Message::Chat { text, from, .. } => Some((text.clone(), from.clone(), e.session)),
            _ => None,
        })
        .await;
    assert_eq!(line, ("still here".into(), Some("Erika".into()), Some(sid)));
    // The resumed link got its acknowledgement.
    back.next(|e| matches!(e.msg, Message::Ack { seq: 2 }).then_some(()))
        .await;
}

#[tokio::test(start_paused = true)]
async fn hold_messages_come_every_hold_interval_and_not_before() {
    let Setup { hub, .. } = hub("hold_interval_secs = 45\n");
    let ticker = hub.spawn_hold_ticker();
    let (mut c, _, _) = waiting_customer(&hub, "Erika").await;
    // Right after the join: the position, but no hold message yet.
    let first = c.drain().await;
    assert!(
        first
            .iter()
            .any(|e| matches!(e.msg, Message::QueueStatus { position: 1, .. }))
    );
    assert!(!first.iter().any(|e| matches!(e.msg, Message::Hold { .. })));
    for round in 1..=3 {
        tokio::time::advance(Duration::from_secs(44)).await;
        let early = c.drain().await;
        assert!(
            !early.iter().any(|e| matches!(e.msg, Message::Hold { .. })),
            "round {round}: a hold message before the interval: {early:?}"
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        let got = c.drain().await;
        assert!(
            got.iter().any(|e| matches!(e.msg, Message::Hold { .. })),
            "round {round}: no hold message at the interval: {got:?}"
        );
        assert!(
            got.iter()
                .any(|e| matches!(e.msg, Message::QueueStatus { position: 1, .. }))
        );
    }
    ticker.abort();
}

fn chat(seq: u64, text: &str, session: Option<u64>) -> Incoming {
    let mut env = Envelope::new(Message::Chat {
        text: text.into(),
        from: None,
        at_ms: None,
    })
    .with_seq(seq);
    env.session = session;
    lotse_relay::pairing::wire::parse(&lotse_protocol::encode_text(&env)).expect("chat")
}

fn positions(got: &[Envelope]) -> Vec<u32> {
    got.iter()
        .filter_map(|e| match e.msg {
            Message::QueueStatus { position, .. } => Some(position),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn queue_updates_go_only_to_customers_whose_place_changed() {
    let Setup { hub, .. } = hub("");
    let mut t = Peer::new(&hub);
    hub.tech_hello(&t.link, "anna", "Anna");
    let mut waiting = Vec::new();
    for name in ["A", "B", "C", "D"] {
        waiting.push(waiting_customer(&hub, name).await);
    }
    for (i, (c, _, _)) in waiting.iter_mut().enumerate() {
        assert_eq!(positions(&c.drain().await).last(), Some(&(i as u32 + 1)));
    }
    // The last one leaves: nobody else moves, nobody else hears of it.
    let (_, d, _) = &waiting[3];
    let end = numbered(
        2,
        Message::End {
            reason: EndReason::EndedByCustomer,
        },
    );
    let d_link = waiting[3].0.link.id;
    assert_eq!(hub.customer_message(*d, d_link, end), Handled::Ok);
    for (c, _, _) in &mut waiting[..3] {
        assert_eq!(positions(&c.drain().await), Vec::<u32>::new());
    }
    // The technician's queue lists the three left.
    let listed = t
        .next(|e| match &e.msg {
            Message::Queue { entries, .. } if entries.len() == 3 => {
                Some(entries.iter().map(|e| e.name.clone()).collect::<Vec<_>>())
            }
            _ => None,
        })
        .await;
    assert_eq!(listed, ["A", "B", "C"]);
    // The first is taken: the two behind it move up, each told once.
    let a = waiting[0].1;
    hub.tech_message(t.link.id, numbered(1, Message::Accept { session: a }));
    assert_eq!(positions(&waiting[0].0.drain().await), Vec::<u32>::new());
    assert_eq!(positions(&waiting[1].0.drain().await), vec![1]);
    assert_eq!(positions(&waiting[2].0.drain().await), vec![2]);
}

#[tokio::test(start_paused = true)]
async fn chat_is_forwarded_in_order_once_each_way_with_sessions_apart() {
    let Setup { hub, records, .. } = hub("");
    let mut pairs = Vec::new();
    for (name, tech) in [("Erika", "anna"), ("Max", "bert")] {
        let (c, sid, _) = waiting_customer(&hub, name).await;
        let t = Peer::new(&hub);
        hub.tech_hello(&t.link, tech, tech);
        hub.tech_message(t.link.id, numbered(1, Message::Accept { session: sid }));
        pairs.push((c, t, sid));
    }
    const LINES: u64 = 1000;
    let mut got: Vec<(Vec<Envelope>, Vec<Envelope>)> = vec![Default::default(); pairs.len()];
    for seq in 1..=LINES {
        for (c, t, sid) in &pairs {
            let up = chat(seq + 1, &format!("{sid} up {seq}"), None);
            assert_eq!(hub.customer_message(*sid, c.link.id, up), Handled::Ok);
            let down = chat(seq + 1, &format!("{sid} down {seq}"), Some(*sid));
            assert_eq!(hub.tech_message(t.link.id, down), Handled::Ok);
        }
        if seq % 100 == 0 {
            // Read as a peer does (each link's channel is bounded).
            for ((c, t, _), (up, down)) in pairs.iter_mut().zip(&mut got) {
                up.extend(t.drain().await);
                down.extend(c.drain().await);
            }
        }
    }
    // A line sent again (same seq) is acknowledged but not forwarded twice.
    let (c, _, sid) = &pairs[0];
    let again = chat(LINES + 1, &format!("{sid} up {LINES}"), None);
    assert_eq!(hub.customer_message(*sid, c.link.id, again), Handled::Ok);
    for ((c, t, sid), (up, down)) in pairs.iter_mut().zip(got) {
        let lines = |got: Vec<Envelope>, session: Option<u64>| -> Vec<(u64, String)> {
            got.into_iter()
                .filter_map(|e| match e.msg {
                    Message::Chat { text, .. } => {
                        assert_eq!(e.session, session, "{text}");
                        Some((e.seq.expect("numbered"), text))
                    }
                    _ => None,
                })
                .collect()
        };
        let mut up = up;
        up.extend(t.drain().await);
        let mut down = down;
        down.extend(c.drain().await);
        let (up, down) = (lines(up, Some(*sid)), lines(down, None));
        assert_eq!(up.len() as u64, LINES);
        assert_eq!(down.len() as u64, LINES);
        for (i, ((_, u), (_, d))) in up.iter().zip(&down).enumerate() {
            assert_eq!(u, &format!("{sid} up {}", i + 1));
            assert_eq!(d, &format!("{sid} down {}", i + 1));
        }
        // Numbered one after the other on each hop.
        assert!(up.windows(2).all(|w| w[1].0 == w[0].0 + 1));
        assert!(down.windows(2).all(|w| w[1].0 == w[0].0 + 1));
    }
    let transcript = records
        .try_iter()
        .filter(|j| matches!(j, Job::Chat { .. }))
        .count();
    assert_eq!(
        transcript as u64,
        4 * LINES,
        "every line in the transcript once"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stalled_record_writer_never_holds_up_chat_and_the_loss_is_noted() {
    // Nobody reads the records while the chat flows.
    let Setup { hub, records, .. } = hub_with_records("", 16);
    let (mut c, sid, _) = waiting_customer(&hub, "Erika").await;
    let mut t = Peer::new(&hub);
    hub.tech_hello(&t.link, "anna", "Anna");
    hub.tech_message(t.link.id, numbered(1, Message::Accept { session: sid }));
    for seq in 2..=101 {
        let line = chat(seq, &format!("line {seq}"), None);
        assert_eq!(hub.customer_message(sid, c.link.id, line), Handled::Ok);
    }
    let forwarded = t
        .drain()
        .await
        .into_iter()
        .filter(|e| matches!(e.msg, Message::Chat { .. }))
        .count();
    assert_eq!(forwarded, 100, "every line reached the technician");
    let kept = records.try_iter().count();
    assert_eq!(kept, 16);
    let dropped = hub.records_dropped();
    assert!(dropped > 0, "the overflow is counted");
    // The writer has room again: the next entry brings the note along.
    let line = chat(102, "after the stall", None);
    assert_eq!(hub.customer_message(sid, c.link.id, line), Handled::Ok);
    let note = records.try_iter().find_map(|job| match job {
        Job::Event {
            session,
            kind,
            detail,
            ..
        } if kind == "records_lost" => Some((session, detail)),
        _ => None,
    });
    let (session, detail) = note.expect("the loss is noted in the record");
    assert_eq!(session, sid);
    assert!(
        detail.starts_with(&format!("{dropped} record entries")),
        "{detail}"
    );
    c.drain().await;
}

/// While the customer has paused the share, the technician's input stops
/// at the relay (the client drops it too); the pause and the resume reach
/// the technician and the record; after the resume input passes again,
/// without a new grant.
#[tokio::test(start_paused = true)]
async fn input_stops_at_the_relay_while_the_customer_has_paused() {
    use lotse_protocol::{InputEvent, ShareScope};
    let Setup { hub, records, .. } = hub("");
    let (mut c, sid, _) = waiting_customer(&hub, "Erika").await;
    let mut t = Peer::new(&hub);
    hub.tech_hello(&t.link, "anna", "anna");
    hub.tech_message(t.link.id, numbered(1, Message::Accept { session: sid }));
    let grant = Message::ShareGrant {
        scope: ShareScope::Screen { monitor: 0 },
        width: 800,
        height: 600,
    };
    for (seq, msg) in [(2, grant), (3, Message::ControlGrant)] {
        assert_eq!(
            hub.customer_message(sid, c.link.id, numbered(seq, msg)),
            Handled::Ok
        );
    }
    let input = |seq: u64, x: i32| {
        Incoming::Full(
            Envelope::new(Message::Input {
                event: InputEvent::MouseMove { x, y: 1 },
            })
            .with_seq(seq)
            .with_session(sid),
        )
    };
    let moves = |got: Vec<Envelope>| -> Vec<i32> {
        got.into_iter()
            .filter_map(|e| match e.msg {
                Message::Input {
                    event: InputEvent::MouseMove { x, .. },
                } => Some(x),
                _ => None,
            })
            .collect()
    };
    c.drain().await;
    hub.tech_message(t.link.id, input(2, 10));
    assert_eq!(moves(c.drain().await), [10], "granted: input passes");

    let pause = |seq, paused| numbered(seq, Message::SharePause { paused });
    assert_eq!(
        hub.customer_message(sid, c.link.id, pause(4, true)),
        Handled::Ok
    );
    t.next(|e| matches!(e.msg, Message::SharePause { paused: true }).then_some(()))
        .await;
    hub.tech_message(t.link.id, input(3, 20));
    hub.tech_message(t.link.id, input(4, 30));
    assert_eq!(
        moves(c.drain().await),
        Vec::<i32>::new(),
        "paused: nothing passes"
    );

    assert_eq!(
        hub.customer_message(sid, c.link.id, pause(5, false)),
        Handled::Ok
    );
    t.next(|e| matches!(e.msg, Message::SharePause { paused: false }).then_some(()))
        .await;
    hub.tech_message(t.link.id, input(5, 40));
    assert_eq!(moves(c.drain().await), [40], "resumed: input passes again");

    let noted: Vec<String> = records
        .try_iter()
        .filter_map(|job| match job {
            Job::Event { kind, detail, .. } if kind == "share_pause" => Some(detail),
            _ => None,
        })
        .collect();
    assert_eq!(noted, ["paused", "resumed"]);
}
