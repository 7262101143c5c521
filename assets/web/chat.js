// The web chat (Click-to-Chat). Speaks the Lotse protocol (JSON envelopes
// over WSS, see crates/protocol) as role `web_customer` on /ws/web:
// hello → welcome → consent(chat_prompt) → [agreement] → [recording] →
// join → queue → technician → chat, notices, screen share, elevation → end.
//
// Reliable messages carry a per-sender `seq`, are kept until the relay's
// `ack`, and are sent again after a reconnect (`hello.resume`); received
// ones are acknowledged and duplicates dropped. Every text from the wire
// is shown with textContent only.
'use strict';

(function () {
  const I = window.LotseI18n;
  const C = window.LotseCommon;
  const t = (k, v) => I.t(k, v);
  const $ = (id) => document.getElementById(id);
  const el = C.el;

  const PROTOCOL_VERSION = 1;
  const AGENT = 'lotse-web 0.1.0';
  const STORE = 'lotse.chat';
  const START = 'lotse.start';
  const MAX_LOG = 300;
  const FONT_MIN = 12;
  const FONT_MAX = 32;
  const FONT_STEP = 2;
  const FONT_DEFAULT = 16;
  // Messages that must arrive exactly once (Message::is_reliable).
  const UNRELIABLE = new Set(['hello', 'welcome', 'login', 'login_ok', 'ack', 'queue_status', 'queue',
    'hold', 'frame_ack', 'peer_away', 'peer_back', 'error']);

  // ---- state (kept in sessionStorage so a reload resumes the session) ----
  function freshState(start) {
    return {
      name: (start && start.name) || '',
      problem: (start && start.problem) || '',
      session: null,
      token: null,
      inLast: 0, // highest seq received in order from the relay
      outNext: 0, // last seq we stamped
      pending: [], // our reliable envelopes not yet acknowledged
      answered: {}, // chat_prompt, agreement, recording, join
      phase: 'start', // start | queued | chatting | ended
      techName: '',
      served: false,
      log: [],
      fontSize: FONT_DEFAULT,
      notifyAsked: false,
    };
  }

  function loadState() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(STORE) || 'null');
      if (saved && typeof saved === 'object' && Array.isArray(saved.pending)) return saved;
    } catch (_) { /* start afresh */ }
    let start = null;
    try { start = JSON.parse(sessionStorage.getItem(START) || 'null'); } catch (_) { start = null; }
    return freshState(start);
  }

  let state = loadState();
  function save() {
    try { sessionStorage.setItem(STORE, JSON.stringify(state)); } catch (_) { /* storage full or off */ }
  }

  // ---- the link -----------------------------------------------------------
  let ws = null;
  let welcomed = false;
  let attempt = 0;
  let reconnectTimer = null;
  let finished = false;
  let site = { name: '' };
  let lastQueue = null;

  function wsUrl() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return proto + '//' + location.host + '/ws/web';
  }

  function sendRaw(env) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(env));
    return true;
  }

  // Send a message; reliable ones get a seq and wait for their ack.
  function send(msg) {
    if (UNRELIABLE.has(msg.type)) {
      if (welcomed) sendRaw(msg);
      return;
    }
    state.outNext += 1;
    const env = Object.assign({ seq: state.outNext }, msg);
    state.pending.push(env);
    save();
    if (welcomed) sendRaw(env);
  }

  function ackUpTo(seq) {
    const before = state.pending.length;
    state.pending = state.pending.filter((e) => e.seq > seq);
    if (state.pending.length !== before) save();
    if (finished && state.pending.length === 0) closeSoon(0);
  }

  function setConn(key, cls) {
    const p = $('conn');
    p.textContent = t(key);
    p.className = 'conn ' + (cls || '');
  }

  function connect() {
    clearTimeout(reconnectTimer);
    welcomed = false;
    setConn(attempt === 0 ? 'chat.connecting' : 'chat.reconnecting', 'busy');
    let sock;
    try {
      sock = new WebSocket(wsUrl());
    } catch (_) {
      scheduleReconnect();
      return;
    }
    ws = sock;
    sock.binaryType = 'arraybuffer';
    sock.addEventListener('open', () => {
      const hello = { type: 'hello', version: PROTOCOL_VERSION, role: 'web_customer', agent: AGENT, lang: I.lang };
      if (state.session !== null && state.token) {
        hello.resume = { session: state.session, token: state.token, last_seq: state.inLast };
      }
      sock.send(JSON.stringify(hello));
    });
    sock.addEventListener('message', (ev) => {
      if (sock !== ws || typeof ev.data !== 'string') return;
      let env;
      try { env = JSON.parse(ev.data); } catch (_) { return; }
      if (!env || typeof env !== 'object') return;
      // A numbered message this page cannot read is still acknowledged
      // (its seq is used up, PROTOCOL.md section 5), so the next arrive.
      if (typeof env.type !== 'string') env.type = '';
      receive(env);
    });
    sock.addEventListener('close', () => {
      if (sock !== ws) return;
      ws = null;
      welcomed = false;
      sharer.linkReset();
      if (!finished) scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    if (finished) return;
    setConn('chat.reconnecting', 'busy');
    const base = Math.min(15000, 500 * Math.pow(2, attempt));
    attempt += 1;
    const delay = base / 2 + Math.random() * base / 2;
    reconnectTimer = setTimeout(connect, delay);
  }

  let closeTimer = null;
  function closeSoon(ms) {
    clearTimeout(closeTimer);
    closeTimer = setTimeout(() => {
      if (ws) ws.close(1000);
    }, ms);
  }

  function receive(env) {
    // `ack` carries its acknowledged number in the top-level `seq`; only
    // reliable message types are numbered envelopes.
    if (!UNRELIABLE.has(env.type) && env.seq !== undefined && env.seq !== null) {
      // Reliable: only the next in order is new; always acknowledge.
      const seq = Number(env.seq);
      const isNew = seq === state.inLast + 1;
      if (isNew) {
        state.inLast = seq;
        save();
      }
      sendRaw({ type: 'ack', seq: state.inLast });
      if (!isNew) return;
    }
    handle(env);
  }

  // ---- message handling ---------------------------------------------------
  function handle(m) {
    switch (m.type) {
      case 'welcome': return onWelcome(m);
      case 'ack': return ackUpTo(Number(m.seq) || 0);
      case 'queue_status': return onQueueStatus(m);
      case 'hold': return onHold(m);
      case 'no_technician': return onNoTechnician(m);
      case 'notice': return showNotice(m);
      case 'technician_joined': return onTechnicianJoined(m);
      case 'returned_to_queue': return onReturnedToQueue();
      case 'chat': return onChat(m);
      case 'nudge': return onNudge();
      case 'share_request': return onShareRequest();
      case 'share_stop': return onShareStopByTechnician();
      case 'frame_ack': return sharer.ack(Number(m.frame) || 0);
      case 'control_request':
        send({ type: 'control_decline' });
        addLine('sys', t('chat.system'), t('chat.control.unavailable'));
        return;
      case 'elevate_request': return onElevateRequest();
      case 'elevate_ready': return onElevateReady(m);
      case 'elevated': return finish('chat.elevated');
      case 'survey': return showSurvey(String(m.question || ''), false);
      case 'end': return onEnd(m);
      case 'error': return onError(m);
      default: return undefined; // peer_back and anything newer: nothing to show
    }
  }

  function onWelcome(m) {
    welcomed = true;
    attempt = 0;
    setConn('chat.connected', 'ok');
    site = m.site || { name: '' };
    showSiteName();
    if (m.session !== undefined && m.session !== null && m.session !== state.session) {
      // A new session (first connect, or the old one was not resumable).
      const keep = { name: state.name, problem: state.problem, fontSize: state.fontSize };
      state = Object.assign(freshState(null), keep);
      state.session = m.session;
      clearPrompts();
      $('log').replaceChildren();
      lastQueue = null;
    }
    if (m.resume_token) state.token = m.resume_token;
    save();
    ackUpTo(Number(m.last_seq) || 0);
    for (const env of state.pending) sendRaw(env);
    if (state.phase === 'start') advance();
    else render();
  }

  function showSiteName() {
    const name = site.name || '';
    $('site-name').textContent = name || t('page.chat');
    document.title = name ? name + ' – ' + t('page.chat') : t('page.chat');
  }

  // ---- before the queue: name, chat prompt, agreement, recording, join ----
  function advance() {
    clearPrompts();
    if (!state.name) return askName();
    if (!state.answered.chat_prompt) {
      return askChoice('prompt', t('chat.prompt.heading'), t('chat.prompt.text', { site: site.name || t('portal.title_generic') }),
        t('chat.prompt.accept'), t('chat.prompt.decline'), (yes) => {
          answer('chat_prompt', yes);
          if (yes) advance();
          else {
            send({ type: 'end', reason: 'ended_by_customer' });
            finish('chat.end.declined');
          }
        });
    }
    if (site.agreement && !state.answered.agreement) {
      return askChoice('agreement', t('chat.agreement.heading'), site.agreement,
        t('chat.agreement.accept'), t('chat.agreement.decline'), (yes) => {
          answer('agreement', yes);
          if (yes) advance();
          else {
            send({ type: 'end', reason: 'declined_agreement' });
            finish('chat.end.declined');
          }
        });
    }
    if (site.recording_prompt && !state.answered.recording) {
      return askChoice('recording', t('chat.recording.heading'), site.recording_prompt,
        t('chat.recording.allow'), t('chat.recording.decline'), (yes) => {
          answer('recording', yes);
          advance();
        });
    }
    if (!state.answered.join) {
      state.answered.join = true;
      const join = { type: 'join', name: state.name };
      if (state.problem) join.problem = state.problem;
      send(join);
      state.phase = 'queued';
      save();
    }
    render();
  }

  function answer(topic, granted) {
    state.answered[topic] = true;
    send({ type: 'consent', topic, granted });
  }

  function clearPrompts() {
    for (const c of Array.from($('prompts').children)) {
      if (c.dataset.kind !== 'notice' && c.dataset.kind !== 'share' && c.dataset.kind !== 'elevate') c.remove();
    }
  }

  function card(kind, heading) {
    const c = el('section', 'card prompt');
    c.dataset.kind = kind;
    c.dataset.testid = 'prompt-' + kind;
    if (heading) c.appendChild(el('h2', null, heading));
    return c;
  }

  function askName() {
    const c = card('name', t('chat.name.heading'));
    const form = el('form');
    form.noValidate = true;
    const input = el('input');
    input.id = 'name-input';
    input.autocomplete = 'name';
    input.setAttribute('aria-label', t('chat.name.heading'));
    const err = el('p', 'error');
    err.hidden = true;
    const btn = el('button', 'primary', t('chat.name.submit'));
    btn.type = 'submit';
    form.append(input, err, btn);
    window.LotseCommon.limitField(input, window.LotseCommon.LIMITS.NAME_CHARS, t);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const name = input.value.trim();
      if (!name) {
        err.textContent = t('portal.start.name_missing');
        err.hidden = false;
        return;
      }
      state.name = name;
      save();
      advance();
    });
    c.appendChild(form);
    $('prompts').appendChild(c);
    input.focus();
  }

  // A card with a text and two buttons; `done(true|false)` once.
  function askChoice(kind, heading, text, yesText, noText, done) {
    const c = card(kind, heading);
    c.appendChild(el('p', 'prompt-text', text));
    const row = el('div', 'actions');
    const yes = el('button', 'primary', yesText);
    yes.type = 'button';
    yes.dataset.testid = kind + '-yes';
    const no = el('button', null, noText);
    no.type = 'button';
    no.dataset.testid = kind + '-no';
    let answered = false;
    const pick = (v) => {
      if (answered) return;
      answered = true;
      c.remove();
      done(v);
    };
    yes.addEventListener('click', () => pick(true));
    no.addEventListener('click', () => pick(false));
    row.append(yes, no);
    c.appendChild(row);
    $('prompts').appendChild(c);
    yes.focus();
    return c;
  }

  // ---- waiting ------------------------------------------------------------
  function formatWait(secs) {
    const s = Math.max(0, Number(secs) || 0);
    if (s < 60) return t('chat.wait.under_minute');
    const n = Math.round(s / 60);
    return n === 1 ? t('chat.wait.one_minute') : t('chat.wait.minutes', { n });
  }

  // `{wait}` in the site's texts is a number of minutes ("about {wait}
  // minutes"), as the relay fills it into the hold text.
  function waitMinutes(secs) {
    return Math.max(1, Math.round((Number(secs) || 0) / 60));
  }

  function onQueueStatus(m) {
    lastQueue = { position: Number(m.position) || 0, wait: Number(m.estimated_wait_secs) || 0 };
    renderQueue();
  }

  // The greeting, with the live position and wait filled in; when the
  // greeting shows neither, a line of our own says them.
  function renderQueue() {
    const q = lastQueue;
    const g = $('greeting');
    const greeting = site.greeting ? String(site.greeting) : '';
    if (greeting) {
      g.textContent = greeting
        .split('{position}').join(q ? String(q.position) : '…')
        .split('{wait}').join(q ? String(waitMinutes(q.wait)) : '…');
    }
    g.hidden = !greeting;
    const live = greeting.includes('{position}') || greeting.includes('{wait}');
    const line = $('queue');
    line.textContent = q && !live
      ? t('chat.queue.position', { position: q.position }) + ' ' + t('chat.queue.wait', { wait: formatWait(q.wait) })
      : '';
    line.hidden = !line.textContent;
  }

  function onHold(m) {
    const p = $('hold');
    p.textContent = String(m.text || '');
    p.hidden = !p.textContent;
  }

  function onNoTechnician(m) {
    const box = $('no-technician');
    box.replaceChildren(el('p', null, String(m.text || '')));
    const url = m.url ? C.safeHttpUrl(m.url) : null;
    if (url) {
      const a = el('a', 'button', t('chat.no_technician.link'));
      a.href = url;
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      a.dataset.testid = 'no-technician-link';
      box.appendChild(a);
      // Where the browser allows pop-ups the help page opens by itself.
      try { window.open(url, '_blank', 'noopener'); } catch (_) { /* blocked: the link stays */ }
    }
    box.hidden = false;
  }

  // ---- the technician -----------------------------------------------------
  function onTechnicianJoined(m) {
    state.techName = String(m.name || t('chat.technician'));
    state.phase = 'chatting';
    state.served = true;
    $('no-technician').hidden = true;
    addLine('sys', t('chat.system'), t('chat.technician_joined', { name: state.techName }));
    render();
    $('message').focus();
  }

  function onReturnedToQueue() {
    state.phase = 'queued';
    addLine('sys', t('chat.system'), t('chat.returned_to_queue'));
    sharer.stop(false);
    render();
  }

  function onChat(m) {
    const from = String(m.from || state.techName || t('chat.technician'));
    const text = String(m.text || '');
    addLine('tech', from, text, Number(m.at_ms) || Date.now());
    notify(t('chat.notify.title', { name: from }), text);
  }

  function onNudge() {
    const name = state.techName || t('chat.technician');
    addLine('sys', t('chat.system'), t('chat.nudge', { name }));
    notify(t('chat.notify.nudge_title', { name }), '');
    window.focus();
  }

  // ---- chat log -------------------------------------------------------------
  function addLine(kind, from, text, atMs) {
    const line = { kind, from: String(from), text: String(text), at: atMs || Date.now() };
    state.log.push(line);
    if (state.log.length > MAX_LOG) state.log.splice(0, state.log.length - MAX_LOG);
    save();
    appendLine(line);
  }

  function timeOf(ms) {
    try {
      return new Date(ms).toLocaleTimeString(I.lang, { hour: '2-digit', minute: '2-digit' });
    } catch (_) {
      return '';
    }
  }

  function appendLine(line) {
    const li = el('li', 'line ' + line.kind);
    li.dataset.testid = 'line-' + line.kind;
    const meta = el('div', 'meta');
    meta.appendChild(el('span', 'from', line.from));
    const time = el('time', 'at', timeOf(line.at));
    time.dateTime = new Date(line.at).toISOString();
    meta.appendChild(time);
    li.appendChild(meta);
    li.appendChild(el('div', 'text', line.text));
    const log = $('log');
    log.appendChild(li);
    log.scrollTop = log.scrollHeight;
  }

  function applyFont() {
    $('log').style.setProperty('--chat-font', state.fontSize + 'px');
    $('message').style.setProperty('--chat-font', state.fontSize + 'px');
  }

  function changeFont(delta) {
    const next = delta === 0 ? FONT_DEFAULT : state.fontSize + delta;
    state.fontSize = Math.min(FONT_MAX, Math.max(FONT_MIN, next));
    save();
    applyFont();
  }

  // ---- notifications ------------------------------------------------------
  function notificationsSupported() {
    return typeof window.Notification === 'function';
  }

  function renderNotifyCard() {
    const show = notificationsSupported() && !finished && !state.notifyAsked
      && Notification.permission === 'default' && (state.phase === 'queued' || state.phase === 'chatting');
    $('notify').hidden = !show;
  }

  async function askNotifications() {
    state.notifyAsked = true;
    save();
    let result = 'denied';
    try { result = await Notification.requestPermission(); } catch (_) { result = 'denied'; }
    const granted = result === 'granted';
    send({ type: 'consent', topic: 'notifications', granted });
    $('notify-text').textContent = t(granted ? 'chat.notify.granted' : 'chat.notify.denied');
    $('notify-button').hidden = true;
    $('notify').dataset.result = result;
    setTimeout(() => { $('notify').hidden = true; }, 6000);
  }

  function notify(title, body) {
    if (!document.hidden || !notificationsSupported() || Notification.permission !== 'granted') return;
    try {
      const n = new Notification(title, { body, tag: 'lotse-chat' });
      n.addEventListener('click', () => { window.focus(); n.close(); });
    } catch (_) { /* some browsers only allow notifications from a service worker */ }
  }

  // ---- notices ------------------------------------------------------------
  function showNotice(m) {
    const c = card('notice', t('chat.notice.heading'));
    c.classList.add('notice');
    c.setAttribute('role', 'alertdialog');
    c.appendChild(el('p', 'prompt-text', String(m.text || '')));
    const row = el('div', 'actions');
    const leave = el('button', 'danger', t('chat.notice.leave'));
    leave.type = 'button';
    leave.dataset.testid = 'notice-leave';
    const stay = el('button', null, t('chat.notice.stay'));
    stay.type = 'button';
    stay.dataset.testid = 'notice-stay';
    leave.addEventListener('click', () => {
      // Leaving through a notice: no exit survey.
      send({ type: 'end', reason: 'left_on_notice' });
      finish('chat.end.left_on_notice');
    });
    stay.addEventListener('click', () => c.remove());
    row.append(leave, stay);
    c.appendChild(row);
    $('prompts').prepend(c);
  }

  // ---- screen sharing -----------------------------------------------------
  const sharer = window.LotseShare.createSharer({
    ready: () => welcomed && ws !== null && ws.readyState === WebSocket.OPEN && ws.bufferedAmount < 512 * 1024,
    sendBinary: (buf) => {
      if (!welcomed || !ws || ws.readyState !== WebSocket.OPEN) return false;
      ws.send(buf);
      return true;
    },
    onEnded: () => {
      send({ type: 'share_stop' });
      shareEnded();
    },
  });

  function shareEnded() {
    $('share-banner').hidden = true;
    addLine('sys', t('chat.system'), t('chat.share.stopped'));
  }

  function onShareRequest() {
    if (sharer.active) return;
    for (const old of $('prompts').querySelectorAll('[data-kind="share"]')) old.remove();
    const name = state.techName || t('chat.technician');
    askChoice('share', null, t('chat.share.request', { name }), t('chat.share.allow'), t('chat.share.decline'),
      async (yes) => {
        if (!yes) {
          send({ type: 'share_decline' });
          addLine('sys', t('chat.system'), t('chat.share.declined'));
          return;
        }
        let size;
        try {
          size = await sharer.start();
        } catch (_) {
          sharer.stop(false);
          send({ type: 'share_decline' });
          addLine('sys', t('chat.system'), t('chat.share.failed'));
          return;
        }
        send({ type: 'share_grant', scope: { kind: 'browser' }, width: size.width, height: size.height });
        $('share-banner').hidden = false;
        addLine('sys', t('chat.system'), t('chat.share.started'));
      });
  }

  function onShareStopByTechnician() {
    for (const old of $('prompts').querySelectorAll('[data-kind="share"]')) old.remove();
    if (!sharer.active) return;
    sharer.stop(false);
    shareEnded();
  }

  // ---- elevation to the full client ----------------------------------------
  function onElevateRequest() {
    for (const old of $('prompts').querySelectorAll('[data-kind="elevate"]')) old.remove();
    const name = state.techName || t('chat.technician');
    askChoice('elevate', null, t('chat.elevate.request', { name }), t('chat.elevate.accept'), t('chat.elevate.decline'),
      (yes) => {
        send({ type: 'consent', topic: 'elevation', granted: yes });
        if (!yes) addLine('sys', t('chat.system'), t('chat.elevate.declined'));
      });
  }

  // The relay's download address, pointed at this browser's system: it
  // names one system (/download/linux?ticket=…), which may not be ours.
  function elevationDownload(download, os) {
    let raw = String(download || '');
    if (os) raw = raw.replace(/^\/download\/(linux|windows|macos)(?=[?#]|$)/, '/download/' + os);
    return C.safeHttpUrl(raw);
  }

  function onElevateReady(m) {
    for (const old of $('prompts').querySelectorAll('[data-kind="elevate"]')) old.remove();
    const os = C.detectOs();
    const c = card('elevate', null);
    c.appendChild(el('p', 'prompt-text', t('chat.elevate.opening')));
    const href = elevationDownload(m.download, os);
    if (href) {
      const a = el('a', 'button primary', t('chat.elevate.download'));
      a.href = href;
      a.download = C.downloadName(os);
      a.dataset.testid = 'elevate-download';
      c.appendChild(a);
    }
    if (os === 'linux' || os === null) c.appendChild(C.chmodHint(t));
    $('prompts').prepend(c);
    // Try the installed app first, through its registered lotse:// scheme.
    // With no app registered the browser stays on this page, where the
    // download link waits.
    const url = String(m.url || '');
    if (/^lotse:/i.test(url)) {
      try { location.href = url; } catch (_) { /* no handler: the link stays */ }
    }
  }

  // ---- the end ------------------------------------------------------------
  function endByCustomer() {
    if (finished || !$('survey').hidden) return;
    // Sharing and the session end at the click; the survey (if any) asks
    // afterwards, while nothing is shared.
    sharer.stop(true);
    send({ type: 'end', reason: 'ended_by_customer' });
    if (state.served && site.survey) {
      showSurvey(String(site.survey), true);
      return;
    }
    finish('chat.end.customer');
  }

  let surveyRating = 0;
  function showSurvey(question, thenEnd) {
    if (!$('survey').hidden) return;
    $('survey-question').textContent = question;
    const stars = $('survey-stars');
    stars.replaceChildren();
    surveyRating = 0;
    for (let n = 1; n <= 5; n++) {
      const b = el('button', 'star', String(n));
      b.type = 'button';
      b.setAttribute('aria-label', t('chat.survey.star', { n }));
      b.setAttribute('aria-pressed', 'false');
      b.dataset.testid = 'survey-star-' + n;
      b.addEventListener('click', () => {
        surveyRating = n;
        for (const s of stars.children) s.setAttribute('aria-pressed', String(Number(s.textContent) <= n));
        $('survey-send').disabled = false;
      });
      stars.appendChild(b);
    }
    $('survey').dataset.thenEnd = thenEnd ? '1' : '';
    $('survey').hidden = false;
    $('chat').hidden = false;
    setInputEnabled(false);
  }

  function surveyDone(sendAnswer) {
    if (sendAnswer && surveyRating > 0) {
      send({ type: 'survey_answer', rating: surveyRating, comment: $('survey-comment').value.trim() });
    }
    const thenEnd = $('survey').dataset.thenEnd === '1';
    $('survey').hidden = true;
    if (thenEnd) {
      // The end went out at the click.
      finish('chat.end.customer');
    } else if (!finished) {
      finish('chat.end.technician');
    }
  }

  function onEnd(m) {
    const reason = String(m.reason || '');
    const key = {
      ended_by_customer: 'chat.end.customer',
      left_on_notice: 'chat.end.left_on_notice',
      declined_agreement: 'chat.end.declined',
      ended_by_technician: 'chat.end.technician',
      customer_gone: 'chat.end.gone',
      elevated: 'chat.elevated',
      relay_shutdown: 'chat.end.shutdown',
    }[reason] || 'chat.end.expired';
    if (!$('survey').hidden && reason === 'ended_by_technician') {
      // The relay's survey is on screen: let the customer answer it first.
      finishLink();
      return;
    }
    finish(key);
  }

  // The last chat line sent (put back into the input box if refused).
  let lastChat = null;

  function onError(m) {
    const code = String(m.code || '');
    const message = String(m.message || code);
    if (m.fatal) {
      if (code === 'not_found' || code === 'bad_key' || code === 'bad_state') {
        // A resume the relay no longer knows: the session is over.
        finish('chat.end.expired');
      } else {
        finish('chat.end.error', { message });
      }
      return;
    }
    addLine('sys', t('chat.system'), t('chat.error', { message }));
    // A refused chat line goes back into the input box to fix and resend.
    if (lastChat !== null && $('message').value === '') $('message').value = lastChat;
    lastChat = null;
  }

  // The session is over on the wire: stop reconnecting; close once our
  // last messages (the end) are acknowledged, or after a short wait.
  function finishLink() {
    finished = true;
    clearTimeout(reconnectTimer);
    sharer.stop(false);
    $('share-banner').hidden = true;
    if (state.pending.length === 0) closeSoon(0);
    else closeSoon(3000);
  }

  function finish(key, vars) {
    if (finished && !$('final').hidden) return;
    finishLink();
    state.phase = 'ended';
    sessionStorage.removeItem(STORE);
    sessionStorage.removeItem(START);
    clearPrompts();
    for (const c of Array.from($('prompts').children)) c.remove();
    $('survey').hidden = true;
    $('final-text').textContent = t(key, vars);
    $('final').hidden = false;
    setConn('chat.end.expired', 'off');
    $('conn').hidden = true;
    render();
  }

  // ---- rendering ----------------------------------------------------------
  function setInputEnabled(on) {
    $('message').disabled = !on;
    $('send').disabled = !on;
  }

  function render() {
    const phase = state.phase;
    $('waiting').hidden = phase !== 'queued';
    if (phase === 'queued') renderQueue();
    const chatVisible = phase === 'chatting' || state.log.length > 0;
    $('chat').hidden = !chatVisible;
    setInputEnabled(phase === 'chatting' && !finished);
    $('send-form').hidden = finished;
    $('end-chat').hidden = finished || phase === 'start';
    renderNotifyCard();
    applyFont();
  }

  // ---- wiring -------------------------------------------------------------
  function main() {
    I.apply(document);
    window.LotseCommon.applyLimits(t);
    showSiteName();
    for (const line of state.log) appendLine(line);
    applyFont();

    $('send-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const input = $('message');
      const text = input.value.trim();
      if (!text || state.phase !== 'chatting') return;
      send({ type: 'chat', text });
      addLine('me', state.name || t('chat.you'), text);
      lastChat = text;
      input.value = '';
      input.focus();
    });
    $('font-smaller').addEventListener('click', () => changeFont(-FONT_STEP));
    $('font-larger').addEventListener('click', () => changeFont(FONT_STEP));
    document.addEventListener('keydown', (ev) => {
      if (!(ev.ctrlKey || ev.metaKey) || ev.altKey) return;
      if (ev.key === '+' || ev.key === '=') changeFont(FONT_STEP);
      else if (ev.key === '-' || ev.key === '_') changeFont(-FONT_STEP);
      else if (ev.key === '0') changeFont(0);
      else return;
      ev.preventDefault();
    });
    $('end-chat').addEventListener('click', endByCustomer);
    $('waiting-leave').addEventListener('click', endByCustomer);
    $('notify-button').addEventListener('click', askNotifications);
    $('share-stop').addEventListener('click', () => sharer.stop(true));
    $('survey-send').addEventListener('click', () => surveyDone(true));
    $('survey-skip').addEventListener('click', () => surveyDone(false));

    if (state.phase === 'ended') {
      finish('chat.end.expired');
      return;
    }
    render();
    connect();
  }

  main();
})();
