// The export page's progress bar: polls the job's small JSON status until it is ready or failed.
(function () {
  "use strict";
  var box = document.querySelector("[data-status-url]");
  if (!box) return;
  var url = box.getAttribute("data-status-url");
  var bar = document.getElementById("export-progress");
  var label = document.getElementById("export-status");
  var count = document.getElementById("export-count");
  var ready = document.getElementById("export-ready");
  var error = document.getElementById("export-error");
  var sha = document.getElementById("export-sha256");

  function show(job) {
    bar.value = job.percent;
    bar.textContent = job.percent + "%";
    label.textContent = job.status_label;
    count.textContent = job.done + " / " + job.total;
    box.setAttribute("data-status", job.status);
    if (job.status === "done") {
      sha.textContent = job.sha256;
      ready.hidden = false;
    }
    if (job.status === "failed") {
      error.textContent = job.error;
      error.hidden = false;
    }
    return job.status === "done" || job.status === "failed";
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (job) {
        if (!job || !show(job)) window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }

  var status = box.getAttribute("data-status");
  if (status !== "done" && status !== "failed") poll();
})();
