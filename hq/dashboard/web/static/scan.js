// keycab phone page (/scan): read a key set's QR label with the camera
// (or typed), show where it is, and take, return or hand it over through
// HQ's API (POST /v1/scan, POST /v1/custody) with the session cookie.
// The rules and the records are the API's; this file only asks and shows.
// Decoding: the browser's BarcodeDetector where it reads QR codes, else
// jsQR (vendored, jsQR.js).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var root = document.querySelector("[data-testid=scan]");
  if (!root) return;
  var me = root.getAttribute("data-me");
  var $ = function (id) { return document.getElementById(id); };
  var video = $("scan-video"), cameraBox = root.querySelector(".camera"), cameraState = $("scan-camera-state");
  var result = $("scan-result"), outcome = $("scan-outcome");
  var canvas = document.createElement("canvas");
  var ctx = canvas.getContext("2d", { willReadFrequently: true });
  var detector = null; // a BarcodeDetector for QR codes, when the browser has one
  var scanning = false, cameraOn = false, busy = false;
  var current = null; // {token, keySetID, status}
  var members = null; // GET /v1/members, once
  var reasons = {}; // site id: the effective policy's reasons (null: unknown)

  root.setAttribute("data-decoder", "jsqr");
  if ("BarcodeDetector" in window && window.BarcodeDetector.getSupportedFormats) {
    window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      if (formats.indexOf("qr_code") >= 0) {
        detector = new window.BarcodeDetector({ formats: ["qr_code"] });
        root.setAttribute("data-decoder", "barcodedetector");
      }
    }).catch(function () {});
  }

  function say(text) { cameraState.textContent = text; }

  function show(el, on) { el.hidden = !on; }

  function tell(text, kind) {
    outcome.textContent = text.charAt(0).toUpperCase() + text.slice(1);
    outcome.className = "outcome " + kind;
    outcome.setAttribute("data-kind", kind);
    show(outcome, text !== "");
  }

  // api sends a JSON request to HQ and resolves with its answer, or
  // rejects with HQ's words for a refusal.
  function api(method, path, body) {
    var init = { method: method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) {
          if (r.status === 401) throw new Error("You are signed out: reload the page and sign in again.");
          throw new Error((j.error && j.error.message) || ("HQ answered " + r.status + "."));
        }
        return j;
      });
    });
  }

  // requestID is a fresh id for one custody change (16 to 64 of
  // [A-Za-z0-9_-]): HQ answers a resent one with its first outcome.
  function requestID() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
  }

  function when(iso) {
    if (!iso) return "—";
    var d = new Date(iso);
    if (isNaN(d.getTime())) return iso;
    return d.toLocaleString(undefined, { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
  }

  function memberName(id) {
    if (id === me) return "You";
    if (members) {
      for (var i = 0; i < members.length; i++) if (members[i].id === id) return members[i].name || members[i].email || id;
    }
    return "Another member";
  }

  function loadMembers() {
    if (members) return Promise.resolve(members);
    return api("GET", "/v1/members").then(function (j) { members = j.members || []; return members; })
      .catch(function () { members = []; return members; });
  }

  function loadReasons(site) {
    if (site in reasons) return Promise.resolve(reasons[site]);
    return api("GET", "/v1/sites/" + encodeURIComponent(site) + "/policy")
      .then(function (p) { reasons[site] = (p.effective && p.effective.reasons) || []; return reasons[site]; })
      .catch(function () { reasons[site] = null; return null; });
  }

  // render shows a scan's answer (KeySetStatus) and its actions.
  function render(st) {
    current.status = st;
    var ks = st.key_set || {};
    $("scan-ks").textContent = ks.label || "Key set";
    $("scan-home").textContent = st.home === "cabinet" ? "Slot " + st.slot + " of " + (st.cabinet_name || "its cabinet") + ": taken and returned at its kiosk" :
      st.home === "shelf" ? "The open shelf " + (st.cabinet_name || "") + ": taken and returned at its kiosk" :
      "No cabinet: taken and returned with this page";
    var out = st.out;
    var pending = st.pending;
    $("scan-holder").textContent = out ? memberName(out.member_id) :
      pending ? "Nobody yet: " + memberName(pending.member_id) + " is taking it, " + (pending.approvers || []).length + " of " + pending.needed + " confirmed, until " + when(pending.expires) :
      "Nobody: it is at home";
    $("scan-since").textContent = out ? when(out.since) : "—";
    $("scan-due").textContent = out && out.due ? when(out.due) : "—";
    result.querySelectorAll(".when-out").forEach(function (el) { show(el, !!out); });
    var note = st.note || "";
    if (st.take && !st.take.allowed && st.take.reason && (!out || out.member_id !== me)) {
      note = note ? note + ". " + st.take.reason : st.take.reason;
    }
    $("scan-note").textContent = note.charAt(0).toUpperCase() + note.slice(1);
    show($("scan-note"), note !== "");
    var acts = st.actions || [];
    show($("scan-take"), acts.indexOf("take") >= 0);
    show($("scan-return"), acts.indexOf("return") >= 0);
    show($("scan-confirm"), acts.indexOf("confirm") >= 0);
    show($("scan-handover"), false);
    show($("scan-handover-hint"), false);
    if (acts.indexOf("take") >= 0 && !out) {
      loadReasons(ks.site_id).then(function (list) {
        var sel = $("scan-reason");
        sel.textContent = "";
        var has = list && list.length > 0;
        (list || []).forEach(function (r) {
          var o = document.createElement("option");
          o.value = r;
          o.textContent = r.charAt(0).toUpperCase() + r.slice(1).replace(/[-_]/g, " ");
          sel.appendChild(o);
        });
        show($("scan-reason-row"), has);
        show($("scan-reason-text-row"), !has);
      });
    } else {
      show($("scan-reason-row"), false);
      show($("scan-reason-text-row"), false);
    }
    // A take from another member is a hand-over to the viewer: no reason,
    // recipient or notes (the kiosk asks none either).
    $("scan-take").querySelectorAll("label").forEach(function (l) {
      if (l.id !== "scan-reason-row" && l.id !== "scan-reason-text-row") show(l, !out);
    });
    if (acts.indexOf("hand_over") >= 0) {
      loadMembers().then(function (list) {
        var sel = $("scan-to");
        sel.textContent = "";
        list.forEach(function (m) {
          if (m.id === (out && out.member_id) || m.disabled || m.erased_at) return;
          var o = document.createElement("option");
          o.value = m.id;
          o.textContent = m.id === me ? "Me" : (m.name || m.email);
          sel.appendChild(o);
        });
        // A member who lists no one else (staff see only themselves)
        // hands over by having the other member scan and take it.
        show($("scan-handover"), sel.options.length > 0);
        show($("scan-handover-hint"), sel.options.length === 0);
      });
    }
    show(result, true);
  }

  // lookup asks HQ what a label (or an id) is.
  var lookups = 0;
  function lookup(token) {
    root.setAttribute("data-lookups", String(++lookups));
    current = { token: token, status: null };
    show(result, false); // the last answer is not this label's
    tell("", "");
    stopScanning();
    say("Looking it up…");
    Promise.all([api("POST", "/v1/scan", { token: token }), loadMembers()]).then(function (a) {
      say("Found.");
      render(a[0]);
    }).catch(function (e) {
      show(result, false);
      tell(e.message, "error");
      say("Scan another label, or type its text.");
      setTimeout(resume, 1500);
    });
  }

  function act(action, extra) {
    if (busy || !current || !current.status) return;
    busy = true;
    var body = { request_id: requestID(), action: action, via: "phone" };
    if (current.token) body.token = current.token;
    else body.key_set_id = current.status.key_set.id;
    Object.keys(extra || {}).forEach(function (k) { if (extra[k]) body[k] = extra[k]; });
    result.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    api("POST", "/v1/custody", body).then(function (res) {
      if (res.outcome === "ignored") tell("Ignored: " + res.message, "ignored");
      else if (res.outcome === "pending") {
        tell(res.message, "pending");
        $("scan-take").reset(); // sealed at HQ until released: not left on screen
      }
      else {
        tell(res.message, "done");
        $("scan-take").reset(); // the recipient and notes are personal: not left on screen
      }
      if (res.status && res.status.key_set) render(res.status);
    }).catch(function (e) {
      tell(e.message, "error");
    }).then(function () {
      busy = false;
      result.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
    });
  }

  $("scan-take").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var reason = $("scan-reason-row").hidden ? $("scan-reason-text").value.trim() : $("scan-reason").value;
    act("take", { reason: reason, recipient: $("scan-recipient").value.trim(), notes: $("scan-notes").value.trim() });
  });
  $("scan-return").addEventListener("submit", function (ev) { ev.preventDefault(); act("return"); });
  $("scan-confirm").addEventListener("submit", function (ev) { ev.preventDefault(); act("confirm"); });
  $("scan-handover").addEventListener("submit", function (ev) { ev.preventDefault(); act("hand_over", { to: $("scan-to").value }); });
  $("scan-token").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var t = $("scan-token-input").value.trim();
    if (t) lookup(t);
  });
  $("scan-again").addEventListener("click", function () {
    show(result, false);
    tell("", "");
    $("scan-take").reset();
    resume();
  });

  // The camera.
  function stopScanning() {
    scanning = false;
    show(cameraBox, false);
  }

  function resume() {
    if (!cameraOn) return;
    show(cameraBox, true);
    say("Point the camera at a key set's label.");
    if (!scanning) {
      scanning = true;
      setTimeout(tick, 300); // a moment to move away from the last label
    }
  }

  function decodeFrame() {
    if (video.readyState < 2 || !video.videoWidth) return Promise.resolve(null);
    if (detector) {
      return detector.detect(video).then(function (codes) { return codes.length ? codes[0].rawValue : null; });
    }
    if (typeof window.jsQR !== "function") return Promise.reject(new Error("no QR decoder"));
    var s = Math.min(1, 800 / video.videoWidth);
    canvas.width = Math.round(video.videoWidth * s);
    canvas.height = Math.round(video.videoHeight * s);
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
    var img = ctx.getImageData(0, 0, canvas.width, canvas.height);
    var code = window.jsQR(img.data, img.width, img.height, { inversionAttempts: "dontInvert" });
    return Promise.resolve(code ? code.data : null);
  }

  var notOurs = 0;
  function tick() {
    if (!scanning) return;
    decodeFrame().then(function (text) {
      if (!scanning) return;
      text = (text || "").trim();
      if (/^kc1\.[A-Za-z0-9_-]+$/.test(text)) {
        lookup(text);
        return;
      }
      if (text && ++notOurs % 10 === 1) say("That QR code is not a keycab label.");
      setTimeout(tick, 120);
    }).catch(function (e) {
      say("The camera works but cannot read codes here (" + e.message + "): type the label's text below.");
    });
  }

  function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      say("No camera here: type the label's text below.");
      root.setAttribute("data-camera", "absent");
      cameraBox.classList.add("off");
      return;
    }
    navigator.mediaDevices.getUserMedia({ audio: false, video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } } })
      .then(function (stream) {
        video.srcObject = stream;
        return video.play();
      })
      .then(function () {
        cameraOn = true;
        root.setAttribute("data-camera", "on");
        if (result.hidden) resume();
      })
      .catch(function (e) {
        root.setAttribute("data-camera", "refused");
        cameraBox.classList.add("off");
        say(e && e.name === "NotAllowedError" ? "The camera is not allowed: type the label's text below." : "No camera (" + (e && e.name || e) + "): type the label's text below.");
      });
  }
  startCamera();
  // The camera is off while the page is not shown (another app, a
  // locked phone), and on again when it is.
  document.addEventListener("visibilitychange", function () {
    if (document.hidden && video.srcObject) {
      video.srcObject.getTracks().forEach(function (tr) { tr.stop(); });
      video.srcObject = null;
      cameraOn = false;
      scanning = false;
    } else if (!document.hidden && !video.srcObject && root.getAttribute("data-camera") === "on") {
      startCamera();
    }
  });
});
