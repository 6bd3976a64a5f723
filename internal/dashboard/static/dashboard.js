// wagate dashboard. Lists the sessions (GET /sessions every 2 s, or the one
// session of a session key), highlights state changes, shows the QR code of
// sessions waiting to be linked (GET /sessions/{id}/qr?format=png, shown
// from a blob URL; the raw QR string when the server cannot render a PNG)
// and the pairing code requested on the page, and offers the lifecycle
// actions: create (the key is shown once), start, stop, restart, logout,
// delete, pair by code. "Inbox" opens the session's chats (inbox.js).
//
// The key is kept in sessionStorage (this tab only) and sent only in the
// X-API-Key header; it is never put in a URL. For tests and bookmarks,
// /dashboard/#key=<key>[&session=<id>] stores the key and removes the
// fragment at once (a fragment is never sent to the server).
import { API, APIError, seg } from "./api.js";
import { Inbox } from "./inbox.js";
import { $, h, ask } from "./ui.js";

const STORAGE_KEY = "wagate.adminKey";
const STORAGE_SESSION = "wagate.session";
const POLL_MS = 2000;
const QR_MS = 6000; // the API allows one QR request per 5 s per session

let api = null;
let only = null; // the session id of a session key, or null for an admin key
let inbox = null;
let timer = null;
let inFlight = false;
let features = { sendDocument: null };
const states = new Map(); // session id -> last state seen
const cards = new Map(); // session id -> QR card
const pairCodes = new Map(); // session id -> {code, phone}
const sessionsById = new Map();

function setStatus(text, isError) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("error", !!isError);
}

