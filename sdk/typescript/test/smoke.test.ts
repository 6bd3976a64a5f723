// Smoke test against a live wagate (run it through `prism proxy --errors`
// to have every exchange checked against openapi.yaml; scripts/e2e-proxy.sh
// does that).
//
//   WAGATE_URL        base URL of the server (or of the proxy in front of it)
//   WAGATE_ADMIN_KEY  its admin key (wamk_...)
//   WAGATE_SANDBOX=1  the server runs in sandbox mode: also link the session
//                     with a simulated phone, send, archive, check the phone
//
// Without WAGATE_URL the whole file is skipped (it needs a server), unless
// WAGATE_SMOKE_REQUIRED=1, which makes a missing URL a failure.
import assert from "node:assert/strict";
import { randomInt, randomUUID } from "node:crypto";
import { after, afterEach, before, describe, it } from "node:test";
import type { Middleware } from "openapi-fetch";
import { createWagateClient, unwrap, type WagateClient } from "../src/index.js";

const baseUrl = process.env.WAGATE_URL;
const adminKey = process.env.WAGATE_ADMIN_KEY ?? "";
const sandbox = process.env.WAGATE_SANDBOX === "1";
const skip = baseUrl ? false : "WAGATE_URL is not set: no live wagate to test against";
if (!baseUrl && process.env.WAGATE_SMOKE_REQUIRED === "1") {
  throw new Error("WAGATE_SMOKE_REQUIRED=1 but WAGATE_URL is not set");
}

// Prism's validating proxy reports contract violations in an `sl-violations`
// header (and, with --errors, turns them into a 500 problem+json). Any of
// these fails the run, even for calls whose answer the test does not check.
// Prism also answers with a mock when the upstream says 501, so every
// request carries its own X-Request-Id, which wagate echoes: an answer
// without it did not come from wagate.
const violations: string[] = [];
const contractWatch: Middleware = {
  onRequest({ request }) {
    request.headers.set("X-Request-Id", `smoke-${randomUUID()}`);
    return request;
  },
  onResponse({ request, response }) {
    const where = `${request.method} ${new URL(request.url).pathname} -> ${response.status}`;
    const v = response.headers.get("sl-violations");
    if (v) violations.push(`${where}: ${v}`);
    if ((response.headers.get("content-type") ?? "").startsWith("application/problem+json")) {
      violations.push(`${where}: prism answered problem+json`);
    }
    if (response.headers.get("x-request-id") !== request.headers.get("x-request-id")) {
      violations.push(`${where}: not answered by wagate (no X-Request-Id echo; a Prism mock of a 501?)`);
    }
    if (violations.length > 0) {
      // Fail at the call site, with the reason, rather than on a made-up body.
      throw new Error(`contract check failed: ${violations.join("; ")}`);
    }
    return response;
  },
};

