//! Three `openclaw-skill run` processes of ONE DingTalk app sharing state through a real Redis
//! (`shared_state:`): one DingTalk call budget, dedup, session generations and the card journal.
//!
//! One emulator (Stream mode, the app limited to 20 calls/s app-wide) spreads the pushes over
//! the three hosts' connections (round-robin, a redelivery on another connection); each host has
//! its own manifest in its own directory, so its own `state_dir`, and all name the same Redis URL
//! and key prefix with `expected_hosts: 3` and `dingtalk.app_qps: 20`. The fake gateway answers
//! in a few seconds (`TOKENS:n PACE:ms`).
//!
//! What a user of the app sees must not depend on how many hosts serve it: every question
//! answered once in one card that ends, no 403 from DingTalk's flow control, a killed host's
//! cards ended by a survivor once its lease expired, a lost ACK not answered twice, and a Redis
//! that restarts empty (no persistence) costing neither a stuck card nor a second answer.
//!
//! Needs `redis-server` (Debian package `redis-server`, installed by `.ci/run`): without it the
//! tests say SKIPPED, except when `CI` is set, where they fail. Every wait is change-notified on
//! the emulator's record (or the hosts' logs after they exited) and bounded.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use openclaw_dingtalk_emulator::dingtalk::{
    ApiKind, Call, Card, CardState, DingTalkEmulator, EmulatorConfig, FrameKind, PushOptions,
    QpsScope, StreamConfig,
};
use openclaw_dingtalk_emulator::event::{MessageSpec, Sender};
use openclaw_dingtalk_emulator::gateway::{FakeGatewayConfig, GatewayRequest, RequestOutcome};
use openclaw_dingtalk_emulator::manifest::TestManifest;
use openclaw_dingtalk_emulator::redis::RedisServer;
use support::{quiet_stream, tokens, Env, Host};

/// Hosts of the one app.
const HOSTS: usize = 3;
/// DingTalk's app-wide limit in the emulator, and `dingtalk.app_qps` in every manifest.
const APP_QPS: u32 = 20;
/// Bound of a test's waits for all its replies (they return as soon as the condition holds).
const ALL_REPLIES: Duration = Duration::from_secs(180);
/// `shared_state.lease_ms` of the kill test.
const LEASE_MS: u64 = 3000;
/// How long after its lease expired a killed host's card may take to be finalized by a
/// survivor: noticing the expiry (the survivors look every third of a lease), and the final
/// update within the shared budget, on a loaded 2-core CI machine.
const TAKEOVER_MARGIN: Duration = Duration::from_secs(10);
/// Cards that must be streaming when the host with the most of them is killed.
const VICTIM_STREAMING: usize = 3;
/// How often a starting host is checked for an early exit while its connection is awaited.
const HOST_CHECK: Duration = Duration::from_millis(200);
/// The line the plugin logs for every reply it answered (`src/reply/answer.rs`).
const REPLY_LINE: &str = "reply msg=";

/// A question pushed into a group of its own.
#[derive(Debug, Clone)]
struct Question {
    /// The group (`cid…==`).
    cid: String,
    /// The robot message's `msgId`.
    msg_id: String,
    /// Text only this question contains (how the gateway's requests are told apart).
    marker: String,
    /// How many `t<i>` tokens the fake gateway answers.
    tokens: usize,
}

/// Redis, the emulator and the fake gateway, and three hosts of the one app.
/// Fields drop in this order: the hosts first (killed if still running), then the peers.
struct Cluster {
    hosts: Vec<Host>,
    env: Env,
    redis: RedisServer,
    /// The Stream connection each host opened (by [`Cluster::hosts`] index): the hosts start
    /// one after another, each once the previous one is connected.
    connections: Vec<u64>,
    /// Held while the test runs (dropped last, after the hosts).
    _one_at_a_time: MutexGuard<'static, ()>,
}

/// The tests of this file run one at a time: each starts three hosts and a Redis, and two at
/// once on a 2-core machine would measure the machine, not the hosts (the takeover's bound).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

impl Cluster {
    /// Starts everything, or `None` when `redis-server` is not installed (and `CI` is not set).
    /// `lease_ms`: `shared_state.lease_ms` (`None`: the plugin's default).
    fn start(name: &str, stream: StreamConfig, lease_ms: Option<u64>) -> Option<Cluster> {
        Cluster::start_with(name, stream, lease_ms, |m| m)
    }

