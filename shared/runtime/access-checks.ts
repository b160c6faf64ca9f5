/**
 * The checks a function runs on itself when `migrate doctor` pings it, with
 * its own credentials: list one page of the source, write and delete a probe
 * of a few bytes in the destination and state buckets (under the reserved
 * state prefix, never listed as data), and send a no-op ping to each of its
 * queues (publish rights). Nothing is copied; each check is bounded in time.
 */
import type { Deps } from "./deps.ts";
import type { QueueTarget } from "../ports.ts";
import { describeError } from "../redact.ts";
import type { PingFields } from "./ping-signature.ts";

export interface AccessCheck {
  kind: "source" | "bucket" | "queue";
  /** azure://CONTAINER/PREFIX, s3://BUCKET, or the queue (worker index, or control). */
  target: string;
  queue?: QueueTarget;
  ok: boolean;
  /** What was done, or the error (redacted). */
  detail: string;
}

const CHECK_TIMEOUT_MS = 20_000;

async function bounded<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms)));
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function check(kind: AccessCheck["kind"], target: string, run: () => Promise<string>, queue?: QueueTarget): Promise<AccessCheck> {
  try {
    return { kind, target, ...(queue ? { queue } : {}), ok: true, detail: await bounded(run(), CHECK_TIMEOUT_MS) };
  } catch (err) {
    return { kind, target, ...(queue ? { queue } : {}), ok: false, detail: describeError(err) };
  }
}

export async function accessChecks(
  deps: Deps,
  fn: string,
  id: string,
  probe: { container: string; prefix: string; bucket: string },
  noopPing: (fields: PingFields) => string,
): Promise<AccessCheck[]> {
  const checks: AccessCheck[] = [];
  checks.push(
    await check("source", `azure://${probe.container}/${probe.prefix}`, async () => {
      const page = await deps.source.listPage(probe.container, { ...(probe.prefix ? { prefix: probe.prefix } : {}), pageSize: 1 });
      return `listed one page (${page.entries.length} blob${page.entries.length === 1 ? "" : "s"})`;
    }),
  );
  for (const bucket of new Set([probe.bucket, deps.stateBucket ?? probe.bucket])) {
    checks.push(
      await check("bucket", `s3://${bucket}`, async () => {
        const key = deps.layout.doctor(id).probe(fn);
        await deps.state(bucket).put(key, "migrate doctor probe: deleted at once");
        await deps.state(bucket).delete(key);
        return `wrote and deleted ${key}`;
      }),
    );
  }
  const queues: QueueTarget[] = [...Array.from({ length: deps.bus.workerQueues }, (_, index) => ({ kind: "worker" as const, index })), { kind: "control" }];
  for (const q of queues) {
    const target = q.kind === "worker" ? `worker queue ${q.index}` : "control queue";
    checks.push(
      await check(
        "queue",
        target,
        async () => {
          await deps.bus.send(q, [noopPing({ id, at: new Date().toISOString(), reply: "none" })]);
          return "sent a no-op ping";
        },
        q,
      ),
    );
  }
  return checks;
}
