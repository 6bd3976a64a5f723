// wagate dashboard: DOM helpers. Everything is built with createElement and
// textContent: text from WhatsApp or the API is never parsed as HTML.

export const $ = (id) => document.getElementById(id);

/**
 * h("button", {class: "x", type: "button", onclick: fn, dataset: {id: 1}}, "text", child)
 * builds an element; attributes with a false/null value are left out.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/**
 * ask({label, value, text, ok, input}) opens the page's dialog and resolves
 * to the typed string (or "" when input is false) on OK, or null on cancel.
 */
export function ask(o) {
  const dlg = $("ask");
  const input = $("ask-input");
  $("ask-label").textContent = o.label || "";
  $("ask-text").textContent = o.text || "";
  $("ask-ok").textContent = o.ok || "OK";
  $("ask-ok").classList.toggle("danger", !!o.danger);
  input.hidden = o.input === false;
  input.value = o.value || "";
  input.placeholder = o.placeholder || "";
  return new Promise((resolve) => {
    dlg.addEventListener("close", function done() {
      dlg.removeEventListener("close", done);
      resolve(dlg.returnValue === "ok" ? (o.input === false ? "" : input.value) : null);
    });
    dlg.returnValue = "";
    dlg.showModal();
    if (o.input !== false) input.focus();
    else $("ask-ok").focus();
  });
}

/** A short local time, or the date and time when not today. */
export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const now = new Date();
  if (d.toDateString() === now.toDateString()) {
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  return d.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

/** The phone part of a JID, for display. */
export function shortJid(jid) {
  if (!jid) return "";
  const at = jid.indexOf("@");
  const user = at < 0 ? jid : jid.slice(0, at);
  const server = at < 0 ? "" : jid.slice(at + 1);
  if (server === "s.whatsapp.net") return "+" + user.split(":")[0];
  return user;
}

export function isGroup(jid) {
  return typeof jid === "string" && jid.endsWith("@g.us");
}
