// The console's one script (Content-Security-Policy: script-src 'self'). Every page works without it; it adds
// the live event list, copy buttons, confirmations, the chart's caption and the organization switcher's submit.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var field = document.getElementById(button.getAttribute("data-copy"));
        field.select();
        if (navigator.clipboard) { navigator.clipboard.writeText(field.value); } else { document.execCommand("copy"); }
        button.textContent = "Copied";
      });
    });
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
    var caption = document.getElementById("chart-caption");
    document.querySelectorAll("rect.grant").forEach(function (bar) {
      function show() { if (caption) { caption.textContent = bar.getAttribute("aria-label"); } }
      bar.addEventListener("mouseenter", show);
      bar.addEventListener("focus", show);
      bar.addEventListener("keydown", function (event) {
        if (event.key === "Enter") { window.location = "/console/shares/" + bar.getAttribute("data-share"); }
      });
    });
    var live = document.getElementById("live");
    var rows = document.getElementById("event-rows");
    if (live && rows && window.EventSource) {
      var source = new EventSource(live.getAttribute("data-stream"));
      source.addEventListener("keyway", function (message) {
        var event = JSON.parse(message.data);
        if (rows.querySelector('tr[data-id="' + event.id + '"]')) { return; }
        var row = document.createElement("tr");
        row.setAttribute("data-id", event.id);
        row.className = "new";
        ["time", "type", "lock", "person", "result", "method"].forEach(function (name) {
          var cell = document.createElement("td");
          cell.textContent = event[name];  // text, never HTML
          if (name === "result" && event.failed === "true") { cell.className = "bad"; }
          row.appendChild(cell);
        });
        rows.insertBefore(row, rows.firstChild);
      });
    }
  });
})();