    /// [`Cluster::start`] with `extra` applied to every host's manifest.
    fn start_with(
        name: &str,
        stream: StreamConfig,
        lease_ms: Option<u64>,
        extra: fn(TestManifest) -> TestManifest,
    ) -> Option<Cluster> {
        let one_at_a_time = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        let redis = RedisServer::start_for_test(name)?;
        let env = Env::start_config(
            name,
            EmulatorConfig {
                qps_limit: Some(APP_QPS),
                qps_scope: QpsScope::App,
                stream,
                ..EmulatorConfig::default()
            },
            FakeGatewayConfig::default(),
        );
        let mut hosts = Vec::new();
        let mut connections = Vec::new();
        for i in 0..HOSTS {
            let dir = env.dir.join(format!("host{}", i + 1));
            std::fs::create_dir_all(&dir).expect("host dir");
            let mut manifest = env
                .manifest()
                .stream_ingress()
                .with(|m| {
                    m.name = format!("shared-state-host{}", i + 1).into();
                    m.dingtalk.app_qps = Some(APP_QPS);
                })
                .shared_state(&redis.url(), HOSTS as u32);
            if let Some(ms) = lease_ms {
                manifest = manifest.set("shared_state.lease_ms", ms);
            }
            let manifest = extra(manifest);
            let path: PathBuf = manifest.write(&dir);
            let mut host = env.host(&path, &[]);
            // Connected, or exited at start (a manifest the plugin refuses): said at once.
            let deadline = Instant::now() + support::WAIT;
            let connected = |e: &DingTalkEmulator| {
                let c = e.stream_connections();
                c.len() > i && c[i].is_open()
            };
            while !env.rt.block_on(env.dt.wait_until(connected, HOST_CHECK)) {
                if let Some(status) = host.exited() {
                    panic!("host {} exited at start ({status})", i + 1);
                }
                assert!(
                    Instant::now() < deadline,
                    "host {} did not connect within {:?}",
                    i + 1,
                    support::WAIT
                );
            }
            hosts.push(host);
            connections.push(env.dt.stream_connections()[i].id);
        }
        Some(Cluster {
            env,
            redis,
            hosts,
            connections,
            _one_at_a_time: one_at_a_time,
        })
    }

    fn dt(&self) -> &DingTalkEmulator {
        &self.env.dt
    }

    /// Pushes `n` questions at once, each into its own group from its own sender;
    /// `script` is the fake gateway's (e.g. `TOKENS:30 PACE:100`, `tokens` its token count).
    fn push(&self, tag: &str, n: usize, script: &str, tokens: usize) -> Vec<Question> {
        self.push_with(tag, n, script, tokens, PushOptions::default())
    }

    /// [`Cluster::push`] with push options (a lost ACK).
    fn push_with(
        &self,
        tag: &str,
        n: usize,
        script: &str,
        tokens: usize,
        options: PushOptions,
    ) -> Vec<Question> {
        (0..n)
            .map(|i| {
                let cid = format!("cid{tag}{i}==");
                let marker = format!("{tag}第{i}号问题");
                let spec = MessageSpec {
                    sender: Sender {
                        staff_id: format!("0166{tag}{i:06}"),
                        nick: format!("同事{i}"),
                    },
                    ..MessageSpec::group_text(&cid, &format!("{marker}：请回答 {script}"))
                };
                let receipt = self.dt().push_bot_message_with(spec, options.clone());
                Question {
                    cid,
                    msg_id: receipt.msg_id,
                    marker,
                    tokens,
                }
            })
            .collect()
    }

    /// Waits (change-notified, bounded by `bound`) until `pred(emulator)` holds.
    fn wait_within(&self, what: &str, bound: Duration, pred: impl Fn(&DingTalkEmulator) -> bool) {
        let ok = self.env.rt.block_on(self.dt().wait_until(pred, bound));
        assert!(
            ok,
            "timed out after {bound:?} waiting for {what}\n{}",
            self.summary()
        );
    }

