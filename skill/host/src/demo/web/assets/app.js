// DingTalk simulator page for `openclaw-skill demo --web`.
// Plain ES2020, no framework. Contract: routes /api/state, /api/events (SSE "state"), POST /api/messages
// (text, or the sample picture with `picture: true`), /api/cards/press, /api/conversations, /api/faults.
// Every string from the server is text (textContent) except `html` of cards and robot messages, which
// the server renders and sanitizes.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const ICON_ROBOT = '<svg viewBox="0 0 24 24" aria-hidden="true"><circle cx="12" cy="3.6" r="1.3" fill="#fff"/>' +
    '<path d="M12 5v3M3.5 12.5v3M20.5 12.5v3" stroke="#fff" stroke-width="1.8" stroke-linecap="round"/>' +
    '<rect x="5.5" y="8" width="13" height="11" rx="3.2" fill="none" stroke="#fff" stroke-width="1.8"/>' +
    '<circle cx="9.6" cy="13" r="1.35" fill="#fff"/><circle cx="14.4" cy="13" r="1.35" fill="#fff"/>' +
    '<path d="M10 16.2h4" stroke="#fff" stroke-width="1.5" stroke-linecap="round"/></svg>';
  const ICON_GROUP = '<svg viewBox="0 0 24 24" aria-hidden="true"><circle cx="9" cy="8.6" r="3.3" fill="#fff"/>' +
    '<path d="M2.8 19.2c.6-3.6 3.1-5.5 6.2-5.5s5.6 1.9 6.2 5.5z" fill="#fff"/>' +
    '<circle cx="16.6" cy="7.8" r="2.6" fill="#ffffffb0"/><path d="M15.6 12.4c3-.2 5 1.5 5.6 5.2h-4.1c-.3-2-.7-3.7-1.5-5.2z" fill="#ffffffb0"/></svg>';
  const ICON_SPARK = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M11 2.5l2.3 6.2 6.2 2.3-6.2 2.3L11 19.5l-2.3-6.2-6.2-2.3 6.2-2.3z" fill="#6a5cff"/>' +
    '<path d="M19 14.5l1 2.5 2.5 1-2.5 1-1 2.5-1-2.5-2.5-1 2.5-1z" fill="#2f7bff"/></svg>';
  const PALETTE = ['#2b6de5', '#c2410c', '#0f7b55', '#b42318', '#7c4ddb', '#0e7490', '#be185d', '#4b5563'];
  const CARD_STATE = { processing: '思考中', typing: '输入中', finished: '已完成', failed: '生成失败' };
  const PRESS_STATE = { pending: '等待机器人应答', answered: '机器人已应答', failed: '回调失败' };
  // The plugin's reply counters (its `info`): events, then one counter per reply outcome.
  const REPLY_LABEL = {
    events: '收到事件', in_flight: '进行中', finished: '完成', degraded: '降级为普通消息', failed: '失败',
    stopped: '已停止', interrupted: '被中断', incomplete: '不完整', undelivered: '未送达', stuck: '未能结束',
    replied: '普通消息回复', skipped: '跳过', busy: '繁忙拒绝', recovered_cards: '恢复的卡片',
  };
  const DESCEND = /^(P|UL|OL|LI|BLOCKQUOTE|TABLE|THEAD|TBODY|TR|TD|TH|PRE|CODE|H[1-6])$/;

  const cur = { conversation: '', card: '' }; // what the EventSource asks for
  let S = null; // last State rendered
  let es = null;
  let esTimer = 0;
  let lastRaw = '';
  let lastSel = null;
  let forceBottom = true;
  let clockOffset = 0; // wall clock ms − emulator ms (rate.now_ms)
  const msgs = new Map(); // "type:id" -> {el, type, sig}; only what the current State lists
  const pressAs = new Map(); // card id -> staff_id chosen in its "按下者" menu
  const buttonLabels = new Map(); // "card|action" -> the label the button had (it may be gone now)
  const sigs = {}; // per-section signatures: skip DOM work when nothing changed

  // ---------- helpers ----------
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v == null || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
        else if (k === 'svg') el.innerHTML = v; // constant icons only
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const kid of kids) if (kid != null) el.append(kid);
    return el;
  }
  const num = (v) => (Number.isFinite(Number(v)) ? Number(v) : 0);
  const robotName = () => (S && S.app && S.app.robot) || 'OpenClaw 助理';
  function colorOf(s) {
    let x = 0;
    for (const ch of String(s)) x = (x * 31 + ch.codePointAt(0)) >>> 0;
    return PALETTE[x % PALETTE.length];
  }
  function userAvatar(nick) {
    const ch = Array.from(String(nick || '?').trim())[0] || '?';
    return h('div', { class: 'avatar', style: 'background:' + colorOf(nick), 'aria-hidden': 'true', text: ch.toUpperCase() });
  }
  const groupAvatar = () => h('div', { class: 'avatar group', 'aria-hidden': 'true', svg: ICON_GROUP });
  const robotAvatar = () => h('div', { class: 'avatar robot', 'aria-hidden': 'true', svg: ICON_ROBOT });
  const pad = (n) => String(n).padStart(2, '0');
  function clock(ms, secs) {
    if (typeof ms !== 'number') return '';
    const d = new Date(clockOffset + ms);
    return pad(d.getHours()) + ':' + pad(d.getMinutes()) + (secs ? ':' + pad(d.getSeconds()) : '');
  }
  const fmtRate = (v) => (v == null ? '—' : Number.isInteger(num(v)) ? String(num(v)) : num(v).toFixed(1));
  const shortId = (id) => (String(id).length > 14 ? '…' + String(id).slice(-12) : String(id));

  async function post(url, body) {
    let res;
    try {
      res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    } catch (e) {
      throw new Error('网络错误：' + e.message);
    }
    let data = {};
    try { data = await res.json(); } catch (e) { data = {}; }
    if (!res.ok || (data && data.error)) throw new Error((data && data.error) || 'HTTP ' + res.status);
    return data;
  }

  // ---------- live connection ----------
  function setLive(state) {
    const el = document.querySelector('[data-testid=live]');
    if (el.dataset.state === state) return;
    el.dataset.state = state;
    $('live-text').textContent = state === 'open' ? '已连接' : state === 'reconnecting' ? '重连中…' : '连接中…';
  }

  function connect() {
    if (es) {
      es.onopen = es.onerror = null;
      es.removeEventListener('state', onState);
      es.close();
      es = null;
    }
    clearTimeout(esTimer);
    const q = new URLSearchParams();
    if (cur.conversation) q.set('conversation', cur.conversation);
    if (cur.card) q.set('card', cur.card);
    const qs = q.toString();
    lastRaw = '';
    const src = new EventSource('/api/events' + (qs ? '?' + qs : ''));
    es = src;
    src.addEventListener('state', onState);
    src.onopen = () => setLive('open');
    src.onerror = () => {
      setLive('reconnecting');
      // The browser retries by itself while CONNECTING; a CLOSED source (HTTP error) we reopen ourselves.
      if (src.readyState === EventSource.CLOSED) esTimer = setTimeout(connect, 2000);
    };
  }

  function onState(ev) {
    if (ev.data === lastRaw) return;
    let s;
    try { s = JSON.parse(ev.data); } catch (e) { return; }
    lastRaw = ev.data;
    if (es && es.readyState === EventSource.OPEN) setLive('open');
    render(s);
  }

  // ---------- render ----------
  function render(s) {
    S = s;
    if (s.rate && typeof s.rate.now_ms === 'number') clockOffset = Date.now() - s.rate.now_ms;
    const changed = s.selected !== lastSel;
    if (s.selected) cur.conversation = s.selected;
    const conv = (s.conversations || []).find((c) => c.id === s.selected) || null;
    renderConvs(s);
    renderHeader(s, conv, changed);
    renderMessages(s, conv, changed);
    renderTimeline(s);
    renderRate(s);
    renderFaults(s);
    renderInfo(s);
    lastSel = s.selected;
  }

  function renderConvs(s) {
    const list = s.conversations || [];
    const sig = JSON.stringify([s.selected, clockOffset > 0 ? Math.round(clockOffset / 60000) : 0, list]);
    if (sig === sigs.convs) return;
    sigs.convs = sig;
    $('conv-list').replaceChildren(...list.map((c) => {
      const sel = c.id === s.selected;
      const btn = h('button', {
        type: 'button', class: 'conv' + (sel ? ' selected' : ''), 'data-testid': 'conversation',
        'data-id': c.id, 'data-kind': c.kind, 'aria-current': sel ? 'true' : null,
      },
        c.kind === 'group' ? groupAvatar() : userAvatar(c.title),
        h('span', { class: 'conv-title', text: c.title }),
        h('span', { class: 'conv-time', text: c.at_ms ? clock(c.at_ms) : '' }),
        h('span', { class: 'conv-preview', text: c.preview || (c.kind === 'group' ? '群聊' : '单聊') }));
      return h('li', null, btn);
    }));
  }

  // The user of a 1:1 chat (the server names it in `conv.user`).
  function directUser(s, conv) {
    return (s.users || []).find((u) => u.staff_id === conv.user) || null;
  }

  function renderHeader(s, conv, changed) {
    const users = s.users || [];
    const group = !conv || conv.kind === 'group';
    const du = conv && !group ? directUser(s, conv) : null;
    const sig = JSON.stringify([conv, users, du && du.staff_id, robotName()]);
    if (sig !== sigs.head) {
      sigs.head = sig;
      $('chat-title').textContent = conv ? conv.title : '暂无会话';
      $('chat-hint').textContent = !conv ? '' : group
        ? `群聊 · ${users.length + 1} 人：${users.map((u) => u.nick).concat(robotName()).join('、')} · 只有 @${robotName()} 的消息会送达机器人`
        : `单聊 · ${du ? du.nick : conv.title} 与 ${robotName()} · 每条消息都会送达机器人`;
      const sel = $('sender');
      const keep = sel.value;
      sel.replaceChildren(...users.map((u) => h('option', { value: u.staff_id, text: u.nick })));
      if (du) sel.value = du.staff_id;
      else if (users.some((u) => u.staff_id === keep)) sel.value = keep;
      sel.disabled = !!du;
      sel.title = du ? '单聊中发送者固定为该用户' : '';
      const dsel = $('direct-user');
      const dkeep = dsel.value;
      dsel.replaceChildren(...users.map((u) => h('option', { value: u.staff_id, text: u.nick })));
      if (users.some((u) => u.staff_id === dkeep)) dsel.value = dkeep;
      $('mention-wrap').hidden = !group;
    }
    if (changed) {
      $('mention').checked = true;
      hideError($('send-error'));
    }
    $('send').disabled = !conv;
    $('send-picture').disabled = !conv;
  }

  function itemSig(it) {
    if (it.type === 'card') {
      return [it.state, (it.html || '').length, it.updates, it.asker || '',
        JSON.stringify(it.buttons || []), JSON.stringify(it.presses || [])].join('|');
    }
    if (it.type === 'user') return [it.delivered, it.mention, it.sender, (it.text || '').length, !!it.picture].join('|');
    return [it.title, (it.html || '').length].join('|');
  }

  function renderMessages(s, conv, changed) {
    const box = $('messages');
    const list = $('msg-list');
    const group = !conv || conv.kind === 'group';
    const items = (s.items || []).filter((it) => it && it.id != null &&
      (it.type === 'user' || it.type === 'card' || it.type === 'robot'));
    const atBottom = changed || forceBottom || box.scrollHeight - box.scrollTop - box.clientHeight < 60;
    const seen = new Set();
    let prev = null;
    for (const it of items) {
      const key = it.type + ':' + it.id;
      if (seen.has(key)) continue;
      seen.add(key);
      let ent = msgs.get(key);
      if (!ent) {
        ent = { el: createItem(it), type: it.type, sig: '' };
        msgs.set(key, ent);
      }
      const sig = itemSig(it) + '|' + group;
      if (ent.sig !== sig) {
        fillItem(ent.el, it, group);
        ent.sig = sig;
      }
      const want = prev ? prev.nextSibling : list.firstChild;
      if (want !== ent.el) list.insertBefore(ent.el, want);
      prev = ent.el;
    }
    for (const [key, ent] of msgs) {
      if (!seen.has(key)) {
        ent.el.remove();
        msgs.delete(key);
      }
    }
    markSelectedCard();
    $('msg-empty').hidden = items.length > 0 || !conv;
    $('msg-empty').textContent = conv && conv.kind === 'direct'
      ? '还没有消息。单聊中的每条消息都会送达机器人，机器人会用 AI 卡片流式回答。'
      : '还没有消息。发送一条 @OpenClaw 助理 的消息，机器人会用 AI 卡片流式回答。';
    if (atBottom) box.scrollTop = box.scrollHeight;
    forceBottom = false;
  }

  function markSelectedCard() {
    for (const el of $('msg-list').querySelectorAll('.ai-card')) {
      const on = !!cur.card && el.dataset.id === cur.card;
      el.classList.toggle('selected', on);
      el.setAttribute('aria-pressed', String(on));
    }
  }

  function robotRow(it, content, attrs) {
    return h('div', Object.assign({ class: 'msg bot' }, attrs), robotAvatar(),
      h('div', { class: 'msg-main' },
        h('div', { class: 'msg-meta' }, h('span', { class: 'nick', text: robotName() }), h('span', { class: 'tag', text: '机器人' }),
          h('span', { class: 'time', text: clock(it.at_ms) })),
        content));
  }

  function createItem(it) {
    if (it.type === 'user') {
      return h('div', { class: 'msg me', 'data-testid': 'user-message', 'data-id': it.id }, userAvatar(it.sender),
        h('div', { class: 'msg-main' },
          h('div', { class: 'msg-meta' }, h('span', { class: 'time', text: clock(it.at_ms) }), h('span', { class: 'nick' })),
          h('div', { class: 'bubble' }),
          h('img', { class: 'picture', 'data-testid': 'user-picture', src: '/assets/sample.png', alt: '图片', hidden: true }),
          h('p', { class: 'note', hidden: true })));
    }
    if (it.type === 'card') {
      const card = h('article', {
        class: 'ai-card', 'data-testid': 'card', 'data-id': it.id, tabindex: '0',
        'aria-pressed': 'false', title: '点击查看这张卡片的钉钉调用时间线',
      },
        h('header', { class: 'ai-card-head', svg: ICON_SPARK + '<span>AI 助理</span>' }),
        h('div', { class: 'ai-card-body md', 'data-testid': 'card-body' }),
        h('div', { class: 'ai-card-actions', hidden: true }),
        h('footer', { class: 'ai-card-foot' }, h('span', { class: 'st' }), h('span', { class: 'upd' })));
      // Not DingTalk's: who presses the card's buttons, and what became of each press.
      const panel = h('div', { class: 'press-panel', 'data-card': it.id, hidden: true },
        h('label', { class: 'press-as' }, '按下者',
          h('select', { 'data-testid': 'press-as', title: '以谁的身份按下卡片上的按钮' })),
        h('p', { class: 'press-error', role: 'alert', hidden: true }),
        h('ul', { class: 'presses', 'data-testid': 'card-presses' }));
      return robotRow(it, h('div', { class: 'card-wrap' }, card, panel));
    }
    return robotRow(it, h('div', { class: 'bubble robot-bubble' }, h('div', { class: 'rb-title' }), h('div', { class: 'md' })),
      { 'data-testid': 'robot-message', 'data-id': it.id });
  }

  function fillItem(el, it, group) {
    if (it.type === 'user') {
      el.querySelector('.nick').textContent = it.sender || '';
      const bubble = el.querySelector('.bubble');
      const text = String(it.text || '');
      bubble.replaceChildren();
      const at = '@' + robotName();
      if (group && it.mention && !text.startsWith(at)) bubble.append(h('span', { class: 'at', text: at + ' ' }));
      bubble.append(text || (it.picture ? '[图片]' : ''));
      el.querySelector('.picture').hidden = !it.picture;
      el.dataset.picture = String(!!it.picture);
      const undelivered = it.delivered === false;
      el.classList.toggle('undelivered', undelivered);
      el.dataset.delivered = String(!undelivered);
      const note = el.querySelector('.note');
      note.hidden = !undelivered;
      note.textContent = undelivered ? (it.mention ? '未送达机器人' : '未 @机器人：机器人收不到') : '';
      return;
    }
    if (it.type === 'card') {
      const card = el.querySelector('.ai-card');
      const state = String(it.state || 'processing');
      card.dataset.state = state;
      card.setAttribute('aria-busy', String(state === 'processing' || state === 'typing'));
      const body = card.querySelector('.ai-card-body');
      setHtml(body, it.html);
      if (state === 'typing') appendCaret(body);
      const st = card.querySelector('.st');
      st.replaceChildren(CARD_STATE[state] || state);
      if (state === 'processing') {
        st.append(h('span', { class: 'dots' }, h('span', { class: 'sr-only', text: '…' }), h('i'), h('i'), h('i')));
      }
      card.querySelector('.upd').textContent = it.updates ? `${num(it.updates)} 次更新` : '';
      fillButtons(el, it, group);
      return;
    }
    const title = el.querySelector('.rb-title');
    title.textContent = it.title || '';
    title.hidden = !it.title;
    setHtml(el.querySelector('.md'), it.html);
    const main = el.querySelector('.msg-main');
    let via = main.querySelector('.via');
    if (it.via && !via) main.append(via = h('p', { class: 'via' }));
    if (via) via.textContent = it.via ? 'via ' + it.via : '';
  }

  // The card's buttons (as its data draws them), the "按下者" menu and the presses so far. Each
  // part is rebuilt only when it changed, so a button stays the same element while the card streams.
  function fillButtons(el, it, group) {
    const buttons = Array.isArray(it.buttons) ? it.buttons : [];
    const presses = Array.isArray(it.presses) ? it.presses : [];
    for (const b of buttons) buttonLabels.set(it.id + '|' + b.id, b.text || b.id);
    const actions = el.querySelector('.ai-card-actions');
    const bsig = JSON.stringify(buttons);
    if (actions.dataset.sig !== bsig) {
      actions.dataset.sig = bsig;
      actions.replaceChildren(...buttons.map((b) => h('button', {
        type: 'button', class: 'card-btn', 'data-testid': 'card-button', 'data-action': b.id, 'data-card': it.id,
        title: '按下按钮：钉钉把这次点击回调给机器人',
      }, b.text || b.id)));
      actions.hidden = !buttons.length;
    }
    const panel = el.querySelector('.press-panel');
    panel.hidden = !buttons.length && !presses.length;
    panel.querySelector('.press-as').hidden = !buttons.length;
    const users = (S && S.users) || [];
    const conv = S && (S.conversations || []).find((c) => c.id === S.selected);
    const members = group || !conv ? users : users.filter((u) => u.staff_id === conv.user);
    const sel = panel.querySelector('select');
    const osig = JSON.stringify([members, it.asker || '']);
    if (sel.dataset.sig !== osig) {
      sel.dataset.sig = osig;
      sel.replaceChildren(...members.map((u) => h('option', {
        value: u.staff_id, text: u.nick + (u.staff_id === it.asker ? '（提问者）' : ''),
      })));
      sel.disabled = members.length < 2;
    }
    const want = pressAs.get(it.id) || it.asker || (members[0] && members[0].staff_id) || '';
    if (sel.value !== want && members.some((u) => u.staff_id === want)) sel.value = want;
    const list = panel.querySelector('.presses');
    const psig = JSON.stringify(presses);
    if (list.dataset.sig === psig) return;
    list.dataset.sig = psig;
    list.replaceChildren(...presses.map((p) => {
      const label = buttonLabels.get(it.id + '|' + p.action) || p.action;
      const li = h('li', { 'data-testid': 'card-press', 'data-user': p.user, 'data-status': p.status, 'data-action': p.action },
        h('time', { text: clock(p.at_ms, true) }), `${p.nick} 按下「${label}」 · `,
        h('span', { class: 'press-st ' + p.status, text: PRESS_STATE[p.status] || p.status }));
      if (p.detail) li.append(h('span', { class: 'press-detail', text: ' · ' + p.detail }));
      if (p.notice) li.append(h('div', { class: 'press-notice', 'data-testid': 'press-notice', text: `机器人单聊 ${p.nick}：${p.notice}` }));
      return li;
    }));
  }

  async function pressButton(b) {
    const panel = b.closest('.card-wrap').querySelector('.press-panel');
    const err = panel.querySelector('.press-error');
    const user = panel.querySelector('select').value;
    b.disabled = true;
    try {
      await post('/api/cards/press', { card: b.dataset.card, action: b.dataset.action, user });
      hideError(err);
    } catch (e) {
      showError(err, e.message);
    } finally {
      b.disabled = false;
    }
  }

  function setHtml(el, html) {
    el.innerHTML = html || ''; // server-rendered and sanitized (contract)
    for (const a of el.querySelectorAll('a[href]')) {
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
    }
  }

  function appendCaret(body) {
    let el = body;
    for (;;) {
      const last = el.lastElementChild;
      if (!last || !DESCEND.test(last.tagName)) break;
      const after = last.nextSibling;
      if (after && !(after.nodeType === 3 && !after.textContent.trim())) break;
      el = last;
    }
    if (el.tagName === 'TABLE' || el.tagName === 'TR' || el.tagName === 'THEAD' || el.tagName === 'TBODY') el = body;
    el.append(h('span', { class: 'caret', 'aria-hidden': 'true' }));
  }

  // ---------- engineering panel ----------
  function callStatus(c) {
    if (c.applied_timeout) return ['504 (applied)', 'bad'];
    const st = c.status;
    if (st == null) return [c.error ? '失败' : '…', c.error ? 'bad' : ''];
    if (st >= 200 && st < 300 && !c.error) return [String(st), 'ok'];
    if (st === 403 || st === 429) return [String(st), 'warn'];
    return [String(st), 'bad'];
  }

  function renderTimeline(s) {
    const tl = s.timeline;
    const calls = (tl && Array.isArray(tl.calls)) ? tl.calls : [];
    const sig = tl ? JSON.stringify([tl.card, tl.created_ms, calls.length, calls.slice(-3), cur.card]) : 'none';
    if (sig === sigs.tl) return;
    sigs.tl = sig;
    const box = $('timeline');
    const cap = $('tl-caption');
    if (!tl) {
      cap.textContent = '';
      box.replaceChildren(h('div', { class: 'tl-empty', text: '这个会话还没有 AI 卡片。' }));
      return;
    }
    const limited = calls.filter((c) => c.status === 403 || c.status === 429).length;
    const failed = calls.filter((c) => callStatus(c)[1] === 'bad').length;
    cap.textContent = `${cur.card === tl.card ? '已选卡片' : '最新卡片'} ${shortId(tl.card)} · ${calls.length} 次调用` +
      (limited ? ` · 403 ×${limited}` : '') + (failed ? ` · 失败 ×${failed}` : '') +
      (cur.card === tl.card ? '' : ' · 点击卡片可切换');
    cap.title = String(tl.card);
    // The origin: the card's creation, or its first call when that came earlier (a card
    // creation refused with 403 is retried before the card exists).
    let created = num(tl.created_ms);
    for (const c of calls) created = Math.min(created, num(c.at_ms));
    let end = 1000;
    for (const c of calls) end = Math.max(end, num(c.at_ms) - created + num(c.took_ms));
    const step = end > 20000 ? 5000 : end > 5000 ? 1000 : 500;
    const span = Math.ceil(end / step) * step;
    const pct = (ms) => Math.max(0, Math.min(100, (ms / span) * 100));
    const fin = calls.find((c) => c.finalize);
    const finPct = fin ? pct(num(fin.at_ms) - created) : null;
    const secs = (ms) => (ms / 1000).toFixed(span < 10000 ? 1 : 0) + 's';
    const sameCard = sigs.tlCard === tl.card;
    sigs.tlCard = tl.card;
    const atBottom = sameCard && box.scrollHeight - box.scrollTop - box.clientHeight < 24;
    const axis = h('div', { class: 'tl-row tl-axis', 'aria-hidden': 'true' },
      h('span', { text: 'API' }),
      h('span', { class: 'tl-track' }, h('span', { style: 'left:0', text: '0' }),
        h('span', { style: 'left:50%', text: secs(span / 2) }), h('span', { style: 'left:100%', text: secs(span) })),
      h('span', { class: 'tl-status', text: '状态' }), h('span', { class: 'tl-took', text: '耗时' }));
    const rows = calls.map((c) => {
      const [label, cls] = callStatus(c);
      const rel = num(c.at_ms) - created;
      const track = h('span', { class: 'tl-track' },
        h('span', { class: 'tl-bar', style: `left:${pct(rel).toFixed(2)}%;width:${(pct(rel + num(c.took_ms)) - pct(rel)).toFixed(2)}%` }));
      if (finPct != null) track.append(h('span', { class: 'tl-fin', style: `left:${finPct.toFixed(2)}%` }));
      return h('div', {
        class: `tl-row s-${cls || 'none'}${c.finalize ? ' finalize' : ''}`, 'data-testid': 'timeline-call',
        'data-api': c.api, 'data-status': c.status == null ? (c.applied_timeout ? '504' : 'error') : String(c.status),
        'data-seq': c.seq,
        title: `#${c.seq} ${c.api} · +${rel} ms · ${label}${c.error_code ? ' ' + c.error_code : ''} · ${num(c.took_ms)} ms` +
          (c.finalize ? ' · finalize' : ''),
      },
        h('span', { class: 'tl-api', text: c.api }), track,
        h('span', { class: `tl-status ${cls}-t` },
          c.finalize ? h('span', { class: 'fin-flag', title: 'finalize', text: '⚑' }) : null, label),
        h('span', { class: 'tl-took', text: num(c.took_ms) + 'ms' }));
    });
    if (!rows.length) rows.push(h('div', { class: 'tl-empty', text: '还没有调用。' }));
    box.replaceChildren(axis, ...rows);
    if (atBottom) box.scrollTop = box.scrollHeight;
    else if (!sameCard) box.scrollTop = 0;
  }

  function renderRate(s) {
    const r = s.rate || {};
    const secs = Array.isArray(r.seconds) ? r.seconds : [];
    const limit = num(r.dingtalk_limit);
    const sig = JSON.stringify([secs, limit]);
    if (sig !== sigs.rate) {
      sigs.rate = sig;
      let max = Math.max(limit * 1.25, 5);
      let lastT = Math.floor(num(r.now_ms) / 1000);
      if (secs.length) lastT = Math.max(...secs.map((b) => num(b.t)));
      for (const b of secs) max = Math.max(max, num(b.ok) + num(b.limited) + num(b.failed));
      const stepY = max > 50 ? 20 : max > 20 ? 10 : 5;
      max = Math.ceil(max / stepY) * stepY;
      const X0 = 30, X1 = 354, Y0 = 10, Y1 = 110, W = (X1 - X0) / 60;
      const y = (v) => Y1 - (v / max) * (Y1 - Y0);
      const out = [];
      for (let v = 0; v <= max; v += stepY) {
        out.push(`<line x1="${X0}" x2="${X1}" y1="${y(v)}" y2="${y(v)}" stroke="#eef0f3"/>`,
          `<text x="${X0 - 4}" y="${y(v) + 3}" text-anchor="end">${v}</text>`);
      }
      for (const b of secs) {
        const i = 59 - (lastT - num(b.t));
        if (i < 0 || i > 59) continue;
        const x = (X0 + i * W + 0.6).toFixed(1);
        let base = 0;
        const parts = [['ok', '#4c8dff'], ['limited', '#f0a020'], ['failed', '#e5484d']];
        out.push(`<g><title>${num(b.t)}s：成功 ${num(b.ok)}，403 ${num(b.limited)}，失败 ${num(b.failed)}</title>`);
        for (const [k, color] of parts) {
          const v = num(b[k]);
          if (!v) continue;
          out.push(`<rect x="${x}" y="${y(base + v).toFixed(1)}" width="${(W - 1.2).toFixed(1)}" height="${(y(base) - y(base + v)).toFixed(1)}" fill="${color}"/>`);
          base += v;
        }
        out.push('</g>');
      }
      if (limit > 0) {
        out.push(`<line x1="${X0}" x2="${X1}" y1="${y(limit)}" y2="${y(limit)}" stroke="#d9363e" stroke-width="1.3" stroke-dasharray="5 3"/>`,
          `<text class="limit-label" x="${X1 - 2}" y="${y(limit) - 4}" text-anchor="end">DingTalk limit ${limit}/s per API</text>`);
      }
      out.push(`<line x1="${X0}" x2="${X1}" y1="${Y1}" y2="${Y1}" stroke="#c9cdd4"/>`,
        `<text x="${X0}" y="${Y1 + 14}">-60s</text>`, `<text x="${(X0 + X1) / 2}" y="${Y1 + 14}" text-anchor="middle">-30s</text>`,
        `<text x="${X1}" y="${Y1 + 14}" text-anchor="end">现在</text>`);
      $('rate-chart').innerHTML = out.join(''); // numbers and fixed labels only
    }
    const lt = $('limited-total');
    lt.textContent = String(num(r.limited_total));
    lt.parentElement.classList.toggle('alert', num(r.limited_total) > 0);
    $('waiting').textContent = String(num(r.waiting));
    $('month-dingtalk').textContent = String(num(s.month && s.month.dingtalk));
    $('month-plugin').textContent = String(num(s.month && s.month.plugin));
    const budget = r.budget || {};
    const apis = budget.apis || {};
    const bsig = JSON.stringify(budget);
    if (bsig === sigs.budget) return;
    sigs.budget = bsig;
    $('budget-app').textContent = budget.app == null ? '· 应用总预算：未学习' : `· 应用总预算 ${fmtRate(budget.app)} 次/秒`;
    const names = Object.keys(apis).sort();
    $('budget-body').replaceChildren(...names.map((name) => {
      const a = apis[name] || {};
      return h('tr', null, h('td', { text: name }), h('td', { text: fmtRate(a.calls_per_second) }),
        h('td', { class: a.learned ? 'ok-t' : '', text: a.learned ? '✓' : '—' }),
        h('td', { class: num(a.qps_limited) ? 'warn-t' : '', text: String(num(a.qps_limited)) }));
    }));
    if (!names.length) $('budget-body').append(h('tr', null, h('td', { colspan: '4', text: '暂无' })));
  }

  function renderFaults(s) {
    const faults = Array.isArray(s.faults) ? s.faults : [];
    const fsig = JSON.stringify(faults);
    if (fsig !== sigs.faults) {
      sigs.faults = fsig;
      $('faults').replaceChildren(...faults.map((f) => h('button', {
        type: 'button', class: 'ghost', 'data-testid': 'fault-' + f.id, 'data-fault': f.id,
        title: f.hint || null, disabled: f.available === false,
      }, f.label || f.id)));
    }
    const log = Array.isArray(s.fault_log) ? s.fault_log.slice().sort((a, b) => num(b.at_ms) - num(a.at_ms)) : [];
    const lsig = JSON.stringify(log);
    if (lsig === sigs.flog) return;
    sigs.flog = lsig;
    const ol = $('fault-log');
    ol.replaceChildren(...log.map((e) => h('li', null,
      h('time', { text: clock(e.at_ms, true) }), h('b', { text: e.id }), e.detail || '')));
    if (!log.length) ol.append(h('li', { class: 'sub', text: '尚未注入故障。' }));
  }

  function renderInfo(s) {
    const a = s.app || {};
    const sig = JSON.stringify([a, s.replies]);
    if (sig === sigs.info) return;
    sigs.info = sig;
    const rows = [['机器人', a.robot], ['网关', a.gateway], ['模型', a.model], ['插件', a.plugin],
      ['推送间隔', a.interval_ms != null ? num(a.interval_ms) + ' ms' : null], ['AppKey', a.app_key]];
    const dl = $('app-info');
    dl.replaceChildren();
    for (const [k, v] of rows) if (v != null && v !== '') dl.append(h('dt', { text: k }), h('dd', { text: String(v) }));
    const open = a.stream === 'open';
    dl.append(h('dt', { text: 'Stream' }), h('dd', { class: open ? 'ok-t' : 'warn-t', text: open ? '● 已连接' : '● ' + (a.stream === 'connecting' ? '连接中' : String(a.stream || '未知')) }));
    const rep = s.replies || {};
    $('replies').replaceChildren(...Object.keys(rep).filter((k) => typeof rep[k] !== 'object')
      .map((k) => h('span', { 'data-counter': k }, REPLY_LABEL[k] || k, h('b', { text: String(rep[k]) }))));
  }

  // ---------- actions ----------
  function showError(el, msg) { el.textContent = msg; el.hidden = false; }
  function hideError(el) { el.textContent = ''; el.hidden = true; }

  function selectConversation(id) {
    if (!id || id === cur.conversation) return;
    cur.conversation = id;
    cur.card = '';
    for (const b of $('conv-list').querySelectorAll('[data-testid=conversation]')) {
      b.classList.toggle('selected', b.dataset.id === id);
    }
    hideError($('send-error'));
    forceBottom = true;
    connect();
  }

  function selectCard(id) {
    cur.card = cur.card === id ? '' : id;
    markSelectedCard();
    connect();
  }

  let sending = false;
  async function send(picture) {
    if (sending || !cur.conversation) return;
    const conv = S && (S.conversations || []).find((c) => c.id === cur.conversation);
    const group = !conv || conv.kind === 'group';
    const input = $('input');
    sending = true;
    $('send').disabled = true;
    $('send-picture').disabled = true;
    try {
      await post('/api/messages', {
        conversation: cur.conversation, sender: $('sender').value, text: input.value,
        mention: group ? $('mention').checked : true, picture: !!picture,
      });
      input.value = '';
      hideError($('send-error'));
      forceBottom = true;
    } catch (e) {
      showError($('send-error'), e.message);
    } finally {
      sending = false;
      $('send').disabled = false;
      $('send-picture').disabled = false;
      input.focus();
    }
  }

  function toggleForm(which) {
    const forms = { group: $('group-form'), direct: $('direct-form') };
    for (const [k, f] of Object.entries(forms)) {
      const open = k === which && f.hidden;
      f.hidden = !open;
      $('new-' + k).setAttribute('aria-expanded', String(open));
    }
    hideError($('conv-error'));
    if (!forms.group.hidden) $('group-title').focus();
    if (!forms.direct.hidden) $('direct-user').focus();
  }

  async function createConversation(body) {
    try {
      const res = await post('/api/conversations', body);
      toggleForm(null);
      $('group-title').value = '';
      selectConversation(res.id);
    } catch (e) {
      showError($('conv-error'), e.message);
    }
  }

  function bind() {
    $('conv-list').addEventListener('click', (e) => {
      const b = e.target.closest('[data-testid=conversation]');
      if (b) selectConversation(b.dataset.id);
    });
    const list = $('msg-list');
    list.addEventListener('click', (e) => {
      const button = e.target.closest('[data-testid=card-button]');
      if (button) {
        if (!button.disabled) pressButton(button);
        return;
      }
      const sel = e.target.closest('[data-testid=press-as]');
      if (sel) return;
      const card = e.target.closest('.ai-card');
      if (!card || e.target.closest('a')) return;
      if (String(window.getSelection() || '').length && card.contains(window.getSelection().anchorNode)) return;
      selectCard(card.dataset.id);
    });
    list.addEventListener('keydown', (e) => {
      if ((e.key === 'Enter' || e.key === ' ') && e.target.classList.contains('ai-card')) {
        e.preventDefault();
        selectCard(e.target.dataset.id);
      }
    });
    $('composer').addEventListener('submit', (e) => { e.preventDefault(); send(false); });
    $('send-picture').addEventListener('click', () => send(true));
    list.addEventListener('change', (e) => {
      const sel = e.target.closest('[data-testid=press-as]');
      if (sel) pressAs.set(sel.closest('.press-panel').dataset.card, sel.value);
    });
    $('input').addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        send(false);
      }
    });
    $('input').addEventListener('input', () => { if (!$('send-error').hidden) hideError($('send-error')); });
    $('new-group').addEventListener('click', () => toggleForm('group'));
    $('new-direct').addEventListener('click', () => toggleForm('direct'));
    for (const f of [$('group-form'), $('direct-form')]) {
      f.addEventListener('click', (e) => { if (e.target.closest('[data-cancel]')) toggleForm(null); });
      f.addEventListener('keydown', (e) => { if (e.key === 'Escape') toggleForm(null); });
    }
    $('group-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const title = $('group-title').value.trim();
      if (!title) { showError($('conv-error'), '请输入群名称'); return; }
      createConversation({ kind: 'group', title });
    });
    $('direct-form').addEventListener('submit', (e) => {
      e.preventDefault();
      if ($('direct-user').value) createConversation({ kind: 'direct', sender: $('direct-user').value });
    });
    $('faults').addEventListener('click', async (e) => {
      const b = e.target.closest('[data-fault]');
      if (!b || b.disabled) return;
      const out = $('fault-result');
      out.classList.remove('err');
      out.textContent = `正在注入 ${b.dataset.fault}…`;
      try {
        const res = await post('/api/faults', { fault: b.dataset.fault });
        out.textContent = '✓ ' + (res.detail || b.dataset.fault);
      } catch (err) {
        out.classList.add('err');
        out.textContent = '✗ ' + err.message;
      }
    });
    const app = $('app');
    const setEng = (open) => {
      app.classList.toggle('eng-open', open);
      $('eng-toggle').setAttribute('aria-expanded', String(open));
    };
    $('eng-toggle').addEventListener('click', () => setEng(!app.classList.contains('eng-open')));
    $('eng-close').addEventListener('click', () => setEng(false));
  }

  bind();
  connect();
})();
