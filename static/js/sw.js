/* Keepline's service worker, served at /sw.js by config/pwa.py, which prepends
 * self.KEEPLINE_SW = {version, shell, offline, outbox, static, passthrough}.
 *
 * - Install: precache the app shell (CSS, JS, icons, the offline page) in "keepline-<version>";
 *   activate removes every other keepline- cache, so a deploy's new files replace the old.
 * - Static files: cache first (their names change with their content in production).
 * - Pages: network first; without the network, the cached page of that URL if the shell holds
 *   it, else the offline page. Pages are never stored: they hold customers' data and CSRF tokens.
 * - Everything else (the API, sockets, uploads, downloads, customers' pages) goes to the network.
 * - Background Sync "keepline-outbox": sends the messages a closed tab left in the outbox.
 * - Push: shows the notification unless a Keepline window has the focus; a click opens (or
 *   focuses) the conversation. */
/* global KeeplineOutbox */
"use strict";

var CONFIG = self.KEEPLINE_SW;
var CACHE = "keepline-" + CONFIG.version;

importScripts(CONFIG.outbox);

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return cache.addAll(CONFIG.shell.concat([CONFIG.offline]));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf("keepline-") === 0 && name !== CACHE;
    }).map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

function passthrough(url) {
  return CONFIG.passthrough.some(function (prefix) { return url.pathname.indexOf(prefix) === 0; });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin || passthrough(url)) return;
  if (url.pathname.indexOf(CONFIG.static) === 0) {
    event.respondWith(caches.match(request, {cacheName: CACHE}).then(function (hit) {
      return hit || fetch(request);
    }));
    return;
  }
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(function () {
      return caches.match(request, {cacheName: CACHE}).then(function (hit) {
        return hit || caches.match(CONFIG.offline, {cacheName: CACHE});
      });
    }));
  }
});

self.addEventListener("sync", function (event) {
  if (event.tag === "keepline-outbox") event.waitUntil(KeeplineOutbox.drain({}));
});

self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = {}; }
  event.waitUntil(self.clients.matchAll({type: "window", includeUncontrolled: true}).then(function (windows) {
    // Someone looking at Keepline sees the message there (the badge, the inbox, the chat).
    if (windows.some(function (w) { return w.focused; })) return null;
    return self.registration.showNotification(data.title || "Keepline", {
      body: data.body || "",
      tag: data.tag || undefined,
      icon: CONFIG.shell.filter(function (u) { return /app-icon-192/.test(u); })[0],
      data: {url: data.url || "/"}
    });
  }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var target = new URL((event.notification.data && event.notification.data.url) || "/", self.location.origin);
  if (target.origin !== self.location.origin) target = new URL("/", self.location.origin);
  event.waitUntil(self.clients.matchAll({type: "window", includeUncontrolled: true}).then(function (windows) {
    for (var i = 0; i < windows.length; i++) {
      if (new URL(windows[i].url).pathname === target.pathname && windows[i].focus) return windows[i].focus();
    }
    return self.clients.openWindow(target.href);
  }));
});