    /// Waits until every question's group has a card and all of them ended (finished or
    /// failed).
    fn wait_all_ended(&self, questions: &[Question], bound: Duration) {
        let cids: Vec<String> = questions.iter().map(|q| q.cid.clone()).collect();
        self.wait_within("every card ended", bound, move |e| {
            let cards = e.cards();
            cids.iter().all(|cid| {
                let mine: Vec<&Card> = cards.iter().filter(|c| in_group(c, cid)).collect();
                !mine.is_empty() && mine.iter().all(|c| ended(c))
            })
        });
    }

    /// Waits until at least `at_least` of the questions have a card that shows some of its
    /// answer and has not ended: replies are running. (Not all of them at once: the hosts
    /// hold back new cards while the app's budget is taken by the running ones.)
    fn wait_streaming(&self, questions: &[&Question], at_least: usize) {
        let cids: Vec<String> = questions.iter().map(|q| q.cid.clone()).collect();
        self.wait_within(
            &format!("{at_least} cards streaming"),
            ALL_REPLIES,
            move |e| {
                let cards = e.cards();
                cids.iter()
                    .filter(|cid| {
                        cards
                            .iter()
                            .any(|c| in_group(c, cid) && !ended(c) && !shown_answer(c).is_empty())
                    })
                    .count()
                    >= at_least
            },
        );
    }

    /// The question's cards.
    fn cards_of(&self, q: &Question) -> Vec<Card> {
        self.dt()
            .cards()
            .into_iter()
            .filter(|c| in_group(c, &q.cid))
            .collect()
    }

    /// How many chat requests the fake gateway got for the question.
    fn asked(&self, q: &Question) -> usize {
        self.env
            .gw
            .requests()
            .iter()
            .filter(|r| r.body.to_string().contains(&q.marker))
            .count()
    }

    /// The Stream connection the robot message `msg_id` first went out on.
    fn connection_of(&self, msg_id: &str) -> Option<u64> {
        self.dt()
            .stream_frames()
            .iter()
            .find(|f| f.kind == FrameKind::Callback && f.msg_id.as_deref() == Some(msg_id))
            .map(|f| f.connection)
    }

    /// The Stream connections the question's callback went out on, in order.
    fn delivered_on(&self, q: &Question) -> Vec<(u64, bool)> {
        self.dt()
            .stream_frames()
            .iter()
            .filter(|f| f.kind == FrameKind::Callback && f.msg_id.as_deref() == Some(&q.msg_id))
            .map(|f| (f.connection, f.redelivery))
            .collect()
    }

    /// The host (index) a Stream connection belongs to.
    fn host_of(&self, connection: u64) -> Option<usize> {
        self.connections.iter().position(|c| *c == connection)
    }

    /// Every question answered once: one card, finished with the whole answer, finalized by one
    /// streaming call, and the gateway asked once.
    fn assert_answered_once(&self, questions: &[Question]) {
        let calls = self.dt().calls();
        for q in questions {
            let cards = self.cards_of(q);
            assert_eq!(cards.len(), 1, "one card in {}: {cards:#?}", q.cid);
            let card = &cards[0];
            assert_eq!(card.state, CardState::Finished, "{}: {card:#?}", q.cid);
            assert_eq!(shown_answer(card).trim_end(), tokens(q.tokens), "{}", q.cid);
            assert_eq!(
                finalizing_calls(&calls, &card.out_track_id).len(),
                1,
                "{}: finalized once",
                q.cid
            );
            assert_eq!(self.asked(q), 1, "{}: the gateway was asked once", q.cid);
        }
    }

    /// SIGTERMs the hosts still running and waits for their exit: then every reply line is in
    /// their logs. Each must exit cleanly.
    fn stop_hosts(&mut self, skip: Option<usize>) {
        for (i, host) in self.hosts.iter().enumerate() {
            if Some(i) != skip {
                host.sigterm();
            }
        }
        for (i, host) in self.hosts.iter_mut().enumerate() {
            if Some(i) != skip {
                let status = host.wait_exit();
                assert!(status.success(), "host {} exited with {status}", i + 1);
            }
        }
    }

