/* Keepline page behaviour that used to sit in on* attributes: the Content-Security-Policy allows
 * no inline script, so templates mark elements with data- attributes and this file wires them. */
(function () {
  "use strict";

  // The browser's time zone, for people who chose none (accounts.middleware.UserTimezoneMiddleware).
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.indexOf("keepline_tz=" + zone) === -1) {
      document.cookie = "keepline_tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax";
    }
  } catch (e) { /* no Intl: the organisation's zone */ }

  // <select data-autosubmit>: choosing an option submits its form (a <noscript> button is the fallback).
  document.addEventListener("change", function (ev) {
    var field = ev.target.closest && ev.target.closest("[data-autosubmit]");
    if (field && field.form) field.form.submit();
  });

  document.addEventListener("click", function (ev) {
    if (!ev.target.closest) return;
    // <input data-select-on-click>: one click selects the whole value, ready to copy.
    var input = ev.target.closest("[data-select-on-click]");
    if (input) { input.select(); return; }
    // <button data-copy="input id" data-copied="Copied">: copy the field's value in one click
    // (the clipboard API, else the old select-and-copy); the button says it was copied.
    var copy = ev.target.closest("button[data-copy]");
    if (copy) {
      var field = document.getElementById(copy.dataset.copy);
      if (!field) return;
      var done = function () {
        copy.dataset.label = copy.dataset.label || copy.textContent;
        copy.textContent = copy.dataset.copied || copy.dataset.label;
        setTimeout(function () { copy.textContent = copy.dataset.label; }, 2000);
      };
      var fallback = function () { field.select(); try { if (document.execCommand("copy")) done(); } catch (e) { /* selected: the user copies */ } };
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(field.value).then(done, fallback);
      else fallback();
      return;
    }
    // <a data-history-back href="...">: go back where there is somewhere to go, else follow href.
    var back = ev.target.closest("a[data-history-back]");
    if (back && window.history.length > 1) { ev.preventDefault(); window.history.back(); }
  });
})();
