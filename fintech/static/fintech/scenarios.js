// Charts of a scenario's result page (fintech/templates/admin/fintech/scenario/result.html).
// The figures come from json_script blocks of the page; Chart.js is the project's static copy.
(function () {
  "use strict";
  function data(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : [];
  }
  function draw() {
    if (typeof Chart === "undefined") { return; }
    var labels = data("scenario-chart-labels");
    var histogram = data("scenario-histogram-data");
    var histogramCanvas = document.getElementById("scenario-histogram");
    if (histogramCanvas && histogram.length) {
      new Chart(histogramCanvas, {
        type: "bar",
        data: {
          labels: histogram.map(function (b) { return Number(b.lower).toLocaleString(); }),
          datasets: [{ label: labels.paths, data: histogram.map(function (b) { return b.paths; }) }]
        },
        options: { animation: false, scales: { x: { title: { display: true, text: labels.loss } } } }
      });
    }
    var forecast = data("scenario-forecast-data");
    var forecastCanvas = document.getElementById("scenario-forecast");
    if (forecastCanvas && forecast.length) {
      var series = function (key) { return forecast.map(function (r) { return Number(r[key]); }); };
      new Chart(forecastCanvas, {
        type: "bar",
        data: {
          labels: forecast.map(function (r) { return r.period; }),
          datasets: [
            { label: labels.on_time, data: series("total_subsidy") },
            { label: labels.expected, data: series("total_subsidy_expected") },
            { label: labels.stressed, data: series("total_subsidy_stressed") }
          ]
        },
        options: { animation: false }
      });
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
