// Draws the dashboard's charts with Chart.js from the figures the page embeds
// (json_script "dashboard-data"). Each drawn canvas gets data-drawn="true".
(function () {
  "use strict";
  var COLORS = { coding: "#94a3f8", pickup: "#f6b26b", review: "#6fc3a8", merge: "#3b5bdb", p90: "#c92a2a" };
  var PHASES = ["coding", "pickup", "review", "merge"];

  function hours(value) {
    if (value === null || value === undefined) return "—";
    if (value < 1) return Math.round(value * 60) + " min";
    if (value < 48) return value.toFixed(1) + " h";
    return (value / 24).toFixed(1) + " d";
  }

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) return;
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
    new Chart(canvas, config);
    canvas.dataset.drawn = "true";
  }

  function hoursAxis(stacked) {
    return { stacked: !!stacked, beginAtZero: true, title: { display: true, text: "hours" } };
  }

  function tooltipHours() {
    return { callbacks: { label: function (item) { return item.dataset.label + ": " + hours(item.raw); } } };
  }

  function start() {
    var source = document.getElementById("dashboard-data");
    if (!source || typeof Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    var weeks = data.weekly.map(function (w) { return w.week; });
    var toWeek = function (event, elements) {
      if (elements.length) window.location = data.drill + "&figure=week&value=" + weeks[elements[0].index];
    };

    draw("chart-phases", {
      type: "bar",
      data: {
        labels: ["mean cycle time"],
        datasets: PHASES.map(function (name) {
          return { label: name, data: [data.phases[name]], backgroundColor: COLORS[name] };
        })
      },
      options: {
        indexAxis: "y",
        scales: { x: hoursAxis(true), y: { stacked: true, display: false } },
        plugins: { tooltip: tooltipHours() }
      }
    });

    draw("chart-merged", {
      type: "bar",
      data: { labels: weeks, datasets: [{ label: "merged", data: data.weekly.map(function (w) { return w.merged; }), backgroundColor: COLORS.merge }] },
      options: { onClick: toWeek, plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
    });

    draw("chart-cycle", {
      type: "line",
      data: {
        labels: weeks,
        datasets: [
          { label: "median", data: data.weekly.map(function (w) { return w.cycle_time_median_hours; }), borderColor: COLORS.merge, backgroundColor: COLORS.merge, spanGaps: true },
          { label: "p90", data: data.weekly.map(function (w) { return w.cycle_time_p90_hours; }), borderColor: COLORS.p90, backgroundColor: COLORS.p90, borderDash: [5, 4], spanGaps: true }
        ]
      },
      options: { onClick: toWeek, scales: { y: hoursAxis(false) }, plugins: { tooltip: tooltipHours() } }
    });

    draw("chart-breakdown", {
      type: "bar",
      data: {
        labels: weeks,
        datasets: PHASES.map(function (name) {
          return { label: name, data: data.weekly.map(function (w) { return w.phases_hours[name]; }), backgroundColor: COLORS[name] };
        })
      },
      options: { onClick: toWeek, scales: { x: { stacked: true }, y: hoursAxis(true) }, plugins: { tooltip: tooltipHours() } }
    });

    draw("chart-sizes", {
      type: "bar",
      data: {
        labels: data.sizes.map(function (s) { return s.label; }),
        datasets: [
          { label: "median cycle time", data: data.sizes.map(function (s) { return s.cycle_time_median_hours; }), backgroundColor: COLORS.merge, yAxisID: "y" },
          { label: "merged", type: "line", data: data.sizes.map(function (s) { return s.merged; }), borderColor: COLORS.pickup, backgroundColor: COLORS.pickup, yAxisID: "count" }
        ]
      },
      options: {
        scales: {
          y: hoursAxis(false),
          count: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, ticks: { precision: 0 }, title: { display: true, text: "pull requests" } }
        }
      }
    });

    draw("chart-reviewers", {
      type: "bar",
      data: {
        labels: data.reviewers.map(function (r) { return r.login; }),
        datasets: [{ label: "reviews", data: data.reviewers.map(function (r) { return r.reviews; }), backgroundColor: COLORS.review }]
      },
      options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
  }

  function periodForm() {
    var form = document.querySelector("[data-role=period-form]");
    if (!form) return;
    form.addEventListener("submit", function () {
      var days = form.querySelector("select[name=days]");
      var dates = form.querySelectorAll("input[type=date]");
      var preset = days.value !== "";
      dates.forEach(function (input) { if (preset || !input.value) input.disabled = true; });
      if (!preset) days.disabled = true;
      var repository = form.querySelector("select[name=repository]");
      if (repository && !repository.value) repository.disabled = true;
    });
  }

  document.addEventListener("DOMContentLoaded", function () { periodForm(); start(); });
})();
