/**
 * Typed client for the wagate WhatsApp HTTP API.
 *
 * `schema.ts` is generated from openapi.yaml by openapi-typescript (do not
 * edit it; run `npm run generate`). The runtime is openapi-fetch: every path,
 * parameter, request body and response body below is checked by the
 * TypeScript compiler against the contract.
 *
 * @example
 * const wa = createWagateClient({ baseUrl: "http://localhost:3000", apiKey: process.env.WAGATE_ADMIN_KEY });
 * const { data, error, response } = await wa.POST("/sessions/create", { body: { name: "shop" } });
 * if (error) throw new Error(`${response.status}: ${error.error}`);
 * console.log(data.session.id, data.apiKey);
 */
import createClient, { type Client, type ClientOptions, type Middleware } from "openapi-fetch";
import type { components, operations, paths } from "./schema.js";

export type { components, operations, paths };

/** Every schema of the contract, by name: `Schemas["Session"]`. */
export type Schemas = components["schemas"];
export type ErrorResponse = Schemas["ErrorResponse"];
export type Session = Schemas["Session"];
export type SessionStatus = Schemas["SessionStatus"];
export type SessionState = Schemas["SessionState"];
export type Chat = Schemas["Chat"];
export type Message = Schemas["Message"];
export type Webhook = Schemas["Webhook"];

export interface WagateClientOptions {
  /** Where wagate listens, e.g. `http://localhost:3000` (no trailing path: the API is at the root). */
  baseUrl: string;
  /** Admin key (`wamk_...`) or session key (`wask_...`), sent as `X-API-Key`. */
  apiKey?: string;
  /** A fetch implementation; defaults to the global fetch. */
  fetch?: ClientOptions["fetch"];
  /** Extra headers sent with every request. */
  headers?: ClientOptions["headers"];
}

/** The openapi-fetch client typed with wagate's paths, plus key handling. */
export type WagateClient = Client<paths> & {
  /** Replaces the key sent with later requests (undefined sends none). */
  setApiKey(apiKey: string | undefined): void;
  /** A client for the same server acting with another key (e.g. a session key). */
  withApiKey(apiKey: string): WagateClient;
};

/** Creates a typed client for one wagate server and key. */
export function createWagateClient(options: WagateClientOptions): WagateClient {
  let apiKey = options.apiKey;
  const client = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.headers ? { headers: options.headers } : {}),
  });
  const auth: Middleware = {
    onRequest({ request }) {
      if (apiKey !== undefined && !request.headers.has("X-API-Key")) {
        request.headers.set("X-API-Key", apiKey);
      }
      return request;
    },
  };
  client.use(auth);
  return Object.assign(client, {
    setApiKey(key: string | undefined) {
      apiKey = key;
    },
    withApiKey(key: string) {
      return createWagateClient({ ...options, apiKey: key });
    },
  });
}

/** An API error: the HTTP status and the `{success:false,error}` body. */
export class WagateError extends Error {
  readonly status: number;
  readonly body: ErrorResponse | undefined;
  readonly retryAfter: number | undefined;

  constructor(status: number, body: ErrorResponse | undefined) {
    super(body?.error ? `wagate: HTTP ${status}: ${body.error}` : `wagate: HTTP ${status}`);
    this.name = "WagateError";
    this.status = status;
    this.body = body;
    this.retryAfter = body?.retryAfter;
  }
}

/**
 * Returns `data` of an openapi-fetch result, or throws WagateError.
 *
 * @example
 * const { sessions } = await unwrap(wa.GET("/sessions"));
 */
export async function unwrap<T>(
  result: Promise<{ data?: T; error?: unknown; response: Response }> | { data?: T; error?: unknown; response: Response },
): Promise<T> {
  const { data, error, response } = await result;
  if (error !== undefined || !response.ok) {
    throw new WagateError(response.status, isErrorResponse(error) ? error : undefined);
  }
  return data as T;
}

function isErrorResponse(v: unknown): v is ErrorResponse {
  return typeof v === "object" && v !== null && typeof (v as { error?: unknown }).error === "string";
}
