/* Keepline staff chat panel. Protocol: docs/realtime.md.
 * Nothing typed is lost: un-acked sends wait in IndexedDB (outbox.js) and are resent after a
 * reconnect, a reload or, by any page or the service worker, after the tab was closed; the
 * server answers a repeated client_id with the id it already stored.
 * Nothing stored goes unseen: every message carries the conversation's change number (seq); a
 * hole in the numbers, a reconnect or the server saying live updates were paused makes the panel
 * fetch every change after the last number it holds, all pages of it. */
(function () {
  "use strict";

  function uuid4() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  // "Waiting to go": drawn, not a glyph (the clock emoji is an empty box without an emoji font).
  function clockIcon() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 16 16"); svg.setAttribute("width", "12"); svg.setAttribute("height", "12");
    svg.setAttribute("class", "icon-clock"); svg.setAttribute("aria-hidden", "true");
    var face = document.createElementNS(ns, "circle");
    face.setAttribute("cx", "8"); face.setAttribute("cy", "8"); face.setAttribute("r", "6.5");
    var hands = document.createElementNS(ns, "path");
    hands.setAttribute("d", "M8 4v4l3 2");
    [face, hands].forEach(function (n) {
      n.setAttribute("fill", "none"); n.setAttribute("stroke", "currentColor"); n.setAttribute("stroke-width", "1.6");
      n.setAttribute("stroke-linecap", "round"); svg.appendChild(n);
    });
    return svg;
  }

  function Chat(root) {
    this.root = root;
    var d = root.dataset;
    this.id = d.conversationId;
    this.wsUrl = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + d.wsPath;
    this.api = d.apiBase;  // /api/v1/conversations/<id>/
    this.csrf = d.csrf;
    this.me = parseInt(d.me, 10);
    this.canSend = d.canSend === "true";
    this.seesOriginals = d.seesOriginals === "true";
    this.editWindow = parseInt(d.editWindow || "900", 10) * 1000;
    this.t = JSON.parse(document.getElementById(d.i18n).textContent);
    this.list = root.querySelector("[data-role=messages]");
    this.typingLine = root.querySelector("[data-role=typing]");
    this.statusLine = root.querySelector("[data-role=status]");
    this.form = root.querySelector("[data-role=composer]");
    this.input = root.querySelector("[data-role=input]");
    this.noteToggle = root.querySelector("[data-role=note]");
    this.urgentToggle = root.querySelector("[data-role=urgent]");
    this.deliveryLine = root.querySelector("[data-role=delivery]");
    this.timeZone = d.timeZone || undefined;
    this.language = d.language || document.documentElement.lang || undefined;
    this.fileInput = root.querySelector("[data-role=file]");
    this.progress = root.querySelector("[data-role=progress]");
    this.uploadBox = root.querySelector("[data-role=upload]");
    this.refusalLine = root.querySelector("[data-role=composer-error]");
    this.uploadName = root.querySelector("[data-role=upload-name]");
    this.noteBanner = root.querySelector("[data-role=note-banner]");
    this.quickList = root.querySelector("[data-role=quick-list]");
    this.quickUrl = d.quickReplies;
    // The server's limits (comms_chat.chat_panel): a refused file is refused here, unsent.
    this.maxBytes = parseInt(d.maxBytes || "0", 10);
    this.fileTypes = (d.fileTypes || "").split(",").filter(Boolean);
    this.fileExts = (d.fileExts || "").split(",").filter(Boolean);
    this.rows = {};          // message id -> row element
    this.lastId = 0;         // newest message id seen
    this.lastSeq = 0;        // every change up to this number is shown
    this.ahead = {};         // change numbers received above lastSeq (a hole below them)
    this.oldestId = null;    // oldest loaded, for scroll-back
    this.outbox = {};        // client_id -> unsent message, mirrored in IndexedDB
    this.store = window.KeeplineOutbox || null;
    this.outboxReady = this.loadOutbox();
    this.backoff = 500;
    this.typingTimers = {};
    this.lastTypingSent = 0;
    this.bind();
    // Every page opens in reply mode, whatever the browser restored into the checkbox.
    this.setNoteMode(false);
    this.loadInitial().then(this.connect.bind(this));
  }

  // The outbox of this conversation, read back from IndexedDB (and moved there from the
  // localStorage key older pages used).
  Chat.prototype.loadOutbox = function () {
    var self = this;
    if (!this.store) return Promise.resolve();
    var extra = {api: this.api + "messages/", csrf: this.csrf, user: this.me};
    return this.store.adopt(this.id, "keepline.outbox." + this.id, extra).then(function () {
      return self.store.list(self.id);
    }).then(function (items) {
      items.forEach(function (i) {
        self.outbox[i.client_id] = {body: i.body, note: !!i.note, urgent: !!i.urgent, confirm: !!i.confirm};
      });
    }).catch(function () {});
  };

  Chat.prototype.queue = function (cid) {
    var item = this.outbox[cid];
    if (!item || !this.store) return;
    this.store.put(this.id, cid, Object.assign({}, item, {api: this.api + "messages/", csrf: this.csrf, user: this.me})).catch(function () {});
    // Not connected: if this tab closes first, the service worker sends it when back online.
    if ((!this.ws || this.ws.readyState !== 1) && navigator.serviceWorker) {
      navigator.serviceWorker.ready.then(function (reg) {
        if (reg.sync) return reg.sync.register("keepline-outbox");
      }).catch(function () {});
    }
  };

  Chat.prototype.unqueue = function (cid) {
    delete this.outbox[cid];
    if (this.store) this.store.remove(this.id, cid).catch(function () {});
  };

  Chat.prototype.fetchJson = function (url, options) {
    options = options || {};
    options.credentials = "same-origin";
    options.headers = Object.assign({"Accept": "application/json", "X-CSRFToken": this.csrf}, options.headers || {});
    return fetch(url, options).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) { var e = new Error(body.detail || r.statusText); e.status = r.status; throw e; }
        return body;
      });
    });
  };

  Chat.prototype.loadInitial = function () {
    var self = this;
    return this.fetchJson(this.api + "messages/?before=").then(function (page) {
      var items = (page.results || page).slice().reverse();
      items.forEach(function (m) { self.render(m); });
      self.lastSeq = page.seq || 0;
      self.oldestId = items.length ? items[0].id : null;
      self.hasMore = !!page.has_more;
      self.scrollToBottom();
    }).catch(function () { self.setStatus(self.t.offline); }).then(function () {
      return self.outboxReady;
    }).then(function () {
      Object.keys(self.outbox).forEach(function (cid) {
        if (!self.list.querySelector('[data-client-id="' + cid + '"]')) self.renderPending(cid, self.outbox[cid]);
      });
    });
  };

  Chat.prototype.loadOlder = function () {
    var self = this;
    if (!this.hasMore || this.loadingOlder || this.oldestId === null) return;
    this.loadingOlder = true;
    var before = this.list.scrollHeight;
    this.fetchJson(this.api + "messages/?before=" + this.oldestId).then(function (page) {
      var items = page.results || page;
      items.forEach(function (m) { self.render(m, true); });
      if (items.length) self.oldestId = items[items.length - 1].id;
      self.hasMore = !!page.has_more;
      self.list.scrollTop += self.list.scrollHeight - before;
    }).finally(function () { self.loadingOlder = false; });
  };

  // A change the panel received: shown at once; a number above the next expected one means a
  // hole, fetched if it has not arrived within HOLE_WAIT (two daphne processes publish apart).
  var HOLE_WAIT = 500, POLL_PAUSED = 5000;

  Chat.prototype.apply = function (m) {
    // Changes to messages older than what is loaded are fetched when scrolling back.
    if (this.oldestId !== null && m.id < this.oldestId && !this.rows[m.id]) return;
    this.render(m);
  };

  Chat.prototype.received = function (m) {
    this.apply(m);
    var seq = m.seq || 0;
    if (seq <= this.lastSeq) return;
    this.ahead[seq] = true;
    while (this.ahead[this.lastSeq + 1]) { delete this.ahead[this.lastSeq + 1]; this.lastSeq += 1; }
    if (Object.keys(this.ahead).length && !this.holeTimer) {
      var self = this;
      this.holeTimer = setTimeout(function () {
        self.holeTimer = null;
        if (Object.keys(self.ahead).length) self.sync();
      }, HOLE_WAIT);
    }
  };

  Chat.prototype.sync = function () {
    // Every change after lastSeq, page after page; one sync at a time (a second is queued).
    var self = this;
    if (this.syncing) { this.syncAgain = true; return this.syncing; }
    var page = function () {
      return self.fetchJson(self.api + "messages/?limit=200&since=" + self.lastSeq).then(function (data) {
        var top = self.lastSeq;
        (data.results || []).forEach(function (m) { self.apply(m); if (m.seq > top) top = m.seq; });
        if (!data.has_more && data.seq > top) top = data.seq;
        self.lastSeq = top;
        Object.keys(self.ahead).forEach(function (s) { if (parseInt(s, 10) <= top) delete self.ahead[s]; });
        return data.has_more ? page() : null;
      });
    };
    this.syncing = page().then(function () { self.scrollToBottom(); }, function () {}).then(function () {
      self.syncing = null;
      if (self.syncAgain) { self.syncAgain = false; return self.sync(); }
    });
    return this.syncing;
  };

  Chat.prototype.setLive = function (live) {
    var self = this;
    clearInterval(this.pollTimer); this.pollTimer = null;
    if (live) { if (this.paused) this.setStatus(""); this.paused = false; return; }
    this.paused = true;
    this.setStatus(this.t.paused);
    this.pollTimer = setInterval(function () { self.sync(); }, POLL_PAUSED);
  };

  Chat.prototype.connect = function () {
    var self = this;
    var ws = new WebSocket(this.wsUrl);
    this.ws = ws;
    ws.onopen = function () {
      self.backoff = 500;
      self.setStatus("");
    };
    ws.onmessage = function (ev) {
      var msg; try { msg = JSON.parse(ev.data); } catch (e) { return; }
      self.handle(msg);
    };
    ws.onclose = function (ev) {
      clearInterval(self.pollTimer); self.pollTimer = null;
      if (ev.code === 4408) { self.backoff = 500; }  // the server dropped us for not reading: catch up
      if (ev.code === 4403 || ev.code === 4404 || ev.code === 4401) {
        self.setStatus(self.t.revoked);
        self.accessEnded();
        return;
      }
      self.setStatus(self.t.reconnecting);
      // Jittered (a dead process's sockets do not all come back at once) and capped at 3 s, so a
      // page is back within a few seconds of its process (docs/operations.md).
      setTimeout(self.connect.bind(self), self.backoff * (0.75 + Math.random() / 2));
      self.backoff = Math.min(self.backoff * 2, 3000);
    };
  };

  Chat.prototype.setStatus = function (text, isError) {
    this.statusIsError = !!(text && isError);
    if (this.statusLine) { this.statusLine.textContent = text; this.statusLine.hidden = !text; }
  };

  // A later send that went through: an error line about an earlier one no longer holds.
  Chat.prototype.clearError = function () {
    if (this.statusIsError) this.setStatus("");
  };

  // Access ended (signed out, record unshared, link revoked): nothing on the page may still
  // offer an action the server would refuse. Rows rendered later get no buttons (canSend).
  Chat.prototype.accessEnded = function () {
    this.canSend = false;
    this.root.querySelectorAll("[data-action=edit],[data-action=retract]").forEach(function (n) { n.remove(); });
    document.querySelectorAll("[data-needs-access]").forEach(function (n) { n.remove(); });
    if (this.form) {
      this.form.querySelectorAll("textarea,button,input").forEach(function (n) { n.disabled = true; });
      this.form.hidden = true;
    }
  };

  // One way to write a moment, as the server writes it (config/formats): "3 Dec 2026, 17:55",
  // in the page's language and the viewer's time zone.
  Chat.prototype.formatWhen = function (iso) {
    var date = new Date(iso);
    var options = {day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23"};
    var parts;
    try { parts = new Intl.DateTimeFormat(this.language, Object.assign({timeZone: this.timeZone}, options)).formatToParts(date); }
    catch (e) { parts = new Intl.DateTimeFormat(this.language, options).formatToParts(date); }
    var p = {};
    parts.forEach(function (part) { p[part.type] = part.value; });
    var month = (p.month || "").replace(/\.$/, "");
    month = month.charAt(0).toUpperCase() + month.slice(1);
    return p.day + " " + month + " " + p.year + ", " + p.hour + ":" + p.minute;
  };

  Chat.prototype.handle = function (msg) {
    switch (msg.type) {
      case "ack":
        this.unqueue(msg.client_id);
        this.clearError();
        if (this.retries) delete this.retries[msg.client_id];
        var pending = this.list.querySelector('[data-client-id="' + msg.client_id + '"].pending');
        if (pending && this.rows[msg.id]) pending.remove();
        else if (pending) { pending.classList.remove("pending"); pending.dataset.id = msg.id; this.rows[msg.id] = pending; }
        if (msg.delivery) this.showDelivery(msg.id, msg.delivery);
        break;
      case "message.created": case "message.updated": case "message.retracted":
        this.received(msg.message); this.scrollToBottom(); break;
      case "live": this.setLive(msg.live); if (msg.live) this.sync(); break;
      case "typing": this.showTyping(msg.actor); break;
      case "read": this.markRead(msg); break;
      case "presence": this.showPresence(msg.online || []); break;
      case "ready":
        var self = this;
        this.showPresence(msg.presence || []);
        this.setLive(msg.live !== false);
        // History loaded before the socket opened is read now, not after the catch-up below: a
        // person who glances at a conversation and moves on has read it (the badge waits for this).
        if (document.visibilityState === "visible") this.sendRead(this.lastId);
        this.sync().then(function () {
          Object.keys(self.outbox).forEach(function (cid) { self.transmit(cid); });
          if (document.visibilityState === "visible") self.sendRead(self.lastId);
        });
        break;
      case "error":
        this.setStatus(msg.detail || msg.error, true);
        if (msg.error === "dlp_warning" && msg.client_id && this.outbox[msg.client_id]) {
          this.warnPending(msg.client_id, msg.detail); break;
        }
        if (msg.error === "dlp_warning" && msg.client_id && this.edits && this.edits[msg.client_id]) {
          this.warnEdit(msg.client_id, msg.detail); break;
        }
        if (msg.client_id && this.outbox[msg.client_id]) {
          // Transient: the message stays in the outbox and goes again; anything else was refused.
          if (msg.error === "rate_limited" || msg.error === "server_error" || msg.error === "access_changed") this.retryLater(msg.client_id);
          else { this.unqueue(msg.client_id); this.failPending(msg.client_id, msg.detail); }
        }
        break;
      case "closing": this.setStatus(this.t.revoked); this.accessEnded(); break;
    }
  };

  // Right to disconnect: a colleague outside their working hours is notified at their next
  // working start; the sender sees when, in their own time zone (the server's answer).
  Chat.prototype.formatTime = function (iso) { return this.formatWhen(iso); };

  Chat.prototype.showDelivery = function (id, delivery) {
    var text;
    if (delivery.deliver_at) {
      var names = (delivery.held || []).map(function (h) { return h.name; }).join(", ");
      text = this.t.willDeliver.replace("{time}", this.formatTime(delivery.deliver_at)).replace("{names}", names);
    } else if (delivery.urgent) {
      text = this.t.deliveredUrgent;
    }
    if (!text) return;
    if (this.deliveryLine) { this.deliveryLine.textContent = text; this.deliveryLine.hidden = false; }
    var row = this.rows[id];
    if (row) {
      var foot = row.querySelector(".foot");
      var note = row.querySelector(".delivery") || el("span", "delivery muted");
      note.textContent = text;
      if (foot && !note.parentNode) foot.appendChild(note);
    }
  };

  Chat.prototype.rowFor = function (m) {
    var row = this.rows[m.id];
    if (!row && m.client_id) {
      row = this.list.querySelector('[data-client-id="' + m.client_id + '"].pending');
      if (row) { row.classList.remove("pending"); }
    }
    return row;
  };

  Chat.prototype.render = function (m, prepend) {
    var row = this.rowFor(m);
    var fresh = !row;
    if (fresh) { row = el("li", "msg"); }
    row.dataset.id = m.id; row.dataset.clientId = m.client_id || "";
    row.className = "msg " + m.direction + (m.author && m.author.type === "user" && m.author.id === this.me ? " mine" : "") + (m.retracted ? " retracted" : "");
    row.innerHTML = "";
    var meta = el("div", "meta");
    meta.appendChild(el("span", "who", m.author ? m.author.name : ""));
    if (m.direction === "note") meta.appendChild(el("span", "badge note", this.t.note));
    if (m.urgent) meta.appendChild(el("span", "badge urgent", this.t.urgent));
    var time = el("time", "when", this.formatWhen(m.created_at));
    time.dateTime = m.created_at; meta.appendChild(time);
    if (m.edited_at && this.seesOriginals) {
      var history = el("button", "link edited", this.t.history); history.type = "button"; history.dataset.action = "history";
      meta.appendChild(history);
    } else if (m.edited_at && !m.retracted) meta.appendChild(el("span", "edited", this.t.edited));
    row.appendChild(meta);
    var body = el("div", "body");
    if (m.redacted_for_customer) meta.appendChild(el("span", "badge redacted", this.t.redactedForCustomer));
    if (m.retracted) {
      body.appendChild(el("em", "muted", this.t.retracted));
      if (m.original_body) { var orig = el("div", "original", m.original_body); body.appendChild(orig); }
    } else {
      body.innerHTML = m.body_html;  // escaped and sanitised by the server (nh3), never raw user text
    }
    row.appendChild(body);
    (m.attachments || []).forEach(function (a) {
      // An image shows its preview (not audited, comms.thumbnails); the link is the audited download.
      var link = el("a", "attachment" + (a.thumbnail_url ? " has-thumb" : ""));
      link.href = a.url;
      if (a.thumbnail_url) {
        var thumb = el("img", "attachment-thumb"); thumb.src = a.thumbnail_url; thumb.alt = a.name; thumb.loading = "lazy";
        thumb.addEventListener("error", function () { thumb.remove(); });
        link.appendChild(thumb);
      }
      var kb = a.size / 1024, lang = document.documentElement.lang || undefined;
      var size = kb < 1024 ? Math.max(1, Math.round(kb)).toLocaleString(lang) + " KB" : (kb / 1024).toLocaleString(lang, { maximumFractionDigits: 1 }) + " MB";
      link.appendChild(el("span", "attachment-name", a.name));
      link.appendChild(el("span", "attachment-size", " · " + size));
      body.appendChild(link);
    });
    var foot = el("div", "foot");
    if (m.direction === "outbound") { var ticks = el("span", "ticks"); ticks.dataset.status = m.status; ticks.textContent = this.tickText(m.status); if (m.status === "queued") ticks.appendChild(clockIcon()); ticks.title = m.failed_reason || this.statusLabel(m.status); foot.appendChild(ticks); if (m.status === "failed" && m.failed_reason) foot.appendChild(el("span", "failed-reason", m.failed_reason)); }
    if (this.canSend && !m.retracted && m.author && m.author.type === "user" && m.author.id === this.me && m.direction !== "inbound") {
      if (Date.now() - new Date(m.created_at).getTime() < this.editWindow) {
        var edit = el("button", "link", this.t.edit); edit.type = "button"; edit.dataset.action = "edit"; foot.appendChild(edit);
      }
      var retract = el("button", "link danger", this.t.retract); retract.type = "button"; retract.dataset.action = "retract"; foot.appendChild(retract);
    }
    row.appendChild(foot);
    if (fresh) {
      if (prepend) this.list.insertBefore(row, this.list.firstChild);
      else this.insertOrdered(row, m.id);
    }
    this.rows[m.id] = row;
    if (m.id > this.lastId) this.lastId = m.id;
    if (this.oldestId === null || m.id < this.oldestId) this.oldestId = m.id;
    if (!prepend && m.author && !(m.author.type === "user" && m.author.id === this.me) && document.visibilityState === "visible") this.sendRead(m.id);
  };

  Chat.prototype.insertOrdered = function (row, id) {
    var next = null;
    var items = this.list.querySelectorAll("li.msg:not(.pending)");
    for (var i = items.length - 1; i >= 0; i--) {
      if (parseInt(items[i].dataset.id, 10) > id) next = items[i]; else break;
    }
    var firstPending = this.list.querySelector("li.pending");
    this.list.insertBefore(row, next || firstPending);
  };

  Chat.prototype.tickText = function (status) {
    return {sent: "✓", delivered: "✓✓", read: "✓✓", failed: "⚠"}[status] || "";
  };

  Chat.prototype.statusLabel = function (status) {
    return (this.t.status && this.t.status[status]) || "";
  };

  Chat.prototype.setTicks = function (id, status) {
    var row = this.rows[id]; if (!row) return;
    var ticks = row.querySelector(".ticks"); if (!ticks) return;
    ticks.dataset.status = status; ticks.textContent = this.tickText(status); ticks.title = this.statusLabel(status);
    if (status === "queued") ticks.appendChild(clockIcon());
  };

  Chat.prototype.renderPending = function (cid, item) {
    var row = el("li", "msg outbound mine pending" + (item.note ? " note" : ""));
    row.dataset.clientId = cid;
    row.appendChild(el("div", "body", item.body));
    var ticks = el("span", "ticks"); ticks.dataset.status = "queued"; ticks.appendChild(clockIcon());
    var foot = el("div", "foot"); foot.appendChild(ticks); row.appendChild(foot);
    this.list.appendChild(row);
    this.scrollToBottom();
  };

  Chat.prototype.failPending = function (cid, detail) {
    var row = this.list.querySelector('[data-client-id="' + cid + '"].pending');
    if (row) { row.classList.add("failed"); row.querySelector(".ticks").textContent = "⚠ " + (detail || ""); }
  };

  // A DLP warning: the message waits under the warning until the writer sends it anyway (the
  // same client_id, confirmed) or takes it back into the composer.
  Chat.prototype.warning = function (detail, anyway, back) {
    var box = el("div", "dlp-warning");
    box.setAttribute("role", "alert");
    box.appendChild(el("p", "", detail));
    var go = el("button", "small primary", this.t.sendAnyway); go.type = "button"; go.dataset.role = "send-anyway";
    var stop = el("button", "small", this.t.cancel); stop.type = "button";
    go.addEventListener("click", function () { box.remove(); anyway(); });
    stop.addEventListener("click", function () { box.remove(); back(); });
    box.appendChild(go); box.appendChild(stop);
    return box;
  };

  Chat.prototype.warnPending = function (cid, detail) {
    var self = this;
    var row = this.list.querySelector('[data-client-id="' + cid + '"].pending');
    if (!row || row.querySelector(".dlp-warning")) return;
    row.classList.add("warned");
    row.appendChild(this.warning(detail, function () {
      row.classList.remove("warned");
      self.outbox[cid].confirm = true; self.queue(cid); self.transmit(cid);
    }, function () {
      var item = self.outbox[cid];
      self.unqueue(cid); row.remove();
      if (self.input && item) { self.input.value = item.body; self.input.focus(); }
    }));
    this.setStatus("");
  };

  Chat.prototype.warnEdit = function (cid, detail) {
    var self = this;
    var edit = this.edits[cid];
    var row = this.rows[edit.message_id];
    if (!row) return;
    row.appendChild(this.warning(detail, function () {
      edit.confirm_dlp = true;
      self.ws.send(JSON.stringify(edit));
      delete self.edits[cid];
    }, function () { delete self.edits[cid]; }));
    this.setStatus("");
  };

  Chat.prototype.retryLater = function (cid) {
    var self = this;
    this.retries = this.retries || {};
    this.retries[cid] = Math.min((this.retries[cid] || 500) * 2, 30000);
    setTimeout(function () { self.transmit(cid); }, this.retries[cid]);
  };

  Chat.prototype.transmit = function (cid) {
    var item = this.outbox[cid];
    if (!item || !this.ws || this.ws.readyState !== 1) return;
    this.ws.send(JSON.stringify({action: "send", client_id: cid, body: item.body, note: !!item.note, urgent: !!item.urgent, confirm_dlp: !!item.confirm}));
  };

  Chat.prototype.send = function () {
    var body = this.input.value.replace(/\s+$/, "");
    if (!body.trim()) return;
    var cid = uuid4();
    this.outbox[cid] = {body: body, note: !!(this.noteToggle && this.noteToggle.checked),
                        urgent: !!(this.urgentToggle && this.urgentToggle.checked)};
    if (this.urgentToggle) this.urgentToggle.checked = false;  // one message at a time
    // A note is one message too: the next one is a reply to the customer again, visibly.
    if (this.outbox[cid].note) this.setNoteMode(false);
    this.closeQuick();
    this.showRefusal("");
    this.queue(cid);
    this.renderPending(cid, this.outbox[cid]);
    this.input.value = "";
    this.transmit(cid);
  };

  Chat.prototype.sendRead = function (id) {
    if (this.ws && this.ws.readyState === 1 && id > (this.readSent || 0)) {
      this.readSent = id;
      this.ws.send(JSON.stringify({action: "read", message_id: id}));
    }
  };

  Chat.prototype.showTyping = function (actor) {
    var self = this;
    if (!this.typingLine || (actor.type === "user" && actor.id === this.me)) return;
    var key = actor.type + actor.id;
    this.typingTimers[key] = {name: actor.name, until: Date.now() + 4000};
    var names = function () {
      var now = Date.now();
      return Object.keys(self.typingTimers).filter(function (k) { return self.typingTimers[k].until > now; }).map(function (k) { return self.typingTimers[k].name; });
    };
    this.typingLine.textContent = names().length ? names().join(", ") + " " + this.t.typing : "";
    setTimeout(function () { var n = names(); self.typingLine.textContent = n.length ? n.join(", ") + " " + self.t.typing : ""; }, 4100);
  };

  Chat.prototype.markRead = function (msg) {
    if (msg.actor && msg.actor.type === "contact") {
      var self = this;
      Object.keys(this.rows).forEach(function (id) { if (parseInt(id, 10) <= msg.message_id) self.setTicks(id, "read"); });
    }
  };

  Chat.prototype.showPresence = function (online) {
    var node = this.root.querySelector("[data-role=presence]");
    if (!node) return;
    var me = this.me;
    node.textContent = online.filter(function (a) { return !(a.type === "user" && a.id === me); }).map(function (a) { return a.name; }).join(", ");
  };

  Chat.prototype.edit = function (row) {
    var self = this;
    if (row.querySelector("textarea.edit")) return;
    var body = row.querySelector(".body");
    var current = body.textContent;
    var box = el("textarea", "edit"); box.value = current; box.rows = 3;
    box.setAttribute("aria-label", this.t.edit);
    var save = el("button", "primary small", this.t.save); save.type = "button";
    var cancel = el("button", "small", this.t.cancel); cancel.type = "button";
    var wrap = el("div", "edit-box"); wrap.appendChild(box); wrap.appendChild(save); wrap.appendChild(cancel);
    body.hidden = true; row.insertBefore(wrap, body.nextSibling); box.focus();
    var close = function () { wrap.remove(); body.hidden = false; };
    var submit = function () {
      var next = box.value.replace(/\s+$/, "");
      if (next.trim() && next !== current) {
        // A client_id lets a DLP warning about this edit come back to it.
        var edit = {action: "edit", client_id: uuid4(), message_id: parseInt(row.dataset.id, 10), body: next};
        self.edits = self.edits || {};
        self.edits[edit.client_id] = edit;
        self.ws.send(JSON.stringify(edit));
      }
      close();
    };
    save.addEventListener("click", submit);
    cancel.addEventListener("click", close);
    box.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); submit(); }
      if (e.key === "Escape") close();
    });
  };

  Chat.prototype.history = function (row) {
    var self = this;
    var box = row.querySelector(".revisions");
    if (box) { box.remove(); return; }
    this.fetchJson(this.api + "messages/" + row.dataset.id + "/revisions/").then(function (page) {
      box = el("ol", "revisions");
      box.setAttribute("aria-label", self.t.history);
      (page.results || []).forEach(function (r) {
        var item = el("li");
        item.appendChild(el("span", "muted", self.formatWhen(r.edited_at) + " · " + (r.editor ? r.editor.name : "") + ": "));
        item.appendChild(el("span", "", r.body));
        box.appendChild(item);
      });
      row.appendChild(box);
    }).catch(function (e) { self.setStatus(e.message, true); });
  };

  Chat.prototype.retract = function (row) {
    if (!window.confirm(this.t.retractConfirm)) return;
    this.ws.send(JSON.stringify({action: "retract", message_id: parseInt(row.dataset.id, 10)}));
  };

  // --- composer: note mode, quick replies, files ------------------------------------------------

  Chat.prototype.setNoteMode = function (on) {
    if (!this.form) return;
    if (this.noteToggle) this.noteToggle.checked = !!on;
    this.form.dataset.mode = on ? "note" : "reply";
    this.form.classList.toggle("note-mode", !!on);
    if (this.noteBanner) this.noteBanner.hidden = !on;
    if (this.input) this.input.placeholder = on ? this.input.dataset.placeholderNote : this.input.dataset.placeholderReply;
  };

  Chat.prototype.loadQuick = function () {
    var self = this;
    if (!this.quickPromise) {
      this.quickPromise = this.fetchJson(this.quickUrl).then(function (page) { return page.results || []; },
        function () { self.quickPromise = null; return []; });
    }
    return this.quickPromise;
  };

  // "/" then letters at the start of an otherwise empty composer: the replies whose shortcut
  // starts with (then contains) what was typed.
  Chat.prototype.updateQuick = function () {
    var self = this;
    var match = this.quickUrl && /^\/(\S*)$/.exec(this.input.value);
    if (!match) { this.closeQuick(); return; }
    var typed = match[1].toLowerCase();
    this.loadQuick().then(function (replies) {
      if (!/^\/(\S*)$/.test(self.input.value)) return;
      var starts = replies.filter(function (r) { return r.title.toLowerCase().indexOf(typed) === 0; });
      var within = replies.filter(function (r) { return r.title.toLowerCase().indexOf(typed) > 0; });
      self.showQuick(starts.concat(within));
    });
  };

  Chat.prototype.showQuick = function (replies) {
    var self = this;
    var list = this.quickList;
    list.textContent = "";
    this.quickItems = replies;
    this.quickActive = 0;
    if (!replies.length) {
      list.appendChild(el("li", "muted quick-empty", this.t.noQuickReply));
    }
    replies.forEach(function (r, i) {
      var item = el("li", "quick-option");
      item.id = list.id + "-" + r.id;
      item.setAttribute("role", "option");
      item.dataset.testid = "quick-option";
      item.dataset.index = i;
      item.appendChild(el("strong", "", "/" + r.title));
      if (r.team) item.appendChild(el("span", "badge", r.team));
      item.appendChild(el("span", "quick-body", r.body));
      item.addEventListener("mousedown", function (e) { e.preventDefault(); self.chooseQuick(i); });
      list.appendChild(item);
    });
    list.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
    this.markQuick();
  };

  Chat.prototype.markQuick = function () {
    var active = this.quickActive;
    var items = this.quickList.querySelectorAll(".quick-option");
    Array.prototype.forEach.call(items, function (item, i) {
      item.setAttribute("aria-selected", i === active ? "true" : "false");
      if (i === active) item.scrollIntoView({block: "nearest"});
    });
    if (items[active]) this.input.setAttribute("aria-activedescendant", items[active].id);
  };

  Chat.prototype.closeQuick = function () {
    if (!this.quickList || this.quickList.hidden) return;
    this.quickList.hidden = true;
    this.quickItems = [];
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  };

  Chat.prototype.chooseQuick = function (index) {
    var reply = (this.quickItems || [])[index];
    if (!reply) return;
    this.input.value = reply.body;
    this.closeQuick();
    this.input.focus();
    this.input.setSelectionRange(reply.body.length, reply.body.length);
  };

  // Keys while the list is open; true when the key was the list's.
  Chat.prototype.quickKey = function (e) {
    if (!this.quickList || this.quickList.hidden) return false;
    var count = (this.quickItems || []).length;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      if (count) this.quickActive = (this.quickActive + (e.key === "ArrowDown" ? 1 : count - 1)) % count;
      this.markQuick();
    } else if ((e.key === "Enter" || e.key === "Tab") && count && !e.shiftKey) {
      this.chooseQuick(this.quickActive);
    } else if (e.key === "Escape") {
      this.closeQuick();
    } else {
      return false;
    }
    e.preventDefault();
    return true;
  };

  Chat.prototype.refusal = function (file) {
    var name = file.name || "";
    var dot = name.lastIndexOf(".");
    var ext = dot > 0 ? name.slice(dot).toLowerCase() : "";
    if (this.maxBytes && file.size > this.maxBytes) {
      return this.t.fileTooLarge.replace("{name}", name).replace("{size}", String(Math.floor(this.maxBytes / 1048576)));
    }
    if (this.fileExts.length && this.fileExts.indexOf(ext) < 0 && this.fileTypes.indexOf((file.type || "").toLowerCase()) < 0) {
      return this.t.fileTypeRefused.replace("{name}", name);
    }
    return null;
  };

  // Refused files are said beside the composer (the status line is the connection's) and the
  // line goes with the next message or file sent.
  Chat.prototype.showRefusal = function (text) {
    if (this.refusalLine) { this.refusalLine.textContent = text || ""; this.refusalLine.hidden = !text; }
  };

  Chat.prototype.sendFiles = function (files) {
    var self = this;
    var refused = [];
    var note = !!(this.noteToggle && this.noteToggle.checked);
    Array.prototype.forEach.call(files, function (f) {
      var why = self.refusal(f);
      if (why) refused.push(why); else self.upload(f, false, undefined, undefined, note);
    });
    if (note && refused.length < files.length) this.setNoteMode(false);
    this.showRefusal(refused.join(" "));
  };

  Chat.prototype.upload = function (file, confirmed, clientId, urgent, note) {
    var self = this;
    var data = new FormData();
    clientId = clientId || uuid4();
    data.append("file", file);
    data.append("client_id", clientId);
    if (confirmed) data.append("confirm_dlp", "true");
    if (urgent === undefined) {
      urgent = !!(this.urgentToggle && this.urgentToggle.checked);
      if (this.urgentToggle) this.urgentToggle.checked = false;
    }
    if (urgent) data.append("urgent", "true");
    if (note === undefined) {
      // A file sent in note mode is a note (staff only), and ends note mode like a typed note.
      note = !!(this.noteToggle && this.noteToggle.checked);
      if (note) this.setNoteMode(false);
    }
    if (note) data.append("note", "true");
    var xhr = new XMLHttpRequest();
    xhr.open("POST", this.api + "attachments/");
    xhr.setRequestHeader("X-CSRFToken", this.csrf);
    xhr.setRequestHeader("Accept", "application/json");
    this.uploading = (this.uploading || 0) + 1;
    var done = function () {
      self.uploading -= 1;
      if (self.uploadBox && !self.uploading) self.uploadBox.hidden = true;
    };
    if (this.uploadBox) {
      this.uploadBox.hidden = false;
      this.uploadName.textContent = this.t.sending.replace("{name}", file.name);
      this.progress.value = 0;
    }
    xhr.upload.onprogress = function (e) { if (e.lengthComputable && self.progress) self.progress.value = e.loaded / e.total; };
    xhr.onload = function () {
      done();
      if (xhr.status >= 400) {
        var answer = {}; try { answer = JSON.parse(xhr.responseText); } catch (e) { answer = {detail: xhr.statusText}; }
        if (answer.error === "dlp_warning" && self.form) {
          self.form.appendChild(self.warning(file.name + ": " + answer.detail, function () {
            self.upload(file, true, clientId, urgent, note);
          }, function () {}));
          return;
        }
        self.showRefusal(file.name + ": " + (answer.detail || xhr.statusText));
      } else {
        self.clearError();
        var sent = {}; try { sent = JSON.parse(xhr.responseText); } catch (e) { sent = {}; }
        if (sent.delivery) self.showDelivery(sent.id, sent.delivery);
      }
    };
    xhr.onerror = function () { done(); self.setStatus(self.t.offline, true); };
    xhr.send(data);
  };

  Chat.prototype.scrollToBottom = function () { this.list.scrollTop = this.list.scrollHeight; };

  Chat.prototype.bind = function () {
    var self = this;
    if (this.input) {
      this.input.addEventListener("keydown", function (e) {
        if (e.isComposing || self.quickKey(e)) return;
        if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); self.send(); }
      });
      this.input.addEventListener("blur", function () { self.closeQuick(); });
      this.input.addEventListener("paste", function (e) {
        // A pasted screenshot is sent as a file; text copied with a picture of itself stays text.
        var clip = e.clipboardData;
        if (!clip || !clip.files || !clip.files.length || clip.getData("text/plain")) return;
        e.preventDefault();
        self.sendFiles(clip.files);
      });
      this.input.addEventListener("input", function () {
        self.updateQuick();
        var now = Date.now();
        if (now - self.lastTypingSent > 2500 && self.ws && self.ws.readyState === 1) {
          self.lastTypingSent = now; self.ws.send(JSON.stringify({action: "typing"}));
        }
      });
    }
    if (this.form) this.form.addEventListener("submit", function (e) { e.preventDefault(); self.send(); });
    var picker = this.root.querySelector("[data-role=template-form]");
    if (picker) {
      picker.addEventListener("submit", function (e) { e.preventDefault(); self.sendTemplate(picker); });
      picker.querySelector("[data-role=template]").addEventListener("change", function () { self.templateFields(picker); });
      this.templateFields(picker);
    }
    if (this.fileInput) this.fileInput.addEventListener("change", function () {
      self.sendFiles(self.fileInput.files);
      self.fileInput.value = "";
    });
    if (this.noteToggle) this.noteToggle.addEventListener("change", function () { self.setNoteMode(self.noteToggle.checked); });
    if (this.fileInput && this.canSend) {
      var hasFiles = function (e) { return e.dataTransfer && Array.prototype.indexOf.call(e.dataTransfer.types || [], "Files") >= 0; };
      var depth = 0;
      this.root.dataset.dropLabel = this.t.dropHere;
      this.root.addEventListener("dragenter", function (e) { if (!hasFiles(e)) return; e.preventDefault(); depth += 1; self.root.classList.add("drop-target"); });
      this.root.addEventListener("dragover", function (e) { if (hasFiles(e)) { e.preventDefault(); e.dataTransfer.dropEffect = "copy"; } });
      this.root.addEventListener("dragleave", function () { depth = Math.max(depth - 1, 0); if (!depth) self.root.classList.remove("drop-target"); });
      this.root.addEventListener("drop", function (e) {
        if (!hasFiles(e)) return;
        e.preventDefault(); depth = 0; self.root.classList.remove("drop-target");
        self.sendFiles(e.dataTransfer.files);
      });
    }
    this.list.addEventListener("scroll", function () {
      if (self.list.scrollTop < 40) self.loadOlder();
      self.pinned = self.list.scrollTop + self.list.clientHeight >= self.list.scrollHeight - 30;
    });
    // The list is sized to the viewport (keepline.css): a status line or a resize shrinks it,
    // and a reader at the newest message stays there.
    this.pinned = true;
    if (window.ResizeObserver) new ResizeObserver(function () { if (self.pinned) self.scrollToBottom(); }).observe(this.list);
    this.list.addEventListener("click", function (e) {
      var button = e.target.closest("button[data-action]"); if (!button) return;
      var row = button.closest("li.msg");
      if (button.dataset.action === "edit") self.edit(row);
      if (button.dataset.action === "retract") self.retract(row);
      if (button.dataset.action === "history") self.history(row);
    });
    document.addEventListener("visibilitychange", function () { if (document.visibilityState === "visible") self.sendRead(self.lastId); });
  };

  // WhatsApp's window closed: an approved template, one field per {{n}} of its body and a
  // preview of the text the customer will get; sent through the API (the message then arrives
  // over the socket like any other).
  Chat.prototype.templateFields = function (picker) {
    var option = picker.querySelector("[data-role=template]").selectedOptions[0];
    var box = picker.querySelector("[data-role=template-variables]");
    var count = option ? parseInt(option.dataset.variables, 10) || 0 : 0;
    box.textContent = "";
    for (var n = 1; n <= count; n++) {
      var label = document.createElement("label");
      label.textContent = box.dataset.label + " {{" + n + "}} ";
      var input = document.createElement("input");
      input.type = "text"; input.required = true; input.maxLength = 1000;
      input.dataset.variable = String(n);
      input.addEventListener("input", this.templatePreview.bind(this, picker));
      label.appendChild(input); box.appendChild(label);
    }
    this.templatePreview(picker);
  };

  Chat.prototype.templateValues = function (picker) {
    return Array.prototype.map.call(
      picker.querySelectorAll("input[data-variable]"), function (i) { return i.value.trim(); });
  };

  Chat.prototype.templatePreview = function (picker) {
    var option = picker.querySelector("[data-role=template]").selectedOptions[0];
    var values = this.templateValues(picker);
    var text = (option ? option.dataset.body : "").replace(/\{\{\s*(\d+)\s*\}\}/g, function (m, n) {
      return values[parseInt(n, 10) - 1] || m;
    });
    picker.querySelector("[data-role=template-preview]").textContent = text;
  };

  Chat.prototype.sendTemplate = function (picker) {
    var self = this;
    var body = {
      template: parseInt(picker.querySelector("[data-role=template]").value, 10),
      variables: this.templateValues(picker),
      client_id: uuid4()
    };
    this.fetchJson(this.api + "templates/", {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)
    }).then(function () { self.templateFields(picker); self.setStatus(self.t.templateSent); },
            function (e) { self.setStatus(e.message, true); });
  };

  window.KeeplineChat = Chat;
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-chat]").forEach(function (node) { node.keeplineChat = new Chat(node); });
  });
})();
