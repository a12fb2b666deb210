/* Deal, contact and conversation pages.
 * - On a wide screen the record's facts are always open beside the conversation; on a phone they
 *   fold under a "Deal" toggle above it (closed on load, so the page opens on the conversation).
 * - The chat card ends at the bottom of the viewport, wherever it starts (a long title, a
 *   notice): its messages scroll and its composer is on screen on load (--chat-top).
 * Without this script the toggle stays closed and the card is one viewport tall. */
(function () {
  "use strict";
  var wide = window.matchMedia("(min-width: 1024px)");
  function fit() {
    document.querySelectorAll(".record-chat .chat-card, .chat-fit").forEach(function (card) {
      card.style.removeProperty("--chat-top");
      var top = card.getBoundingClientRect().top + window.scrollY;
      card.style.setProperty("--chat-top", Math.round(top) + "px");
    });
  }
  function apply() {
    document.querySelectorAll("details[data-record-facts]").forEach(function (node) {
      node.open = wide.matches;
    });
    fit();
  }
  document.addEventListener("DOMContentLoaded", apply);
  if (wide.addEventListener) wide.addEventListener("change", apply);
  window.addEventListener("resize", fit);
})();
