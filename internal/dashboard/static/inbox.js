// wagate dashboard: one session's inbox. The chat list (inbox, unread,
// groups, archived), the thread of the selected chat with media previews,
// the composer (text, image, and document when the server's spec has
// sendDocument), the chat and message actions, and the webhook deliveries.
// Opening an unread chat marks it read (POST .../read: read receipts).
//
// It is live through GET /sessions/{id}/events/stream; when the server has
// no stream (404) it polls the chat list and the open thread every 3 s.
import { EventStream, seg } from "./api.js";
import { $, h, ask, when, shortJid, isGroup } from "./ui.js";

const POLL_MS = 3000;
const PAGE = 100;
const REACTIONS = ["👍", "❤️", "😂", "😮", "🙏"];

export class Inbox {
  /**
   * @param {API} api
   * @param {{sendDocument: null|{path: string, field: string}}} features
   * @param {(text: string, isError?: boolean) => void} status
   */
  constructor(api, features, status) {
    this.api = api;
    this.features = features;
    this.status = status;
    this.session = null;
    this.filter = "inbox";
    this.chats = new Map(); // jid -> Chat
    this.chat = null; // the open chat's jid
    this.messages = new Map(); // id -> Message (open chat)
    this.nodes = new Map(); // id -> {key, node}: the rendered messages
    this.media = new Map(); // message id -> Promise of its blob URL
    this.replyTo = null;
    this.attachment = null; // {kind, file}
    this.stream = null;
    this.pollTimer = null;
    this.refreshTimer = null;
    this.threadTimer = null;
    this.mode = "off";
    this.bind();
  }

