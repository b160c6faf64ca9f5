/**
 * The platform's function interface: the event a Scaleway function receives
 * (HTTP call or queue trigger, both as an HTTP POST) and the response it
 * returns. The deployed handlers and the local stand-ins share these types.
 */
export interface FunctionEvent {
  httpMethod: string;
  path: string;
  headers: Record<string, string>;
  queryStringParameters?: Record<string, string>;
  body: string;
  isBase64Encoded: boolean;
}

export interface FunctionResponse {
  statusCode: number;
  body?: string;
  headers?: Record<string, string>;
}

export type FunctionHandler = (event: FunctionEvent, context: Record<string, unknown>) => Promise<FunctionResponse>;

/** The event a queue trigger delivers for one message. */
export function queueEvent(body: string): FunctionEvent {
  return { httpMethod: "POST", path: "/", headers: { "content-type": "application/json" }, body, isBase64Encoded: false };
}

export function json(statusCode: number, body: unknown): FunctionResponse {
  return { statusCode, headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}

/** The message body of a queue-trigger or HTTP event (base64 when the platform says so). */
export function eventBody(event: Partial<FunctionEvent> | undefined): string {
  const raw = event?.body ?? "";
  return event?.isBase64Encoded ? Buffer.from(raw, "base64").toString("utf8") : raw;
}

const HTTP_CALLER_HEADERS = new Set(["x-auth-token", "x-migrate-token", "x-migrate-client", "authorization"]);

/**
 * An HTTP call, not a queue delivery: Scaleway's queue triggers POST the bare
 * message (no identifying header), while an HTTP caller of a private function
 * sends its function token (X-Auth-Token), and `migrate start` / `migrate
 * doctor` also send X-Migrate-Client.
 */
export function isHttpCall(event: Partial<FunctionEvent> | undefined): boolean {
  return Object.keys(event?.headers ?? {}).some((h) => HTTP_CALLER_HEADERS.has(h.toLowerCase()));
}