    /// The msgIds each host logged a reply line for, with the line.
    fn replies_by_host(&self) -> Vec<BTreeMap<String, String>> {
        self.hosts
            .iter()
            .map(|h| {
                h.messages()
                    .into_iter()
                    .filter_map(|m| {
                        let id = m.strip_prefix(REPLY_LINE)?.split_whitespace().next()?;
                        Some((id.to_owned(), m.clone()))
                    })
                    .collect()
            })
            .collect()
    }

    /// One line for a failure message: cards by state, 403s, connections.
    fn summary(&self) -> String {
        let cards = self.dt().cards();
        let mut states: BTreeMap<String, usize> = BTreeMap::new();
        for c in &cards {
            *states.entry(format!("{:?}", c.state)).or_default() += 1;
        }
        let calls = self.dt().calls();
        // Calls per second of the emulator's clock: where the budget went.
        let mut per_second: BTreeMap<u64, usize> = BTreeMap::new();
        for c in &calls {
            *per_second.entry(c.at_ms / 1000).or_default() += 1;
        }
        format!(
            "cards by state {states:?}; calls {} ({} × 403), per second {per_second:?}; connections {:?}; redis up: {}",
            calls.len(),
            calls.iter().filter(|c| c.status == 403).count(),
            self.dt()
                .stream_connections()
                .iter()
                .map(|c| (c.id, c.is_open()))
                .collect::<Vec<_>>(),
            self.redis.is_up()
        )
    }
}

/// The card is in the group `cid` (its `openSpaceId` ends with it).
fn in_group(card: &Card, cid: &str) -> bool {
    card.open_space_id.ends_with(cid)
}

/// Finished or failed.
fn ended(card: &Card) -> bool {
    matches!(card.state, CardState::Finished | CardState::Failed)
}

/// What the card shows of the answer: its content without the line that says how to stop a
/// card without a stop button (not part of the answer).
fn shown_answer(card: &Card) -> String {
    without_stop_hint(&card.text("content"))
}

fn without_stop_hint(text: &str) -> String {
    text.split("\n\n*发送 /stop")
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The streaming calls that finalized (or failed) the card, answered or not.
fn finalizing_calls<'a>(calls: &'a [Call], card: &str) -> Vec<&'a Call> {
    calls
        .iter()
        .filter(|c| {
            c.kind == ApiKind::StreamingUpdate
                && c.out_track_id.as_deref() == Some(card)
                && (c.request["isFinalize"] == true || c.request["isError"] == true)
        })
        .collect()
}

/// DingTalk's answers 403 (flow control) to the app.
fn qps_403(calls: &[Call]) -> Vec<&Call> {
    calls.iter().filter(|c| c.status == 403).collect()
}

