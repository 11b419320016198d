// keycab dashboard: progressive enhancement only; every page works
// without this file.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Links in emails carry their single-use token in the URL fragment,
  // which never reaches a server or its logs. Copy it into the form.
  var m = /[#&]token=([^&]+)/.exec(location.hash);
  if (m) {
    var token = decodeURIComponent(m[1].replace(/\+/g, " "));
    document.querySelectorAll("[data-token-from-hash]").forEach(function (el) {
      el.value = token;
      var row = el.closest("[data-token-row]");
      if (row) row.hidden = true;
    });
    document.querySelectorAll("[data-hide-with-token]").forEach(function (el) { el.hidden = true; });
    history.replaceState(null, "", location.pathname + location.search);
  }
  // Sortable tables: a click on a column's header sorts the rows by it,
  // again reverses; a cell's data-sort (an ISO time, a number) wins over
  // its text. The server's order is the first.
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var body = table.tBodies[0];
    if (!body) return;
    table.querySelectorAll("thead th").forEach(function (th, col) {
      if (th.hasAttribute("data-nosort") || th.textContent.trim() === "") return;
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.textContent = th.textContent;
      th.textContent = "";
      th.appendChild(button);
      th.setAttribute("aria-sort", "none");
      button.addEventListener("click", function () {
        var up = th.getAttribute("aria-sort") !== "ascending";
        table.querySelectorAll("thead th").forEach(function (o) { if (o.hasAttribute("aria-sort")) o.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", up ? "ascending" : "descending");
        var key = function (tr) {
          var td = tr.cells[col];
          if (!td) return "";
          return td.hasAttribute("data-sort") ? td.getAttribute("data-sort") : td.textContent.trim().toLowerCase();
        };
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a), y = key(b);
          var nx = parseFloat(x), ny = parseFloat(y);
          var c = (!isNaN(nx) && !isNaN(ny) && String(nx) === x && String(ny) === y) ? nx - ny : x.localeCompare(y);
          return up ? c : -c;
        });
        rows.forEach(function (tr) { body.appendChild(tr); });
      });
    });
  });
  // Ask before destructive actions.
  // A print button (a pass's page): the browser's print dialog.
  document.querySelectorAll("[data-print]").forEach(function (b) {
    b.addEventListener("click", function () { window.print(); });
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!confirm(f.getAttribute("data-confirm"))) e.preventDefault();
    });
  });
});
