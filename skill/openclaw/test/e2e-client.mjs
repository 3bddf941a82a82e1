// e2e-client.mjs: the client side of test/e2e.sh, run inside the peer's network namespace.
// Posts DingTalk callbacks to the real gateway's route and asserts on the emulator's record.
//
//   node e2e-client.mjs check          signed callback → finished card with the full answer;
//                                      bad/missing signature and a replay refused; stats route
//                                      needs the token
//   node e2e-client.mjs start-slow     a SLOW reply, returns once its card is streaming
//   node e2e-client.mjs check-slow     after the gateway stopped: that card is finalized
//   node e2e-client.mjs check-stream   Stream mode: the plugin's connection (opened with the skill
//                                      library's body), a pushed message ACKed and answered
//   node e2e-client.mjs bench N T P    N concurrent replies of T tokens every P ms; prints the
//                                      gateway's event-loop lag (plugin stats route) as JSON
//   node e2e-client.mjs bench-direct N T P   the same load as direct /v1/chat/completions calls
//                                      (baseline: the gateway's own share of the lag)
//
// Environment: peer.env (OPENCLAW_TEST_GATEWAY_URL, _TOKEN, _EMULATOR_URL, _UPSTREAM_RECORD),
// DINGTALK_APP_SECRET, OCDT_CALLBACK_PATH (default /dingtalk/callback).

import assert from 'node:assert/strict';
import fs from 'node:fs';

import { callbackSignature } from './helpers.mjs';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const GATEWAY = env('OPENCLAW_TEST_GATEWAY_URL');
const TOKEN = env('OPENCLAW_TEST_GATEWAY_TOKEN');
const EMULATOR = env('OPENCLAW_TEST_EMULATOR_URL');
const SECRET = env('DINGTALK_APP_SECRET');
const CALLBACK = `${GATEWAY}${process.env.OCDT_CALLBACK_PATH ?? '/dingtalk/callback'}`;
const STATS = `${GATEWAY}/openclaw-dingtalk/stats`;
const SLOW_CONV = 'cidE2eSlowReply';

const log = (...a) => console.log('e2e-client:', ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(fn, what, timeoutMs = 60_000, intervalMs = 200) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

async function json(url, init) {
  const res = await fetch(url, init);
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    return { status: res.status, body: text };
  }
}