// Returns {key, session} of a #key=...&session=... fragment (and stores
// them), or null.
function takeKeyFromFragment() {
  const m = /(?:^#|&)key=([^&]*)/.exec(window.location.hash);
  if (!m) return null;
  const s = /(?:^#|&)session=([^&]*)/.exec(window.location.hash);
  history.replaceState(null, "", window.location.pathname + window.location.search);
  const out = { key: decodeURIComponent(m[1]), session: s ? decodeURIComponent(s[1]) : "" };
  remember(out);
  return out;
}

function remember(c) {
  try {
    sessionStorage.setItem(STORAGE_KEY, c.key);
    if (c.session) sessionStorage.setItem(STORAGE_SESSION, c.session);
    else sessionStorage.removeItem(STORAGE_SESSION);
  } catch (e) { /* storage disabled: memory only */ }
}

function showLogin(message) {
  $("board").hidden = true;
  $("inbox").hidden = true;
  $("signout").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("key").focus();
}

async function loadFeatures() {
  // The document composer button exists only when the spec has sendDocument.
  try {
    const res = await fetch(new URL("../openapi.json", window.location.href), { credentials: "omit", cache: "no-store" });
    if (!res.ok) return;
    const spec = await res.json();
    for (const [path, item] of Object.entries(spec.paths || {})) {
      const op = item && item.post;
      if (op && op.operationId === "sendDocument") {
        let field = "document";
        try {
          let schema = op.requestBody.content["application/json"].schema;
          if (schema.$ref) schema = spec.components.schemas[schema.$ref.split("/").pop()];
          const props = Object.keys(schema.properties || {});
          if (props.indexOf("document") < 0) field = props.find((p) => ["file", "data", "media", "url"].indexOf(p) >= 0) || field;
        } catch (e) { /* keep the default field */ }
        features.sendDocument = { path: path, field: field };
      }
    }
  } catch (e) { /* no spec: no document button */ }
}

function start(c) {
  api = new API(c.key);
  only = c.session || null;
  inbox = new Inbox(api, features, setStatus);
  $("login").hidden = true;
  $("board").hidden = false;
  $("signout").hidden = false;
  $("create-form").hidden = !!only;
  setStatus("Loading…");
  loop();
}

function signOut(message) {
  try {
    sessionStorage.removeItem(STORAGE_KEY);
    sessionStorage.removeItem(STORAGE_SESSION);
  } catch (e) { /* ignore */ }
  if (inbox) inbox.close();
  inbox = null;
  api = null;
  only = null;
  clearTimeout(timer);
  timer = null;
  states.clear();
  sessionsById.clear();
  pairCodes.clear();
  cards.forEach((c) => removeCard(c));
  cards.clear();
  $("sessions").tBodies[0].replaceChildren();
  $("changes").replaceChildren();
  $("created").hidden = true;
  setStatus("");
  showLogin(message);
}

function loop() {
  poll().finally(() => {
    if (api !== null) timer = setTimeout(loop, POLL_MS);
  });
}

function refreshNow() {
  clearTimeout(timer);
  loop();
}

async function poll() {
  if (inFlight || api === null) return;
  inFlight = true;
  try {
    let sessions;
    try {
      if (only) {
        const data = await api.json("GET", "sessions/" + seg(only));
        sessions = [data.session];
      } else {
        const data = await api.json("GET", "sessions");
        sessions = Array.isArray(data.sessions) ? data.sessions : [];
      }
    } catch (err) {
      if (err instanceof APIError && (err.status === 401 || err.status === 403 || (only && err.status === 404) || (only && err.status === 400))) {
        const hint = !only && err.status === 403 ? " (a session key also needs its session id)" : "";
        signOut(err.message + hint);
        return;
      }
      throw err;
    }
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
  const td = tr.cells[i];
  if (cls) td.className = cls;
  return td;
}

function render(sessions) {
  const tbody = $("sessions").tBodies[0];
  const seen = new Set();
  sessions.forEach((s) => {
    seen.add(s.id);
    sessionsById.set(s.id, s);
    let tr = tbody.querySelector('tr[data-id="' + CSS.escape(s.id) + '"]');
    if (!tr) {
      tr = tbody.insertRow();
      tr.dataset.id = s.id;
    }
    tbody.appendChild(tr); // keep the API's order
    cell(tr, 0, "name").textContent = s.name;
    const badge = h("span", { class: "state state-" + s.state, title: s.lastError || null }, s.state);
    cell(tr, 1, "state-cell").replaceChildren(badge);
    cell(tr, 2, "phone").textContent = s.phone || "";
    cell(tr, 3, "id").textContent = s.id;
    cell(tr, 4, "created").textContent = s.createdAt ? new Date(s.createdAt).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "";
    const actions = cell(tr, 5, "actions");
    if (actions.dataset.for !== s.state) { // rebuilt on a state change only, so focus stays put
      actions.dataset.for = s.state;
      actions.replaceChildren(h("div", { class: "row-actions" }, ...actionButtons(s)));
    }
    tr.dataset.state = s.state;
    tr.classList.toggle("open", !!(inbox && inbox.session && inbox.session.id === s.id));

    const before = states.get(s.id);
    if (before !== undefined && before !== s.state) {
      tr.classList.remove("changed");
      void tr.offsetWidth; // restart the highlight animation
      tr.classList.add("changed");
      tr.dataset.previousState = before;
      logChange(s, before);
      if (s.state !== "qr_ready" && s.state !== "pairing") pairCodes.delete(s.id);
    }
    states.set(s.id, s.state);
  });
  Array.from(tbody.rows).forEach((tr) => {
    if (!seen.has(tr.dataset.id)) {
      states.delete(tr.dataset.id);
      sessionsById.delete(tr.dataset.id);
      if (inbox && inbox.session && inbox.session.id === tr.dataset.id) inbox.close();
      tr.remove();
    }
  });
  $("empty").hidden = sessions.length > 0;
  $("sessions").hidden = sessions.length === 0;
}

function actionButtons(s) {
  const b = (label, action, cls, title) => h("button", {
    type: "button", class: "act-" + action + (cls ? " " + cls : ""), dataset: { action: action },
    "aria-label": (title || label) + " " + s.name, onclick: () => lifecycle(s.id, action),
  }, label);
  const linked = s.state === "connected" || s.state === "disconnected";
  const stopped = s.state === "stopped" || s.state === "logged_out" || s.state === "failed";
  return [
    b("Inbox", "inbox", "primary", "Open the inbox of"),
    stopped ? b("Start", "start") : b("Stop", "stop"),
    b("Restart", "restart"),
    s.state === "qr_ready" || s.state === "starting" || s.state === "pairing" ? b("Pair by code", "pair", null, "Get a pairing code for") : null,
    linked ? b("Log out", "logout", null, "Log out") : null,
    b("Delete", "delete", "danger"),
  ].filter(Boolean);
}

async function lifecycle(id, action) {
  const s = sessionsById.get(id) || { id: id, name: id };
  const path = "sessions/" + seg(id);
  try {
    if (action === "inbox") {
      inbox.open(s);
      document.querySelectorAll("#sessions tr").forEach((tr) => tr.classList.toggle("open", tr.dataset.id === id));
      $("inbox").scrollIntoView({ block: "start" });
      return;
    }
    if (action === "delete") {
      const ok = await ask({ label: "Delete session " + s.name + "?", text: "It is logged out of WhatsApp and every stored datum (keys, messages, webhooks) is removed. This cannot be undone.", input: false, ok: "Delete session", danger: true });
      if (ok === null) return;
      await api.json("DELETE", path);
      if (inbox.session && inbox.session.id === id) inbox.close();
      setStatus("Deleted " + s.name);
    } else if (action === "logout") {
      const ok = await ask({ label: "Log " + s.name + " out of WhatsApp?", text: "The device is unlinked; Start links it again with a new QR code.", input: false, ok: "Log out", danger: true });
      if (ok === null) return;
      await api.json("POST", path + "/logout");
      setStatus("Logged out " + s.name);
    } else if (action === "pair") {
      const phone = await ask({ label: "Phone number of the account (with country code)", placeholder: "919988066776", ok: "Get code" });
      if (phone === null || !phone.trim()) return;
      const res = await api.json("POST", path + "/pair-code", { phone: phone.trim() });
      pairCodes.set(id, { code: res.code, phone: res.phone || phone.trim() });
      setStatus("Pairing code for " + s.name + ": " + res.code);
    } else {
      const res = await api.json("POST", path + "/" + action);
      setStatus((res && res.message) || action + " " + s.name);
    }
    refreshNow();
  } catch (err) {
    setStatus(s.name + ": " + err.message, true);
  }
}

function logChange(s, before) {
  const li = h("li", { class: "change", dataset: { id: s.id } },
    new Date().toLocaleTimeString() + "  " + s.name + ": " + before + " → " + s.state);
  const list = $("changes");
  list.insertBefore(li, list.firstChild);
  while (list.children.length > 50) list.lastChild.remove();
}

// QR and pairing codes ------------------------------------------------------

async function refreshQRs(sessions) {
  const waiting = new Set();
  const jobs = [];
  sessions.forEach((s) => {
    const pc = pairCodes.get(s.id);
    if (s.state !== "qr_ready" && !pc) return;
    waiting.add(s.id);
    const c = cards.get(s.id) || addCard(s);
    c.title.textContent = s.name;
    if (pc) {
      showPairCode(c, pc);
    } else if (Date.now() - c.fetchedAt >= QR_MS) {
      jobs.push(fetchQR(s, c));
    }
  });
  cards.forEach((c, id) => {
    if (!waiting.has(id)) {
      removeCard(c);
      cards.delete(id);
    }
  });
  await Promise.all(jobs);
}

function addCard(s) {
  const title = h("h3", {});
  const note = h("p", {}, "Waiting for the QR code…");
  const el = h("div", { class: "qr", dataset: { id: s.id } }, title, note);
  $("qrs").appendChild(el);
  const c = { el: el, title: title, note: note, img: null, code: null, pair: null, url: null, fetchedAt: 0, mode: "png" };
  cards.set(s.id, c);
  return c;
}

function removeCard(c) {
  if (c.url) URL.revokeObjectURL(c.url);
  c.el.remove();
}

function retryLater(c, res) {
  const after = Number(res.headers.get("Retry-After"));
  if (after > 0) c.fetchedAt = Date.now() - QR_MS + after * 1000;
}

async function fetchQR(s, c) {
  c.fetchedAt = Date.now();
  const path = "sessions/" + seg(s.id) + "/qr";
  try {
    if (c.mode === "png") {
      const res = await api.fetch(path + "?format=png", { headers: { "Accept": "image/png" } });
      const type = res.headers.get("Content-Type") || "";
      if (res.ok && type.indexOf("image/png") === 0) {
        showImage(s, c, await res.blob());
        return;
      }
      if (res.status === 429) { retryLater(c, res); return; }
      if (res.status === 409) return; // between two codes; try again next round
      c.mode = "text"; // no PNG from this server: show the raw string instead
    }
    const res2 = await api.fetch(path);
    if (res2.status === 429) { retryLater(c, res2); return; }
    const body = await res2.json().catch(() => null);
    if (res2.ok && body && typeof body.qr === "string") showText(c, body.qr);
  } catch (err) {
    c.note.textContent = "Could not load the QR code: " + err.message;
  }
}

function clearCard(c) {
  if (c.img) { c.img.remove(); c.img = null; }
  if (c.code) { c.code.remove(); c.code = null; }
  if (c.pair) { c.pair.remove(); c.pair = null; }
  if (c.url) { URL.revokeObjectURL(c.url); c.url = null; }
}

function showImage(s, c, blob) {
  const url = URL.createObjectURL(blob);
  if (c.code || c.pair) clearCard(c);
  if (!c.img) {
    c.img = h("img", { width: 256, height: 256 });
    c.el.insertBefore(c.img, c.note);
  }
  c.img.alt = "QR code to link " + s.name;
  c.img.src = url;
  if (c.url) URL.revokeObjectURL(c.url);
  c.url = url;
  c.el.dataset.qr = "png";
  c.note.textContent = "Scan it in WhatsApp → Linked devices → Link a device. It refreshes by itself.";
}

function showText(c, qr) {
  if (c.img || c.pair) clearCard(c);
  if (!c.code) {
    c.code = h("code", {});
    c.el.insertBefore(c.code, c.note);
  }
  c.code.textContent = qr;
  c.el.dataset.qr = "text";
  c.note.textContent = "This server returned no PNG: render this string as a QR code and scan it.";
}

function showPairCode(c, pc) {
  if (c.img || c.code) clearCard(c);
  if (!c.pair) {
    c.pair = h("p", { class: "paircode" });
    c.el.insertBefore(c.pair, c.note);
  }
  c.pair.textContent = pc.code;
  c.el.dataset.qr = "code";
  c.note.textContent = "On the phone of +" + pc.phone.replace(/^\+/, "") + ": WhatsApp → Linked devices → Link with phone number, then type this code.";
}

// Create -----------------------------------------------------------------

$("create-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const name = $("create-name").value.trim();
  if (!name || !api) return;
  $("board-error").textContent = "";
  try {
    const res = await api.json("POST", "sessions/create", { name: name });
    $("create-name").value = "";
    $("created-name").textContent = res.session.name;
    $("created-key").textContent = res.apiKey;
    $("created").hidden = false;
    $("created").dataset.session = res.session.id;
    refreshNow();
  } catch (err) {
    $("board-error").textContent = err.message;
  }
});
$("created-copy").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText($("created-key").textContent);
    $("created-copy").textContent = "Copied";
  } catch (e) {
    window.getSelection().selectAllChildren($("created-key"));
  }
});
$("created-close").addEventListener("click", () => {
  $("created-key").textContent = ""; // the key is not kept on the page
  $("created").hidden = true;
  $("created-copy").textContent = "Copy";
});

// A session.state event on the stream refreshes the list at once.
document.addEventListener("wagate:session", () => refreshNow());

$("login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const c = { key: $("key").value.trim(), session: $("login-session").value.trim() };
  if (!c.key) return;
  remember(c);
  $("key").value = "";
  start(c);
});
$("signout").addEventListener("click", () => signOut(""));

(async function boot() {
  await loadFeatures();
  let stored = takeKeyFromFragment();
  if (!stored) {
    try {
      const k = sessionStorage.getItem(STORAGE_KEY);
      if (k) stored = { key: k, session: sessionStorage.getItem(STORAGE_SESSION) || "" };
    } catch (e) { /* ignore */ }
  }
  if (stored) start(stored); else showLogin("");
})();
