// wagate dashboard. Lists the sessions (GET /sessions) every 2 s, highlights
// state changes, and shows the QR code of sessions waiting to be linked
// (GET /sessions/{id}/qr?format=png, shown from a blob URL; the raw QR string
// when the server cannot render a PNG).
//
// The admin key is kept in sessionStorage (this tab only) and sent only in
// the X-API-Key header; it is never put in a URL. For tests and bookmarks,
// /dashboard/#key=<key> stores the key and removes the fragment at once (a
// fragment is never sent to the server).
"use strict";
(function () {
  var STORAGE_KEY = "wagate.adminKey";
  var POLL_MS = 2000;
  var QR_MS = 6000; // the API allows one QR request per 5 s per session

  var $ = function (id) { return document.getElementById(id); };
  var key = null;
  var timer = null;
  var inFlight = false;
  var states = new Map(); // session id -> last state seen
  var cards = new Map();  // session id -> QR card {el, img, code, note, url, fetchedAt, mode}

  function apiURL(path) {
    // Relative to /dashboard/, so wagate can sit behind a path prefix.
    return new URL("../" + path, window.location.href).toString();
  }

  function call(path, accept) {
    return fetch(apiURL(path), {
      headers: { "X-API-Key": key, "Accept": accept || "application/json" },
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
    });
  }

  function readJSON(res) {
    return res.json().catch(function () { return null; });
  }

  function setStatus(text, isError) {
    var el = $("status");
    el.textContent = text;
    el.classList.toggle("error", !!isError);
  }

  // Returns the key of a #key=... fragment (and stores it), or null.
  function takeKeyFromFragment() {
    var m = /(?:^#|&)key=([^&]*)/.exec(window.location.hash);
    if (!m) return null;
    history.replaceState(null, "", window.location.pathname + window.location.search);
    var k = decodeURIComponent(m[1]);
    try { sessionStorage.setItem(STORAGE_KEY, k); } catch (e) { /* storage disabled: memory only */ }
    return k;
  }

  function showLogin(message) {
    $("board").hidden = true;
    $("signout").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    $("key").focus();
  }

  function start(k) {
    key = k;
    $("login").hidden = true;
    $("board").hidden = false;
    $("signout").hidden = false;
    setStatus("Loading…");
    loop();
  }

  function signOut(message) {
    try { sessionStorage.removeItem(STORAGE_KEY); } catch (e) { /* ignore */ }
    key = null;
    clearTimeout(timer);
    timer = null;
    states.clear();
    cards.forEach(function (c) { removeCard(c); });
    cards.clear();
    $("sessions").tBodies[0].replaceChildren();
    $("changes").replaceChildren();
    setStatus("");
    showLogin(message);
  }

  function loop() {
    poll().finally(function () {
      if (key !== null) timer = setTimeout(loop, POLL_MS);
    });
  }

  async function poll() {
    if (inFlight || key === null) return;
    inFlight = true;
    try {
      var res = await call("sessions");
      if (res.status === 401 || res.status === 403) {
        var body = await readJSON(res);
        signOut((body && body.error) || "This key may not list sessions: use an admin key.");
        return;
      }
      if (!res.ok) throw new Error("HTTP " + res.status);
      var data = await res.json();
      var sessions = Array.isArray(data.sessions) ? data.sessions : [];
      render(sessions);
      await refreshQRs(sessions);
      setStatus("Updated " + new Date().toLocaleTimeString());
      document.body.dataset.loaded = "true";
    } catch (err) {
      setStatus("Cannot reach wagate: " + err.message, true);
    } finally {
      inFlight = false;
    }
  }

  function cell(tr, i, cls) {
    while (tr.cells.length <= i) tr.insertCell();
    var td = tr.cells[i];
    if (cls) td.className = cls;
    return td;
  }

  function render(sessions) {
    var tbody = $("sessions").tBodies[0];
    var seen = new Set();
    sessions.forEach(function (s) {
      seen.add(s.id);
      var tr = tbody.querySelector('tr[data-id="' + CSS.escape(s.id) + '"]');
      if (!tr) {
        tr = tbody.insertRow();
        tr.dataset.id = s.id;
      }
      tbody.appendChild(tr); // keep the API's order
      cell(tr, 0, "name").textContent = s.name;
      var badge = document.createElement("span");
      badge.className = "state state-" + s.state;
      badge.textContent = s.state;
      cell(tr, 1, "state-cell").replaceChildren(badge);
      cell(tr, 2, "phone").textContent = s.phone || "";
      cell(tr, 3, "id").textContent = s.id;
      cell(tr, 4, "created").textContent = s.createdAt ? new Date(s.createdAt).toLocaleString() : "";
      tr.dataset.state = s.state;

      var before = states.get(s.id);
      if (before !== undefined && before !== s.state) {
        tr.classList.remove("changed");
        void tr.offsetWidth; // restart the highlight animation
        tr.classList.add("changed");
        tr.dataset.previousState = before;
        logChange(s, before);
      }
      states.set(s.id, s.state);
    });
    Array.prototype.slice.call(tbody.rows).forEach(function (tr) {
      if (!seen.has(tr.dataset.id)) {
        states.delete(tr.dataset.id);
        tr.remove();
      }
    });
    $("empty").hidden = sessions.length > 0;
    $("sessions").hidden = sessions.length === 0;
  }

  function logChange(s, before) {
    var li = document.createElement("li");
    li.className = "change";
    li.dataset.id = s.id;
    li.textContent = new Date().toLocaleTimeString() + "  " + s.name + ": " + before + " → " + s.state;
    var list = $("changes");
    list.insertBefore(li, list.firstChild);
    while (list.children.length > 50) list.lastChild.remove();
  }

  async function refreshQRs(sessions) {
    var waiting = new Set();
    var jobs = [];
    sessions.forEach(function (s) {
      if (s.state !== "qr_ready") return;
      waiting.add(s.id);
      var c = cards.get(s.id) || addCard(s);
      c.title.textContent = s.name;
      if (Date.now() - c.fetchedAt >= QR_MS) jobs.push(fetchQR(s, c));
    });
    cards.forEach(function (c, id) {
      if (!waiting.has(id)) {
        removeCard(c);
        cards.delete(id);
      }
    });
    await Promise.all(jobs);
  }

  function addCard(s) {
    var el = document.createElement("div");
    el.className = "qr";
    el.dataset.id = s.id;
    var title = document.createElement("h3");
    var note = document.createElement("p");
    note.textContent = "Waiting for the QR code…";
    el.append(title, note);
    $("qrs").appendChild(el);
    var c = { el: el, title: title, note: note, img: null, code: null, url: null, fetchedAt: 0, mode: "png" };
    cards.set(s.id, c);
    return c;
  }

  function removeCard(c) {
    if (c.url) URL.revokeObjectURL(c.url);
    c.el.remove();
  }

  function retryLater(c, res) {
    var after = Number(res.headers.get("Retry-After"));
    if (after > 0) c.fetchedAt = Date.now() - QR_MS + after * 1000;
  }

  async function fetchQR(s, c) {
    c.fetchedAt = Date.now();
    var path = "sessions/" + encodeURIComponent(s.id) + "/qr";
    try {
      if (c.mode === "png") {
        var res = await call(path + "?format=png", "image/png");
        var type = res.headers.get("Content-Type") || "";
        if (res.ok && type.indexOf("image/png") === 0) {
          showImage(s, c, await res.blob());
          return;
        }
        if (res.status === 429) { retryLater(c, res); return; }
        if (res.status === 409) return; // between two codes; try again next round
        c.mode = "text"; // no PNG from this server: show the raw string instead
      }
      var res2 = await call(path, "application/json");
      if (res2.status === 429) { retryLater(c, res2); return; }
      var body = await readJSON(res2);
      if (res2.ok && body && typeof body.qr === "string") showText(c, body.qr);
    } catch (err) {
      c.note.textContent = "Could not load the QR code: " + err.message;
    }
  }

  function showImage(s, c, blob) {
    var url = URL.createObjectURL(blob);
    if (!c.img) {
      c.img = document.createElement("img");
      c.img.width = 256;
      c.img.height = 256;
      c.el.insertBefore(c.img, c.note);
    }
    c.img.alt = "QR code to link " + s.name;
    c.img.src = url;
    if (c.url) URL.revokeObjectURL(c.url);
    c.url = url;
    if (c.code) { c.code.remove(); c.code = null; }
    c.el.dataset.qr = "png";
    c.note.textContent = "Scan it in WhatsApp → Linked devices → Link a device. It refreshes by itself.";
  }

  function showText(c, qr) {
    if (!c.code) {
      c.code = document.createElement("code");
      c.el.insertBefore(c.code, c.note);
    }
    c.code.textContent = qr;
    if (c.img) { c.img.remove(); c.img = null; }
    if (c.url) { URL.revokeObjectURL(c.url); c.url = null; }
    c.el.dataset.qr = "text";
    c.note.textContent = "This server returned no PNG: render this string as a QR code and scan it.";
  }

  $("login-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var k = $("key").value.trim();
    if (!k) return;
    try { sessionStorage.setItem(STORAGE_KEY, k); } catch (e) { /* keep it in memory only */ }
    $("key").value = "";
    start(k);
  });
  $("signout").addEventListener("click", function () { signOut(""); });

  var stored = takeKeyFromFragment();
  if (!stored) {
    try { stored = sessionStorage.getItem(STORAGE_KEY); } catch (e) { /* ignore */ }
  }
  if (stored) start(stored); else showLogin("");
})();