function client(apiKey: string): WagateClient {
  const c = createWagateClient({ baseUrl: baseUrl!, apiKey });
  c.use(contractWatch);
  return c;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually<T>(what: string | (() => string), timeoutMs: number, stepMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const w = typeof what === "function" ? what() : what;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${w}${last ? `: ${String(last)}` : ""}`);
    }
    await sleep(stepMs);
  }
}

const phone = () => `1555${String(randomInt(0, 10_000_000)).padStart(7, "0")}`;

describe("wagate smoke", { skip, timeout: 180_000 }, () => {
  let admin: WagateClient;
  let sessionId = "";
  let sessionKey = "";
  const contact = phone();
  const contactJid = `${contact}@s.whatsapp.net`;

  before(() => {
    assert.ok(adminKey.startsWith("wamk_"), "WAGATE_ADMIN_KEY must be an admin key (wamk_...)");
    admin = client(adminKey);
  });

  afterEach(() => {
    // Report a stray answer in the step that caused it.
    const fresh = violations.splice(0);
    assert.deepEqual(fresh, [], "responses that stray from openapi.yaml or did not come from wagate");
  });

  after(async () => {
    if (sessionId) {
      const { response } = await admin.DELETE("/sessions/{id}", { params: { path: { id: sessionId } } });
      assert.equal(response.status, 200, "delete the smoke session");
    }
    assert.deepEqual(violations, [], "responses that stray from openapi.yaml or did not come from wagate");
  });

  it("is healthy", async () => {
    const h = await unwrap(admin.GET("/healthz"));
    assert.equal(h.status, "ok");
  });

  it("creates a session with the admin key", async () => {
    const name = `smoke-${Date.now()}-${randomInt(0, 1e6)}`;
    const { data, error, response } = await admin.POST("/sessions/create", { body: { name, metadata: { from: "sdk-smoke" } } });
    assert.equal(response.status, 201, `create: ${error?.error}`);
    assert.ok(data);
    assert.match(data.apiKey, /^wask_[0-9a-f]{48}$/);
    assert.equal(data.session.name, name);
    sessionId = data.session.id;
    sessionKey = data.apiKey;

    // The same name again is a conflict.
    const again = await admin.POST("/sessions/create", { body: { name } });
    assert.equal(again.response.status, 409);
    assert.equal(again.error?.success, false);
  });

  it("enforces the key model", async () => {
    assert.ok(sessionId, "needs the session");
    const own = client(sessionKey);
    const got = await unwrap(own.GET("/sessions/{id}", { params: { path: { id: sessionId } } }));
    assert.equal(got.session.id, sessionId);

    const listed = await unwrap(admin.GET("/sessions"));
    assert.ok(listed.sessions.some((s) => s.id === sessionId), "admin list includes the new session");

    const foreign = await own.GET("/sessions/{id}", { params: { path: { id: "00000000-0000-4000-8000-000000000000" } } });
    assert.equal(foreign.response.status, 403);
    assert.equal(foreign.error?.error, "This API key can only access its own session");

    const anon = client("wask_" + "0".repeat(48));
    const bad = await anon.GET("/sessions/{id}", { params: { path: { id: sessionId } } });
    assert.equal(bad.response.status, 401);
  });

  describe("in sandbox mode", { skip: sandbox ? false : "WAGATE_SANDBOX is not 1" }, () => {
    let own: WagateClient;
    let messageId = "";
    const linkPhone = phone();

    before(() => {
      own = client(sessionKey);
    });

    it("shows a QR code, links with a simulated phone and reaches connected", async () => {
      assert.ok(sessionId, "needs the session");
      let seen = "";
      await eventually(() => `state qr_ready (last seen: ${seen})`, 30_000, 1_000, async () => {
        const s = await unwrap(own.GET("/sessions/{id}/status", { params: { path: { id: sessionId } } }));
        seen = s.session.state;
        return s.session.state === "qr_ready" ? s : undefined;
      });
      const qr = await unwrap(own.GET("/sessions/{id}/qr", { params: { path: { id: sessionId } } }));
      assert.ok(typeof qr === "object" && qr.qr.length > 10, "a JSON QR payload");

      const linked = await unwrap(
        admin.POST("/sandbox/sessions/{id}/link", { params: { path: { id: sessionId } }, body: { phone: linkPhone, method: "qr" } }),
      );
      assert.match(linked.jid, new RegExp(`^${linkPhone}[@:.]`));

      const st = await eventually(() => `state connected (last seen: ${seen})`, 30_000, 1_000, async () => {
        const s = await unwrap(own.GET("/sessions/{id}/status", { params: { path: { id: sessionId } } }));
        seen = s.session.state;
        return s.session.state === "connected" ? s : undefined;
      });
      assert.equal(st.session.phone ?? linkPhone, linkPhone);
    });

    it("sends a text that the contact's device decrypts", async () => {
      assert.ok(sessionId, "needs the session");
      const text = `hello from the TypeScript SDK ${randomInt(0, 1e9)}`;
      const sent = await unwrap(
        own.POST("/sessions/{id}/send", { params: { path: { id: sessionId } }, body: { to: contact, text } }),
      );
      assert.equal(sent.status, "sent");
      assert.equal(sent.to, contactJid);
      messageId = sent.messageId;

      const got = await eventually("the contact to receive it", 15_000, 500, async () => {
        const r = await unwrap(admin.GET("/sandbox/contacts/{phone}/messages", { params: { path: { phone: contact } } }));
        return r.messages.find((m) => m.id === messageId);
      });
      assert.equal(got.kind, "text");
      assert.equal(got.text, text);
    });

    it("archives the chat, and the phone sees it archived", async () => {
      assert.ok(messageId, "needs the sent message");
      const r = await unwrap(
        own.POST("/sessions/{id}/chats/{chatId}/archive", { params: { path: { id: sessionId, chatId: contact } } }),
      );
      assert.equal(r.jid, contactJid);
      assert.equal(r.message, "Chat archived successfully");

      const view = await eventually("the phone to show the chat archived", 15_000, 500, async () => {
        const v = await unwrap(admin.GET("/sandbox/sessions/{id}/phone", { params: { path: { id: sessionId } } }));
        return v.chats.find((c) => c.jid === contactJid && c.archived) ? v : undefined;
      });
      assert.ok(view.jid.startsWith(linkPhone));

      const chats = await unwrap(own.GET("/sessions/{id}/chats", { params: { path: { id: sessionId }, query: { archived: true } } }));
      assert.ok(chats.chats.some((c) => c.jid === contactJid && c.archived), "GET chats?archived=true lists it");
    });
  });
});
