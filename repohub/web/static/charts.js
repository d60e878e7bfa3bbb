/* RepoHub charts: interactive SVG charts drawn from the data tables of job and report pages,
 * and a running job followed through the JSON API. No library, no request beyond RepoHub.
 *
 * A table with data-chart="line" or "bars", data-x (the x column) and data-series (the y
 * columns) gets a chart above it; the table itself folds into a "data" disclosure. Hovering a
 * chart shows the values under the pointer; clicking a legend entry hides or shows a series.
 * An element with data-live-job polls /api/jobs/{id} while the job is queued or running.
 * Optional on a line table: data-x-scale="linear" places rows by their numeric x (runs whose
 * points fall on different steps, overlaid), and data-dash lists series drawn dashed.
 */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var COLORS = ["#1f7fd0", "#d9534f", "#2a8a4a", "#b07800", "#7b4bc4", "#0f8c8c", "#555"];
  var W = 640, H = 260, PAD = { left: 52, right: 16, top: 14, bottom: 34 };

  function svg(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(node);
    return node;
  }

  function readTable(table) {
    var heads = Array.prototype.map.call(table.tHead.rows[0].cells, function (c) { return c.textContent.trim(); });
    var wanted = (table.dataset.series || "").split(",").filter(Boolean);
    var series = wanted.filter(function (s) { return heads.indexOf(s) >= 0; });
    var rows = Array.prototype.map.call(table.tBodies[0].rows, function (row) {
      var cells = Array.prototype.map.call(row.cells, function (c) { return c.textContent.trim(); });
      return { x: cells[0], values: series.map(function (s) {
        var v = parseFloat(cells[heads.indexOf(s)]);
        return isNaN(v) ? null : v;
      }) };
    });
    var dashed = (table.dataset.dash || "").split(",");
    var linear = table.dataset.xScale === "linear" && rows.every(function (r) { return !isNaN(parseFloat(r.x)); });
    return { x: table.dataset.x || heads[0], series: series, rows: rows, linear: linear,
             dash: series.map(function (s) { return dashed.indexOf(s) >= 0; }) };
  }

  function range(data, hidden) {
    var lo = Infinity, hi = -Infinity;
    data.rows.forEach(function (r) {
      r.values.forEach(function (v, i) {
        if (v === null || hidden[i]) return;
        lo = Math.min(lo, v); hi = Math.max(hi, v);
      });
    });
    if (lo === Infinity) { lo = 0; hi = 1; }
    if (lo > 0 && lo < hi * 0.5) lo = 0;
    if (hi === lo) { hi = lo + 1; }
    return [lo, hi];
  }

  function fmt(v) { return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3); }

  function axes(root, lo, hi, labels, xName, place) {
    var g = svg("g", { "class": "axes", "font-size": "11", fill: "#5d6b7a" }, root);
    for (var t = 0; t <= 4; t++) {
      var v = lo + (hi - lo) * t / 4, y = PAD.top + (H - PAD.top - PAD.bottom) * (1 - t / 4);
      svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, stroke: "#e1e7ee" }, g);
      svg("text", { x: PAD.left - 6, y: y + 4, "text-anchor": "end" }, g).textContent = fmt(v);
    }
    var step = Math.max(1, Math.ceil(labels.length / 8)), last = -Infinity;
    labels.forEach(function (label, i) {
      if ((i % step && i !== labels.length - 1) || place(i) - last < 36) return;
      last = place(i);
      svg("text", { x: last, y: H - PAD.bottom + 16, "text-anchor": "middle" }, g).textContent = label;
    });
    svg("text", { x: W - PAD.right, y: H - 4, "text-anchor": "end" }, g).textContent = xName;
  }

  function xAt(i, n) { return PAD.left + (W - PAD.left - PAD.right) * (n > 1 ? i / (n - 1) : 0.5); }
  function placer(data) {
    var n = data.rows.length;
    if (!data.linear) return function (j) { return xAt(j, n); };
    var xs = data.rows.map(function (r) { return parseFloat(r.x); });
    var first = Math.min.apply(null, xs), last = Math.max.apply(null, xs), span = last - first || 1;
    return function (j) { return PAD.left + (W - PAD.left - PAD.right) * (n > 1 ? (xs[j] - first) / span : 0.5); };
  }
  function yAt(v, lo, hi) { return PAD.top + (H - PAD.top - PAD.bottom) * (1 - (v - lo) / (hi - lo)); }

  function legend(box, data, hidden, redraw) {
    var list = document.createElement("p");
    list.className = "chart-legend";
    data.series.forEach(function (name, i) {
      var item = document.createElement("button");
      item.type = "button";
      item.className = "legend-item" + (hidden[i] ? " off" : "");
      item.setAttribute("aria-pressed", hidden[i] ? "false" : "true");
      var swatch = document.createElement("span");
      swatch.className = "swatch swatch-" + (i % COLORS.length);
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(" " + name));
      item.addEventListener("click", function () { hidden[i] = !hidden[i]; redraw(); });
      list.appendChild(item);
    });
    box.appendChild(list);
  }

  function hover(root, box, data, positions) {
    var guide = svg("line", { y1: PAD.top, y2: H - PAD.bottom, stroke: "#9aa7b4", visibility: "hidden" }, root);
    var tip = document.createElement("div");
    tip.className = "chart-tip";
    tip.hidden = true;
    box.appendChild(tip);
    root.addEventListener("mousemove", function (event) {
      var rect = root.getBoundingClientRect();
      var x = (event.clientX - rect.left) * W / rect.width;
      var best = 0;
      positions.forEach(function (px, i) { if (Math.abs(px - x) < Math.abs(positions[best] - x)) best = i; });
      var row = data.rows[best];
      if (!row) return;
      guide.setAttribute("x1", positions[best]); guide.setAttribute("x2", positions[best]);
      guide.setAttribute("visibility", "visible");
      tip.textContent = data.x + " " + row.x + ": " + data.series.map(function (s, i) {
        return row.values[i] === null ? null : s + " " + fmt(row.values[i]);
      }).filter(Boolean).join(", ");
      tip.hidden = false;
    });
    root.addEventListener("mouseleave", function () { guide.setAttribute("visibility", "hidden"); tip.hidden = true; });
  }

  function drawLine(box, data, hidden) {
    var root = svg("svg", { viewBox: "0 0 " + W + " " + H, "class": "chart-svg", role: "img" });
    var lr = range(data, hidden), lo = lr[0], hi = lr[1], n = data.rows.length, place = placer(data);
    axes(root, lo, hi, data.rows.map(function (r) { return r.x; }), data.x, place);
    data.series.forEach(function (name, i) {
      if (hidden[i]) return;
      var points = [];
      data.rows.forEach(function (r, j) { if (r.values[i] !== null) points.push(place(j).toFixed(1) + "," + yAt(r.values[i], lo, hi).toFixed(1)); });
      var line = { points: points.join(" "), fill: "none", stroke: COLORS[i % COLORS.length], "stroke-width": 2, "data-series": name };
      if (data.dash[i]) line["stroke-dasharray"] = "6 4";
      svg("polyline", line, root);
      if (n <= 40) data.rows.forEach(function (r, j) {
        if (r.values[i] !== null) svg("circle", { cx: place(j), cy: yAt(r.values[i], lo, hi), r: 2.5, fill: COLORS[i % COLORS.length] }, root);
      });
    });
    box.appendChild(root);
    hover(root, box, data, data.rows.map(function (_, j) { return place(j); }));
  }

  function drawBars(box, data, hidden) {
    var root = svg("svg", { viewBox: "0 0 " + W + " " + H, "class": "chart-svg", role: "img" });
    var lr = range(data, hidden), lo = Math.min(0, lr[0]), hi = lr[1], n = data.rows.length;
    var shown = data.series.filter(function (_, i) { return !hidden[i]; }).length || 1;
    var slot = (W - PAD.left - PAD.right) / Math.max(n, 1), bar = slot * 0.8 / shown;
    var g = svg("g", { "class": "axes", "font-size": "11", fill: "#5d6b7a" }, root);
    for (var t = 0; t <= 4; t++) {
      var v = lo + (hi - lo) * t / 4, y = yAt(v, lo, hi);
      svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, stroke: "#e1e7ee" }, g);
      svg("text", { x: PAD.left - 6, y: y + 4, "text-anchor": "end" }, g).textContent = fmt(v);
    }
    var centres = [];
    data.rows.forEach(function (r, j) {
      var left = PAD.left + slot * j + slot * 0.1, k = 0;
      centres.push(PAD.left + slot * (j + 0.5));
      svg("text", { x: centres[j], y: H - PAD.bottom + 16, "text-anchor": "middle" }, g).textContent = r.x;
      data.series.forEach(function (name, i) {
        if (hidden[i]) return;
        var v = r.values[i] === null ? 0 : r.values[i];
        svg("rect", { x: left + bar * k, y: yAt(Math.max(v, lo), lo, hi), width: Math.max(bar - 1, 1), height: Math.max(yAt(lo, lo, hi) - yAt(v, lo, hi), 0), fill: COLORS[i % COLORS.length] }, root);
        k++;
      });
    });
    box.appendChild(root);
    hover(root, box, data, centres);
  }

  function enhance(table) {
    if (table.dataset.enhanced) return;
    table.dataset.enhanced = "1";
    var data = readTable(table), hidden = data.series.map(function () { return false; });
    if (!data.rows.length || !data.series.length) return;
    var box = document.createElement("div");
    box.className = "chart-box";
    table.parentNode.insertBefore(box, table);
    var fold = document.createElement("details");
    fold.className = "chart-table";
    var summary = document.createElement("summary");
    summary.textContent = "Data";
    fold.appendChild(summary);
    table.parentNode.insertBefore(fold, table);
    fold.appendChild(table);
    function redraw() {
      box.textContent = "";
      (table.dataset.chart === "bars" ? drawBars : drawLine)(box, data, hidden);
      legend(box, data, hidden, redraw);
    }
    redraw();
  }

  function tableFrom(points, x, series) {
    var table = document.createElement("table");
    table.className = "chart-data";
    table.dataset.chart = "line"; table.dataset.x = x; table.dataset.series = series.join(",");
    var head = table.createTHead().insertRow();
    [x].concat(series).forEach(function (s) { var th = document.createElement("th"); th.textContent = s; head.appendChild(th); });
    var body = table.createTBody();
    points.forEach(function (p) {
      var row = body.insertRow();
      [x].concat(series).forEach(function (s) { row.insertCell().textContent = p[s] === undefined ? "" : p[s]; });
    });
    return table;
  }

  function replaceChart(id, title, points, x, series) {
    if (!points.length) return;
    var figure = document.getElementById(id);
    if (!figure) {
      figure = document.createElement("figure");
      figure.className = "chart"; figure.id = id;
      var caption = document.createElement("figcaption");
      caption.textContent = title;
      figure.appendChild(caption);
      document.querySelector(".charts").appendChild(figure);
      var none = document.getElementById("no-curve");
      if (none) none.remove();
    }
    Array.prototype.slice.call(figure.children).forEach(function (c) { if (c.tagName !== "FIGCAPTION") c.remove(); });
    var table = tableFrom(points, x, series);
    figure.appendChild(table);
    enhance(table);
  }

  function follow(root) {
    var id = root.dataset.liveJob, log = document.querySelector("[data-field=log]");
    if (["queued", "running"].indexOf(root.dataset.state) < 0) return;
    function tick() {
      fetch("/api/jobs/" + id, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (job) {
        var p = job.progress || {}, bar = document.querySelector("[data-field=progress]");
        if (bar && p.total_steps) { bar.max = p.total_steps; bar.value = p.step; }
        var text = document.querySelector("[data-field=progress-text]");
        if (text && p.total_steps) {
          text.textContent = "step " + p.step + "/" + p.total_steps + ", epoch " + p.epoch + "/" + p.epochs +
            (p.eta_seconds !== null && p.eta_seconds !== undefined ? ", about " + Math.round(p.eta_seconds) + " s left" : "");
        }
        var metrics = job.metrics || { step: [], epoch: [] };
        replaceChart("live-loss", "Loss per step", metrics.step, "step", ["loss"]);
        replaceChart("live-epochs", "Per epoch", metrics.epoch, "epoch", ["train_loss", "val_loss", "train_accuracy", "val_accuracy"]);
        return fetch("/api/jobs/" + id + "/logs?after=" + (log ? log.dataset.cursor : 0), { credentials: "same-origin" }).then(function (r) {
          var cursor = r.headers.get("X-Log-Cursor");
          return r.text().then(function (more) {
            if (log && more) { log.textContent += more; log.dataset.cursor = cursor; log.scrollTop = log.scrollHeight; }
            if (["queued", "running"].indexOf(job.state) < 0) { window.location.reload(); return; }
            window.setTimeout(tick, 2000);
          });
        });
      }).catch(function () { window.setTimeout(tick, 5000); });
    }
    window.setTimeout(tick, 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("table[data-chart]"), enhance);
    Array.prototype.forEach.call(document.querySelectorAll("[data-live-job]"), follow);
  });
})();
