/**
 * Pings are signed: an HMAC-SHA256 over the ping's fields, keyed by a key
 * derived from SQS_SECRET_ACCESS_KEY (the queue credential the operator and
 * both functions hold; never sent). A function answers only a ping whose
 * signature it can check and whose time is within PING_MAX_SKEW_MS of its own,
 * so nobody without the credential can make it run its access checks.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export const PING_MAX_SKEW_MS = 10 * 60_000;

export interface PingFields {
  id: string;
  at: string;
  reply: "http" | "state" | "none";
  stateBucket?: string;
  queue?: string;
  probe?: { container: string; prefix: string; bucket: string };
}

function pingKey(secret: string): Buffer {
  return createHmac("sha256", secret).update("migrate ping signing key v1").digest();
}

function canonical(p: PingFields): string {
  const probe = p.probe ? JSON.stringify([p.probe.container, p.probe.prefix, p.probe.bucket]) : "";
  return ["migrate-ping-v1", p.id, p.at, p.reply, p.stateBucket ?? "", p.queue ?? "", probe].join("\n");
}

export function signPing(fields: PingFields, secret: string): string {
  return createHmac("sha256", pingKey(secret)).update(canonical(fields)).digest("hex");
}

/** Why the ping is refused, or undefined when its signature and time are good. */
export function pingRefusal(fields: PingFields, sig: string, secret: string, now: number): string | undefined {
  const expected = Buffer.from(signPing(fields, secret), "hex");
  const given = Buffer.from(sig, "hex");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return "its signature does not match this function's SQS_SECRET_ACCESS_KEY";
  const at = Date.parse(fields.at);
  if (!Number.isFinite(at) || Math.abs(now - at) > PING_MAX_SKEW_MS) return `its time ${fields.at} is more than ${PING_MAX_SKEW_MS / 60_000} min from this function's clock`;
  return undefined;
}
