// Draws the page's charts from the JSON beside them, makes clickable points follow their link,
// sorts the tables whose rows are all on the page, and keeps empty filters out of the URL.
// Loaded from this server only: the page has no inline script (see its Content-Security-Policy).
"use strict";
(function () {
  function draw() {
    document.querySelectorAll("script[data-figure-for]").forEach(function (source) {
      var target = document.getElementById(source.dataset.figureFor);
      if (!target) return;
      var figure = JSON.parse(source.textContent);
      var points = figure.data.reduce(function (n, trace) {
        var values = trace.type === "bar" && trace.orientation === "h" ? trace.x : (trace.y || trace.values || []);
        return n + values.filter(function (v) { return v !== null && v !== 0; }).length;
      }, 0);
      if (!points) {
        target.classList.add("empty");
        target.textContent = "Nothing in this range.";
        target.dataset.drawn = "0";
        return;
      }
      Plotly.newPlot(target, figure.data, figure.layout, { displayModeBar: false, responsive: true })
        .then(function () { target.dataset.drawn = String(points); });
      target.on("plotly_click", function (event) {
        var link = event.points && event.points[0] && event.points[0].customdata;
        if (typeof link === "string" && link.charAt(0) === "/") window.location.href = link;
      });
    });
  }

  function sortable(table) {
    // Numbers sort by their exact value (data-v), text by its words; click again to reverse.
    table.querySelectorAll("button[data-sort]").forEach(function (button) {
      button.addEventListener("click", function () {
        var th = button.closest("th");
        var index = Array.prototype.indexOf.call(th.parentNode.children, th);
        var numeric = /\b(money|metered|count|number|share)\b/.test(th.className);
        var descending = th.getAttribute("aria-sort") !== "descending";
        table.querySelectorAll("th[aria-sort]").forEach(function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", descending ? "descending" : "ascending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[index].dataset.v || "", y = b.cells[index].dataset.v || "";
          if (x === "" || y === "") return (x === "") - (y === "");
          var order = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y, undefined, { numeric: true });
          return descending ? -order : order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  }

  function tidyFilters() {
    // Empty filters stay out of the URL, so links and CSV exports carry only what was chosen.
    var form = document.getElementById("filters");
    if (!form) return;
    form.addEventListener("submit", function () {
      form.querySelectorAll("input, select").forEach(function (field) {
        if (!field.value || (field.type === "checkbox" && !field.checked)) field.disabled = true;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tidyFilters();
    document.querySelectorAll("table[data-sortable]").forEach(sortable);
    if (window.Plotly) draw();
  });
})();
