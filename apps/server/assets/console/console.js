// pgAnalytics console: small enhancements over pages that work without this script.
// - times in the browser's zone (UTC stays in the title, shown on hover);
// - hover values on charts, and drag across a chart to zoom into that range;
// - auto-refresh of pages showing a range that ends now;
// - a confirmation before destructive buttons.
"use strict";

(function () {
  function pad(n) { return String(n).padStart(2, "0"); }
  function local(d) {
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  function localTimes() {
    document.querySelectorAll("time[datetime]").forEach(function (t) {
      var d = new Date(t.getAttribute("datetime"));
      if (!isNaN(d)) { t.textContent = local(d); }
    });
    // Chart axes: drawn in UTC on the server, relabelled in the browser's zone.
    document.querySelectorAll("svg text.xlabel[data-t]").forEach(function (t) {
      var d = new Date(+t.dataset.t * 1000);
      t.textContent = t.dataset.days === "1"
        ? pad(d.getMonth() + 1) + "-" + pad(d.getDate())
        : pad(d.getHours()) + ":" + pad(d.getMinutes());
    });
  }

  var units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  function short(v) {
    var a = Math.abs(v);
    if (a >= 100 || a === 0) { return v.toFixed(0); }
    if (a >= 10) { return String(+v.toFixed(1)); }
    if (a >= 1) { return String(+v.toFixed(2)); }
    return String(+v.toPrecision(3));
  }
  function bytes(v) {
    var i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
    return short(v) + " " + units[i];
  }
  function count(v) {
    var a = Math.abs(v);
    if (a >= 1e9) { return short(v / 1e9) + " G"; }
    if (a >= 1e6) { return short(v / 1e6) + " M"; }
    if (a >= 1e4) { return short(v / 1e3) + " k"; }
    return short(v);
  }
  function seconds(v) {
    var a = Math.abs(v);
    if (a > 0 && a < 1) { return short(v * 1000) + " ms"; }
    if (a < 120) { return short(v) + " s"; }
    if (a < 7200) { return short(v / 60) + " min"; }
    if (a < 172800) { return short(v / 3600) + " h"; }
    return short(v / 86400) + " d";
  }
  function format(unit, v) {
    switch (unit) {
      case "per_second": return count(v) + "/s";
      case "bytes_per_second": return bytes(v) + "/s";
      case "bytes": return bytes(v);
      case "percent": return short(v) + "%";
      case "seconds": return seconds(v);
      default: return count(v);
    }
  }

  function parseValues(s) {
    var out = [];
    (s || "").split(";").forEach(function (p) {
      if (!p) { return; }
      var kv = p.split(":");
      out.push([+kv[0], +kv[1]]);
    });
    return out;
  }

  var SVGNS = "http" + "://www.w3.org/2000/svg";

  function enhanceChart(svg) {
    var from = +svg.dataset.from, to = +svg.dataset.to, unit = svg.dataset.unit;
    var left = +svg.dataset.left, right = +svg.dataset.right, width = +svg.dataset.width;
    var lines = Array.prototype.map.call(svg.querySelectorAll("path.line"), function (p) {
      return { label: p.dataset.label, values: parseValues(p.dataset.values) };
    });
    var figure = svg.closest("figure");
    var tip = document.createElement("div");
    tip.className = "hover";
    tip.hidden = true;
    figure.appendChild(tip);
    var cursor = document.createElementNS(SVGNS, "line");
    cursor.setAttribute("class", "cursor");
    cursor.setAttribute("y1", "10");
    cursor.setAttribute("y2", "178");
    cursor.style.display = "none";
    svg.insertBefore(cursor, svg.querySelector("rect.zoom"));
    var sel = document.createElementNS(SVGNS, "rect");
    sel.setAttribute("class", "selection");
    sel.setAttribute("y", "10");
    sel.setAttribute("height", "168");
    sel.style.display = "none";
    svg.insertBefore(sel, svg.querySelector("rect.zoom"));

    function toX(evt) {
      var r = svg.getBoundingClientRect();
      return (evt.clientX - r.left) * width / r.width;
    }
    function toTime(x) {
      return from + (to - from) * (x - left) / (right - left);
    }
    var dragStart = null;

    svg.addEventListener("mousemove", function (evt) {
      var x = Math.max(left, Math.min(right, toX(evt)));
      var t = toTime(x);
      cursor.setAttribute("x1", x);
      cursor.setAttribute("x2", x);
      cursor.style.display = "";
      if (dragStart !== null) {
        sel.setAttribute("x", Math.min(dragStart, x));
        sel.setAttribute("width", Math.abs(x - dragStart));
        sel.style.display = "";
      }
      var rows = [];
      var at = null;
      lines.forEach(function (l) {
        var best = null;
        l.values.forEach(function (p) {
          if (best === null || Math.abs(p[0] - t) < Math.abs(best[0] - t)) { best = p; }
        });
        if (best !== null) {
          at = best[0];
          rows.push(l.label + ": " + format(unit, best[1]));
        }
      });
      if (!rows.length) { tip.hidden = true; return; }
      var d = new Date(at * 1000);
      tip.textContent = "";
      var head = document.createElement("strong");
      head.textContent = local(d);
      head.title = d.toISOString();
      tip.appendChild(head);
      rows.forEach(function (r) {
        var div = document.createElement("div");
        div.textContent = r;
        tip.appendChild(div);
      });
      var rect = svg.getBoundingClientRect();
      var fr = figure.getBoundingClientRect();
      var px = evt.clientX - fr.left + 12;
      if (px + 180 > fr.width) { px = evt.clientX - fr.left - 190; }
      tip.style.left = px + "px";
      tip.style.top = (rect.top - fr.top + 16) + "px";
      tip.hidden = false;
    });
    svg.addEventListener("mouseleave", function () {
      tip.hidden = true;
      cursor.style.display = "none";
      sel.style.display = "none";
      dragStart = null;
    });
    svg.addEventListener("mousedown", function (evt) {
      evt.preventDefault();
      dragStart = Math.max(left, Math.min(right, toX(evt)));
    });
    svg.addEventListener("mouseup", function (evt) {
      if (dragStart === null) { return; }
      var end = Math.max(left, Math.min(right, toX(evt)));
      var a = toTime(Math.min(dragStart, end)), b = toTime(Math.max(dragStart, end));
      dragStart = null;
      sel.style.display = "none";
      if (b - a < 60) { return; }
      var url = new URL(window.location.href);
      url.searchParams.delete("range");
      url.searchParams.delete("cursor");
      url.searchParams.set("from", new Date(Math.floor(a) * 1000).toISOString().replace(".000", ""));
      url.searchParams.set("to", new Date(Math.ceil(b) * 1000).toISOString().replace(".000", ""));
      window.location.assign(url.toString());
    });
  }

  var REFRESH_KEY = "pga-autorefresh";
  function autoRefresh() {
    var boxes = document.querySelectorAll("input[data-autorefresh]");
    var timer = null;
    function arm(box) {
      if (timer) { clearTimeout(timer); timer = null; }
      if (box.checked && !box.disabled) {
        timer = setTimeout(function () { window.location.reload(); }, +box.dataset.autorefresh * 1000);
      }
    }
    boxes.forEach(function (box) {
      box.checked = !box.disabled && window.localStorage.getItem(REFRESH_KEY) === "on";
      box.addEventListener("change", function () {
        window.localStorage.setItem(REFRESH_KEY, box.checked ? "on" : "off");
        arm(box);
      });
      arm(box);
    });
  }

  function confirmations() {
    document.querySelectorAll("button[data-confirm]").forEach(function (b) {
      b.addEventListener("click", function (evt) {
        if (!window.confirm(b.dataset.confirm)) { evt.preventDefault(); }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localTimes();
    document.querySelectorAll("figure.chart svg[data-from]").forEach(enhanceChart);
    autoRefresh();
    confirmations();
  });
})();
