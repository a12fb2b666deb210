/* Keepline's outbox: messages written but not yet acknowledged by the server, kept in IndexedDB
 * (database "keepline", store "outbox", key [conversation, client_id]) so they survive a reload,
 * a closed tab or a phone that drops the page. The chat panel (chat.js) puts and removes them;
 * any page (pwa.js) and the service worker (sw.js, Background Sync) send what is left with its
 * client_id through the messages API, and the server stores each client_id once. Each message
 * names its writer: only a page of that person (or the worker, while that person was the last
 * one signed in on this device, store "meta") sends it, never someone who signs in after them.
 * Used by pages and by the service worker: no DOM here. */
(function (root) {
  "use strict";

  var DB = "keepline", STORE = "outbox", META = "meta", VERSION = 1;
  var opening = null;

  function open() {
    if (opening) return opening;
    opening = new Promise(function (resolve, reject) {
      if (!root.indexedDB) { reject(new Error("IndexedDB is not available")); return; }
      var request = root.indexedDB.open(DB, VERSION);
      request.onupgradeneeded = function () {
        var db = request.result;
        if (!db.objectStoreNames.contains(STORE)) {
          var store = db.createObjectStore(STORE, {keyPath: ["conversation", "client_id"]});
          store.createIndex("conversation", "conversation");
        }
        if (!db.objectStoreNames.contains(META)) db.createObjectStore(META, {keyPath: "key"});
      };
      request.onsuccess = function () {
        var db = request.result;
        db.onversionchange = function () { db.close(); opening = null; };
        resolve(db);
      };
      request.onerror = function () { opening = null; reject(request.error); };
    });
    return opening;
  }

  // One transaction; resolves with the value `fn`'s request produced once it has committed.
  function run(mode, fn, storeName) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(storeName || STORE, mode);
        var request = fn(tx.objectStore(storeName || STORE));
        tx.oncomplete = function () { resolve(request ? request.result : undefined); };
        tx.onerror = tx.onabort = function () { reject(tx.error); };
      });
    });
  }

  function byTime(items) {
    return (items || []).sort(function (a, b) { return (a.queued_at || 0) - (b.queued_at || 0); });
  }

  var Outbox = {
    // item: {body, note, urgent, confirm, user (the writer's id), api (the conversation's
    // messages URL), csrf}
    put: function (conversation, clientId, item) {
      var row = Object.assign({}, item, {conversation: String(conversation), client_id: clientId});
      if (!row.queued_at) row.queued_at = Date.now();
      return run("readwrite", function (store) { return store.put(row); });
    },
    remove: function (conversation, clientId) {
      return run("readwrite", function (store) { return store.delete([String(conversation), clientId]); });
    },
    list: function (conversation) {
      return run("readonly", function (store) {
        return store.index("conversation").getAll(String(conversation));
      }).then(byTime);
    },
    all: function () {
      return run("readonly", function (store) { return store.getAll(); }).then(byTime);
    },
    // Who is signed in on this device, as the last page loaded saw it ("" for nobody).
    setUser: function (user) {
      return run("readwrite", function (store) {
        return store.put({key: "user", value: String(user || "")});
      }, META);
    },
    user: function () {
      return run("readonly", function (store) { return store.get("user"); }, META).then(function (row) {
        return row ? row.value : "";
      });
    },

    // Send every queued message of `user` (default: the device's last signed-in person) in the
    // conversations not in `skip` (those a chat panel on this page sends itself) through the
    // messages API, one at a time, oldest first. A message the
    // server refuses (a DLP warning, a closed conversation) stays, marked, for its chat panel to
    // show; a network failure or a busy server leaves it for the next try. Resolves with how
    // many were delivered.
    drain: function (options) {
      options = options || {};
      var skip = options.skip || {};
      if (Outbox.draining) return Outbox.draining;
      var delivered = 0;
      var who = options.user !== undefined ? Promise.resolve(String(options.user || "")) : Outbox.user();
      Outbox.draining = Promise.all([who, Outbox.all()]).then(function (found) {
        var user = found[0], items = found[1];
        if (!user) return;
        var pending = items.filter(function (i) {
          return String(i.user) === user && !skip[i.conversation] && !i.refused && i.api;
        });
        return pending.reduce(function (chain, item) {
          return chain.then(function () { return Outbox.deliver(item, options.csrf); })
            .then(function (ok) { if (ok) delivered += 1; });
        }, Promise.resolve());
      }).then(function () { return delivered; }, function () { return delivered; });
      Outbox.draining.then(function () { Outbox.draining = null; });
      return Outbox.draining;
    },

    deliver: function (item, csrf) {
      return fetch(item.api, {
        method: "POST",
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", "Accept": "application/json",
                  "X-CSRFToken": csrf || item.csrf || ""},
        body: JSON.stringify({body: item.body, client_id: item.client_id, note: !!item.note,
                              urgent: !!item.urgent, confirm_dlp: !!item.confirm})
      }).then(function (response) {
        if (response.ok) return Outbox.remove(item.conversation, item.client_id).then(function () { return true; });
        var transient = response.status === 401 || response.status === 403 || response.status === 408 ||
                        response.status === 429 || response.status >= 500;
        if (transient) return false;
        return Outbox.put(item.conversation, item.client_id, Object.assign({}, item, {refused: true}))
          .then(function () { return false; });
      }, function () { return false; });
    },

    // The chat panel kept its outbox in localStorage before: move what is there.
    adopt: function (conversation, legacyKey, extra) {
      var stored;
      try { stored = JSON.parse(root.localStorage.getItem(legacyKey) || "{}"); } catch (e) { stored = {}; }
      var ids = Object.keys(stored);
      if (!ids.length) return Promise.resolve();
      return Promise.all(ids.map(function (cid) {
        return Outbox.put(conversation, cid, Object.assign({}, stored[cid], extra));
      })).then(function () { root.localStorage.removeItem(legacyKey); });
    }
  };

  root.KeeplineOutbox = Outbox;
})(typeof self !== "undefined" ? self : this);
