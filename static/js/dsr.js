/* Data-subject request form: search-as-you-type for the contact, through the contacts API
 * (GET /api/v1/contacts/?q=). Without script the "Find" button runs the same search on the page. */
(function () {
  "use strict";
  var input = document.querySelector("[data-contact-search]");
  var results = document.querySelector("[data-contact-results]");
  if (!input || !results) return;
  var timer = null;
  var last = "";

  function render(contacts) {
    results.textContent = "";
    if (!contacts.length) {
      var none = document.createElement("p");
      none.className = "muted";
      none.textContent = input.getAttribute("data-none");
      results.appendChild(none);
      return;
    }
    contacts.forEach(function (c) {
      var label = document.createElement("label");
      label.className = "choice";
      var radio = document.createElement("input");
      radio.type = "radio";
      radio.name = "contact";
      radio.value = String(c.id);
      label.appendChild(radio);
      var name = ((c.first_name || "") + " " + (c.last_name || "")).trim();
      label.appendChild(document.createTextNode(" " + name));
      if (c.emails && c.emails.length) {
        var email = document.createElement("span");
        email.className = "muted";
        email.textContent = " " + c.emails[0];
        label.appendChild(email);
      }
      results.appendChild(label);
    });
  }

  function search() {
    var text = input.value.trim();
    if (text === last || text.length < 2) return;
    last = text;
    var url = input.getAttribute("data-contact-api") + "?page_size=20&q=" + encodeURIComponent(text);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { results: [] }; })
      .then(function (body) { if (input.value.trim() === text) render(body.results || []); })
      .catch(function () { /* the Find button still works */ });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(search, 250);
  });
  input.form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    last = "";
    search();
  });
})();
