// Charts of the regulator's dashboard (fintech/templates/admin/fintech/dashboard.html).
// Each chart's figures are in the page's "dashboard-charts" json_script block (the same rows as the
// table under it); Chart.js is the project's static copy. The charts drawn are kept in
// window.fintechCharts (canvas id -> Chart), which the browser tests read.
(function () {
  "use strict";
  var locale = document.documentElement.lang || undefined;
  function money(value) {
    return Number(value).toLocaleString(locale, { maximumFractionDigits: 0 });
  }
  function options(spec) {
    var horizontal = !!spec.horizontal;
    var valueAxis = {
      beginAtZero: true,
      stacked: !!spec.stacked,
      // Amounts with grouped digits; counts in whole numbers.
      ticks: spec.money ? { callback: function (v) { return money(v); } } : { precision: 0 }
    };
    var categoryAxis = { stacked: !!spec.stacked, ticks: { autoSkip: false } };
    return {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      indexAxis: horizontal ? "y" : "x",
      interaction: { mode: "index", intersect: false },
      plugins: {
        legend: { display: spec.datasets.length > 1, position: "bottom", labels: { boxWidth: 12, font: { size: 11 } } },
        tooltip: {
          callbacks: {
            label: function (ctx) {
              var v = horizontal ? ctx.parsed.x : ctx.parsed.y;
              return ctx.dataset.label + ": " + (spec.money ? Number(v).toLocaleString(locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 }) : v);
            }
          }
        }
      },
      scales: horizontal ? { x: valueAxis, y: categoryAxis } : { x: categoryAxis, y: valueAxis }
    };
  }
  function draw() {
    window.fintechCharts = window.fintechCharts || {};
    if (typeof Chart === "undefined") { return; }
    var node = document.getElementById("dashboard-charts");
    var specs = node ? JSON.parse(node.textContent) : [];
    specs.forEach(function (spec) {
      var canvas = document.getElementById(spec.id);
      if (!canvas) { return; }
      window.fintechCharts[spec.id] = new Chart(canvas, {
        type: spec.type,
        data: { labels: spec.labels, datasets: spec.datasets },
        options: options(spec)
      });
      canvas.setAttribute("data-drawn", "true");
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
