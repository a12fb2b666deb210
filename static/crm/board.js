// Deal board: drag a card to another column (desktop), or pick a stage on the card (any device).
// Without JavaScript the card's form and its Move button still work.
(function () {
  "use strict";
  var board = document.querySelector("[data-testid=board]");
  if (!board) return;

  function move(card, stageId) {
    var form = card.querySelector("form.move");
    var select = form.querySelector("select[name=stage]");
    select.value = stageId;
    var data = new FormData(form);
    return fetch(form.action, {
      method: "POST",
      body: data,
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    }).then(function (response) {
      if (!response.ok) throw new Error("move failed");
      return response.json();
    });
  }

  function column(stageId) {
    return board.querySelector('.column[data-stage="' + stageId + '"]');
  }

  function place(card, stageId) {
    var target = column(stageId);
    if (!target) return;
    var empty = target.querySelector(".empty");
    if (empty) empty.remove();
    var header = target.querySelector("header");
    header.insertAdjacentElement("afterend", card);
  }

  // A changed select moves the card at once; the Move button stays for no-JS use.
  board.addEventListener("change", function (event) {
    var select = event.target;
    if (select.name !== "stage") return;
    var card = select.closest(".deal-card");
    move(card, select.value).then(function () { place(card, select.value); })
      .catch(function () { select.form.submit(); });
  });

  var dragged = null;
  board.addEventListener("dragstart", function (event) {
    dragged = event.target.closest(".deal-card");
    if (!dragged) return;
    dragged.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", dragged.dataset.deal);
  });
  board.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    board.querySelectorAll(".drop-target").forEach(function (c) { c.classList.remove("drop-target"); });
    dragged = null;
  });
  board.addEventListener("dragover", function (event) {
    var target = event.target.closest(".column");
    if (!target || !dragged) return;
    event.preventDefault();
    target.classList.add("drop-target");
  });
  board.addEventListener("dragleave", function (event) {
    var target = event.target.closest(".column");
    if (target && !target.contains(event.relatedTarget)) target.classList.remove("drop-target");
  });
  board.addEventListener("drop", function (event) {
    var target = event.target.closest(".column");
    if (!target || !dragged) return;
    event.preventDefault();
    target.classList.remove("drop-target");
    var card = dragged;
    var stageId = target.dataset.stage;
    var select = card.querySelector("select[name=stage]");
    var previous = select.value;
    place(card, stageId);
    move(card, stageId).catch(function () {
      select.value = previous;
      place(card, previous);
    });
  });
})();