async function botMessage(conversationId, text, sender = 'u-e2e') {
  const r = await json(`${EMULATOR}/__emulator/bot-messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      chat: { Group: { conversation_id: conversationId, title: 'e2e' } },
      sender: { staff_id: sender, nick: sender },
      content: { Text: text },
      quoted_text: null,
      msg_id: null,
    }),
  });
  assert.equal(r.status, 200, `emulator bot-messages: ${JSON.stringify(r.body)}`);
  return JSON.stringify(r.body);
}

function signed(secret = SECRET, ts = Date.now()) {
  return { 'content-type': 'application/json; charset=utf-8', timestamp: String(ts), sign: callbackSignature(secret, ts) };
}

async function post(body, headers) {
  const t0 = performance.now();
  const r = await json(CALLBACK, { method: 'POST', headers, body });
  return { ...r, ms: Math.round((performance.now() - t0) * 10) / 10 };
}

const cards = async () => (await json(`${EMULATOR}/__emulator/cards`)).body;
const cardOf = async (conv) => (await cards()).filter((c) => c.open_space_id.endsWith(`.${conv}`));
const calls = async () => (await json(`${EMULATOR}/__emulator/calls`)).body;

async function check() {
  const conv = 'cidE2eSignedOk';
  const event = await botMessage(conv, 'e2e hello TOKENS:8');
  const okHeaders = signed();
  const ok = await post(event, okHeaders);
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.deepEqual(ok.body, { success: true });
  log(`signed callback answered ${ok.status} ${JSON.stringify(ok.body)} in ${ok.ms} ms`);

  const card = await waitFor(async () => (await cardOf(conv)).find((c) => c.state === 'Finished' || c.state === 'Failed'), 'the card to be finalized', 90_000);
  assert.equal(card.state, 'Finished', JSON.stringify(card));
  assert.equal(card.param_map.content.trim(), 't1 t2 t3 t4 t5 t6 t7 t8', 'the full answer is in the card');
  assert.equal(card.delivered, true);
  const streamed = card.updates.filter((u) => u.via === 'StreamingUpdate' && !u.finalize);
  assert.ok(streamed.length >= 1, 'the answer was streamed into the card before it was finalized');
  assert.ok(card.updates.some((u) => u.finalize && !u.error), 'the card was finalized');
  const created = (await calls()).filter((c) => c.kind === 'CreateAndDeliver' && c.out_track_id === card.out_track_id);
  assert.equal(created.length, 1, 'one createAndDeliver for the card');
  assert.equal(created[0].status, 200);
  log(`card ${card.out_track_id}: created, ${streamed.length} streaming update(s), ${card.state}: ${JSON.stringify(card.param_map.content)}`);

  const record = process.env.OPENCLAW_TEST_UPSTREAM_RECORD;
  if (record && fs.existsSync(record)) {
    const lines = fs.readFileSync(record, 'utf8');
    assert.ok(lines.includes('e2e hello TOKENS:8'), 'the question reached the fake upstream through the real gateway');
    log('the question went through the real gateway to the fake upstream');
  }

  // let the first reply's last DingTalk calls land before counting
  await waitFor(async () => {
    const st = await json(STATS, { headers: { authorization: `Bearer ${TOKEN}` } });
    return st.status === 200 && st.body.skill?.replies?.in_flight === 0 && st.body.counters.inFlight === 0;
  }, 'the first reply to be over');
  const before = (await cards()).length;
  const callsBefore = (await calls()).length;
  const other = await botMessage('cidE2eBadSign', 'must not be answered TOKENS:2');
  const bad = await post(other, signed('not the app secret'));
  assert.equal(bad.status, 403, JSON.stringify(bad.body));
  const stale = await post(other, signed(SECRET, Date.now() - 2 * 3600 * 1000));
  assert.equal(stale.status, 403);
  const missing = await post(other, { 'content-type': 'application/json' });
  assert.equal(missing.status, 401);
  const replay = await post(other, okHeaders);
  assert.equal(replay.status, 403, JSON.stringify(replay.body));
  assert.match(replay.body.message, /replayed callback/);
  await sleep(1500);
  assert.equal((await cards()).length, before, 'no card for refused callbacks');
  assert.equal((await calls()).length, callsBefore, 'no DingTalk call for refused callbacks');
  log(`bad signature → ${bad.status}, stale timestamp → ${stale.status}, no headers → ${missing.status}, replayed headers → ${replay.status}; nothing reached DingTalk`);

  const noAuth = await json(STATS);
  assert.equal(noAuth.status, 401, 'the stats route needs the gateway token');
  const stats = await json(STATS, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(stats.status, 200);
  assert.equal(stats.body.running, true);
  assert.ok(stats.body.counters.finished >= 1);
  log(`stats: ${JSON.stringify({ timings: stats.body.timings, counters: stats.body.counters })}`);
}

/** Stream mode: the plugin's connection to the emulator's Stream server, opened with the skill
 *  library's body; a pushed robot message is ACKed and answered as a finished card. */
async function checkStream() {
  const connections = await waitFor(async () => {
    const c = (await json(`${EMULATOR}/__emulator/stream/connections`)).body;
    return Array.isArray(c) && c.some((x) => !x.closed_at_ms) && c;
  }, 'the Stream connection of the plugin');
  const live = connections.find((x) => !x.closed_at_ms);
  assert.ok(live.subscriptions.some((s) => s.type === 'CALLBACK' && s.topic === '/v1.0/im/bot/messages/get'), JSON.stringify(live));
  const opens = (await calls()).filter((c) => c.kind === 'StreamConnectionOpen');
  assert.ok(opens.length >= 1 && opens.every((c) => c.status === 200), `connections/open calls: ${JSON.stringify(opens)}`);
  log(`Stream connection ${live.connection_id} for app ${live.app_key} (${opens.length} connections/open call(s), all 200)`);
  const conv = 'cidE2eStream';
  const push = await json(`${EMULATOR}/__emulator/stream/push`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ chat: { Group: { conversation_id: conv, title: 'e2e' } }, sender: { staff_id: 'u-e2e', nick: 'e2e' }, content: { Text: 'e2e stream TOKENS:5' }, quoted_text: null, msg_id: null }),
  });
  assert.equal(push.status, 200, JSON.stringify(push.body));
  const card = await waitFor(async () => (await cardOf(conv)).find((c) => c.state === 'Finished' || c.state === 'Failed'), 'the Stream card to be finalized', 90_000);
  assert.equal(card.state, 'Finished', JSON.stringify(card));
  assert.equal(card.param_map.content.trim(), 't1 t2 t3 t4 t5');
  const frames = (await json(`${EMULATOR}/__emulator/stream/frames`)).body;
  const ack = frames.find((f) => f.kind === 'Ack' && f.message_id === push.body.message_id);
  assert.ok(ack, `no ACK of ${push.body.message_id}`);
  assert.ok(!frames.some((f) => f.kind === 'Callback' && f.message_id === push.body.message_id && f.redelivery), 'not redelivered');
  log(`pushed message ${push.body.msg_id} ACKed; card ${card.out_track_id} Finished: ${JSON.stringify(card.param_map.content)}`);
}

async function startSlow() {
  const event = await botMessage(SLOW_CONV, 'a slow one SLOW TOKENS:10');
  const r = await post(event, signed());
  assert.equal(r.status, 200);
  const card = await waitFor(async () => (await cardOf(SLOW_CONV)).find((c) => c.state === 'Inputting' && c.param_map.content), 'the slow card to stream', 90_000);
  log(`slow card ${card.out_track_id} is streaming: ${JSON.stringify(card.param_map.content)}`);
}

async function checkSlow() {
  const [card] = await cardOf(SLOW_CONV);
  assert.ok(card, 'the slow card exists');
  assert.ok(['Finished', 'Failed'].includes(card.state), `the in-flight card was left ${card.state}: ${JSON.stringify(card)}`);
  assert.ok(card.updates.at(-1).finalize || card.updates.at(-1).error, 'its last update finalized it');
  log(`after the gateway stopped, the in-flight card is ${card.state}: ${JSON.stringify(card.param_map.content)}`);
}

async function bench(n = 50, tokens = 40, pace = 50) {
  const auth = { authorization: `Bearer ${TOKEN}` };
  const events = [];
  // one sender per conversation: a single sender would hit conversation.sender_messages_per_minute
  for (let i = 0; i < n; i++) events.push(await botMessage(`cidBench${String(i).padStart(3, '0')}`, `bench ${i} TOKENS:${tokens} PACE:${pace}`, `u-bench-${i}`));
  const firstCard = (await cards()).length;
  await sleep(2000);
  await json(`${STATS}?reset=1`, { headers: auth });
  await sleep(5000);
  const idle = (await json(`${STATS}?reset=1`, { headers: auth })).body.eventLoop;
  const t0 = performance.now();
  // one timestamp per callback (the same headers twice would be refused as a replay)
  const base = Date.now();
  const answers = await Promise.all(events.map((e, i) => post(e, signed(SECRET, base - i))));
  const acceptMs = answers.map((a) => a.ms).sort((a, b) => a - b);
  assert.ok(answers.every((a) => a.status === 200), JSON.stringify(answers.filter((a) => a.status !== 200).slice(0, 3)));
  const done = await waitFor(
    async () => {
      const c = (await cards()).slice(firstCard);
      return c.length >= n && c.every((x) => x.state === 'Finished' || x.state === 'Failed') && c;
    },
    `${n} cards to be finalized`,
    600_000,
    500,
  );
  const wallMs = Math.round(performance.now() - t0);
  const loaded = (await json(`${STATS}?reset=1`, { headers: auth })).body;
  const finished = done.filter((c) => c.state === 'Finished').length;
  const full = done.filter((c) => c.param_map.content.trim().split(' ').length === tokens).length;
  const pct = (a, p) => a[Math.min(a.length - 1, Math.floor((p / 100) * a.length))];
  const result = {
    replies: n,
    tokens,
    paceMs: pace,
    finished,
    fullAnswers: full,
    wallMs,
    callbackAnswerMs: { p50: pct(acceptMs, 50), p99: pct(acceptMs, 99), max: acceptMs.at(-1) },
    eventLoopIdle: idle,
    eventLoopUnderLoad: loaded.eventLoop,
    logRecords: loaded.logs,
    pulls: loaded.counters.pulls,
    chunks: loaded.counters.chunks,
  };
  console.log(JSON.stringify(result));
  assert.equal(finished, n, 'every bench reply finished');
}

/** Baseline for `bench`: the same load as direct /v1/chat/completions calls (no DingTalk, no
 *  skill), so the gateway's own share of the event-loop lag can be told apart. */
async function benchDirect(n = 50, tokens = 40, pace = 50) {
  const auth = { authorization: `Bearer ${TOKEN}` };
  await json(`${STATS}?reset=1`, { headers: auth });
  await sleep(3000);
  const idle = (await json(`${STATS}?reset=1`, { headers: auth })).body.eventLoop;
  const t0 = performance.now();
  const texts = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const res = await fetch(`${GATEWAY}/v1/chat/completions`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'openclaw/main', stream: true, user: `direct-bench-${i}`, messages: [{ role: 'user', content: `direct ${i} TOKENS:${tokens} PACE:${pace}` }] }),
      });
      return res.text();
    }),
  );
  const wallMs = Math.round(performance.now() - t0);
  const loaded = (await json(`${STATS}?reset=1`, { headers: auth })).body.eventLoop;
  const complete = texts.filter((t) => t.includes('[DONE]')).length;
  console.log(JSON.stringify({ baseline: 'direct /v1/chat/completions, no skill', requests: n, tokens, paceMs: pace, complete, wallMs, eventLoopIdle: idle, eventLoopUnderLoad: loaded }));
}

const [cmd, ...args] = process.argv.slice(2);
const commands = {
  check,
  'start-slow': startSlow,
  'check-slow': checkSlow,
  'check-stream': checkStream,
  bench: () => bench(...args.map(Number)),
  'bench-direct': () => benchDirect(...args.map(Number)),
};
if (!commands[cmd]) {
  console.error(`usage: e2e-client.mjs ${Object.keys(commands).join('|')}`);
  process.exit(2);
}
try {
  await commands[cmd]();
} catch (e) {
  console.error(`e2e-client ${cmd}: FAILED: ${e.stack ?? e}`);
  process.exit(1);
}
