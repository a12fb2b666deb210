/* Keepline attention: the unread badge beside "Inbox" and in the tab title, an optional sound and
 * browser notifications for new messages in the conversations the person holds.
 *
 * One /ws/inbox/ socket per page: this script opens it and re-announces each "inbox.changed" as a
 * "keepline:inbox-changed" DOM event, which the inbox page (inbox.js) listens to instead of opening
 * its own. The count always comes from one endpoint (/api/v1/conversations/unread/, the selector
 * comms.selectors.unread_for), fetched after a short debounce, so the badge and the inbox agree.
 * Strings come from the template (json_script "attention-strings"). */
(function () {
  "use strict";
  var badges = document.querySelectorAll("[data-attention-badge]");  // nav link + phone menu button
  var stringsNode = document.getElementById("attention-strings");
  if (!badges.length || !stringsNode) return;
  var strings = JSON.parse(stringsNode.textContent);
  var SOUND_KEY = "keepline.attention.sound";
  var ENDPOINT = "/api/v1/conversations/unread/";
  var TITLE_PREFIX = /^\(\d+\+?\) /;
  var known = null;  // conversation id -> newest unread message id already announced
  var timer = null, backoff = 500, stopped = false, everOpened = false, audio = null;

  function setTitle(total) {
    var base = document.title.replace(TITLE_PREFIX, "");
    document.title = total > 0 ? "(" + (total > 99 ? "99+" : total) + ") " + base : base;
  }

  function render(total) {
    Array.prototype.forEach.call(badges, function (badge) {
      badge.textContent = total > 0 ? (total > 99 ? "99+" : String(total)) : "";
      badge.hidden = !(total > 0);
      if (total > 0) badge.setAttribute("aria-label", strings.badge.replace("{count}", total));
      else badge.removeAttribute("aria-label");
    });
    setTitle(total);
  }

  function openHere(conversationId) {
    // The person is looking at that conversation right now: no sound, no notification.
    if (document.visibilityState !== "visible" || !document.hasFocus()) return false;
    return !!document.querySelector('[data-chat][data-conversation-id="' + conversationId + '"]');
  }

  function announce(recent) {
    var first = known === null, fresh = [];
    known = known || {};
    recent.forEach(function (c) {
      var seen = known[c.id] || 0;
      if (c.message_id && c.message_id > seen) {
        known[c.id] = c.message_id;
        if (!first && !openHere(c.id)) fresh.push(c);
      }
    });
    if (!fresh.length) return;
    fresh.slice(0, 3).forEach(notify);
    try { ring(); } catch (e) { /* no sound on this device: the badge and notifications stand */ }
  }

  function refresh() {
    timer = null;
    fetch(ENDPOINT, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) {
        render(data.total || 0);
        announce(data.recent || []);
        document.dispatchEvent(new CustomEvent("keepline:unread", {detail: data}));
      })
      .catch(function () { /* the next change or reconnect tries again */ });
  }

  function schedule(delay) {
    if (!timer) timer = setTimeout(refresh, delay === undefined ? 250 : delay);
  }

  function connect() {
    if (stopped) return;
    var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/inbox/");
    ws.onopen = function () {
      // Whatever changed while we were away was not announced: count again, the inbox reloads.
      if (everOpened) {
        schedule(0);
        document.dispatchEvent(new CustomEvent("keepline:inbox-changed", {detail: {conversation_id: null}}));
      }
      everOpened = true;
      backoff = 500;
      document.documentElement.setAttribute("data-attention", "live");
    };
    ws.onmessage = function (ev) {
      var msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg.type === "inbox.changed") {
        document.dispatchEvent(new CustomEvent("keepline:inbox-changed", {detail: msg}));
        schedule();
      } else if (msg.type === "unread.changed") {
        schedule();
      }
    };
    ws.onclose = function (ev) {
      document.documentElement.setAttribute("data-attention", "offline");
      if (ev.code === 4401 || ev.code === 4403) { stopped = true; return; }
      setTimeout(connect, backoff + Math.floor(Math.random() * 250));
      backoff = Math.min(backoff * 2, 15000);
    };
  }

  // --- sound: a short two-note tone made with WebAudio, no audio file -------------------------
  function soundOn() {
    try { return localStorage.getItem(SOUND_KEY) === "1"; } catch (e) { return false; }
  }

  function audioContext() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    audio = audio || new Ctx();
    if (audio.state === "suspended") audio.resume();
    return audio;
  }

  function ring() {
    if (!soundOn()) return;
    var ctx = audioContext();
    if (!ctx) return;
    [[880, 0], [1320, 0.12]].forEach(function (note) {
      var osc = ctx.createOscillator(), gain = ctx.createGain(), at = ctx.currentTime + note[1];
      osc.type = "sine";
      osc.frequency.value = note[0];
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.15, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.18);
      osc.connect(gain).connect(ctx.destination);
      osc.start(at);
      osc.stop(at + 0.2);
    });
    document.documentElement.setAttribute("data-attention-rang", String(Date.now()));
  }

  // A browser lets a page make sound only after the person touched it: wake the tone up then.
  function wakeAudio() {
    if (soundOn()) audioContext();
    document.removeEventListener("pointerdown", wakeAudio, true);
    document.removeEventListener("keydown", wakeAudio, true);
  }
  document.addEventListener("pointerdown", wakeAudio, true);
  document.addEventListener("keydown", wakeAudio, true);

  // --- browser notifications: asked for only when the person clicks the button ---------------
  function notify(c) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    try {
      var n = new Notification(c.title, {body: c.preview || (c.has_files ? strings.file : ""), tag: "keepline-conversation-" + c.id});
      n.onclick = function () { window.focus(); location.href = c.url; n.close(); };
    } catch (e) { /* some mobile browsers only notify from a service worker */ }
  }

  function updateControls() {
    var supported = "Notification" in window;
    document.querySelectorAll("[data-attention-controls]").forEach(function (box) {
      var button = box.querySelector("[data-attention-notify]");
      var state = box.querySelector("[data-attention-notify-state]");
      var sound = box.querySelector("[data-attention-sound]");
      if (sound) sound.checked = soundOn();
      if (!supported) return;
      var permission = Notification.permission;
      if (button) button.hidden = permission !== "default";
      if (state) {
        state.hidden = permission === "default";
        state.textContent = permission === "granted" ? strings.on : permission === "denied" ? strings.blocked : "";
      }
    });
  }

  document.addEventListener("click", function (ev) {
    var button = ev.target.closest && ev.target.closest("[data-attention-notify]");
    if (!button || !("Notification" in window)) return;
    var asked = Notification.requestPermission(updateControls);
    if (asked && asked.then) asked.then(updateControls);
  });

  document.addEventListener("change", function (ev) {
    var box = ev.target.closest && ev.target.closest("[data-attention-sound]");
    if (!box) return;
    try { localStorage.setItem(SOUND_KEY, box.checked ? "1" : "0"); } catch (e) { /* private mode */ }
    updateControls();
    if (box.checked) ring();  // the click is the gesture that allows sound: let them hear it
  });

  window.addEventListener("storage", function (ev) { if (ev.key === SOUND_KEY) updateControls(); });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") schedule(0);
  });

  updateControls();
  refresh();
  connect();
})();
