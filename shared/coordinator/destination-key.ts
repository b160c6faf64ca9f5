/**
 * One destination, one SSE-C key. Objects written under one key can only be
 * read with it: a run with another key (or with none, or with one where there
 * was none) would fail every skip check and leave a destination readable only
 * with two keys. A run therefore refuses to start, before anything is written,
 * when its key differs from the one the destination was written under, unless
 * forced (`--force` copies every object again, under the new key).
 *
 * What the destination was written under is known from the state bucket's
 * DestinationRecord (the key's MD5 per destination prefix), and, when there is
 * no record (a new STATE_BUCKET, a destination written by an older build), from
 * one HEAD of an object the tool wrote there.
 */
import { MigrationError, ObjectFailure, PreconditionFailedError } from "../errors.ts";
import type { StartRequest } from "../messages.ts";
import type { Deps } from "../runtime/deps.ts";
import { readJson, writeJson } from "../state/json.ts";
import type { DestinationRecord } from "../state/layout.ts";
import { MARKERS } from "../copy/metadata.ts";
import { withRetry } from "../retry.ts";

const overlaps = (a: string, b: string) => a.startsWith(b) || b.startsWith(a);
const describe = (md5: string | null) => (md5 === null ? "no SSE-C key" : `the SSE-C key with MD5 ${md5}`);

function refusal(bucket: string, prefix: string, recorded: string | null, current: string | null): MigrationError {
  const where = `s3://${bucket}/${prefix}`;
  return new MigrationError(
    "bad-request",
    `${where} was written under ${describe(recorded)}; this run has ${describe(current)}. ` +
      `Use the key the destination was written with (S3_SSE_C_KEY), or --force to copy every object again under this one.`,
  );
}

/** Throws MigrationError("bad-request") when the run's key differs from the destination's. */
export async function checkDestinationKey(deps: Deps, request: StartRequest, stateBucket: string): Promise<void> {
  if (request.options.force) return;
  const current = deps.sink.customerKeyMd5 ?? null;
  const { bucket, prefix } = request.destination;
  const record = (await readJson<DestinationRecord>(deps.state(stateBucket), deps.layout.destination(bucket)))?.value;
  let known = false;
  for (const [p, entry] of Object.entries(record?.prefixes ?? {})) {
    if (!overlaps(p, prefix)) continue;
    known = true;
    if (entry.sseCustomerKeyMd5 !== current) throw refusal(bucket, p, entry.sseCustomerKeyMd5, current);
  }
  if (!known) await probe(deps, bucket, prefix, current);
}

/** One object the tool wrote under the prefix, headed with this run's key. */
async function probe(deps: Deps, bucket: string, prefix: string, current: string | null): Promise<void> {
  const page = await withRetry(() => deps.sink.listKeys(bucket, { prefix: prefix || undefined, maxKeys: 20 }), { attempts: deps.tuning.maxAttempts });
  const first = page.entries.find((e) => !e.key.startsWith(deps.layout.prefix));
  if (!first) return;
  try {
    const head = await withRetry(() => deps.sink.head(bucket, first.key), { attempts: deps.tuning.maxAttempts });
    // An object of the tool stored in clear, while this run encrypts.
    if (head && current !== null && head.sseCustomerKeyMd5 === undefined && head.metadata[MARKERS.sourceEtag] !== undefined) {
      throw refusal(bucket, prefix, null, current);
    }
  } catch (err) {
    if (err instanceof ObjectFailure && err.code === "sse-c-key-mismatch") {
      throw new MigrationError(
        "bad-request",
        `${err.message}. The destination s3://${bucket}/${prefix} was written under another SSE-C key: use that key, or --force to copy every object again under this one.`,
      );
    }
    throw err;
  }
}

/** Records the run's key digest for its destination prefix (after the checks passed). */
export async function recordDestinationKey(deps: Deps, request: StartRequest, stateBucket: string): Promise<void> {
  const store = deps.state(stateBucket);
  const key = deps.layout.destination(request.destination.bucket);
  const entry = { sseCustomerKeyMd5: deps.sink.customerKeyMd5 ?? null, runId: request.runId, at: new Date(deps.now()).toISOString() };
  for (let attempt = 0; ; attempt++) {
    const existing = await readJson<DestinationRecord>(store, key);
    const record: DestinationRecord = existing?.value ?? { bucket: request.destination.bucket, prefixes: {} };
    // A forced run re-encrypts the prefix: overlapping entries of the old key no longer hold.
    for (const [p, e] of Object.entries(record.prefixes)) {
      if (overlaps(p, request.destination.prefix) && e.sseCustomerKeyMd5 !== entry.sseCustomerKeyMd5) delete record.prefixes[p];
    }
    record.prefixes[request.destination.prefix] = entry;
    try {
      await writeJson(store, key, record, existing ? { ifMatch: existing.etag } : { ifNoneMatch: true });
      return;
    } catch (err) {
      if (!(err instanceof PreconditionFailedError) || attempt >= 5) throw err;
    }
  }
}
