// Draws the page's charts from the JSON beside them, and makes clickable points follow their link.
"use strict";
(function () {
  function draw() {
    document.querySelectorAll("script[data-figure-for]").forEach(function (source) {
      var target = document.getElementById(source.dataset.figureFor);
      if (!target) return;
      var figure = JSON.parse(source.textContent);
      var points = figure.data.reduce(function (n, trace) {
        return n + ((trace.y || trace.values || []).filter(function (v) { return v !== null; }).length);
      }, 0);
      if (!points) {
        target.classList.add("empty");
        target.textContent = "No data in this range.";
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
  function tidyFilters() {
    // Empty filters stay out of the URL, so links and CSV exports carry only what was chosen.
    var form = document.getElementById("filters");
    if (!form) return;
    form.addEventListener("submit", function () {
      form.querySelectorAll("input, select").forEach(function (field) {
        if (!field.value) field.disabled = true;
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    tidyFilters();
    if (window.Plotly) draw();
  });
})();
