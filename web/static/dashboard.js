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
  var labels = words.labels;
  Chart.defaults.animation = false;
  Chart.defaults.font.family = "system-ui, sans-serif";
  Chart.defaults.locale = words.locale;  /* 33,3 in French, 33.3 in English */
  var percentTick = function (v) {
    return new Intl.NumberFormat(words.locale).format(v) + (words.locale === "fr-CA" ? "\u00a0%" : "%");
  };

  function targetLine(n) {
    return {
      type: "line", label: words.target, data: new Array(n).fill(target),
      borderColor: red, borderDash: [6, 4], pointRadius: 0, borderWidth: 2
    };
  }

  function rateChart(id, slices, names) {
    var keys = slices.map(function (s) { return names[s.key] || s.key; });
    new Chart(document.getElementById(id), {
      type: "bar",
      data: {
        labels: keys,
        datasets: [
          /* minBarLength: a 0 % agency still shows a sliver, not nothing */
          { label: words.coverage, data: slices.map(function (s) { return pct(s.rate); }),
            backgroundColor: blue, minBarLength: 3 },
          targetLine(keys.length)
        ]
      },
      options: { scales: { y: { min: 0, max: 100, ticks: { callback: percentTick } } } }
    });
  }

  rateChart("by-month", report.by_month, labels.month);
  rateChart("by-agency", report.by_agency, labels.agency);

  new Chart(document.getElementById("channel-mix"), {
    type: "doughnut",
    data: {
      labels: report.by_channel.map(function (c) { return labels.channel[c.channel] || c.channel; }),
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
    /* counts of deadlines: whole numbers on the axis */
    options: { indexAxis: "y", scales: { x: { ticks: { precision: 0 } } } }
  });

  new Chart(document.getElementById("failures"), {
    type: "bar",
    data: {
      labels: report.by_channel.map(function (c) { return labels.channel[c.channel] || c.channel; }),
      datasets: [{ label: words.failure_rate,
                   data: report.by_channel.map(function (c) { return pct(c.failure_rate); }),
                   backgroundColor: red }]
    },
    options: { scales: { y: { min: 0, max: 100, ticks: { callback: percentTick } } } }
  });
  document.body.setAttribute("data-charts", "ready");
})();
