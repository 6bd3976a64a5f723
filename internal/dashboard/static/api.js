// wagate dashboard: the API client and the live event stream.
//
// The key is sent only in the X-API-Key header, never in a URL. Paths are
// relative to /dashboard/, so wagate can sit behind a path prefix.

/** An API error: the HTTP status and the server's error text. */
export class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export class API {
  constructor(key) {
    this.key = key;
  }

  url(path) {
    return new URL("../" + path, window.location.href).toString();
  }

  fetch(path, init) {
    init = init || {};
    const headers = Object.assign({ "X-API-Key": this.key, "Accept": "application/json" }, init.headers || {});
    return fetch(this.url(path), {
      method: init.method || "GET",
      headers: headers,
      body: init.body,
      signal: init.signal,
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
    });
  }

  /** Calls the API and returns the JSON body; throws APIError on 4xx/5xx. */
  async json(method, path, body) {
    const init = { method: method };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { "Content-Type": "application/json" };
    }
    const res = await this.fetch(path, init);
    const data = await res.json().catch(() => null);
    if (!res.ok) {
      throw new APIError(res.status, (data && data.error) || "HTTP " + res.status);
    }
    return data;
  }

  /** Fetches a binary resource (media, QR PNG) and returns a Blob. */
  async blob(path, accept) {
    const res = await this.fetch(path, { headers: { "Accept": accept || "*/*" } });
    if (!res.ok) {
      const data = await res.json().catch(() => null);
      throw new APIError(res.status, (data && data.error) || "HTTP " + res.status);
    }
    return res.blob();
  }
}

/** Encodes one path segment. */
export function seg(s) {
  return encodeURIComponent(s);
}

// EventStream reads GET {path} as Server-Sent Events over fetch (so the key
// stays in a header), calls onEvent(type, envelope, id) for each event and
// reconnects with Last-Event-ID after a drop. onMode(mode) reports "stream"
// (live), "reconnecting" or "unavailable" (the server has no stream: 404 or
// 405 or 501; the caller falls back to polling).
export class EventStream {
  constructor(api, path, handlers) {
    this.api = api;
    this.path = path;
    this.onEvent = handlers.onEvent;
    this.onMode = handlers.onMode;
    this.lastId = null;
    this.ctrl = null;
    this.closed = false;
    this.delay = 1000;
    this.run();
  }

  close() {
    this.closed = true;
    if (this.ctrl) this.ctrl.abort();
  }

  async run() {
    while (!this.closed) {
      this.ctrl = new AbortController();
      const headers = { "Accept": "text/event-stream" };
      if (this.lastId) headers["Last-Event-ID"] = this.lastId;
      try {
        const res = await this.api.fetch(this.path, { headers: headers, signal: this.ctrl.signal });
        const type = res.headers.get("Content-Type") || "";
        if (res.status === 404 || res.status === 405 || res.status === 501 ||
            (res.ok && type.indexOf("text/event-stream") !== 0)) {
          this.onMode("unavailable");
          return;
        }
        if (!res.ok) throw new Error("HTTP " + res.status);
        this.onMode("stream");
        this.delay = 1000;
        await this.read(res.body);
      } catch (err) {
        if (this.closed) return;
      }
      if (this.closed) return;
      this.onMode("reconnecting");
      await new Promise((r) => setTimeout(r, this.delay));
      this.delay = Math.min(this.delay * 2, 15000);
    }
  }

  async read(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    let ev = { id: null, type: "message", data: [] };
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) return;
      buf += chunk.value;
      let nl;
      while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + (buf[nl] === "\r" && buf[nl + 1] === "\n" ? 2 : 1));
        if (line === "") {
          if (ev.data.length) this.dispatch(ev);
          ev = { id: null, type: "message", data: [] };
          continue;
        }
        if (line[0] === ":") continue; // comment: heartbeat
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value[0] === " ") value = value.slice(1);
        if (field === "id") ev.id = value;
        else if (field === "event") ev.type = value;
        else if (field === "data") ev.data.push(value);
      }
    }
  }

  // Control messages (stream.reset, stream.closed) carry no id and no
  // envelope type: they are passed on under their SSE event name.
  dispatch(ev) {
    if (ev.id) this.lastId = ev.id;
    let envelope;
    try {
      envelope = JSON.parse(ev.data.join("\n"));
    } catch (e) {
      return;
    }
    this.onEvent(envelope.type || ev.type, envelope, ev.id);
  }
}