/// Milliseconds on the emulator's clock (its records' `at_ms`).
fn emulator_now_ms(dt: &DingTalkEmulator) -> u64 {
    u64::try_from(dt.started_at().elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[test]
fn sixty_questions_spread_over_three_hosts_answered_once_within_one_budget() {
    let Some(mut cluster) = Cluster::start("shared-sixty", quiet_stream(), None) else {
        return;
    };
    let questions = cluster.push("Sixty", 60, "TOKENS:30 PACE:100", 30);
    cluster.wait_all_ended(&questions, ALL_REPLIES);
    cluster.assert_answered_once(&questions);
    let calls = cluster.dt().calls();
    let refused = qps_403(&calls);
    assert!(
        refused.is_empty(),
        "one budget of {APP_QPS} calls/s for the three hosts: {} × 403 of {} calls: {:#?}",
        refused.len(),
        calls.len(),
        refused.iter().take(5).collect::<Vec<_>>()
    );
    // The emulator spread the pushes over the three connections, 20 each.
    for q in &questions {
        assert_eq!(cluster.delivered_on(q).len(), 1, "{} pushed once", q.cid);
    }

    cluster.stop_hosts(None);
    let replies = cluster.replies_by_host();
    for (i, answered) in replies.iter().enumerate() {
        assert!(
            !answered.is_empty(),
            "host {} answered some of the questions",
            i + 1
        );
        eprintln!("host {}: {} replies", i + 1, answered.len());
    }
    for q in &questions {
        let by: Vec<usize> = (0..HOSTS)
            .filter(|h| replies[*h].contains_key(&q.msg_id))
            .collect();
        assert_eq!(
            by.len(),
            1,
            "{} answered by exactly one host: {by:?}",
            q.cid
        );
        let line = &replies[by[0]][&q.msg_id];
        assert!(line.contains("outcome=finished"), "{line}");
    }
}

#[test]
fn a_killed_hosts_cards_are_finalized_once_by_a_survivor_after_its_lease() {
    let Some(mut cluster) = Cluster::start("shared-kill", quiet_stream(), Some(LEASE_MS)) else {
        return;
    };
    // 20 s answers: the kill lands mid-reply, and the lease expires long before they end.
    let questions = cluster.push("Kill", 60, "TOKENS:200 PACE:100", 200);
    cluster.wait_streaming(&questions.iter().collect::<Vec<_>>(), VICTIM_STREAMING);
    // The victim: the host with the most cards streaming now (the hosts need not stream
    // their shares evenly; the test is about the takeover).
    let streaming_on = |h: usize| {
        questions
            .iter()
            .filter(|q| {
                cluster.delivered_on(q).first().map(|d| d.0) == Some(cluster.connections[h])
            })
            .filter(|q| {
                cluster
                    .cards_of(q)
                    .iter()
                    .any(|c| !ended(c) && !shown_answer(c).is_empty())
            })
            .count()
    };
    let victim = (0..HOSTS).max_by_key(|h| streaming_on(*h)).expect("hosts");
    let victim_connection = cluster.connections[victim];
    let (share, others): (Vec<&Question>, Vec<&Question>) = questions
        .iter()
        .partition(|q| cluster.delivered_on(q).first().map(|d| d.0) == Some(victim_connection));
    assert_eq!(share.len(), questions.len() / HOSTS, "a third each");

    let killed_at_ms = emulator_now_ms(cluster.dt());
    let killed_at = Instant::now();
    cluster.hosts[victim].kill();
    // The victim's share: cards streaming when it died (to be taken over), cards that had
    // ended (left as they are), and messages it had taken but not yet begun a card for (the
    // budget held them back; DingTalk does not push an ACKed message again: a survivor takes
    // them over from the shared inbox and answers them).
    // A card that shows no text yet may have been created a moment before the kill, with
    // the host not yet knowing: a survivor closes it ("the answer follows in a new card") and
    // answers the message anew, or, if the host had recorded it, finalizes it as interrupted.
    let mut victims = Vec::new();
    let mut ended_before = Vec::new();
    let mut not_begun = Vec::new();
    let mut creating = Vec::new();
    for q in share {
        let cards = cluster.cards_of(q);
        if cards.is_empty() {
            not_begun.push(q.clone());
        } else if cards.iter().all(ended) {
            ended_before.push(q.clone());
        } else if cards.iter().any(|c| !shown_answer(c).is_empty()) {
            victims.push(q);
        } else {
            creating.push(q.clone());
        }
    }
    assert!(
        !victims.is_empty(),
        "host {} had cards streaming at the kill",
        victim + 1
    );

    // Ended by a survivor once the lease expired, within lease + margin of the kill.
    let bound = Duration::from_millis(LEASE_MS) + TAKEOVER_MARGIN;
    let victim_cids: Vec<String> = victims.iter().map(|q| q.cid.clone()).collect();
    cluster.wait_within(
        "the killed host's cards finalized by a survivor",
        bound.saturating_sub(killed_at.elapsed()),
        move |e| {
            let cards = e.cards();
            victim_cids
                .iter()
                .all(|cid| cards.iter().any(|c| in_group(c, cid) && ended(c)))
        },
    );
    eprintln!(
        "{} cards of the killed host finalized {} ms after the kill (lease {LEASE_MS} ms)",
        victims.len(),
        killed_at.elapsed().as_millis()
    );
    let calls = cluster.dt().calls();
    for q in &victims {
        let cards = cluster.cards_of(q);
        assert_eq!(cards.len(), 1, "one card in {}", q.cid);
        let card = &cards[0];
        let finals = finalizing_calls(&calls, &card.out_track_id);
        assert_eq!(
            finals.len(),
            1,
            "{}: finalized exactly once: {finals:#?}",
            q.cid
        );
        assert!(
            finals[0].at_ms >= killed_at_ms,
            "{}: finalized after the kill, so by a survivor",
            q.cid
        );
        // The final text: what the card showed before, and a note that the reply was cut.
        let final_text = card.text("content");
        let before = card
            .updates
            .iter()
            .rfind(|u| u.key == "content" && !u.finalize && !u.error)
            .map(|u| without_stop_hint(&u.content))
            .unwrap_or_default();
        assert!(
            final_text.starts_with(before.trim_end()),
            "{}: the text shown before the kill is kept:\nbefore: {before}\nfinal: {final_text}",
            q.cid
        );
        assert!(
            final_text.contains("中断"),
            "{}: an interrupted note: {final_text}",
            q.cid
        );
        assert_eq!(cluster.asked(q), 1, "{}: not asked again", q.cid);
    }

    // The survivors' own replies go on to the end; the victim's that had ended stay as they were.
    let ended_count = ended_before.len();
    let survivors: Vec<Question> = others.into_iter().cloned().chain(ended_before).collect();
    cluster.wait_all_ended(&survivors, ALL_REPLIES);
    cluster.assert_answered_once(&survivors);
    // Cards the victim had just created: ended, none stuck; when closed as answered
    // elsewhere, the answer is there in one finished card.
    cluster.wait_all_ended(&creating, ALL_REPLIES);
    for q in &creating {
        let cards = cluster.cards_of(q);
        let finished = cards
            .iter()
            .filter(|c| c.state == CardState::Finished)
            .count();
        let closed = cards
            .iter()
            .filter(|c| c.text("content").contains("新卡片"))
            .count();
        assert!(
            (cards.len() == 1 && cards[0].text("content").contains("中断"))
                || (cards.len() == 2 && closed == 1 && finished == 1),
            "{}: interrupted, or closed and answered in a new card: {cards:#?}",
            q.cid
        );
    }
    // Messages the victim had accepted but not begun a card for: a survivor answers each,
    // in one finished card.
    cluster.wait_all_ended(&not_begun, ALL_REPLIES);
    for q in &not_begun {
        let cards = cluster.cards_of(q);
        assert_eq!(cards.len(), 1, "{}: one card: {cards:#?}", q.cid);
        assert_eq!(
            cards[0].state,
            CardState::Finished,
            "{}: answered in full by a survivor",
            q.cid
        );
    }
    eprintln!(
        "killed host {}: {} cards taken over, {} had ended, {} were being created, {} accepted messages answered by a survivor",
        victim + 1,
        victims.len(),
        ended_count,
        creating.len(),
        not_begun.len(),
    );
    cluster.stop_hosts(Some(victim));
}

#[test]
fn a_lost_ack_is_redelivered_to_another_host_and_answered_once() {
    let Some(mut cluster) = Cluster::start(
        "shared-lost-ack",
        StreamConfig {
            redelivery_after: Some(Duration::from_millis(500)),
            ..quiet_stream()
        },
        None,
    ) else {
        return;
    };
    let questions = cluster.push_with(
        "LostAck",
        1,
        "TOKENS:20 PACE:100",
        20,
        PushOptions { lose_acks: 1 },
    );
    let q = &questions[0];
    let msg_id = q.msg_id.clone();
    cluster.wait_within("the redelivery", support::WAIT, move |e| {
        e.stream_frames().iter().any(|f| {
            f.kind == FrameKind::Ack && f.msg_id.as_deref() == Some(&msg_id) && !f.ack_lost
        })
    });
    cluster.wait_all_ended(&questions, ALL_REPLIES);
    cluster.assert_answered_once(&questions);
    assert!(
        cluster.dt().sent_messages().is_empty(),
        "no plain message on top of the card"
    );
    let deliveries = cluster.delivered_on(q);
    assert_eq!(deliveries.len(), 2, "{deliveries:?}");
    assert!(deliveries[1].1, "the second is a redelivery");
    let first = cluster.host_of(deliveries[0].0).expect("first host");
    let second = cluster.host_of(deliveries[1].0).expect("second host");
    assert_ne!(first, second, "redelivered to another host");

    cluster.stop_hosts(None);
    // Each host wrote one event line for the message: the first answered it, the second
    // skipped it as a duplicate.
    let outcome = |host: usize| -> Vec<String> {
        cluster.hosts[host]
            .messages()
            .into_iter()
            .filter(|m| m.starts_with("event source=stream") && m.contains(&q.msg_id))
            .collect()
    };
    let (answered, skipped) = (outcome(first), outcome(second));
    assert_eq!(answered.len(), 1, "{answered:#?}");
    assert!(answered[0].contains("outcome=finished"), "{answered:#?}");
    assert_eq!(skipped.len(), 1, "{skipped:#?}");
    assert!(skipped[0].contains("outcome=skipped"), "{skipped:#?}");
    let third = (0..HOSTS).find(|h| *h != first && *h != second).unwrap();
    assert!(outcome(third).is_empty(), "the third host never saw it");
}

#[test]
fn a_redis_restart_while_replies_run_leaves_no_card_stuck_and_nothing_answered_twice() {
    let Some(mut cluster) = Cluster::start("shared-redis-restart", quiet_stream(), None) else {
        return;
    };
    let mut questions = cluster.push("Before", 30, "TOKENS:80 PACE:100", 80);
    cluster.wait_streaming(&questions.iter().collect::<Vec<_>>(), 3);
    let port = cluster.redis.port();
    cluster.redis.restart().expect("redis-server restarts");
    assert_eq!(cluster.redis.port(), port);
    // Questions after the restart are answered too, by the hosts that reconnected.
    questions.extend(cluster.push("After", 9, "TOKENS:20 PACE:100", 20));
    cluster.wait_all_ended(&questions, ALL_REPLIES);
    cluster.assert_answered_once(&questions);
    let cids: BTreeSet<&str> = questions.iter().map(|q| q.cid.as_str()).collect();
    let cards = cluster.dt().cards();
    let stuck: Vec<&Card> = cards
        .iter()
        .filter(|c| cids.iter().any(|cid| in_group(c, cid)) && !ended(c))
        .collect();
    assert!(stuck.is_empty(), "no card stuck: {stuck:#?}");
    cluster.stop_hosts(None);
    let replies = cluster.replies_by_host();
    for q in &questions {
        let n = replies.iter().filter(|r| r.contains_key(&q.msg_id)).count();
        assert_eq!(n, 1, "{} answered by one host", q.cid);
    }
}

#[test]
fn stop_and_the_stop_button_reach_the_host_that_runs_the_reply() {
    let Some(cluster) = Cluster::start_with("shared-stop", quiet_stream(), None, |m| {
        m.with(|m| m.dingtalk.card_stop_button = Some("msg_buttons".into()))
    }) else {
        return;
    };
    // Three long answers, one on each host (the emulator deals the pushes round-robin).
    let questions = cluster.push("Stop", 3, "TOKENS:300 PACE:50", 300);
    cluster.wait_streaming(&questions.iter().collect::<Vec<_>>(), 3);
    let asker = |i: usize| Sender {
        staff_id: format!("0166Stop{i:06}"),
        nick: format!("同事{i}"),
    };
    // `/stop` from the askers of the second and third questions: each lands on another host
    // than the one answering it.
    for i in [1, 2] {
        let q = &questions[i];
        let stop = cluster.dt().push_bot_message(MessageSpec {
            sender: asker(i),
            ..MessageSpec::group_text(&q.cid, "/stop")
        });
        let (question_on, stop_on) = (
            cluster.connection_of(&q.msg_id),
            cluster.connection_of(&stop),
        );
        assert!(
            stop_on.is_some() && stop_on != question_on,
            "the /stop of {} went to connection {stop_on:?}, its question to {question_on:?}",
            q.cid
        );
    }
    // The first question's asker presses its card's stop button: the press goes to the
    // newest connection, not the one answering it.
    let first = &questions[0];
    let card = cluster.cards_of(first)[0].out_track_id.clone();
    let press = cluster
        .dt()
        .press_card(
            &card,
            &asker(0).staff_id,
            "btn_stop",
            serde_json::Value::Null,
        )
        .expect("press");
    let cids: Vec<String> = questions.iter().map(|q| q.cid.clone()).collect();
    cluster.wait_within("every card stopped", ALL_REPLIES, move |e| {
        let cards = e.cards();
        cids.iter().all(|cid| {
            cards
                .iter()
                .any(|c| in_group(c, cid) && c.state == CardState::Finished)
        })
    });
    let pressed_on = cluster
        .dt()
        .card_presses()
        .into_iter()
        .find(|p| p.seq == press.press)
        .and_then(|p| p.message_id)
        .and_then(|m| {
            cluster
                .dt()
                .stream_frames()
                .iter()
                .find(|f| f.kind == FrameKind::CardCallback && f.message_id.as_deref() == Some(&m))
                .map(|f| f.connection)
        });
    assert!(
        pressed_on.is_some() && pressed_on != cluster.connection_of(&first.msg_id),
        "the press went to connection {pressed_on:?}, the question to {:?}",
        cluster.connection_of(&first.msg_id)
    );
    for q in &questions {
        let text = cluster.cards_of(q)[0].text("content");
        assert!(
            text.contains("已停止") && !text.contains("t300"),
            "{}: stopped, not answered to its end: {text}",
            q.cid
        );
    }
    // Each /stop is told the reply stopped (the note may follow the card's end).
    cluster.wait_within("two notes that the reply stopped", ALL_REPLIES, |e| {
        e.sent_messages()
            .iter()
            .filter(|m| m.text.contains("已停止当前回复"))
            .count()
            == 2
    });
    assert!(
        !cluster
            .dt()
            .sent_messages()
            .iter()
            .any(|m| m.text.contains("没有进行中的回复")),
        "no /stop was told there was nothing to stop"
    );
    let cut_off = |requests: &[GatewayRequest]| {
        requests
            .iter()
            .filter(|r| r.outcome == RequestOutcome::ClientDisconnected)
            .count()
            == 3
    };
    let all_cut = cluster
        .env
        .rt
        .block_on(cluster.env.gw.wait_for(cut_off, support::WAIT));
    assert!(all_cut, "the model's three answers were cut off");
}

#[test]
fn stop_ends_the_conversations_replies_on_every_host() {
    let Some(cluster) = Cluster::start("shared-stop-all", quiet_stream(), None) else {
        return;
    };
    // Two colleagues ask in one group; the emulator deals the two questions to hosts 1 and 2,
    // a question elsewhere to host 3, and the `/stop` to host 1 again: host 1 stops its own
    // answer and tells the others.
    let group = "cid同一个群==";
    let colleague = |i: usize| Sender {
        staff_id: format!("0166All{i:06}"),
        nick: format!("同事{i}"),
    };
    let asked: Vec<String> = (0..2)
        .map(|i| {
            cluster.dt().push_bot_message(MessageSpec {
                sender: colleague(i),
                ..MessageSpec::group_text(group, &format!("问题{i} TOKENS:300 PACE:50"))
            })
        })
        .collect();
    let elsewhere = cluster.push("Else", 1, "TOKENS:300 PACE:50", 300);
    let streaming = |e: &DingTalkEmulator| {
        e.cards()
            .iter()
            .filter(|c| !ended(c) && !shown_answer(c).is_empty())
            .count()
            == 3
    };
    cluster.wait_within("three answers streaming", ALL_REPLIES, streaming);
    let stop = cluster.dt().push_bot_message(MessageSpec {
        sender: colleague(0),
        ..MessageSpec::group_text(group, "/stop")
    });
    let on: Vec<_> = asked.iter().map(|m| cluster.connection_of(m)).collect();
    assert!(
        on[0] != on[1] && on.contains(&cluster.connection_of(&stop)),
        "the questions went to {on:?}, the /stop to {:?}",
        cluster.connection_of(&stop)
    );
    let g = group.to_owned();
    cluster.wait_within("both answers in the group stopped", ALL_REPLIES, move |e| {
        let cards = e.cards();
        let mine: Vec<&Card> = cards.iter().filter(|c| in_group(c, &g)).collect();
        mine.len() == 2 && mine.iter().all(|c| c.state == CardState::Finished)
    });
    for card in cluster.dt().cards().iter().filter(|c| in_group(c, group)) {
        let text = card.text("content");
        assert!(text.contains("已停止") && !text.contains("t300"), "{text}");
    }
    let other = &cluster.cards_of(&elsewhere[0])[0];
    assert!(
        !ended(other) || other.text("content").contains("t300"),
        "the answer in another group goes on: {}",
        other.text("content")
    );
}
