// Draws the dashboard's charts with Chart.js from the figures the page embeds
// (json_script "dashboard-data"). Each drawn canvas gets data-drawn="true".
(function () {
  "use strict";
  var COLORS = { coding: "#94a3f8", pickup: "#f6b26b", review: "#6fc3a8", merge: "#3b5bdb", p90: "#c92a2a" };
  var PHASES = ["coding", "pickup", "review", "merge"];

  // "working" when the figures are in working hours (hours=working): a day of
  // those is not 24 hours, so they stay in hours.
  var KIND = "calendar";

  function hours(value) {
    if (value === null || value === undefined) return "—";
    if (value < 1) return Math.round(value * 60) + " min";
    if (value < 48 || KIND === "working") return value.toFixed(1) + " h";
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
    return { stacked: !!stacked, beginAtZero: true, title: { display: true, text: KIND === "working" ? "working hours" : "hours" } };
  }

  function tooltipHours() {
    return { callbacks: { label: function (item) { return item.dataset.label + ": " + hours(item.raw); } } };
  }

  function start() {
    var source = document.getElementById("dashboard-data");
    if (!source || typeof Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    KIND = data.hours || "calendar";
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
      // Legend swatches drawn as short lines (dashed for p90), like the lines
      // they name: a box outlined with a dash is a blob.
      options: {
        onClick: toWeek,
        scales: { y: hoursAxis(false) },
        plugins: {
          tooltip: tooltipHours(),
          legend: {
            labels: {
              usePointStyle: true,
              pointStyle: "line",
              pointStyleWidth: 32,
              generateLabels: function (chart) {
                return Chart.defaults.plugins.legend.labels.generateLabels(chart).map(function (item) {
                  item.lineWidth = 3;
                  item.lineDash = chart.data.datasets[item.datasetIndex].borderDash || [];
                  return item;
                });
              }
            }
          }
        }
      }
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

  // The period form: picking a date means "from – to", picking a preset clears
  // the dates; a custom period is checked before it is sent, with the reason
  // shown beside the form (never a silent fall back to a preset).
  function periodForm() {
    var form = document.querySelector("[data-role=period-form]");
    if (!form) return;
    var days = form.querySelector("select[name=days]");
    var from = form.querySelector("input[name=from]");
    var to = form.querySelector("input[name=to]");
    var note = form.querySelector("[data-role=period-error]");

    function say(problem) {
      note.textContent = problem;
      note.hidden = !problem;
    }
    [from, to].forEach(function (input) {
      input.addEventListener("change", function () {
        if (input.value) days.value = "";
        say("");
      });
    });
    days.addEventListener("change", function () {
      if (days.value !== "") {
        from.value = "";
        to.value = "";
      }
      say("");
    });
    form.addEventListener("submit", function (event) {
      if (days.value === "") {
        var problem = "";
        if (!from.value || !to.value) problem = "Choose both dates: from and to.";
        else if (from.value > to.value) problem = "'From' (" + from.value + ") is after 'to' (" + to.value + "): choose a start on or before the end.";
        if (problem) {
          event.preventDefault();
          say(problem);
          return;
        }
        days.disabled = true;
      } else {
        from.disabled = true;
        to.disabled = true;
      }
      // A filter left at its default is not sent: the address stays short.
      ["repository", "squad", "hours"].forEach(function (name) {
        var field = form.querySelector("select[name=" + name + "]");
        if (field && !field.value) field.disabled = true;
      });
    });
  }

  // "Show all" under a table that shows its first rows: the rest were sent
  // hidden (data-more); the note then says how many are shown.
  function moreRows() {
    document.querySelectorAll("[data-role=show-rows]").forEach(function (button) {
      button.addEventListener("click", function () {
        var note = button.closest("p");
        var table = note.previousElementSibling.querySelector("table");
        table.querySelectorAll("tr[data-more]").forEach(function (row) { row.hidden = false; });
        var count = note.querySelector("[data-role=rows-count]");
        count.textContent = count.dataset.after;
        button.hidden = true;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { periodForm(); moreRows(); start(); });
})();
