// Compile-time checks: the typed client rejects calls that stray from the
// contract. Each @ts-expect-error must really be an error, or tsc fails with
// "Unused '@ts-expect-error' directive". The runtime part only checks that
// the client sends the key and the right URL, against a fake fetch.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createWagateClient, unwrap, WagateError, type SessionState } from "../src/index.js";

function fakeFetch(status: number, body: unknown, seen: Request[]): (input: Request) => Promise<Response> {
  return async (input: Request) => {
    seen.push(input);
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  };
}

test("types: the client only accepts the contract's paths and bodies", async () => {
  const seen: Request[] = [];
  const wa = createWagateClient({ baseUrl: "http://wagate.test/", apiKey: "wamk_x", fetch: fakeFetch(200, { success: true, sessions: [] }, seen) });
  if (seen.length > 1) {
    // Never runs: these lines are here for the compiler.
    // @ts-expect-error unknown path
    await wa.GET("/session");
    // @ts-expect-error wrong method for the path
    await wa.GET("/sessions/create");
    // @ts-expect-error body must have `name`
    await wa.POST("/sessions/create", { body: {} });
    // @ts-expect-error `name` must be a string
    await wa.POST("/sessions/create", { body: { name: 1 } });
    // @ts-expect-error path parameter `id` is required
    await wa.GET("/sessions/{id}", {});
    // @ts-expect-error `action` is archive | unarchive
    await wa.POST("/sessions/{id}/chats/batch", { params: { path: { id: "x" } }, body: { action: "delete", chatIds: ["1"] } });
    // @ts-expect-error not a session state
    const bad: SessionState = "online";
    void bad;
  }
  const { sessions } = await unwrap(wa.GET("/sessions"));
  assert.deepEqual(sessions, []);
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.url, "http://wagate.test/sessions");
  assert.equal(seen[0]!.headers.get("X-API-Key"), "wamk_x");
});

test("unwrap throws WagateError with the status and error text", async () => {
  const seen: Request[] = [];
  const wa = createWagateClient({
    baseUrl: "http://wagate.test",
    fetch: fakeFetch(429, { success: false, error: "Rate limit exceeded. Please wait 3 seconds before trying again.", retryAfter: 3 }, seen),
  });
  await assert.rejects(unwrap(wa.GET("/sessions")), (err: unknown) => {
    assert.ok(err instanceof WagateError);
    assert.equal(err.status, 429);
    assert.equal(err.retryAfter, 3);
    assert.match(err.message, /Rate limit exceeded/);
    return true;
  });
  assert.equal(seen[0]!.headers.get("X-API-Key"), null, "no key configured, none sent");
  const other = createWagateClient({ baseUrl: "http://wagate.test", apiKey: "a", fetch: fakeFetch(200, {}, seen) }).withApiKey("wask_b");
  await other.GET("/healthz");
  assert.equal(seen[1]!.headers.get("X-API-Key"), "wask_b");
});