  bind() {
    document.querySelectorAll("#pane-chats .filter").forEach((b) => {
      b.addEventListener("click", () => this.setFilter(b.dataset.filter));
    });
    $("tab-chats").addEventListener("click", () => this.showTab("chats"));
    $("tab-deliveries").addEventListener("click", () => this.showTab("deliveries"));
    $("inbox-close").addEventListener("click", () => this.close());
    $("chat-archive").addEventListener("click", () => this.chatAction("archive"));
    $("chat-unarchive").addEventListener("click", () => this.chatAction("unarchive"));
    $("chat-unread").addEventListener("click", () => this.chatAction("unread"));
    $("chat-delete").addEventListener("click", () => this.deleteChat());
    $("composer").addEventListener("submit", (ev) => { ev.preventDefault(); this.send(); });
    $("compose-text").addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); this.send(); }
    });
    $("replying-cancel").addEventListener("click", () => this.setReply(null));
    $("attach-image").addEventListener("click", () => $("file-image").click());
    $("attach-document").addEventListener("click", () => $("file-document").click());
    $("file-image").addEventListener("change", (ev) => this.attach("image", ev.target));
    $("file-document").addEventListener("change", (ev) => this.attach("document", ev.target));
    $("attachment-cancel").addEventListener("click", () => this.setAttachment(null));
    $("deliveries-refresh").addEventListener("click", () => this.loadDeliveries());
    $("delivery-status").addEventListener("change", () => this.loadDeliveries());
    $("deliveries-redeliver-dead").addEventListener("click", () => this.redeliverDead());
  }

  base() {
    return "sessions/" + seg(this.session.id);
  }

  /** Opens the inbox of session s ({id, name}). */
  open(s) {
    if (this.session && this.session.id === s.id) return;
    this.close();
    this.session = s;
    $("inbox-session").textContent = "· " + s.name;
    $("inbox").hidden = false;
    $("inbox").dataset.session = s.id;
    $("attach-document").hidden = !this.features.sendDocument;
    this.showTab("chats");
    this.loadChats();
    this.stream = new EventStream(this.api, this.base() + "/events/stream", {
      onEvent: (type, env) => this.onEvent(type, env),
      onMode: (mode) => this.setMode(mode),
    });
  }

  close() {
    if (this.stream) this.stream.close();
    this.stream = null;
    clearTimeout(this.pollTimer);
    clearTimeout(this.refreshTimer);
    clearTimeout(this.threadTimer);
    this.session = null;
    this.chat = null;
    this.chats.clear();
    this.clearThread();
    $("chat-list").replaceChildren();
    $("deliveries").tBodies[0].replaceChildren();
    $("inbox").hidden = true;
    delete $("inbox").dataset.session;
    this.setMode("off");
  }

  setMode(mode) {
    this.mode = mode;
    const live = $("live");
    live.dataset.mode = mode;
    live.textContent = { stream: "live", reconnecting: "reconnecting…", unavailable: "polling every 3 s", off: "offline" }[mode] || mode;
    live.title = mode === "unavailable" ? "This server has no event stream: the inbox refreshes itself every 3 seconds." : "";
    clearTimeout(this.pollTimer);
    if (mode === "unavailable") this.schedulePoll();
    if (mode === "stream") this.reload(); // whatever happened before the stream was live
  }

  reload() {
    this.refreshChatsSoon();
    if (this.chat) this.refreshThreadSoon();
  }

  schedulePoll() {
    this.pollTimer = setTimeout(async () => {
      if (!this.session || this.mode !== "unavailable") return;
      await this.loadChats();
      if (this.chat) await this.loadThread();
      this.schedulePoll();
    }, POLL_MS);
  }

  // Events -----------------------------------------------------------------

  onEvent(type, env) {
    if (!this.session || (env.sessionId && env.sessionId !== this.session.id)) return;
    const data = env.data || {};
    if (type === "stream.reset") {
      // The server could not resume after our last event: reload from the REST API.
      this.reload();
      return;
    }
    if (type.indexOf("message") === 0 && type !== "message.receipt" && data.id && data.chatJid) {
      if (this.isOpen(data.chatJid)) {
        this.messages.set(data.id, data);
        this.renderThread();
      }
      this.refreshChatsSoon();
    } else if (type === "message.receipt") {
      if (data.chatJid && this.isOpen(data.chatJid)) this.refreshThreadSoon();
    } else if (type.indexOf("chat.") === 0) {
      this.refreshChatsSoon();
    }
    if (type === "session.state" || type === "session.qr") {
      document.dispatchEvent(new CustomEvent("wagate:session", { detail: env }));
    }
  }

  isOpen(jid) {
    if (!this.chat) return false;
    if (jid === this.chat) return true;
    const c = this.chats.get(this.chat);
    return !!(c && c.jid === jid);
  }

  refreshChatsSoon() {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.loadChats(), 150);
  }

  refreshThreadSoon() {
    clearTimeout(this.threadTimer);
    this.threadTimer = setTimeout(() => this.loadThread(), 150);
  }

  // Chats ------------------------------------------------------------------

  setFilter(f) {
    this.filter = f;
    document.querySelectorAll("#pane-chats .filter").forEach((b) => {
      b.setAttribute("aria-pressed", String(b.dataset.filter === f));
    });
    this.loadChats();
  }

  async loadChats() {
    if (!this.session) return;
    const session = this.session;
    let q = "?limit=" + PAGE;
    if (this.filter === "inbox") q += "&archived=false";
    if (this.filter === "archived") q += "&archived=true";
    if (this.filter === "unread") q += "&unread=true";
    try {
      const data = await this.api.json("GET", this.base() + "/chats" + q);
      if (this.session !== session) return;
      let chats = data.chats || [];
      if (this.filter === "groups") chats = chats.filter((c) => isGroup(c.jid));
      this.renderChats(chats);
    } catch (err) {
      this.status("Chats: " + err.message, true);
    }
  }

  renderChats(chats) {
    const list = $("chat-list");
    const seen = new Set();
    chats.forEach((c) => {
      seen.add(c.jid);
      this.chats.set(c.jid, c);
      let li = list.querySelector('li[data-jid="' + CSS.escape(c.jid) + '"]');
      if (!li) {
        li = h("li", { class: "chat", dataset: { jid: c.jid } });
        li.append(h("button", { type: "button", class: "chat-open", onclick: () => this.openChat(c.jid) }));
      }
      list.append(li); // the API's order: most recent first
      const unread = c.unreadCount > 0 || c.markedUnread;
      li.dataset.archived = String(c.archived);
      li.dataset.unread = String(unread);
      li.dataset.group = String(isGroup(c.jid));
      li.classList.toggle("selected", c.jid === this.chat);
      const btn = li.firstChild;
      btn.setAttribute("aria-current", c.jid === this.chat ? "true" : "false");
      btn.replaceChildren(
        h("span", { class: "avatar", "aria-hidden": "true" }, initials(c)),
        h("span", { class: "chat-main" },
          h("span", { class: "chat-name" }, c.name || shortJid(c.jid)),
          h("span", { class: "chat-sub" },
            isGroup(c.jid) ? h("span", { class: "tag" }, "group") : null,
            c.archived ? h("span", { class: "tag" }, "archived") : null,
            h("span", { class: "jid" }, c.jid))),
        h("span", { class: "chat-side" },
          h("span", { class: "chat-time" }, when(c.lastMessageAt)),
          unread ? h("span", { class: "badge", "aria-label": c.unreadCount > 0 ? c.unreadCount + " unread" : "marked unread" },
            c.unreadCount > 0 ? String(c.unreadCount) : "•") : null));
    });
    Array.from(list.children).forEach((li) => { if (!seen.has(li.dataset.jid)) li.remove(); });
    $("chats-empty").hidden = chats.length > 0;
    if (this.chat) this.renderChatHead();
  }

  async openChat(jid) {
    this.chat = jid;
    this.clearThread();
    $("thread-none").hidden = true;
    $("thread-main").hidden = false;
    $("thread").dataset.chat = jid;
    document.querySelectorAll("#chat-list li").forEach((li) => {
      li.classList.toggle("selected", li.dataset.jid === jid);
      li.firstChild.setAttribute("aria-current", li.dataset.jid === jid ? "true" : "false");
    });
    this.renderChatHead();
    await this.loadThread();
    $("compose-text").focus();
    const c = this.chats.get(jid);
    if (c && (c.unreadCount > 0 || c.markedUnread)) await this.markRead(jid);
  }

  // markRead sends the read receipts of an opened chat's unread messages
  // (POST .../read: the contact sees the blue ticks) and clears its badge.
  async markRead(jid) {
    const session = this.session;
    try {
      await this.api.json("POST", this.base() + "/chats/" + seg(jid) + "/read");
      if (this.session !== session) return;
      const c = this.chats.get(jid);
      if (c) { c.unreadCount = 0; c.markedUnread = false; }
      if (this.chat === jid) $("thread").dataset.read = jid;
      await this.loadChats();
    } catch (err) {
      this.status("Mark read: " + err.message, true);
    }
  }

  renderChatHead() {
    const c = this.chats.get(this.chat) || { jid: this.chat, archived: false };
    $("thread-title").textContent = c.name || shortJid(c.jid);
    $("thread-jid").textContent = c.jid;
    $("chat-archive").hidden = !!c.archived;
    $("chat-unarchive").hidden = !c.archived;
  }

  async chatAction(action) {
    const jid = this.chat;
    if (!jid) return;
    try {
      const res = await this.api.json("POST", this.base() + "/chats/" + seg(jid) + "/" + action);
      this.status(res.message || "Done");
      const c = this.chats.get(jid);
      if (c && action === "archive") c.archived = true;
      if (c && action === "unarchive") c.archived = false;
      if (c && action === "unread") c.markedUnread = true;
      this.renderChatHead();
      $("thread").dataset.lastAction = action;
      await this.loadChats();
    } catch (err) {
      this.status(err.message, true);
    }
  }

  async deleteChat() {
    const jid = this.chat;
    if (!jid) return;
    const ok = await ask({ label: "Delete this chat?", text: "Every message of " + jid + " is removed from the linked device. This cannot be undone.", input: false, ok: "Delete chat", danger: true });
    if (ok === null) return;
    try {
      await this.api.json("DELETE", this.base() + "/chats/" + seg(jid));
      this.status("Chat deleted");
      this.chat = null;
      this.clearThread();
      await this.loadChats();
    } catch (err) {
      this.status(err.message, true);
    }
  }

  // Thread -----------------------------------------------------------------

  clearThread() {
    delete $("thread").dataset.read;
    this.messages.clear();
    this.nodes.clear();
    this.media.forEach((url) => url.then((u) => URL.revokeObjectURL(u), () => {}));
    this.media.clear();
    this.setReply(null);
    this.setAttachment(null);
    $("messages").replaceChildren();
    $("composer-error").textContent = "";
    $("thread-none").hidden = !!this.chat;
    $("thread-main").hidden = !this.chat;
    if (!this.chat) delete $("thread").dataset.chat;
  }

  async loadThread() {
    const jid = this.chat;
    if (!jid || !this.session) return;
    try {
      const data = await this.api.json("GET", this.base() + "/chats/" + seg(jid) + "/messages?limit=" + PAGE);
      if (this.chat !== jid) return;
      const fresh = new Map();
      (data.messages || []).forEach((m) => fresh.set(m.id, m));
      // Keep messages that arrived through the stream meanwhile.
      this.messages.forEach((m, id) => { if (!fresh.has(id)) fresh.set(id, m); });
      this.messages = fresh;
      this.renderThread();
    } catch (err) {
      this.status("Messages: " + err.message, true);
    }
  }

  renderThread() {
    const list = $("messages");
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    const sorted = Array.from(this.messages.values()).sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0));
    // Unchanged messages keep their node, and nodes already in place are not
    // moved, so focus and hover survive a refresh.
    const nodes = sorted.map((m) => {
      const key = JSON.stringify(m) + (this.messages.has(m.quotedMessageId) ? "q" : "");
      const old = this.nodes.get(m.id);
      if (old && old.key === key) return old.node;
      const node = this.renderMessage(m);
      this.nodes.set(m.id, { key: key, node: node });
      return node;
    });
    nodes.forEach((node, i) => {
      if (list.children[i] !== node) list.insertBefore(node, list.children[i] || null);
    });
    while (list.children.length > nodes.length) list.lastChild.remove();
    if (atBottom || list.dataset.rendered !== this.chat) list.scrollTop = list.scrollHeight;
    list.dataset.rendered = this.chat;
  }

  renderMessage(m) {
    const li = h("li", {
      class: "msg " + (m.fromMe ? "out" : "in") + (m.revoked ? " revoked" : ""),
      dataset: { id: m.id, type: m.type, fromMe: String(m.fromMe) },
    });
    const bubble = h("div", { class: "bubble" });
    if (!m.fromMe && isGroup(m.chatJid)) bubble.append(h("div", { class: "sender" }, shortJid(m.sender)));
    if (m.quotedMessageId) {
      const q = this.messages.get(m.quotedMessageId);
      bubble.append(h("div", { class: "quote" }, q ? (q.text || "[" + q.type + "]") : "↩ a message"));
    }
    if (m.revoked) {
      bubble.append(h("p", { class: "text deleted" }, "This message was deleted"));
    } else {
      if (m.mimeType) bubble.append(this.renderMedia(m));
      if (m.text) bubble.append(h("p", { class: "text" }, m.text));
      else if (!m.mimeType && m.type !== "text") bubble.append(h("p", { class: "text muted" }, "[" + m.type + "]"));
    }
    const meta = h("div", { class: "meta" },
      m.pinnedUntil && new Date(m.pinnedUntil) > new Date() ? h("span", { class: "pinned", title: "Pinned until " + new Date(m.pinnedUntil).toLocaleString() }, "pinned") : null,
      m.starred ? h("span", { class: "starred", title: "Starred" }, "★") : null,
      m.edited ? h("span", { class: "edited" }, "edited") : null,
      h("time", { datetime: m.timestamp }, when(m.timestamp)));
    bubble.append(meta);
    if (m.reactions && m.reactions.length) {
      bubble.append(h("div", { class: "reactions" },
        ...m.reactions.map((r) => h("span", { class: "reaction", title: shortJid(r.sender) }, r.emoji))));
    }
    li.append(bubble);
    if (!m.revoked) li.append(this.renderMessageActions(m));
    return li;
  }

  renderMessageActions(m) {
    const act = (label, cls, fn, title) => h("button", { type: "button", class: "act " + cls, "aria-label": title || label, title: title || label, onclick: fn }, label);
    const pinned = m.pinnedUntil && new Date(m.pinnedUntil) > new Date();
    return h("div", { class: "msg-actions", role: "group", "aria-label": "Message actions" },
      act("Reply", "reply", () => this.setReply(m)),
      act("React", "react", () => this.react(m)),
      act(m.starred ? "Unstar" : "Star", "star", () => this.messageAction(m, "star", { star: !m.starred })),
      act(pinned ? "Unpin" : "Pin", "pin", () => this.messageAction(m, pinned ? "unpin" : "pin", pinned ? undefined : { duration: "24h" }), pinned ? "Unpin" : "Pin for 24 h"),
      m.fromMe && m.type === "text" ? act("Edit", "edit", () => this.edit(m)) : null,
      m.fromMe ? act("Delete", "delete", () => this.deleteMessage(m), "Delete for everyone") : null);
  }

  renderMedia(m) {
    const box = h("div", { class: "media" });
    const path = this.base() + "/chats/" + seg(m.chatJid) + "/messages/" + seg(m.id) + "/media";
    const isImage = m.mimeType.indexOf("image/") === 0 || m.type === "sticker";
    if (isImage) {
      const img = h("img", { alt: m.text ? "Image: " + m.text : "Image", class: "preview" });
      box.append(img);
      // One download per message, shared by every render of it.
      let url = this.media.get(m.id);
      if (!url) {
        url = this.api.blob(path, m.mimeType).then((blob) => URL.createObjectURL(blob));
        this.media.set(m.id, url);
        url.catch(() => this.media.delete(m.id));
      }
      box.classList.add("loading");
      url.then((u) => {
        img.src = u;
        box.classList.remove("loading");
      }).catch((err) => {
        box.classList.remove("loading");
        box.replaceChildren(h("span", { class: "muted" }, "Image unavailable: " + err.message));
      });
    } else {
      box.append(h("button", { type: "button", class: "download", onclick: () => this.download(path, m) }, "⬇ " + m.type + " (" + m.mimeType + ")"));
    }
    return box;
  }

  async download(path, m) {
    try {
      const blob = await this.api.blob(path, m.mimeType);
      const url = URL.createObjectURL(blob);
      const a = h("a", { href: url, download: m.id });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) {
      this.status("Download: " + err.message, true);
    }
  }

  async messageAction(m, action, body) {
    try {
      const res = await this.api.json("POST", this.base() + "/chats/" + seg(m.chatJid) + "/messages/" + seg(m.id) + "/" + action, body);
      this.status(res.message || "Done");
      await this.loadThread();
    } catch (err) {
      this.status(err.message, true);
    }
  }

  async react(m) {
    const emoji = await ask({ label: "React with an emoji (empty removes your reaction)", value: REACTIONS[0], placeholder: REACTIONS.join(" ") });
    if (emoji === null) return;
    try {
      const res = await this.api.json("PUT", this.base() + "/messages/" + seg(m.id) + "/reaction", { chatId: m.chatJid, emoji: emoji.trim() });
      this.status(res.message || "Done");
      await this.loadThread();
    } catch (err) {
      this.status(err.message, true);
    }
  }

  async edit(m) {
    const text = await ask({ label: "Edit the message", value: m.text || "", ok: "Save" });
    if (text === null || !text.trim()) return;
    try {
      const res = await this.api.json("PUT", this.base() + "/chats/" + seg(m.chatJid) + "/messages/" + seg(m.id), { text: text });
      this.status(res.message || "Edited");
      await this.loadThread();
    } catch (err) {
      this.status(err.message, true);
    }
  }

  async deleteMessage(m) {
    const ok = await ask({ label: "Delete this message for everyone?", text: m.text || "", input: false, ok: "Delete", danger: true });
    if (ok === null) return;
    try {
      const res = await this.api.json("DELETE", this.base() + "/chats/" + seg(m.chatJid) + "/messages/" + seg(m.id));
      this.status(res.message || "Deleted");
      await this.loadThread();
    } catch (err) {
      this.status(err.message, true);
    }
  }

  // Composer ---------------------------------------------------------------

  setReply(m) {
    this.replyTo = m;
    $("replying").hidden = !m;
    $("replying-text").textContent = m ? (m.text || "[" + m.type + "]").slice(0, 80) : "";
    if (m) $("compose-text").focus();
  }

  attach(kind, input) {
    const file = input.files && input.files[0];
    input.value = "";
    if (file) this.setAttachment({ kind: kind, file: file });
  }

  setAttachment(a) {
    this.attachment = a;
    $("attachment").hidden = !a;
    $("attachment-name").textContent = a ? (a.kind === "image" ? "🖼 " : "📄 ") + a.file.name + " (" + Math.ceil(a.file.size / 1024) + " KiB)" : "";
  }

  async send() {
    const jid = this.chat;
    if (!jid) return;
    const textEl = $("compose-text");
    const text = textEl.value;
    const a = this.attachment;
    if (!a && !text.trim()) return;
    $("compose-send").disabled = true;
    $("composer-error").textContent = "";
    try {
      let res;
      const idem = { "Idempotency-Key": crypto.randomUUID() };
      if (!a) {
        const body = { to: jid, text: text };
        if (this.replyTo) body.quotedMessageId = this.replyTo.id;
        res = await this.post(this.base() + "/send", body, idem);
      } else {
        const data = await readDataURL(a.file);
        if (a.kind === "image") {
          const body = { to: jid, image: data, filename: a.file.name };
          if (["image/jpeg", "image/png", "image/webp"].indexOf(a.file.type) >= 0) body.mimeType = a.file.type;
          if (text.trim()) body.caption = text;
          res = await this.post(this.base() + "/send/image", body, idem);
        } else {
          const doc = this.features.sendDocument;
          const body = { to: jid, filename: a.file.name };
          body[doc.field] = data;
          if (a.file.type) body.mimeType = a.file.type;
          if (text.trim()) body.caption = text;
          res = await this.post(doc.path.replace("{id}", seg(this.session.id)).replace(/^\//, ""), body, idem);
        }
      }
      textEl.value = "";
      this.setReply(null);
      this.setAttachment(null);
      this.status("Sent " + res.messageId);
      $("thread").dataset.lastSent = res.messageId;
      await this.loadThread();
      this.refreshChatsSoon();
    } catch (err) {
      $("composer-error").textContent = err.message;
    } finally {
      $("compose-send").disabled = false;
    }
  }

  async post(path, body, headers) {
    const res = await this.api.fetch(path, {
      method: "POST",
      body: JSON.stringify(body),
      headers: Object.assign({ "Content-Type": "application/json" }, headers),
    });
    const data = await res.json().catch(() => null);
    if (!res.ok) throw new Error((data && data.error) || "HTTP " + res.status);
    return data;
  }

  // Deliveries -------------------------------------------------------------

  showTab(tab) {
    const chats = tab === "chats";
    $("tab-chats").setAttribute("aria-selected", String(chats));
    $("tab-deliveries").setAttribute("aria-selected", String(!chats));
    $("pane-chats").hidden = !chats;
    $("pane-deliveries").hidden = chats;
    if (!chats) this.loadDeliveries();
  }

  async loadDeliveries() {
    if (!this.session) return;
    const st = $("delivery-status").value;
    try {
      const data = await this.api.json("GET", this.base() + "/webhook-deliveries?limit=" + PAGE + (st ? "&status=" + seg(st) : ""));
      const rows = (data.deliveries || []).map((d) => h("tr", { dataset: { id: d.id, status: d.status } },
        h("td", {}, when(d.createdAt)),
        h("td", { class: "event" }, d.eventType),
        h("td", { class: "url" }, d.url),
        h("td", {}, h("span", { class: "dstate dstate-" + d.status }, d.status)),
        h("td", {}, String(d.attempts)),
        h("td", { class: "answer" }, d.lastError ? d.lastError : d.lastStatusCode ? "HTTP " + d.lastStatusCode + (d.lastLatencyMs != null ? " · " + d.lastLatencyMs + " ms" : "") : "—"),
        h("td", {}, h("button", { type: "button", class: "redeliver", onclick: () => this.redeliver(d) }, "Redeliver"))));
      $("deliveries").tBodies[0].replaceChildren(...rows);
      $("deliveries-empty").hidden = rows.length > 0;
      $("deliveries").hidden = rows.length === 0;
    } catch (err) {
      $("deliveries-note").textContent = err.message;
    }
  }

  async redeliver(d) {
    try {
      await this.api.json("POST", this.base() + "/webhook-deliveries/" + seg(d.id) + "/redeliver");
      $("deliveries-note").textContent = "Delivery " + d.id + " scheduled again.";
      await this.loadDeliveries();
    } catch (err) {
      $("deliveries-note").textContent = err.message;
    }
  }

  async redeliverDead() {
    try {
      const res = await this.api.json("POST", this.base() + "/webhook-deliveries/redeliver-dead");
      $("deliveries-note").textContent = res.scheduled + " dead deliveries scheduled again.";
      await this.loadDeliveries();
    } catch (err) {
      $("deliveries-note").textContent = err.message;
    }
  }
}

function initials(c) {
  const name = (c.name || "").trim();
  if (name) return name.split(/\s+/).slice(0, 2).map((w) => w[0]).join("").toUpperCase();
  return shortJid(c.jid).replace("+", "").slice(-2);
}

function readDataURL(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(r.result);
    r.onerror = () => reject(r.error || new Error("cannot read the file"));
    r.readAsDataURL(file);
  });
}
