// ChatBridge dev console. Plain DOM, no framework: every text from the
// simulators or the bridge is inserted as text, except the bot's Telegram
// HTML, which is rebuilt from Telegram's allowed tags only. The messenger
// pane speaks Telegram, Viber and WhatsApp through their simulators, and
// the website widget through the console's demo page in a frame.
'use strict';

const $ = (sel) => document.querySelector(sel);

// el builds an element; children are nodes or strings (inserted as text).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

class APIError extends Error {}

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!resp.ok) {
    throw new APIError((data && data.error) || (resp.status + ' ' + resp.statusText));
  }
  return data;
}

function showError(node, err) {
  node.textContent = err ? String(err.message || err) : '';
  node.hidden = !err;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const fmtTime = (d) => timeFmt.format(d);
const fmtSize = (n) => n >= 1 << 20 ? (n / (1 << 20)).toFixed(1) + ' MB' : n >= 1024 ? Math.round(n / 1024) + ' KB' : n + ' B';

// ---------------------------------------------------------------- Telegram HTML

// renderTelegramHTML builds text of parse_mode HTML as Telegram shows it:
// its own small tokenizer keeps Telegram's tags only
// (https://core.telegram.org/bots/api#html-style) and turns everything else
// into text. No browser HTML parser sees the text, so nothing in it can run,
// load, or trip the page's Content-Security-Policy.
function renderTelegramHTML(html) {
  const root = document.createDocumentFragment();
  const stack = [{ node: root, tag: '' }];
  const top = () => stack[stack.length - 1].node;
  const text = String(html).replace(/<(script|style)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, '');
  const token = /<(\/?)([a-zA-Z][\w-]*)((?:\s+[^\s=>\/]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?)*)\s*\/?>|[^<]+|</g;
  let m;
  while ((m = token.exec(text))) {
    if (m[2] === undefined) { top().append(decodeEntities(m[0])); continue; }
    const tag = m[2].toLowerCase();
    if (m[1]) { // a closing tag closes its element and any left open inside it
      for (let i = stack.length - 1; i > 0; i--) if (stack[i].tag === tag) { stack.length = i; break; }
      continue;
    }
    const e = telegramElement(tag, parseAttrs(m[3] || ''));
    if (e) { top().append(e); stack.push({ node: e, tag }); } // another tag is dropped; its text stays
  }
  return root;
}

function parseAttrs(s) {
  const attrs = {};
  const re = /([^\s=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g;
  let m;
  while ((m = re.exec(s))) attrs[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  return attrs;
}

function decodeEntities(s) {
  return s.replace(/&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);/g, (all, name) => {
    switch (name) {
      case 'lt': return '<';
      case 'gt': return '>';
      case 'amp': return '&';
      case 'quot': return '"';
    }
    const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : all;
  });
}

function telegramElement(tag, attrs) {
  const spoiler = () => {
    const s = el('span', { class: 'tg-spoiler', title: 'Spoiler: click to show' });
    s.addEventListener('click', () => s.classList.add('shown'));
    return s;
  };
  switch (tag) {
    case 'b': case 'strong': return el('b');
    case 'i': case 'em': return el('i');
    case 'u': case 'ins': return el('u');
    case 's': case 'strike': case 'del': return el('s');
    case 'tg-spoiler': return spoiler();
    case 'span': return attrs.class === 'tg-spoiler' ? spoiler() : null;
    case 'a': {
      const href = (attrs.href || '').trim();
      return /^(https?:|tg:|mailto:)/i.test(href) ? el('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow' }) : el('span');
    }
    case 'code': return el('code');
    case 'pre': return el('pre');
    case 'blockquote': return el('blockquote');
    case 'tg-emoji': return el('span');
  }
  return null;
}

// ---------------------------------------------------------------- state

const state = {
  installations: [],
  lastSeq: 0,
  events: [],
  paused: false,
  sent: [],             // what the bot sent to the current chat
  mine: new Map(),      // chat id -> customer messages sent from here
  requests: [],
  selected: null,       // request key
  blocked: new Set(),   // chat ids whose customer blocked the bot
  renderedChat: '',
  renderedRequests: '',
  renderedStorage: '',
  renderedFire: '',
  project: '',          // the dev project (SUP) ...
  projectChannel: '',   // ... and the messenger it listens to
  topic: 0,             // the Telegram topic the customer writes in, 0: the general chat
  projectOrigins: [],   // ... and the pages its widget serves
};

// The messengers the pane speaks, each through its simulator's control API
// (host/sim/doc.go). token is the simulator's default bot token (checked
// against host/sim by devconsole's tests), used to switch the project over.
const MESSENGERS = {
  telegram: { title: 'Telegram', chat: '1001', token: '7000000001:AAHdevSimulatorToken_0123456789abcd' },
  viber: { title: 'Viber', chat: 'DevVera+/0123456789AbC=', token: '4a5b6c7d8e9f0a1b-2c3d4e5f6a7b8c9d-0e1f2a3b4c5d6e7f' },
  whatsapp: { title: 'WhatsApp', chat: '4915112345678',
    token: '106540352242922:102290129340398:5f4dcc3b5aa765d61d8327deb882cf99:EAAGsimulatorAccessToken0123456789abcdefZZ' },
  // The widget has no simulator: the pane frames the demo page (/demo/widget),
  // whose widget talks to the edge as a customer's page would. Its own
  // document keeps the edge's script out of the console's, which allows
  // only its own origin (RATIONALE.md, "Why does the console frame ...").
  web: { title: 'Website widget', chat: '', token: null },
};

const messenger = () => MESSENGERS[$('#channel').value] ? $('#channel').value : 'telegram';
// chatId is the chat of the pane: a number for Telegram, the simulator's
// user id (Viber) or phone number (WhatsApp) otherwise; '' when unusable.
function chatId() {
  const v = $('#chat-id').value.trim();
  switch (messenger()) {
    case 'telegram': return /^-?[0-9]{1,19}$/.test(v) && Number(v) !== 0 ? v : '';
    case 'whatsapp': return /^[0-9]{6,15}$/.test(v) ? v : '';
  }
  return v.length <= 64 ? v : '';
}
const chatKey = () => messenger() + ':' + chatId();

// ---------------------------------------------------------------- messenger

// sentPath is where the simulator lists what the bot sent to the chat.
function sentPath(ch, id) {
  switch (ch) {
    case 'viber': return '/_sim/viber/sent?receiver=' + encodeURIComponent(id);
    case 'whatsapp': return '/_sim/whatsapp/sent?to=' + encodeURIComponent(id);
  }
  return '/_sim/telegram/sent?chat_id=' + encodeURIComponent(id);
}

async function pollSent() {
  const id = chatId();
  const ch = messenger();
  if (ch === 'web') { state.sent = []; renderChat(); return; }
  if (!id) { state.sent = []; renderChat(); return; }
  try {
    const sent = await api('GET', sentPath(ch, id)) || [];
    state.sent = sent.map((m) => ({ ...m, channel: ch }));
  } catch (err) {
    // 404: the chat has no messages yet.
    state.sent = [];
  }
  renderChat();
}

function fileBox(name, size) {
  return el('div', { class: 'file' }, '📄 ', name || 'file', size ? el('small', {}, fmtSize(size)) : null);
}

// press sends the customer's press of a button (or a list row) through the
// simulator, which delivers it to the bridge as the messenger would: a
// Telegram callback_query, a Viber message with the button's ActionBody, a
// WhatsApp interactive button_reply or list_reply.
async function press(ch, m, choice) {
  const id = chatId();
  const err = $('#compose-error');
  showError(err, null);
  const path = '/_sim/' + ch + '/press';
  let body;
  switch (ch) {
    case 'viber': body = { user_id: id, text: choice.label }; break;
    case 'whatsapp': body = { from: id, name: $('#chat-name').value.trim() || 'Customer', title: choice.label, message_id: m.id }; break;
    default: body = { chat_id: Number(id), message_id: m.message_id, data: choice.data };
  }
  try {
    const res = await api('POST', path, body);
    if (res && res.error) showError(err, 'press: ' + res.error);
    const key = ch + ':' + id;
    if (!state.mine.has(key)) state.mine.set(key, []);
    state.mine.get(key).push({ text: '▸ ' + choice.label, kind: 'press', at: Date.now(), before: state.sent.length, note: 'pressed' });
    renderChat();
    setTimeout(pollSent, 300);
  } catch (e) {
    showError(err, e);
  }
}

// choicesOf lists the buttons a bot message carries, as {label, data}: a
// Telegram inline keyboard's callback buttons, a Viber keyboard's reply
// buttons, WhatsApp reply buttons or list rows.
function choicesOf(m) {
  switch (m.channel) {
    case 'viber':
      return (m.keyboard || []).filter((b) => b.ActionType === 'reply').map((b) => ({ label: b.Text || b.ActionBody, data: b.ActionBody }));
    case 'whatsapp':
      return (m.buttons || []).concat(m.rows || []).map((b) => ({ label: b.title, data: b.id }));
  }
  const rows = (m.reply_markup && m.reply_markup.inline_keyboard) || [];
  return rows.flat().filter((b) => b.callback_data).map((b) => ({ label: b.text, data: b.callback_data }));
}

function choiceButtons(m) {
  const choices = choicesOf(m);
  if (!choices.length) return null;
  const list = m.channel === 'whatsapp' && m.list;
  return el('div', { class: 'choices' + (list ? ' list' : ''), 'aria-label': list ? 'list: ' + m.list : 'buttons' },
    list ? el('small', { class: 'muted' }, '☰ ' + m.list) : null,
    choices.map((c) => el('button', { type: 'button', class: 'choice', title: c.data, onclick: () => press(m.channel, m, c) }, c.label)));
}

// mediaBox shows a voice message or video the bot sent (issue 18, item 4).
function mediaBox(icon, what, size) {
  return el('div', { class: 'file', 'aria-label': what }, icon + ' ', what, size ? el('small', {}, fmtSize(size)) : null);
}

function botBubble(m) {
  const body = [];
  let when = null;
  switch (m.channel) {
    case 'viber':
      // Files come by URL: the simulator fetched it once, as Viber does.
      if (m.type === 'picture') body.push(el('div', { class: 'photo', 'aria-label': 'photo' }, '🖼'));
      if (m.type === 'file') body.push(fileBox(m.file_name, m.size));
      if (m.type === 'video') body.push(mediaBox('🎬', 'video', m.size));
      if (m.fetched) body.push(el('small', { class: 'muted' }, m.fetched.status === 200 ? 'fetched by link, ' + fmtSize(m.fetched.bytes) : 'link fetch: ' + (m.fetched.status || m.fetched.error)));
      if (m.text) body.push(el('div', { class: 'text' }, m.text));
      when = m.timestamp ? new Date(m.timestamp) : null;
      break;
    case 'whatsapp':
      if (m.template) body.push(el('div', { class: 'template' }, 'Template ', el('b', {}, m.template.name), ' (' + m.template.language + ')'));
      if (m.type === 'image') body.push(el('div', { class: 'photo', 'aria-label': 'photo' }, '🖼'));
      if (m.type === 'document') body.push(fileBox(m.filename, m.size));
      if (m.type === 'audio') body.push(mediaBox('🎤', 'voice message', m.size));
      if (m.type === 'video') body.push(mediaBox('🎬', 'video', m.size));
      if (m.text || m.caption) body.push(el('div', { class: 'text' }, m.text || m.caption));
      break;
    default: {
      if (m.method === 'sendChatAction') return null;
      if (m.method === 'sendPhoto') body.push(el('div', { class: 'photo', 'aria-label': 'photo' }, '🖼'));
      if (m.method === 'sendDocument') body.push(fileBox(m.file_name, m.file_size));
      if (m.method === 'sendVoice') body.push(mediaBox('🎤', 'voice message', m.file_size));
      if (m.method === 'sendVideo') body.push(mediaBox('🎬', 'video', m.file_size));
      const text = el('div', { class: 'text' });
      if (m.parse_mode === 'HTML') text.append(renderTelegramHTML(m.text || ''));
      else text.append(m.plain || m.text || '');
      body.push(text);
      when = new Date(m.date * 1000);
    }
  }
  body.push(choiceButtons(m));
  if (m.channel === 'telegram' && m.message_thread_id) body.unshift(topicLabel(m.message_thread_id, true));
  return el('div', { class: 'bubble bot', dataset: { messageId: m.message_id || m.message_token || m.id || '' } }, body,
    el('span', { class: 'meta' }, 'bot', when ? ' · ' + fmtTime(when) : ''));
}

// topicLabel names the private-chat topic a Telegram message is in (Bot API
// 9.3, where the bot has topic mode: one topic per request); pressing it
// makes the customer write in that topic.
function topicLabel(thread, pressable) {
  const name = '# topic ' + thread;
  if (!pressable) return el('span', { class: 'topic', 'aria-label': 'topic' }, name);
  return el('button', { type: 'button', class: 'topic', 'aria-label': 'topic', title: 'Write in this topic',
    onclick: () => setTopic(thread) }, name);
}

// setTopic makes the customer write in a topic, or in the general chat (0).
function setTopic(thread) {
  state.topic = thread || 0;
  $('#compose-topic').hidden = !state.topic;
  $('#compose-topic-name').textContent = state.topic ? 'topic ' + state.topic : '';
}

function myBubble(m) {
  const body = [];
  if (m.thread) body.push(topicLabel(m.thread, false));
  if (m.kind === 'photo') body.push(el('div', { class: 'photo', 'aria-label': 'photo' }, '🖼'));
  if (m.kind === 'document') body.push(el('div', { class: 'file' }, '📄 ', m.fileName));
  if (m.text) body.push(el('div', { class: 'text' }, m.text));
  let meta = fmtTime(new Date(m.at));
  if (m.note) meta += ' · ' + m.note;
  return el('div', { class: 'bubble me' }, body, el('span', { class: 'meta' }, meta));
}

function renderChat() {
  const mine = state.mine.get(chatKey()) || [];
  const key = JSON.stringify([chatKey(), state.sent, mine, state.projectChannel, state.projectOrigins]);
  if (key === state.renderedChat) return;
  state.renderedChat = key;
  renderChannelHint();
  if (renderWidget()) return;
  const chat = $('#chat');
  const nodes = [];
  let i = 0;
  // A customer message goes before the bot messages sent after it.
  state.sent.forEach((m, j) => {
    while (i < mine.length && mine[i].before <= j) nodes.push(myBubble(mine[i++]));
    const b = botBubble(m);
    if (b) nodes.push(b);
  });
  while (i < mine.length) nodes.push(myBubble(mine[i++]));
  if (!nodes.length) {
    const hint = messenger() === 'telegram' ? ' Write as the customer below; try /start.' : ' Write as the customer below.';
    nodes.push(el('p', { class: 'empty' }, 'No messages in chat ', chatId() || '(none)', ' yet.', hint));
  }
  const atBottom = !chat.children.length || chat.scrollHeight - chat.scrollTop - chat.clientHeight < 80;
  chat.replaceChildren(...nodes);
  if (atBottom) chat.scrollTop = chat.scrollHeight;
}

// widgetReady: the project uses the widget and allows this console's origin.
const widgetReady = () => state.projectChannel === 'web' && state.projectOrigins.includes(location.origin);

// renderWidget shows the widget's frame in place of the simulator chat when
// the pane speaks the widget, and reports whether it does.
function renderWidget() {
  const web = messenger() === 'web';
  for (const n of document.querySelectorAll('#messenger .sim-only')) n.hidden = web;
  $('#chat').hidden = web;
  $('#compose').hidden = web;
  const frame = $('#widget-frame');
  const show = web && widgetReady();
  frame.hidden = !show;
  const src = show ? '/demo/widget?project=' + encodeURIComponent(state.project) +
    (state.installations[0] ? '&installation=' + encodeURIComponent(state.installations[0].id) : '') : '';
  if (frame.getAttribute('src') !== src) {
    if (src) frame.setAttribute('src', src); else frame.removeAttribute('src');
  }
  return web;
}

// renderChannelHint says when project SUP listens to another messenger than
// the pane's (or, for the widget, does not allow this console's origin), and
// offers to switch it to the pane's simulator bot or the widget.
function renderChannelHint() {
  const hint = $('#channel-hint');
  const ch = messenger();
  const project = state.projectChannel;
  hint.hidden = !project || (project === ch && (ch !== 'web' || widgetReady()));
  if (hint.hidden) return;
  $('#channel-hint-text').textContent = project === ch
    ? 'Project ' + state.project + ' does not allow this console (' + location.origin + ') to show its widget.'
    : 'Project ' + state.project + ' uses ' + (MESSENGERS[project] ? MESSENGERS[project].title : project) +
      ': messages from this ' + MESSENGERS[ch].title + (ch === 'web' ? ' are refused.' : ' chat are refused.');
  $('#channel-switch').textContent = 'Use ' + MESSENGERS[ch].title + ' for ' + state.project;
}

// pollProject learns which messenger the dev project listens to.
async function pollProject() {
  const inst = state.installations[0];
  if (!inst) return;
  try {
    const a = await api('POST', '/_console/resolve/' + encodeURIComponent(inst.id) + '/config.list', {});
    const p = ((a && a.configs) || [])[0];
    state.project = p ? p.projectKey : '';
    state.projectChannel = p ? p.channel : '';
    state.projectOrigins = (p && p.allowedOrigins) || [];
  } catch { /* shown by the connection badge */ }
  renderChat();
}

async function switchProject() {
  const inst = state.installations[0];
  const err = $('#compose-error');
  showError(err, null);
  const ch = messenger();
  $('#channel-switch').disabled = true;
  try {
    // The widget takes no token, and needs this console's origin allowed.
    const cfg = ch === 'web'
      ? { projectKey: state.project, channel: ch, botToken: null, allowedOrigins: [...new Set([...state.projectOrigins, location.origin])] }
      : { projectKey: state.project, channel: ch, botToken: MESSENGERS[ch].token };
    const a = await api('POST', '/_console/resolve/' + encodeURIComponent(inst.id) + '/config.set', cfg);
    if (!a || !a.ok) throw new Error('config.set: ' + JSON.stringify((a && a.errors) || a));
    await pollProject();
  } catch (e) {
    showError(err, e);
  } finally {
    $('#channel-switch').disabled = false;
  }
}

// customerBody is the simulator's send request for a customer message.
function customerBody(ch, id, kind, text, name, docName) {
  const mime = docName.endsWith('.pdf') ? 'application/pdf' : 'application/octet-stream';
  switch (ch) {
    case 'viber': {
      const b = { user_id: id, name, text };
      if (kind === 'photo') b.picture = true;
      if (kind === 'document') { b.file = { file_name: docName, size: 48213 }; delete b.text; }
      return b;
    }
    case 'whatsapp': {
      const b = { from: id, name, text };
      if (kind === 'photo') { b.image = true; b.caption = text; delete b.text; }
      if (kind === 'document') { b.document = { filename: docName, size: 48213, mime_type: mime }; b.caption = text; delete b.text; }
      return b;
    }
  }
  const b = { chat_id: Number(id), text, first_name: name };
  if (state.topic) b.message_thread_id = state.topic;
  if (kind === 'photo') b.photo = true;
  if (kind === 'document') b.document = { file_name: docName, size: 48213, mime_type: mime };
  return b;
}

async function send(ev) {
  ev.preventDefault();
  const err = $('#compose-error');
  showError(err, null);
  const kind = document.querySelector('input[name=kind]:checked').value;
  const text = $('#message').value.trim();
  const id = chatId();
  const ch = messenger();
  if (!id) { showError(err, 'Choose a chat id.'); return; }
  if (!text && kind === 'text') { showError(err, 'Write a message first.'); return; }
  const docName = $('#doc-name').value.trim() || 'document.pdf';
  const body = customerBody(ch, id, kind, text, $('#chat-name').value.trim() || 'Customer', docName);
  const m = { text, kind, at: Date.now() };
  if (ch === 'telegram' && state.topic) m.thread = state.topic;
  if (kind === 'document') m.fileName = docName;
  $('#send').disabled = true;
  try {
    await pollSent();
    m.before = state.sent.length;
    const res = await api('POST', '/_sim/' + ch + '/send', body);
    if (res.pending) m.note = 'queued by Telegram (no webhook yet)';
    else if (res.error) m.note = 'delivery failed: ' + res.error;
    else if (res.status && res.status >= 300) m.note = 'webhook answered ' + res.status;
    const key = ch + ':' + id;
    if (!state.mine.has(key)) state.mine.set(key, []);
    state.mine.get(key).push(m);
    $('#message').value = '';
    renderChat();
    setTimeout(pollSent, 300);
  } catch (e) {
    showError(err, e);
  } finally {
    $('#send').disabled = false;
    $('#message').focus();
  }
}

// changeChannel gives the new messenger its default chat.
function changeChannel() {
  setTopic(0);
  $('#chat-id').value = MESSENGERS[messenger()].chat;
  $('#fault-block').disabled = messenger() !== 'telegram';
  state.renderedChat = '';
  pollSent();
  pollFaults();
  pollProject();
}

// ---------------------------------------------------------------- service desk

async function pollRequests() {
  try {
    state.requests = await api('GET', '/_sim/jira/requests') || [];
  } catch {
    state.requests = [];
  }
  renderRequests();
}

function renderRequests() {
  const key = JSON.stringify([state.requests, state.selected]);
  if (key === state.renderedRequests) return;
  state.renderedRequests = key;
  const list = $('#requests');
  const reqs = [...state.requests].reverse(); // newest first
  if (!state.selected && reqs.length) state.selected = reqs[0].key;
  if (!reqs.length) {
    list.replaceChildren(el('li', { class: 'empty' }, 'No requests yet.'));
  } else {
    list.replaceChildren(...reqs.map((r) => el('li', {
      class: r.key === state.selected ? 'selected' : '', tabindex: 0, dataset: { key: r.key },
      onclick: () => select(r.key),
      onkeydown: (e) => { if (e.key === 'Enter') select(r.key); },
    }, el('span', { class: 'key' }, r.key), el('span', { class: 'chip ' + r.status_category }, r.status),
       el('span', { class: 'summary', title: r.summary }, r.summary))));
  }
  renderRequest();
}

function select(key) {
  state.selected = key;
  state.renderedRequests = '';
  renderRequests();
}

function renderRequest() {
  const pane = $('#request');
  const r = state.requests.find((x) => x.key === state.selected);
  if (!r) {
    pane.replaceChildren(el('p', { class: 'empty' },
      'Send a message as the customer: the bridge opens a request here, and agents answer it.'));
    return;
  }
  // Keep a draft reply across refreshes.
  const draft = pane.querySelector('textarea');
  const draftText = draft && draft.dataset.key === r.key ? draft.value : '';
  const hadFocus = draft && document.activeElement === draft;
  const done = r.status_category === 'done';
  const comments = r.comments || [];
  const textarea = el('textarea', { id: 'reply', rows: 3, placeholder: 'Reply to the customer, or note something for agents only…', 'aria-label': 'Agent comment', dataset: { key: r.key } });
  textarea.value = draftText;
  const err = el('p', { class: 'error', hidden: true });
  const act = async (fn) => {
    showError(err, null);
    try { await fn(); await pollRequests(); setTimeout(pollSent, 300); } catch (e) { showError(err, e); }
  };
  const comment = (pub) => act(async () => {
    const body = textarea.value.trim();
    if (!body) throw new Error('Write the comment first.');
    await api('POST', '/_sim/jira/requests/' + encodeURIComponent(r.key) + '/comment', { body, public: pub });
    textarea.value = '';
  });
  const transition = (status) => act(() => api('POST', '/_sim/jira/requests/' + encodeURIComponent(r.key) + '/transition', { status }));
  pane.replaceChildren(...[
    el('div', {}, el('h3', {}, r.key, ' · ', r.summary), el('span', { class: 'chip ' + r.status_category }, r.status),
      el('span', { class: 'muted' }, ' reporter ', r.reporter_account_id || '–')),
    r.description ? el('p', { class: 'desc' }, r.description) : null,
    (r.attachments || []).length ? el('ul', { class: 'attachments', 'aria-label': 'Attachments' },
      r.attachments.map((a) => el('li', {}, '📎 ', a.filename, ' ', el('small', { class: 'muted' }, fmtSize(a.size))))) : null,
    el('div', { class: 'comments', id: 'comments' }, comments.length ? comments.map((c) =>
      el('div', { class: 'comment ' + (c.public ? 'public' : 'internal'), dataset: { id: c.id } },
        el('span', { class: 'who' }, c.public ? 'Reply to customer' : 'Internal note', ' · ', c.author_account_id || ''),
        c.body)) : el('p', { class: 'muted' }, 'No comments yet.')),
    el('div', { class: 'reply' }, textarea,
      el('div', { class: 'row' },
        el('button', { type: 'button', id: 'reply-public', onclick: () => comment(true) }, 'Reply to customer'),
        el('button', { type: 'button', id: 'reply-internal', class: 'warn', onclick: () => comment(false) }, 'Add internal note'),
        el('span', { class: 'spacer' }),
        done
          ? el('button', { type: 'button', id: 'reopen', class: 'secondary', onclick: () => transition('Waiting for support') }, 'Reopen')
          : el('button', { type: 'button', id: 'resolve', class: 'secondary', onclick: () => transition('Resolved') }, 'Resolve')),
      err),
  ].filter(Boolean)); // replaceChildren inserts null as the text 'null'
  if (hadFocus) textarea.focus();
}

// ---------------------------------------------------------------- trace, queue, reload

const palette = ['#0052cc', '#00875a', '#de350b', '#5243aa', '#ff8b00', '#00a3bf', '#6b778c', '#c9372c'];
function colorOf(id) {
  let h = 0;
  for (const ch of id || '') h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return palette[h % palette.length];
}

function traceRow(ev) {
  const inv = ev.kind === 'invocation';
  let what = inv ? ev.op : ev.kind + ' ' + ev.op;
  let where = ev.key || ev.host || '';
  if (ev.status) where += ' → ' + ev.status;
  const bad = ev.outcome !== 'ok' && !(ev.kind === 'storage' && ev.outcome === 'not-found');
  const inst = state.installations.find((i) => i.id === ev.installation);
  const dot = el('span', { class: 'inv' });
  dot.style.background = colorOf(ev.invocation); // CSSOM: the CSP allows no style attributes
  return el('tr', { class: inv ? 'invocation' : 'cap', dataset: { kind: ev.kind } },
    el('td', { class: 'mono' }, fmtTime(new Date(ev.time))),
    el('td', { class: 'mono', title: 'installation ' + ev.installation + (inst ? ' (' + inst.siteUrl + ')' : '') },
      dot, (ev.invocation || '').slice(0, 8)),
    el('td', {}, what),
    el('td', { class: 'mono' }, where),
    el('td', { class: bad ? 'outcome-bad' : 'outcome-ok' }, ev.outcome),
    el('td', { class: 'num' }, ev.durationMs.toFixed(ev.durationMs < 10 ? 2 : 0)));
}

function renderTrace(fresh) {
  const body = $('#trace');
  const caps = $('#trace-caps').checked;
  const rows = fresh.filter((ev) => caps || ev.kind === 'invocation').map(traceRow).reverse();
  body.prepend(...rows);
  while (body.children.length > 400) body.lastChild.remove();
  $('#trace-empty').hidden = body.children.length > 0;
}

function rerenderTrace() {
  $('#trace').replaceChildren();
  renderTrace(state.events);
}

function setBadge(node, text, cls) {
  node.textContent = text;
  node.className = 'badge' + (cls ? ' ' + cls : '');
}

async function pollState() {
  let st;
  try {
    st = await api('GET', '/_console/state?after=' + state.lastSeq);
    setBadge($('#conn'), 'live', 'ok');
  } catch (err) {
    setBadge($('#conn'), err instanceof APIError ? String(err.message) : 'disconnected', 'bad');
    return;
  }
  if (st.last < state.lastSeq) { // the process restarted
    state.events = [];
    $('#trace').replaceChildren();
  }
  state.lastSeq = st.last;
  const instChanged = JSON.stringify(st.installations) !== JSON.stringify(state.installations);
  state.installations = st.installations;
  if (instChanged) fillInstallations();
  if (st.manifest) renderFire(st.manifest);
  if (st.events.length && !state.paused) {
    state.events.push(...st.events);
    if (state.events.length > 1000) state.events.splice(0, state.events.length - 1000);
    renderTrace(st.events);
  }
  $('#q-pending').textContent = st.pending;
  $('#q-dead').textContent = st.deadLetters;
  $('#e-calls').textContent = st.engine ? st.engine.calls : '–';
  $('#e-traps').textContent = st.engine ? st.engine.traps : '–';
  $('#bundle').textContent = (st.app || 'no bundle').replace(/^ari:cloud:ecosystem::app\//, '') +
    (st.moduleSha256 ? ' · ' + st.moduleSha256.slice(0, 12) : '');
  $('#bundle').title = st.moduleSha256 ? 'module sha256 ' + st.moduleSha256 : '';
  const r = st.reload || {};
  const rb = $('#reload');
  if (!r.state) setBadge(rb, 'reload: off (start with -watch)', '');
  else if (r.state === 'failed') setBadge(rb, 'reload failed', 'bad');
  else if (r.state === 'building') setBadge(rb, 'rebuilding…', 'busy');
  else if (r.state === 'loaded') setBadge(rb, 'reloaded ' + fmtTime(new Date(r.at)) + ' (#' + r.count + ')', 'ok');
  else setBadge(rb, 'watching', 'ok');
  rb.title = r.message || 'Live reload';
  $('#reload-failed').hidden = r.state !== 'failed';
  if (r.state === 'failed' && $('#reload-output').textContent !== r.message) $('#reload-output').textContent = r.message || '';
}

// ---------------------------------------------------------------- triggers

// renderFire lists a button per scheduled trigger and per product event of
// the loaded manifest; each fires it on the first installation through the
// admin API's fire routes (the console's /_console/fire/).
function renderFire(m) {
  const key = JSON.stringify(m);
  if (key === state.renderedFire) return;
  state.renderedFire = key;
  const buttons = [];
  for (const s of m.scheduled) {
    buttons.push(el('button', { type: 'button', class: 'secondary', dataset: { schedule: s.key },
      title: 'scheduled trigger, every ' + s.interval, onclick: () => fire('schedule', s.key) }, 'Fire ' + s.key));
  }
  const events = [...new Set(m.triggers.flatMap((t) => t.events))];
  for (const e of events) {
    buttons.push(el('button', { type: 'button', class: 'secondary', dataset: { event: e },
      title: 'product event to ' + m.triggers.filter((t) => t.events.includes(e)).map((t) => t.key).join(', '),
      onclick: () => fire('events', e) }, 'Send ' + e));
  }
  $('#fire-buttons').replaceChildren(...(buttons.length ? buttons : [el('span', { class: 'muted' }, 'The manifest has no scheduled trigger and no product event trigger.')]));
  $('#fire-payload-label').hidden = !events.length;
  $('#fire-consumers').textContent = m.consumers.length
    ? 'Consumers: ' + m.consumers.map((c) => c.key + ' (queue ' + c.queue + ')').join(', ') : '';
}

async function fire(kind, name) {
  const inst = state.installations[0];
  showError($('#fire-error'), null);
  $('#fire-error').hidden = true;
  if (!inst) { showError($('#fire-error'), 'no installation'); $('#fire-error').hidden = false; return; }
  let body;
  if (kind === 'events') {
    try { body = JSON.parse($('#fire-payload').value || '{}'); } catch (err) {
      showError($('#fire-error'), 'the payload is not JSON: ' + err.message); $('#fire-error').hidden = false; return;
    }
  }
  try {
    await api('POST', '/_console/fire/' + encodeURIComponent(inst.id) + '/' + kind + '/' + encodeURIComponent(name), body);
    $('#fire-result').textContent = (kind === 'events' ? 'sent ' : 'fired ') + name + ' at ' + fmtTime(new Date());
  } catch (err) {
    showError($('#fire-error'), err); $('#fire-error').hidden = false;
  }
}

function fillInstallations() {
  for (const sel of [$('#st-inst'), $('#cfg-inst')]) {
    const keep = sel.value;
    sel.replaceChildren(...state.installations.map((i) => el('option', { value: i.id }, i.siteUrl + ' (' + i.id.slice(0, 8) + ')')));
    if (!state.installations.length) sel.append(el('option', { value: '' }, 'no installations'));
    if (keep && state.installations.some((i) => i.id === keep)) sel.value = keep;
  }
  $('#desk-site').textContent = state.installations.map((i) => i.siteUrl).join(', ');
  state.renderedStorage = '';
  pollStorage();
  if (!$('#page-settings').hidden) loadProjects();
}

// ---------------------------------------------------------------- storage

async function pollStorage() {
  const inst = $('#st-inst').value;
  const space = $('#st-space').value;
  const body = $('#storage');
  if (!inst) { body.replaceChildren(); $('#storage-empty').hidden = false; return; }
  let recs;
  try {
    recs = await api('GET', '/_console/storage?installation=' + encodeURIComponent(inst) + '&space=' + space);
  } catch (err) {
    body.replaceChildren(el('tr', {}, el('td', { colspan: 3, class: 'error' }, String(err.message))));
    return;
  }
  const key = JSON.stringify(recs);
  if (key === state.renderedStorage) return;
  state.renderedStorage = key;
  recs.sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  body.replaceChildren(...recs.map((r) => el('tr', {},
    el('td', { class: 'mono' }, r.error ? el('span', { class: 'outcome-bad' }, r.error) : r.key, r.expires ? el('div', { class: 'muted' }, 'expires ', r.expires) : null),
    el('td', {}, el('pre', {}, prettyValue(r)), r.binary ? el('small', { class: 'muted' }, 'binary, base64') : null),
    el('td', { class: 'mono sealed' },
      el('div', {}, 'key ', r.rawKey.slice(0, 48), r.rawKey.length > 48 ? '…' : ''),
      el('div', {}, r.sealedBytes, ' B: ', r.sealed.slice(0, 64), '…')))));
  $('#storage-empty').hidden = recs.length > 0;
}

function prettyValue(r) {
  if (r.binary) return r.value;
  try { return JSON.stringify(JSON.parse(r.value), null, 2); } catch { return r.value; }
}

// ---------------------------------------------------------------- faults

async function pollFaults() {
  try {
    const rules = await api('GET', '/_sim/fail') || [];
    $('#fault-jira').checked = rules.some((r) => r.service === 'jira' && r.match === '*' && r.status === 503);
    $('#fault-telegram').checked = rules.some((r) => r.service === 'telegram' && r.match === '*' && r.status === 429);
  } catch { /* shown by the connection badge */ }
  $('#fault-block').checked = state.blocked.has(chatId());
}

async function toggleFault(ev) {
  const box = ev.target;
  const err = $('#fault-error');
  showError(err, null);
  try {
    switch (box.id) {
      case 'fault-jira':
        if (box.checked) await api('POST', '/_sim/fail', { service: 'jira', match: '*', status: 503, count: -1, description: 'Service Unavailable' });
        else await api('DELETE', '/_sim/fail?service=jira');
        break;
      case 'fault-telegram':
        if (box.checked) await api('POST', '/_sim/fail', { service: 'telegram', match: '*', status: 429, retry_after: 5, count: -1 });
        else await api('DELETE', '/_sim/fail?service=telegram');
        break;
      case 'fault-block': {
        const id = chatId();
        if (messenger() !== 'telegram') throw new Error('Blocking is simulated for Telegram only.');
        await api('POST', '/_sim/telegram/block', { chat_id: Number(id), unblock: !box.checked });
        if (box.checked) state.blocked.add(id); else state.blocked.delete(id);
        break;
      }
    }
  } catch (e) {
    box.checked = !box.checked;
    showError(err, e);
  }
}

// ---------------------------------------------------------------- settings

let projects = [];

async function resolve(fn, payload) {
  const inst = $('#cfg-inst').value;
  if (!inst) throw new Error('No installation.');
  return api('POST', '/_console/resolve/' + encodeURIComponent(inst) + '/' + fn, payload);
}

async function loadProjects() {
  const result = $('#cfg-result');
  try {
    const a = await resolve('config.list', {});
    projects = (a && a.configs) || [];
  } catch (err) {
    projects = [];
    result.textContent = String(err.message);
    result.className = 'bad';
  }
  const sel = $('#cfg-project');
  const keep = sel.value;
  sel.replaceChildren(...projects.map((p) => el('option', { value: p.projectKey }, p.projectKey + (p.enabled ? '' : ' (disabled)'))));
  if (!projects.length) sel.append(el('option', { value: '' }, 'none yet'));
  sel.value = projects.some((p) => p.projectKey === keep) ? keep : (projects[0] ? projects[0].projectKey : '');
  fillForm(projects.find((p) => p.projectKey === sel.value) || null);
}

function fillForm(p) {
  const f = $('#cfg');
  clearErrors();
  $('#cfg-result').textContent = '';
  const v = p || { projectKey: '', enabled: true, channel: 'telegram', serviceDeskId: '', requestTypeId: '', summaryTemplate: '',
    greeting: '', resolutionMessage: '', attachmentsIn: ['photo', 'document', 'voice', 'video', 'sticker'], attachmentsOut: true, language: 'en' };
  for (const name of ['projectKey', 'channel', 'serviceDeskId', 'requestTypeId', 'summaryTemplate', 'greeting', 'resolutionMessage', 'language']) {
    f.elements[name].value = v[name] || '';
  }
  f.elements.projectKey.readOnly = !!p;
  f.elements.enabled.checked = !!v.enabled;
  f.elements.attachmentsOut.checked = !!v.attachmentsOut;
  f.elements.relayReactions.checked = !!v.relayReactions;
  for (const box of $('#f-attachmentsIn').querySelectorAll('input')) box.checked = (v.attachmentsIn || []).includes(box.value);
  f.elements.botToken.value = '';
  f.elements.botToken.placeholder = p && p.tokenSet ? 'set; leave empty to keep' : 'from @BotFather';
  $('#token-hint').textContent = p && p.bot ? 'Bot @' + p.bot : '';
}

function clearErrors() {
  for (const p of document.querySelectorAll('#cfg .error')) p.textContent = '';
  for (const f of document.querySelectorAll('#cfg .field.invalid')) f.classList.remove('invalid');
}

async function save(ev) {
  ev.preventDefault();
  const f = $('#cfg');
  const result = $('#cfg-result');
  clearErrors();
  const payload = {
    projectKey: f.elements.projectKey.value.trim(),
    enabled: f.elements.enabled.checked,
    channel: f.elements.channel.value,
    serviceDeskId: f.elements.serviceDeskId.value.trim(),
    requestTypeId: f.elements.requestTypeId.value.trim(),
    summaryTemplate: f.elements.summaryTemplate.value,
    greeting: f.elements.greeting.value,
    resolutionMessage: f.elements.resolutionMessage.value,
    attachmentsIn: [...$('#f-attachmentsIn').querySelectorAll('input:checked')].map((b) => b.value),
    attachmentsOut: f.elements.attachmentsOut.checked,
    relayReactions: f.elements.relayReactions.checked,
    language: f.elements.language.value,
  };
  if (f.elements.botToken.value) payload.botToken = f.elements.botToken.value;
  $('#cfg-save').disabled = true;
  result.className = 'muted';
  result.textContent = 'Saving…';
  try {
    const a = await resolve('config.set', payload);
    if (a && a.ok) {
      result.className = 'ok';
      result.textContent = 'Saved.';
      $('#cfg-project').value = payload.projectKey;
      await loadProjects();
      result.className = 'ok';
      result.textContent = 'Saved.';
      return;
    }
    const errs = (a && a.errors) || {};
    const other = [];
    for (const [field, msg] of Object.entries(errs)) {
      const p = document.querySelector('#cfg .error[data-for="' + CSS.escape(field) + '"]');
      if (p) { p.textContent = msg; p.closest('.field').classList.add('invalid'); } else other.push(field + ': ' + msg);
    }
    result.className = 'bad';
    result.textContent = 'Not saved: fix the fields marked.' + (other.length ? ' ' + other.join(' ') : '');
  } catch (err) {
    result.className = 'bad';
    result.textContent = String(err.message);
  } finally {
    $('#cfg-save').disabled = false;
  }
}

// ---------------------------------------------------------------- pages

function route() {
  const settings = location.hash === '#settings';
  $('#page-console').hidden = settings;
  $('#page-settings').hidden = !settings;
  $('#nav-console').classList.toggle('active', !settings);
  $('#nav-settings').classList.toggle('active', settings);
  if (settings) loadProjects();
}

function every(ms, fn) {
  let busy = false;
  const tick = async () => {
    if (busy || document.hidden) return;
    busy = true;
    try { await fn(); } finally { busy = false; }
  };
  tick();
  setInterval(tick, ms);
}

function init() {
  $('#compose').addEventListener('submit', send);
  for (const r of document.querySelectorAll('input[name=kind]')) {
    r.addEventListener('change', () => { $('#doc-name').hidden = r.value !== 'document' || !r.checked; });
  }
  $('#chat-id').addEventListener('change', () => { state.renderedChat = ''; setTopic(0); pollSent(); pollFaults(); });
  $('#compose-topic-clear').addEventListener('click', () => setTopic(0));
  $('#channel').addEventListener('change', changeChannel);
  $('#channel-switch').addEventListener('click', switchProject);
  for (const id of ['#fault-jira', '#fault-telegram', '#fault-block']) $(id).addEventListener('change', toggleFault);
  $('#trace-pause').addEventListener('click', (e) => {
    state.paused = !state.paused;
    e.target.textContent = state.paused ? 'Resume' : 'Pause';
  });
  $('#trace-clear').addEventListener('click', () => { state.events = []; rerenderTrace(); });
  $('#trace-caps').addEventListener('change', rerenderTrace);
  $('#st-refresh').addEventListener('click', () => { state.renderedStorage = ''; pollStorage(); });
  $('#st-space').addEventListener('change', () => { state.renderedStorage = ''; pollStorage(); });
  $('#st-inst').addEventListener('change', () => { state.renderedStorage = ''; pollStorage(); });
  $('#cfg').addEventListener('submit', save);
  $('#cfg-inst').addEventListener('change', loadProjects);
  $('#cfg-project').addEventListener('change', () => fillForm(projects.find((p) => p.projectKey === $('#cfg-project').value) || null));
  $('#cfg-new').addEventListener('click', () => { fillForm(null); $('#f-projectKey').focus(); });
  window.addEventListener('hashchange', route);
  route();
  every(1000, pollState);
  every(1000, pollSent);
  // Each look is a resolver call in the trace: only now and then, and on
  // a change of the pane's messenger.
  every(15000, pollProject);
  every(1000, pollRequests);
  every(2500, pollFaults);
  every(3000, () => $('#st-auto').checked && !$('#page-console').hidden ? pollStorage() : null);
}

init();
