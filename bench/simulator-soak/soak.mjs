// A long visitor session on the DingTalk simulator page, with memory figures.
//
//   node soak.mjs --bin target/release/openclaw-skill --library target/release/libopenclaw_dingtalk.so \
//        [--minutes 30] [--every-ms 3000] [--chromium /usr/bin/chromium]
//
// Starts `openclaw-skill demo --web --port 0`, opens the page in headless Chromium and, like a
// visitor, types a message every few seconds (rotating through the conversations, Chinese
// questions with the fake gateway's trigger words, a fault every five minutes). Once a minute
// it prints the host's resident memory (VmRSS, from /proc), the page's JS heap after a forced
// garbage collection, its DOM node and listener counts, the size of one state document, and
// how many cards finished. At the end: medians of the second half's first and last five minutes
// (the first half fills the bounded histories) and their ratio.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, a, i, all) => (a.startsWith('--') ? [...pairs, [a.slice(2), all[i + 1]]] : pairs), []),
);
const minutes = Number(args.minutes ?? 30);
const everyMs = Number(args['every-ms'] ?? 3000);
if (!args.bin || !args.library) {
  console.error('usage: node soak.mjs --bin PATH/openclaw-skill --library PATH/libopenclaw_dingtalk.so [--minutes 30] [--every-ms 3000]');
  process.exit(2);
}

const QUESTIONS = [
  '请用一段话介绍一下钉钉机器人 LONG:300 PACE:5',
  '给我一个 Rust 和 Go 的对比表 MIXED:1200 PACE:3',
  '为什么天空是蓝色的？ REASON ZH:600 PACE:3',
  '总结一下今天的会议 ZH:2400 PACE:2',
  '/new',
];
const FAULTS = ['qps_burst', 'slow_dingtalk', 'stream_disconnect', 'server_error', 'revoke_tokens', 'gateway_cut'];

const host = spawn(args.bin, ['demo', '--web', '--port', '0', '--library', args.library], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const url = await new Promise((resolve, reject) => {
  const lines = createInterface({ input: host.stdout });
  lines.on('line', (line) => {
    const m = line.match(/^simulator: (http:\/\/127\.0\.0\.1:\d+\/)/);
    if (m) resolve(m[1]);
  });
  host.on('exit', (code) => reject(new Error(`openclaw-skill exited with ${code}`)));
});

const rssKb = () => {
  const status = readFileSync(`/proc/${host.pid}/status`, 'utf8');
  return Number(status.match(/VmRSS:\s+(\d+)/)[1]);
};

const browser = await puppeteer.launch({
  executablePath: args.chromium ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', `--user-data-dir=${mkdtempSync(join(tmpdir(), 'soak-'))}`],
});
const page = await browser.newPage();
await page.setViewport({ width: 1440, height: 900 });
await page.goto(url);
await page.waitForSelector('[data-testid=live][data-state=open]');
const cdp = await page.target().createCDPSession();

// Clicks in the page itself: puppeteer's own click resolves the element over the DevTools
// protocol, which keeps every node it touched alive and would show as DOM growth.
const click = (selector) => page.evaluate((s) => document.querySelector(s).click(), selector);

const samples = [];
const started = Date.now();
let sent = 0;
let nextSample = started;
console.log('min  host_rss_MiB  js_heap_MiB  dom_nodes  listeners  state_KiB  sent  cards_finished');
while (Date.now() - started < minutes * 60_000) {
  const convs = await page.$$eval('[data-testid=conversation]', (els) => els.map((e) => e.dataset.id));
  const conv = convs[sent % convs.length];
  await click(`[data-testid=conversation][data-id="${conv}"]`);
  if (sent > 0 && sent % 100 === 0) {
    const fault = FAULTS[(sent / 100) % FAULTS.length];
    await click(`[data-testid=fault-${fault}]`);
  }
  await page.type('[data-testid=message-input]', QUESTIONS[sent % QUESTIONS.length]);
  await click('[data-testid=send-button]');
  sent += 1;
  if (Date.now() >= nextSample) {
    nextSample += 60_000;
    await cdp.send('HeapProfiler.collectGarbage');
    const m = await page.metrics();
    const state = await (await fetch(new URL('api/state', url))).text();
    const cards = JSON.parse(state).replies?.finished ?? 0;
    const s = {
      min: (Date.now() - started) / 60_000,
      rss: rssKb() / 1024,
      heap: m.JSHeapUsedSize / 2 ** 20,
      nodes: m.Nodes,
      listeners: m.JSEventListeners,
      stateKiB: state.length / 1024,
      sent,
      cards,
    };
    samples.push(s);
    console.log(
      `${s.min.toFixed(1).padStart(4)}  ${s.rss.toFixed(1).padStart(12)}  ${s.heap.toFixed(2).padStart(11)}  ` +
        `${String(s.nodes).padStart(9)}  ${String(s.listeners).padStart(9)}  ${s.stateKiB.toFixed(1).padStart(9)}  ` +
        `${String(s.sent).padStart(4)}  ${String(s.cards).padStart(14)}`,
    );
  }
  await new Promise((r) => setTimeout(r, everyMs));
}

const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length ? (v[(v.length - 1) >> 1] + v[v.length >> 1]) / 2 : NaN;
};
// The first minutes fill the bounded histories; growth is judged on the second half: the
// five minutes from its start against the last five.
const half = minutes / 2;
const early = samples.filter((s) => s.min >= half && s.min < half + 5);
const late = samples.filter((s) => s.min >= minutes - 5);
for (const [name, key] of [['host RSS MiB', 'rss'], ['JS heap MiB', 'heap'], ['DOM nodes', 'nodes'], ['state KiB', 'stateKiB']]) {
  const a = median(early.map((s) => s[key]));
  const b = median(late.map((s) => s[key]));
  console.log(`${name}: median minutes ${half}-${half + 5} ${a.toFixed(2)}, last 5 ${b.toFixed(2)}, ratio ${(b / a).toFixed(3)}`);
}
await browser.close();
host.kill('SIGTERM');
