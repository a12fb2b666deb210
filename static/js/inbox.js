/* Keepline inbox: refresh the list in place when a visible conversation has new activity. */
(function () {
  "use strict";
  var root = document.querySelector("[data-inbox]");
  if (!root) return;
  var list = root.querySelector("[data-testid=inbox-list]");
  var timer = null, backoff = 500;

  function refresh() {
    timer = null;
    fetch(location.href, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("[data-testid=inbox-list]");
        if (fresh) list.replaceWith(fresh), list = fresh;
        var total = doc.querySelector("[data-testid=unread-total]");
        var current = root.querySelector("[data-testid=unread-total]");
        if (current && total) current.textContent = total.textContent;
        else if (current && !total) current.remove();
        else if (!current && total) root.querySelector("h1").appendChild(total);
      })
      .catch(function () {
        var note = root.querySelector("[data-role=inbox-status]");
        if (note) note.hidden = false;
      });
  }

  function connect() {
    var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/inbox/");
    ws.onopen = function () { backoff = 500; };
    ws.onmessage = function (ev) {
      var msg; try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg.type === "inbox.changed" && !timer) timer = setTimeout(refresh, 400);
    };
    ws.onclose = function (ev) {
      if (ev.code === 4401 || ev.code === 4403) return;
      setTimeout(function () { refresh(); connect(); }, backoff);
      backoff = Math.min(backoff * 2, 10000);
    };
  }
  connect();
})();
