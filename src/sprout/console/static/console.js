// Sprout console: draws the page's charts (uPlot) from its JSON block; deployments as vertical lines.
(function () {
  "use strict";
  var block = document.getElementById("chart-data");
  if (!block || typeof uPlot === "undefined") { return; }
  var charts = JSON.parse(block.textContent);
  var colors = ["#0b5cad", "#b3261e", "#1b7f3b", "#8a5a00", "#6a3fb5"];
  var kindColors = { "deploy": "#5f6b73", "promote": "#0b5cad", "rollback": "#b3261e", "auto-rollback": "#d2691e" };

  function markersPlugin(markers) {
    return { hooks: { draw: [function (u) {
      var ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
      ctx.save();
      ctx.font = (10 * devicePixelRatio) + "px sans-serif";
      markers.forEach(function (m, i) {
        if (m.t < u.scales.x.min || m.t > u.scales.x.max) { return; }
        var x = Math.round(u.valToPos(m.t, "x", true));
        ctx.strokeStyle = kindColors[m.kind] || "#5f6b73";
        ctx.fillStyle = ctx.strokeStyle;
        ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
        ctx.lineWidth = devicePixelRatio;
        ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
        ctx.fillText(m.label, x + 3 * devicePixelRatio, top + (10 + 12 * (i % 4)) * devicePixelRatio);
      });
      ctx.restore();
    }] } };
  }

  // the window the answer covers (so markers after the last point show), never an empty span
  function xRange(c) {
    var r = c.range || [], lo = Math.min.apply(null, c.x), hi = Math.max.apply(null, c.x);
    if (typeof r[0] === "number") { lo = Math.min(lo, r[0]); }
    if (typeof r[1] === "number") { hi = Math.max(hi, r[1]); }
    return lo < hi ? [lo, hi] : [lo - 60, hi + 60];
  }

  charts.forEach(function (c) {
    var figure = document.getElementById(c.id);
    if (!figure) { return; }
    var plot = figure.querySelector(".plot");
    var points = 0;
    c.series.forEach(function (s) { s.values.forEach(function (v) { if (v !== null && v !== undefined) { points++; } }); });
    figure.dataset.points = String(points);
    figure.dataset.nonzero = String(c.series.reduce(function (n, s) {
      return n + s.values.filter(function (v) { return v; }).length; }, 0));
    if (!c.x.length) { return; }
    var opts = {
      width: Math.max(320, plot.clientWidth || 480), height: 200,
      series: [{}].concat(c.series.map(function (s, i) {
        return { label: s.label, stroke: colors[i % colors.length], width: 1.5, points: { show: c.x.length < 60 } };
      })),
      axes: [{ space: 90 }, { label: c.unit, size: 50 }],
      scales: { x: { time: true, auto: false, range: xRange(c) } },
      plugins: [markersPlugin(c.markers || [])]
    };
    new uPlot(opts, [c.x].concat(c.series.map(function (s) { return s.values; })), plot);
    figure.dataset.rendered = "true";
  });
})();
