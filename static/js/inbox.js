/* Keepline inbox: refresh the list in place when a visible conversation has new activity.
 * The socket is attention.js's (one per page): it re-announces each change as the DOM event
 * "keepline:inbox-changed" (conversation_id null after a reconnect: anything may have changed). */
(function () {
  "use strict";
  var root = document.querySelector("[data-inbox]");
  if (!root) return;
  var list = root.querySelector("[data-testid=inbox-list]");
  var tabs = root.querySelector("[data-testid=inbox-tabs]");
  var timer = null;

  function refresh() {
    timer = null;
    fetch(location.href, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("[data-testid=inbox-list]");
        if (fresh) list.replaceWith(fresh), list = fresh;
        var freshTabs = doc.querySelector("[data-testid=inbox-tabs]");
        if (freshTabs && tabs) tabs.replaceWith(freshTabs), tabs = freshTabs;
      })
      .catch(function () {
        var note = root.querySelector("[data-role=inbox-status]");
        if (note) note.hidden = false;
      });
  }

  function later() { if (!timer) timer = setTimeout(refresh, 400); }
  document.addEventListener("keepline:inbox-changed", later);
  // A read elsewhere (another tab, the conversation page) changes the counts but not the list.
  document.addEventListener("keepline:unread", later);
})();
