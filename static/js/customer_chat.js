/* Keepline customer web chat: one conversation, the customer's view, over /ws/chat/<token>/.
 * Bodies arrive as server-sanitised body_html (escaped text + links); everything else is set
 * with textContent. Protocol: docs/realtime.md. No dependencies.
 * Nothing stored goes unseen: every message carries the conversation's change number (seq, in
 * the customer's numbering); a hole, a reconnect or "live updates paused" makes the page fetch
 * every change after the last number it holds, all pages of it. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("chat-config").textContent);
  var strings = JSON.parse(document.getElementById("chat-strings").textContent);
  var list = document.getElementById("messages");
  var form = document.getElementById("composer");
  var input = document.getElementById("composer-body");
  var statusLine = document.getElementById("chat-status");
  var typingLine = document.getElementById("typing");
  var me = config.me;
  var socket = null;
  var closedForGood = false;
  var retryDelay = 1000;
  var lastId = 0;
  var lastSeq = config.seq || 0; // every change up to this number is shown
  var ahead = {};                // numbers received above lastSeq (a hole below them)
  var holeTimer = null;
  var syncing = null;
  var syncAgain = false;
  var pollTimer = null;
  var HOLE_WAIT = 500;
  var POLL_PAUSED = 5000;
  var lastReadSent = 0;
  var pending = {}; // client_id -> body, until acked
  var typingTimer = null;
  var lastTypingSent = 0;
  var readUpto = config.read_upto || 0; // the rep has read the customer's messages up to this id
  var fileInput = document.getElementById("composer-file");
  var SVG = "http://www.w3.org/2000/svg";
  // Tick shapes drawn inline (no icon font): a clock while sending, one check, two checks.
  var TICK_PATHS = {
    pending: ["M8 3.5v4.5l3 2", "M8 1.5a6.5 6.5 0 1 0 0 13a6.5 6.5 0 1 0 0-13"],
    sent: ["M3 8.5l3 3l7-7"],
    delivered: ["M1 8.5l3 3l7-7", "M7 11.5l7-7"],
    read: ["M1 8.5l3 3l7-7", "M7 11.5l7-7"]
  };

  function uuid4() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  function setStatus(text) { statusLine.textContent = text || ""; }

  function timeOf(iso) {
    try { return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }); }
    catch (e) { return ""; }
  }

  function fileSize(bytes) {
    var lang = document.documentElement.lang || undefined;
    var kb = bytes / 1024;
    if (kb < 1024) return Math.max(1, Math.round(kb)).toLocaleString(lang) + " KB";
    return (kb / 1024).toLocaleString(lang, { maximumFractionDigits: 1 }) + " MB";
  }

  function tickState(message) {
    if (!message.id) return "pending";
    if (message.id <= readUpto) return "read";
    return message.status === "sent" ? "sent" : "delivered";
  }

  function ticks(state) {
    var wrap = document.createElement("span");
    wrap.className = "ticks";
    wrap.dataset.state = state;
    wrap.dataset.testid = "ticks";
    wrap.setAttribute("role", "img");
    wrap.setAttribute("aria-label", strings[state === "pending" ? "sending" : state]);
    wrap.title = wrap.getAttribute("aria-label");
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 16 16");
    svg.setAttribute("width", "16");
    svg.setAttribute("height", "16");
    svg.setAttribute("aria-hidden", "true");
    TICK_PATHS[state].forEach(function (d) {
      var path = document.createElementNS(SVG, "path");
      path.setAttribute("d", d);
      path.setAttribute("fill", "none");
      path.setAttribute("stroke", "currentColor");
      path.setAttribute("stroke-width", "1.6");
      path.setAttribute("stroke-linecap", "round");
      path.setAttribute("stroke-linejoin", "round");
      svg.appendChild(path);
    });
    wrap.appendChild(svg);
    return wrap;
  }

  function setTicks(item, state) {
    var old = item.querySelector(".ticks");
    if (!old || old.dataset.state === state) return;
    old.replaceWith(ticks(state));
  }

  function showRead(upto) {
    if (upto <= readUpto) return;
    readUpto = upto;
    Array.prototype.forEach.call(list.querySelectorAll("li.mine[data-id]"), function (li) {
      var id = Number(li.dataset.id);
      if (id && id <= readUpto) setTicks(li, "read");
    });
  }

  function isMine(message) {
    return message.author && message.author.type === me.type && message.author.id === me.id;
  }

  function render(message) {
    var item = document.createElement("li");
    item.className = "msg " + (isMine(message) ? "mine" : "theirs");
    item.dataset.id = message.id;
    if (message.client_id) item.dataset.clientId = message.client_id;
    var who = document.createElement("div");
    who.className = "who";
    who.textContent = isMine(message) ? strings.you : (message.author ? message.author.name : "");
    var body = document.createElement("div");
    body.className = "body";
    body.innerHTML = message.body_html; // sanitised by the server (nh3): text and <a> only
    item.appendChild(who);
    item.appendChild(body);
    if (message.attachments && message.attachments.length) {
      var files = document.createElement("div");
      files.className = "files";
      message.attachments.forEach(function (file) {
        var link = document.createElement("a");
        link.href = file.url; // relative to /c/<token>/: the audited download
        link.className = "file";
        link.setAttribute("download", "");
        if (file.thumbnail_url) {
          // A small preview, not the file: opening the chat writes no download event.
          var thumb = document.createElement("img");
          thumb.className = "thumb";
          thumb.src = file.thumbnail_url;
          thumb.alt = file.name;
          thumb.loading = "lazy";
          thumb.addEventListener("error", function () { thumb.remove(); });
          link.appendChild(thumb);
        }
        var name = document.createElement("span");
        name.className = "file-name";
        name.textContent = file.name;
        var size = document.createElement("span");
        size.className = "file-size";
        size.textContent = " · " + fileSize(file.size);
        link.appendChild(name);
        link.appendChild(size);
        files.appendChild(link);
      });
      item.appendChild(files);
    }
    var meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = timeOf(message.created_at) + (message.edited_at ? " · " + strings.edited : "");
    if (isMine(message)) meta.appendChild(ticks(tickState(message)));
    item.appendChild(meta);
    return item;
  }

  function find(id, clientId) {
    var found = list.querySelector('li[data-id="' + Number(id) + '"]');
    if (!found && clientId) {
      found = Array.prototype.find.call(list.children, function (li) { return li.dataset.clientId === clientId; });
    }
    return found || null;
  }

  function upsert(message) {
    if (message.retracted || message.body === null) { remove(message); return; }
    var existing = find(message.id, message.client_id);
    var node = render(message);
    if (existing) { list.replaceChild(node, existing); }
    else { insertOrdered(node, message.id); node.scrollIntoView({ block: "end" }); }
    if (message.id > lastId) lastId = message.id;
    markRead();
  }

  function insertOrdered(node, id) {
    // By id: a message fetched to fill a hole goes where it belongs, pending sends stay last.
    var before = Array.prototype.find.call(list.children, function (li) {
      return li.classList.contains("pending") || Number(li.dataset.id) > id;
    });
    list.insertBefore(node, before || null);
  }

  function received(message) {
    upsert(message);
    var seq = message.seq || 0;
    if (seq <= lastSeq) return;
    ahead[seq] = true;
    while (ahead[lastSeq + 1]) { delete ahead[lastSeq + 1]; lastSeq += 1; }
    if (Object.keys(ahead).length && !holeTimer) {
      holeTimer = setTimeout(function () {
        holeTimer = null;
        if (Object.keys(ahead).length) sync();
      }, HOLE_WAIT);
    }
  }

  function sync() {
    // Every change after lastSeq (relative to /c/<token>/), page after page, one sync at a time.
    if (syncing) { syncAgain = true; return syncing; }
    function page() {
      return fetch("messages/?limit=200&since=" + lastSeq, { credentials: "omit", cache: "no-store" })
        .then(function (response) { if (!response.ok) throw new Error(response.status); return response.json(); })
        .then(function (data) {
          var top = lastSeq;
          data.results.forEach(function (m) { upsert(m); if (m.seq > top) top = m.seq; });
          if (data.read_upto) showRead(data.read_upto);
          if (!data.has_more && data.seq > top) top = data.seq;
          lastSeq = top;
          Object.keys(ahead).forEach(function (s) { if (Number(s) <= top) delete ahead[s]; });
          return data.has_more ? page() : null;
        });
    }
    syncing = page().catch(function () {}).then(function () {
      syncing = null;
      if (syncAgain) { syncAgain = false; return sync(); }
    });
    return syncing;
  }

  function setLive(live) {
    clearInterval(pollTimer); pollTimer = null;
    if (live) { if (statusLine.textContent === strings.paused) setStatus(""); return; }
    setStatus(strings.paused);
    pollTimer = setInterval(sync, POLL_PAUSED);
  }

  function remove(message) {
    var existing = find(message.id, null);
    if (existing) existing.remove();
  }

  function showPending(clientId, text) {
    var item = render({ id: 0, client_id: clientId, author: me, body_html: "", created_at: new Date().toISOString(), attachments: [] });
    item.querySelector(".body").textContent = text;
    item.classList.add("pending");
    list.appendChild(item);
    item.scrollIntoView({ block: "end" });
  }

  function showError(frame) {
    var item = document.createElement("li");
    item.className = "error";
    item.setAttribute("role", "alert");
    item.textContent = frame.detail || frame.error;
    list.appendChild(item);
    setTimeout(function () { item.remove(); }, 8000);
  }

  function clearErrors() {
    Array.prototype.forEach.call(list.querySelectorAll("li.error"), function (li) { li.remove(); });
  }

  // --- files: checked here first (size, type), then sent with a progress bar ---------------------

  function fileRefusal(file) {
    if (file.size > config.max_bytes) {
      return strings.too_large.replace("%(size)s", Math.floor(config.max_bytes / 1048576));
    }
    if (file.type && config.file_types.indexOf(file.type.toLowerCase()) === -1) return strings.bad_type;
    return "";
  }

  function uploadFile(file) {
    if (closedForGood) return;
    var refusal = fileRefusal(file);
    if (refusal) { showError({ detail: refusal }); return; }
    var clientId = uuid4();
    var item = render({ id: 0, client_id: clientId, author: me, body_html: "", created_at: new Date().toISOString(), attachments: [] });
    item.classList.add("pending", "uploading");
    item.querySelector(".body").textContent = strings.uploading.replace("%(name)s", file.name);
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.dataset.testid = "upload-progress";
    item.querySelector(".body").appendChild(bar);
    list.appendChild(item);
    item.scrollIntoView({ block: "end" });
    var data = new FormData();
    data.append("file", file, file.name || "image.png");
    data.append("client_id", clientId);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", config.upload_url);
    xhr.upload.onprogress = function (event) {
      if (event.lengthComputable) bar.value = Math.round((event.loaded / event.total) * 100);
    };
    xhr.onload = function () {
      var answer = null;
      try { answer = JSON.parse(xhr.responseText); } catch (e) { answer = null; }
      if ((xhr.status === 200 || xhr.status === 201) && answer && answer.message) {
        clearErrors();
        item.classList.remove("uploading");
        upsert(answer.message); // replaces the pending row (same client_id)
        return;
      }
      item.remove();
      showError({ detail: (answer && answer.detail) || strings.upload_failed });
      if (xhr.status === 404 || xhr.status === 410) sync();
    };
    xhr.onerror = function () { item.remove(); showError({ detail: strings.upload_failed }); };
    xhr.send(data);
  }

  function uploadAll(files) {
    Array.prototype.forEach.call(files || [], uploadFile);
  }

  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify(frame)); return true; }
    return false;
  }

  var retries = {}; // client_id -> the next wait (ms) after a transient error

  function retryLater(clientId) {
    retries[clientId] = Math.min((retries[clientId] || 500) * 2, 30000);
    setTimeout(function () {
      if (pending[clientId] !== undefined) send({ action: "send", client_id: clientId, body: pending[clientId] });
    }, retries[clientId]);
  }

  function markRead() {
    if (document.visibilityState !== "visible" || lastId <= lastReadSent) return;
    if (send({ action: "read", message_id: lastId })) lastReadSent = lastId;
  }

  function submit() {
    var text = input.value;
    if (!text.trim()) return;
    if (text.length > config.max_body) { showError({ detail: strings.too_long }); return; }
    var clientId = uuid4();
    pending[clientId] = text;
    showPending(clientId, text);
    input.value = "";
    send({ action: "send", client_id: clientId, body: text });
  }

  function catchUp() {
    // Every change missed, then resend what was not acked.
    return sync().then(function () {
      Object.keys(pending).forEach(function (clientId) {
        send({ action: "send", client_id: clientId, body: pending[clientId] });
      });
    });
  }

  function onFrame(event) {
    var frame;
    try { frame = JSON.parse(event.data); } catch (e) { return; }
    switch (frame.type) {
      case "ready": setStatus(""); retryDelay = 1000; setLive(frame.live !== false); catchUp(); break;
      case "live": setLive(frame.live); if (frame.live) sync(); break;
      case "ack":
        clearErrors();
        delete pending[frame.client_id];
        delete retries[frame.client_id];
        var mine = find(0, frame.client_id);
        if (mine) { mine.dataset.id = frame.id; mine.classList.remove("pending"); setTicks(mine, frame.id <= readUpto ? "read" : "sent"); }
        if (frame.id > lastId) lastId = frame.id;
        break;
      case "message.created":
      case "message.updated":
      case "message.retracted":
        received(frame.message); break;
      case "read":
        if (frame.actor && frame.actor.type === "user") showRead(frame.message_id);
        break;
      case "typing":
        typingLine.textContent = strings.typing.replace("%(name)s", frame.actor.name);
        typingLine.hidden = false;
        clearTimeout(typingTimer);
        typingTimer = setTimeout(function () { typingLine.hidden = true; }, 4000);
        break;
      case "agent.changed":
        var rep = document.getElementById("rep");
        rep.textContent = frame.name ? strings.talking_with.replace("%(name)s", frame.name) : "";
        rep.hidden = !frame.name;
        break;
      case "closing": closedForGood = true; break;
      case "error":
        if (frame.client_id && pending[frame.client_id] !== undefined) {
          if (frame.error === "rate_limited" || frame.error === "server_error") {
            retryLater(frame.client_id); // transient: the message stays and goes again
            break;
          }
          delete pending[frame.client_id];
          var failed = find(0, frame.client_id);
          if (failed) failed.remove();
        }
        showError(frame);
        break;
      default: break;
    }
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    setStatus(strings.connecting);
    socket = new WebSocket(scheme + location.host + config.socket_path);
    socket.onmessage = onFrame;
    socket.onclose = function (event) {
      clearInterval(pollTimer); pollTimer = null;
      if (event.code === 4408) retryDelay = 1000; // dropped for not reading: reconnect, catch up
      if (closedForGood || event.code === 4403 || event.code === 4404) {
        closedForGood = true;
        setStatus(strings.closed);
        form.setAttribute("aria-disabled", "true");
        input.disabled = true;
        if (fileInput) fileInput.disabled = true;
        return;
      }
      setStatus(strings.offline);
      setTimeout(connect, retryDelay * (0.75 + Math.random() / 2)); // jittered, capped at 3 s
      retryDelay = Math.min(retryDelay * 2, 3000);
    };
  }

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  input.addEventListener("input", function () {
    var now = Date.now();
    if (now - lastTypingSent > 2000) { lastTypingSent = now; send({ action: "typing" }); }
  });
  form.addEventListener("submit", function (event) { event.preventDefault(); submit(); });
  if (fileInput) {
    fileInput.addEventListener("change", function () { uploadAll(fileInput.files); fileInput.value = ""; });
  }
  input.addEventListener("paste", function (event) {
    var files = event.clipboardData && event.clipboardData.files;
    if (files && files.length) { event.preventDefault(); uploadAll(files); }
  });
  var dragDepth = 0;
  function dragging(event) {
    return event.dataTransfer && Array.prototype.indexOf.call(event.dataTransfer.types || [], "Files") !== -1;
  }
  document.addEventListener("dragenter", function (event) {
    if (!dragging(event) || closedForGood) return;
    dragDepth += 1;
    document.body.classList.add("dropping");
  });
  document.addEventListener("dragleave", function () {
    dragDepth = Math.max(0, dragDepth - 1);
    if (!dragDepth) document.body.classList.remove("dropping");
  });
  document.addEventListener("dragover", function (event) { if (dragging(event)) event.preventDefault(); });
  document.addEventListener("drop", function (event) {
    if (!dragging(event)) return;
    event.preventDefault();
    dragDepth = 0;
    document.body.classList.remove("dropping");
    if (!closedForGood) uploadAll(event.dataTransfer.files);
  });
  document.addEventListener("visibilitychange", markRead);

  config.history.forEach(function (message) { list.appendChild(render(message)); if (message.id > lastId) lastId = message.id; });
  if (list.lastElementChild) list.lastElementChild.scrollIntoView({ block: "end" });
  connect();
})();
