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
  // Ask before destructive actions.
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!confirm(f.getAttribute("data-confirm"))) e.preventDefault();
    });
  });
});
