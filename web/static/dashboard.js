/* Staff dashboard: draws the charts from the report embedded in the page.
   Chart.js is served from this app (no network beyond it). */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report").textContent);
  var words = JSON.parse(document.getElementById("words").textContent);
  var report = data.report;
  var target = report.target * 100;
  var pct = function (v) { return v === null ? null : Math.round(v * 1000) / 10; };
  var blue = "#1f5fa8", red = "#b3261e", grey = "#8a8a8a";
  var colors = ["#1f5fa8", "#2e8540", "#b26b00", "#6b3fa0", "#b3261e", "#00758f", "#8a8a8a"];
  Chart.defaults.animation = false;
  Chart.defaults.font.family = "system-ui, sans-serif";

  function targetLine(n) {
    return {
      type: "line", label: words.target, data: new Array(n).fill(target),
      borderColor: red, borderDash: [6, 4], pointRadius: 0, borderWidth: 2
    };
  }

  function rateChart(id, slices) {
    var labels = slices.map(function (s) { return s.key; });
    new Chart(document.getElementById(id), {
      type: "bar",
      data: {
        labels: labels,
        datasets: [
          { label: words.coverage, data: slices.map(function (s) { return pct(s.rate); }),
            backgroundColor: blue },
          targetLine(labels.length)
        ]
      },
      options: { scales: { y: { min: 0, max: 100, ticks: { callback: function (v) { return v + " %"; } } } } }
    });
  }

  rateChart("by-month", report.by_month);
  rateChart("by-agency", report.by_agency);

  new Chart(document.getElementById("channel-mix"), {
    type: "doughnut",
    data: {
      labels: report.by_channel.map(function (c) { return c.channel; }),
      datasets: [{ data: report.by_channel.map(function (c) { return c.covered_deadlines; }),
                   backgroundColor: colors }]
    }
  });

  var reasons = Object.keys(report.reasons);
  new Chart(document.getElementById("reasons"), {
    type: "bar",
    data: {
      labels: reasons.map(function (r) { return words.reasons[r] || r; }),
      datasets: [{ label: words.deadlines, data: reasons.map(function (r) { return report.reasons[r]; }),
                   backgroundColor: grey }]
    },
    options: { indexAxis: "y" }
  });

  new Chart(document.getElementById("failures"), {
    type: "bar",
    data: {
      labels: report.by_channel.map(function (c) { return c.channel; }),
      datasets: [{ label: words.failure_rate,
                   data: report.by_channel.map(function (c) { return pct(c.failure_rate); }),
                   backgroundColor: red }]
    },
    options: { scales: { y: { min: 0, max: 100 } } }
  });
  document.body.setAttribute("data-charts", "ready");
})();
