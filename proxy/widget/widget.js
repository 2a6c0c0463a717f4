/* ChatBridge website chat widget. No cookies, no third-party requests. */
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me) return;
  var endpoint = me.getAttribute("data-endpoint");
  if (!endpoint) return;
  var edge = new URL(me.src).origin;
  var project = new URL(endpoint).searchParams.get("project") || "";
  var KEY = "chatbridge:" + project;
  var state = {};
  try { state = JSON.parse(localStorage.getItem(KEY) || "{}") || {}; } catch (e) { state = {}; }
  function save() { try { localStorage.setItem(KEY, JSON.stringify(state)); } catch (e) {} }
  // The browser's language, its primary subtag, where the bridge has texts in it.
  var lang = String(navigator.language || "").toLowerCase().split("-")[0];
  if (["en", "de", "fr", "es", "pt", "uk"].indexOf(lang) < 0) lang = undefined;
  // The widget's own words in that language, else English; the bridge's
  // replies follow the same language. One JSON object (widget_test.go
  // checks that every language has every text).
  var TEXTS = {
    "en": {"open":"Chat with us","close":"Close the chat","log":"Conversation","name":"Your name","message":"Message","placeholder":"Write a message","send":"Send","attach":"Attach a file","choices":"Choices","support":"Support: ","you":"You: ","file":"File","notSent":"Not sent; please try again.","tooLong":"That message is too long.","fileTooLarge":"That file is too large.","fileFirst":"Write a message first, then attach a file.","fileKind":"That kind of file is not accepted.","fileNotSent":"The file was not sent; please try again.","sentFile":"Sent a file: ","wait":"Too many messages at once. Yours is still in the box: send it again in {n}.","secs":"{n} s","mins":"{n} min"},
    "de": {"open":"Schreiben Sie uns","close":"Chat schließen","log":"Unterhaltung","name":"Ihr Name","message":"Nachricht","placeholder":"Nachricht schreiben","send":"Senden","attach":"Datei anhängen","choices":"Auswahl","support":"Support: ","you":"Sie: ","file":"Datei","notSent":"Nicht gesendet; bitte versuchen Sie es erneut.","tooLong":"Diese Nachricht ist zu lang.","fileTooLarge":"Diese Datei ist zu groß.","fileFirst":"Schreiben Sie zuerst eine Nachricht, dann hängen Sie eine Datei an.","fileKind":"Diese Art von Datei wird nicht angenommen.","fileNotSent":"Die Datei wurde nicht gesendet; bitte versuchen Sie es erneut.","sentFile":"Datei gesendet: ","wait":"Zu viele Nachrichten auf einmal. Ihre steht noch im Feld: senden Sie sie in {n} erneut.","secs":"{n} s","mins":"{n} Min."},
    "fr": {"open":"Discutez avec nous","close":"Fermer la discussion","log":"Conversation","name":"Votre nom","message":"Message","placeholder":"Écrivez un message","send":"Envoyer","attach":"Joindre un fichier","choices":"Choix","support":"Support : ","you":"Vous : ","file":"Fichier","notSent":"Non envoyé ; veuillez réessayer.","tooLong":"Ce message est trop long.","fileTooLarge":"Ce fichier est trop volumineux.","fileFirst":"Écrivez d'abord un message, puis joignez un fichier.","fileKind":"Ce type de fichier n'est pas accepté.","fileNotSent":"Le fichier n'a pas été envoyé ; veuillez réessayer.","sentFile":"Fichier envoyé : ","wait":"Trop de messages à la fois. Le vôtre est toujours dans la zone de saisie : renvoyez-le dans {n}.","secs":"{n} s","mins":"{n} min"},
    "es": {"open":"Escríbanos","close":"Cerrar el chat","log":"Conversación","name":"Su nombre","message":"Mensaje","placeholder":"Escriba un mensaje","send":"Enviar","attach":"Adjuntar un archivo","choices":"Opciones","support":"Soporte: ","you":"Usted: ","file":"Archivo","notSent":"No enviado; inténtelo de nuevo.","tooLong":"Ese mensaje es demasiado largo.","fileTooLarge":"Ese archivo es demasiado grande.","fileFirst":"Escriba primero un mensaje y luego adjunte un archivo.","fileKind":"Ese tipo de archivo no se acepta.","fileNotSent":"El archivo no se envió; inténtelo de nuevo.","sentFile":"Archivo enviado: ","wait":"Demasiados mensajes a la vez. El suyo sigue en el cuadro: envíelo de nuevo en {n}.","secs":"{n} s","mins":"{n} min"},
    "pt": {"open":"Fale connosco","close":"Fechar a conversa","log":"Conversa","name":"O seu nome","message":"Mensagem","placeholder":"Escreva uma mensagem","send":"Enviar","attach":"Anexar um ficheiro","choices":"Opções","support":"Suporte: ","you":"Você: ","file":"Ficheiro","notSent":"Não enviada; tente novamente.","tooLong":"Essa mensagem é demasiado longa.","fileTooLarge":"Esse ficheiro é demasiado grande.","fileFirst":"Escreva primeiro uma mensagem e depois anexe um ficheiro.","fileKind":"Esse tipo de ficheiro não é aceite.","fileNotSent":"O ficheiro não foi enviado; tente novamente.","sentFile":"Ficheiro enviado: ","wait":"Demasiadas mensagens de uma vez. A sua continua na caixa: envie-a novamente dentro de {n}.","secs":"{n} s","mins":"{n} min"},
    "uk": {"open":"Напишіть нам","close":"Закрити чат","log":"Розмова","name":"Ваше ім'я","message":"Повідомлення","placeholder":"Напишіть повідомлення","send":"Надіслати","attach":"Додати файл","choices":"Варіанти","support":"Підтримка: ","you":"Ви: ","file":"Файл","notSent":"Не надіслано; спробуйте ще раз.","tooLong":"Це повідомлення задовге.","fileTooLarge":"Цей файл завеликий.","fileFirst":"Спочатку напишіть повідомлення, потім додайте файл.","fileKind":"Такий тип файлу не приймається.","fileNotSent":"Файл не надіслано; спробуйте ще раз.","sentFile":"Надіслано файл: ","wait":"Забагато повідомлень одночасно. Ваше досі в полі: надішліть його знову через {n}.","secs":"{n} с","mins":"{n} хв"}
  };
  var T = TEXTS[lang || "en"];
  function fill(s, n) { return s.replace("{n}", n); }

  function post(body) {
    return fetch(endpoint, {
      method: "POST", mode: "cors", credentials: "omit", cache: "no-store",
      headers: { "Content-Type": "text/plain" }, body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        j.status = r.status; j.retry = +r.headers.get("Retry-After") || 1; return j;
      });
    });
  }

  var host = document.createElement("div");
  host.setAttribute("data-chatbridge", "");
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  var css = document.createElement("style");
  css.textContent =
    ":host{all:initial}*{box-sizing:border-box;font:14px/1.4 system-ui,sans-serif}" +
    ".b{position:fixed;right:16px;bottom:16px;z-index:2147483000;padding:10px 16px;border:0;border-radius:20px;background:#0b57d0;color:#fff;cursor:pointer}" +
    ".p{position:fixed;right:16px;bottom:64px;z-index:2147483000;width:320px;max-width:calc(100vw - 32px);height:420px;max-height:calc(100vh - 96px);display:flex;flex-direction:column;background:#fff;color:#111;border:1px solid #888;border-radius:8px;box-shadow:0 4px 16px rgba(0,0,0,.25)}" +
    ".p[hidden]{display:none}.h{display:flex;justify-content:space-between;align-items:center;padding:8px 12px;border-bottom:1px solid #ddd;font-weight:600}" +
    ".x{border:0;background:none;font-size:18px;cursor:pointer}" +
    ".l{flex:1;overflow:auto;padding:8px 12px;margin:0;list-style:none}.l li{margin:6px 0;padding:6px 8px;border-radius:6px;background:#eef;white-space:pre-wrap;word-wrap:break-word}" +
    ".l li.me{background:#e6f4ea;margin-left:24px}.l li.sys{background:none;color:#555;font-style:italic}" +
    "form{display:flex;flex-direction:column;gap:4px;padding:8px 12px;border-top:1px solid #ddd}" +
    "input,textarea{width:100%;padding:6px;border:1px solid #888;border-radius:4px}textarea{resize:none;height:56px}" +
    "button:focus-visible,input:focus-visible,textarea:focus-visible{outline:2px solid #0b57d0;outline-offset:2px}" +
    ".s{align-self:flex-end;padding:6px 14px;border:0;border-radius:4px;background:#0b57d0;color:#fff;cursor:pointer}" +
    ".c{display:flex;flex-wrap:wrap;gap:4px;margin-top:6px}.c button{padding:4px 10px;border:1px solid #0b57d0;border-radius:14px;background:#fff;color:#0b57d0;cursor:pointer}.c button:disabled{opacity:.6;cursor:default}" +
    ".v{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}";
  root.appendChild(css);

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = text;
    return e;
  }
  var open = el("button", { "class": "b", type: "button", "aria-expanded": "false", "aria-controls": "cb-panel" }, T.open);
  var panel = el("div", { "class": "p", id: "cb-panel", role: "dialog", "aria-label": T.open, hidden: "" });
  var head = el("div", { "class": "h" });
  head.appendChild(el("span", { id: "cb-title" }, T.open));
  var close = el("button", { "class": "x", type: "button", "aria-label": T.close }, "\u00d7");
  head.appendChild(close);
  var log = el("ol", { "class": "l", role: "log", "aria-live": "polite", "aria-label": T.log });
  var form = el("form", {});
  var nameLabel = el("label", { "for": "cb-name" }, T.name);
  var name = el("input", { id: "cb-name", autocomplete: "name", maxlength: "80" });
  var textLabel = el("label", { "for": "cb-text", "class": "v" }, T.message);
  var text = el("textarea", { id: "cb-text", maxlength: "4000", placeholder: T.placeholder });
  var send = el("button", { "class": "s", type: "submit" }, T.send);
  var fileLabel = el("label", { "for": "cb-file" }, T.attach);
  var file = el("input", { id: "cb-file", type: "file" });
  form.appendChild(nameLabel); form.appendChild(name); form.appendChild(textLabel); form.appendChild(text);
  form.appendChild(fileLabel); form.appendChild(file); form.appendChild(send);
  panel.appendChild(head); panel.appendChild(log); panel.appendChild(form);
  root.appendChild(open); root.appendChild(panel);
  document.body.appendChild(host);
  if (state.name) { name.value = state.name; }

  function line(who, body, url) {
    var li = el("li", { "class": who });
    if (who === "agent") li.appendChild(el("span", { "class": "v" }, T.support));
    if (who === "me") li.appendChild(el("span", { "class": "v" }, T.you));
    if (url) {
      var a = el("a", { href: url, rel: "noopener noreferrer", target: "_blank", download: "" }, body);
      li.appendChild(a);
    } else {
      li.appendChild(document.createTextNode(body));
    }
    log.appendChild(li);
    log.scrollTop = log.scrollHeight;
    return li;
  }

  // A bot question with buttons: a group named by the question, one real
  // button per choice; a press is sent back once (one id per button: a
  // retried press of it counts once, another button after a lost answer is
  // its own press) and the group is disabled, or enabled again if the press
  // did not go.
  function choices(ev) {
    var g = el("div", { "class": "c", role: "group", "aria-label": ev.text || T.choices });
    var id = "c" + Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
    (ev.choices || []).forEach(function (c, n) {
      var b = el("button", { type: "button" }, c.label);
      if (/^\u2605+$/.test(c.label)) b.setAttribute("aria-label", c.label.length + " \u2605");
      b.addEventListener("click", function () {
        var all = g.querySelectorAll("button"), i;
        function able(on) { for (i = 0; i < all.length; i++) all[i].disabled = !on; }
        able(false);
        line("me", c.label);
        text.focus();
        post({ op: "choose", session: state.session, name: state.name || "", id: id + "-" + n, data: c.data, lang: lang }).then(function (j) {
          if (!j.ok) throw 0;
        }).catch(function () { able(true); line("sys", T.notSent); });
      });
      g.appendChild(b);
    });
    line("agent", ev.text || "").appendChild(g);
  }

  var stream = null, retry = 0;
  function connect() {
    if (stream) { stream.close(); stream = null; }
    var ready = state.session ? Promise.resolve() : post({ op: "session" }).then(function (j) {
      if (!j.session) throw new Error("no session");
      state.session = j.session; save();
    });
    return ready.then(function () {
      return post({ op: "connect", session: state.session, name: state.name || "" });
    }).then(function (j) {
      if (!j.token) throw new Error("not connected");
      retry = 0;
      while (log.firstChild) log.removeChild(log.firstChild);
      (j.history || []).forEach(function (h) { line(h.from === "me" ? "me" : "agent", h.text); });
      stream = new EventSource(edge + "/rt/" + j.token);
      stream.onmessage = function (m) {
        var ev; try { ev = JSON.parse(m.data); } catch (e) { return; }
        if (ev.type === "file") line("agent", ev.name || T.file, ev.url);
        else if (ev.type === "reply") line("agent", ev.text || "");
        else if (ev.type === "choices") choices(ev);
      };
      stream.addEventListener("expired", connect);
      stream.addEventListener("closed", later);
      stream.onerror = function () { if (stream && stream.readyState === 2) later(); };
    }).catch(later);
  }
  function later() {
    if (stream) { stream.close(); stream = null; }
    retry = Math.min(retry + 1, 6);
    setTimeout(connect, 1000 * retry * retry);
  }

  function toggle(show) {
    if (show) {
      panel.removeAttribute("hidden");
      open.setAttribute("aria-expanded", "true");
      (state.name ? text : name).focus();
      if (!stream) connect();
    } else {
      panel.setAttribute("hidden", "");
      open.setAttribute("aria-expanded", "false");
      open.focus();
    }
  }
  open.addEventListener("click", function () { toggle(panel.hasAttribute("hidden")); });
  close.addEventListener("click", function () { toggle(false); });
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") toggle(false); });
  text.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit ? form.requestSubmit() : send.click(); }
  });
  file.addEventListener("change", function () {
    var f = file.files && file.files[0];
    if (!f || !state.session) return;
    file.value = "";
    var ask = { session: state.session, name: state.name || "", id: "f" + Date.now().toString(36) + Math.random().toString(36).slice(2, 8) };
    var say = function (j) {
      var s = j && j.status;
      line("sys", s === 413 ? T.fileTooLarge : s === 409 ? T.fileFirst :
        s === 415 ? T.fileKind : T.fileNotSent);
    };
    // An upload link from the module, the file straight to it (the edge
    // streams it to Jira), then the module attaches it; a retried attach
    // of the same id attaches once.
    post({ op: "upload", session: ask.session, name: ask.name, id: ask.id, file: f.name, mime: f.type, size: f.size }).then(function (j) {
      if (!j.link || new URL(j.link).origin !== edge) throw j;
      var fd = new FormData();
      fd.append("file", f, f.name);
      return fetch(j.link, { method: "POST", mode: "cors", credentials: "omit", cache: "no-store", body: fd }).then(function (r) {
        if (!r.ok) throw { status: r.status };
        ask.op = "attach"; ask.link = j.link;
        return post(ask).then(function (a) { return a.ok || a.status < 500 ? a : post(ask); });
      });
    }).then(function (a) {
      if (!a.ok) throw a;
      line("me", T.sentFile + f.name);
    }).catch(say);
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var t = text.value.trim();
    if (!t) return;
    if (name.value.trim() !== (state.name || "")) { state.name = name.value.trim(); save(); }
    var id = "m" + Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
    text.value = "";
    var mine = line("me", t);
    var go = function () {
      return post({ op: "send", session: state.session, name: state.name || "", id: id, text: t, lang: lang }).then(function (j) {
        if (j.status === 429) {
          // The edge's limit: not sent, so back into the box to send again.
          if (mine.parentNode) mine.parentNode.removeChild(mine);
          text.value = text.value ? t + "\n" + text.value : t;
          line("sys", fill(T.wait, j.retry > 90 ? fill(T.mins, Math.ceil(j.retry / 60)) : fill(T.secs, j.retry)));
        } else if (!j.ok) line("sys", j.status === 413 ? T.tooLong : T.notSent);
      });
    };
    (state.session ? go() : connect().then(go)).catch(function () { line("sys", T.notSent); });
  });
})();
