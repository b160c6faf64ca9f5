import type { FunctionEvent, FunctionResponse } from "../queue/in-process.ts";

export function json(statusCode: number, body: unknown): FunctionResponse {
  return { statusCode, headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}

/** The message body of a queue-trigger or HTTP event (base64 when the platform says so). */
export function eventBody(event: Partial<FunctionEvent> | undefined): string {
  const raw = event?.body ?? "";
  return event?.isBase64Encoded ? Buffer.from(raw, "base64").toString("utf8") : raw;
}
