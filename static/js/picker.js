/* People and team pickers: search as you type (WAI-ARIA combobox with a listbox popup).
 *
 * The server renders <span data-picker data-picker-url=...> around a plain text input holding the
 * chosen value (an id, or "user:<id>"/"team:<id>"); without this script that input is typed into
 * directly (a username, email or team name; an id for filters). This script hides that input,
 * keeps the chosen value in it, and puts a search box in front: typing (debounced) asks
 * /api/v1/people/ for at most 20 matches among exactly those the form accepts. Arrow keys, Enter,
 * Escape and the mouse choose; editing the text clears the chosen value. With data-picker-submit
 * (list filters) choosing someone submits the form, like the select it replaces did.
 * Labels come from data-* attributes the template translated. No dependencies. */
(function () {
  "use strict";
  var DELAY = 150;
  var MIN_CHARS = 1;
  var count = 0;

  function enhance(root) {
    var value = root.querySelector("input.picker-value");
    if (!value || root.hasAttribute("data-picker-ready")) return;
    root.setAttribute("data-picker-ready", "");
    count += 1;
    var listId = "picker-list-" + count;
    var box = document.createElement("input");
    box.type = "text";
    box.id = value.id;
    value.id = value.id + "-value";
    box.className = "picker-input";
    box.setAttribute("role", "combobox");
    box.setAttribute("aria-autocomplete", "list");
    box.setAttribute("aria-expanded", "false");
    box.setAttribute("aria-controls", listId);
    box.setAttribute("autocomplete", "off");
    box.setAttribute("spellcheck", "false");
    if (value.getAttribute("aria-label")) box.setAttribute("aria-label", value.getAttribute("aria-label"));
    if (value.dataset.testid) box.setAttribute("data-testid", value.dataset.testid);
    value.removeAttribute("data-testid");
    box.placeholder = root.dataset.pickerHint || "";
    if (value.required) {
      box.required = true;
      value.required = false;
    }
    var chosenLabel = value.value ? root.dataset.pickerLabel || "" : "";
    box.value = chosenLabel;
    value.type = "hidden";
    root.insertBefore(box, value);

    var list = document.createElement("ul");
    list.id = listId;
    list.className = "picker-list";
    list.setAttribute("role", "listbox");
    if (box.getAttribute("aria-label")) list.setAttribute("aria-label", box.getAttribute("aria-label"));
    list.hidden = true;
    root.appendChild(list);
    var status = document.createElement("div");
    status.className = "picker-status";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    status.hidden = true;
    root.appendChild(status);

    var items = [];
    var active = -1;
    var timer = null;
    var seq = 0;
    var controller = null;
    var kind = root.dataset.pickerKind || "person";
    var submits = root.hasAttribute("data-picker-submit");
    var form = box.form;

    function setExpanded(open) {
      list.hidden = !open;
      box.setAttribute("aria-expanded", open ? "true" : "false");
      if (!open) {
        active = -1;
        box.removeAttribute("aria-activedescendant");
      }
    }
    function showStatus(text) {
      status.textContent = text || "";
      status.hidden = !text;
    }
    function close() {
      setExpanded(false);
      showStatus("");
    }
    function highlight(index) {
      var nodes = list.children;
      if (active >= 0 && nodes[active]) nodes[active].setAttribute("aria-selected", "false");
      active = index;
      if (active >= 0 && nodes[active]) {
        nodes[active].setAttribute("aria-selected", "true");
        box.setAttribute("aria-activedescendant", nodes[active].id);
        if (nodes[active].scrollIntoView) nodes[active].scrollIntoView({ block: "nearest" });
      } else {
        box.removeAttribute("aria-activedescendant");
      }
    }
    function render(rows) {
      items = rows;
      list.textContent = "";
      rows.forEach(function (row, i) {
        var li = document.createElement("li");
        li.id = listId + "-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.className = "picker-option";
        var main = document.createElement("span");
        main.className = "picker-label";
        main.textContent = row.label;
        li.appendChild(main);
        if (row.secondary) {
          var sub = document.createElement("span");
          sub.className = "picker-secondary";
          sub.textContent = row.secondary;
          li.appendChild(sub);
        }
        // mousedown would blur the box first and close the list before the click lands.
        li.addEventListener("mousedown", function (event) { event.preventDefault(); });
        li.addEventListener("click", function () { choose(i); });
        list.appendChild(li);
      });
      active = -1;
      if (rows.length) {
        showStatus("");
        setExpanded(true);
      } else {
        setExpanded(false);
        showStatus(root.dataset.pickerEmpty || "");
      }
    }
    function choose(index) {
      var row = items[index];
      if (!row) return;
      value.value = kind === "any" ? row.value : String(row.id);
      chosenLabel = row.label;
      box.value = row.label;
      close();
      value.dispatchEvent(new Event("change", { bubbles: true }));
      if (submits && form) {
        if (form.requestSubmit) form.requestSubmit();
        else form.submit();
      }
    }
    function search() {
      var term = box.value.trim();
      if (term.length < MIN_CHARS) {
        close();
        return;
      }
      seq += 1;
      var mine = seq;
      if (controller) controller.abort();
      controller = window.AbortController ? new AbortController() : null;
      var url = root.dataset.pickerUrl + "&q=" + encodeURIComponent(term);
      fetch(url, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
        signal: controller ? controller.signal : undefined,
      })
        .then(function (response) {
          if (!response.ok) throw new Error(String(response.status));
          return response.json();
        })
        .then(function (data) {
          if (mine === seq) render(data.results || []);
        })
        .catch(function (error) {
          if (error && error.name === "AbortError") return;
          if (mine === seq) {
            setExpanded(false);
            showStatus(root.dataset.pickerError || "");
          }
        });
    }

    box.addEventListener("input", function () {
      if (box.value !== chosenLabel) {
        value.value = "";
        chosenLabel = "";
      }
      clearTimeout(timer);
      timer = setTimeout(search, DELAY);
    });
    box.addEventListener("keydown", function (event) {
      var open = !list.hidden;
      if (event.key === "ArrowDown") {
        event.preventDefault();
        if (!open && items.length) setExpanded(true);
        else if (!open) { search(); return; }
        highlight(Math.min(active + 1, items.length - 1));
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        if (!open) return;
        highlight(Math.max(active - 1, 0));
      } else if (event.key === "Enter") {
        if (open && active >= 0) {
          event.preventDefault();
          choose(active);
        } else if (open) {
          event.preventDefault();
        }
      } else if (event.key === "Escape") {
        if (open || !status.hidden) {
          event.preventDefault();
          close();
        }
      } else if (event.key === "Tab") {
        close();
      }
    });
    box.addEventListener("blur", function () {
      setTimeout(close, 150);
    });
    if (form && !submits && !root.hasAttribute("data-picker-id-only")) {
      // A name typed in full but not picked: send it as typed (the form accepts a username,
      // an email or a team name, and refuses anything else with its own message).
      form.addEventListener("submit", function () {
        if (!value.value && box.value.trim()) value.value = box.value.trim();
      });
    }
  }

  function init(scope) {
    (scope || document).querySelectorAll("[data-picker]").forEach(enhance);
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  window.KeeplinePicker = { init: init };
})();
