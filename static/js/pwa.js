/* The installable staff app, on every page: registers the service worker (/sw.js), sends the
 * messages left in the outbox (outbox.js) by a tab that closed while offline, and the
 * "Turn on notifications on this device" button (Web Push; the permission is asked on click). */
(function () {
  "use strict";

  function csrfToken() {
    var chat = document.querySelector("[data-chat][data-csrf]");
    if (chat) return chat.dataset.csrf;
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  // The conversations a chat panel on this page sends itself (it holds their outbox).
  function openChats() {
    var skip = {};
    document.querySelectorAll("[data-chat][data-conversation-id]").forEach(function (node) {
      skip[node.dataset.conversationId] = true;
    });
    return skip;
  }

  // Who is signed in (base.html's <meta name="keepline-user">): only their messages are sent.
  function currentUser() {
    var meta = document.querySelector('meta[name="keepline-user"]');
    return meta ? meta.content : "";
  }

  function drain() {
    if (!window.KeeplineOutbox || !navigator.onLine) return;
    window.KeeplineOutbox.drain({user: currentUser(), csrf: csrfToken(), skip: openChats()});
  }

  function register() {
    if (!("serviceWorker" in navigator)) return Promise.resolve(null);
    return navigator.serviceWorker.register("/sw.js", {scope: "/"}).catch(function () { return null; });
  }

  // --- Web Push ---------------------------------------------------------------------------

  function keyBytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded), bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function PushToggle(button) {
    this.button = button;
    this.status = document.querySelector("[data-push-status]");
    this.key = button.dataset.pushKey;
    this.url = button.dataset.pushUrl;
  }

  PushToggle.prototype.say = function (text) { if (this.status) this.status.textContent = text || ""; };

  PushToggle.prototype.show = function (subscribed) {
    this.subscribed = subscribed;
    this.button.textContent = subscribed ? this.button.dataset.labelOff : this.button.dataset.labelOn;
    this.button.setAttribute("aria-pressed", subscribed ? "true" : "false");
    this.button.hidden = false;
  };

  PushToggle.prototype.post = function (method, subscription) {
    return fetch(this.url, {
      method: method, credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken()},
      body: JSON.stringify(subscription)
    }).then(function (r) { if (!r.ok) throw new Error(String(r.status)); });
  };

  PushToggle.prototype.start = function (registration) {
    var self = this;
    this.registration = registration;
    registration.pushManager.getSubscription().then(function (existing) {
      // A subscription this browser holds is (re)stored for whoever is signed in now.
      if (existing && Notification.permission === "granted") {
        self.post("POST", existing.toJSON()).catch(function () {});
      }
      self.show(!!existing && Notification.permission === "granted");
    });
    this.button.addEventListener("click", function () { self.toggle(); });
  };

  PushToggle.prototype.toggle = function () {
    var self = this;
    this.button.disabled = true;
    var done = function () { self.button.disabled = false; };
    if (this.subscribed) {
      this.registration.pushManager.getSubscription().then(function (existing) {
        if (!existing) return;
        var data = existing.toJSON();
        return existing.unsubscribe().then(function () { return self.post("DELETE", {endpoint: data.endpoint}); });
      }).then(function () { self.say(""); self.show(false); }, function () { self.say(self.button.dataset.labelFailed); }).then(done);
      return;
    }
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") { self.say(self.button.dataset.labelBlocked); return; }
      return self.registration.pushManager.subscribe({userVisibleOnly: true, applicationServerKey: keyBytes(self.key)})
        .then(function (subscription) { return self.post("POST", subscription.toJSON()); })
        .then(function () { self.say(""); self.show(true); });
    }).catch(function () { self.say(self.button.dataset.labelFailed); }).then(done);
  };

  document.addEventListener("DOMContentLoaded", function () {
    var offlinePage = document.querySelector("[data-pwa-offline]");
    window.addEventListener("online", function () {
      // The offline page stands in for the page that could not load: load it again.
      if (offlinePage) { window.location.reload(); return; }
      drain();
    });
    // The offline page is the same for everyone: it says nothing about who is signed in.
    if (window.KeeplineOutbox && !offlinePage) window.KeeplineOutbox.setUser(currentUser()).catch(function () {});
    drain();
    register().then(function (registration) {
      var button = document.querySelector("[data-push-toggle]");
      if (!registration || !button || !("PushManager" in window) || !("Notification" in window)) return;
      navigator.serviceWorker.ready.then(function (ready) { new PushToggle(button).start(ready); });
    });
  });
})();
