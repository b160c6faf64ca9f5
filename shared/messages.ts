/**
 * The message contract between coordinator and workers. Messages carry ids and
 * pointers, never object lists (256 KB cap, 100 MB of queue storage). Every
 * message is versioned and schema-checked; a message that fails the check can
 * never succeed and is recorded, not retried.
 */
import { s, type Infer, type Schema } from "./schema.ts";
import { BadMessageError } from "./errors.ts";
import { QUEUE_LIMITS } from "./limits.ts";

export const MESSAGE_VERSION = 1;

export const RUN_ID = s.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, "run id: 1-100 letters, digits, . _ -");
const SHARD_ID = s.string().regex(/^[a-z0-9-]{1,64}$/, "shard id");
/** Bucket holding the run's state: a pointer every message carries, so no handler guesses it. */
const STATE_BUCKET = s.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "state bucket name");

export const StartOptions = s.object({
  include: s.array(s.string().min(1).max(1024)).max(100).default([]),
  exclude: s.array(s.string().min(1).max(1024)).max(100).default([]),
  modifiedSince: s.isoDateTime().optional(),
  modifiedBefore: s.isoDateTime().optional(),
  dryRun: s.boolean().default(false),
  shardMaxObjects: s.number().int().min(1).max(100_000).optional(),
  shardMaxBytes: s.number().int().min(1).optional(),
  concurrency: s.number().int().min(1).max(256).optional(),
  force: s.boolean().default(false),
  /** Stream every copied object back from the destination and compare its MD5 with ours. */
  verifyReadback: s.boolean().optional(),
  /** The destination is an HDS bucket: no lifecycle rule, no GLACIER, fr-par only, bucket must exist. */
  hds: s.boolean().optional(),
  /** After a fully successful copy, delete destination keys under the prefix that have no source blob. */
  deleteExtraneous: s.boolean().optional(),
  /** Stop (and delete nothing) when more than this many keys would be deleted. */
  maxDelete: s.number().int().min(0).max(10_000_000).optional(),
  /** Also delete keys that carry none of the tool's markers. */
  deleteUnmanaged: s.boolean().optional(),
  /** Prices for the dry run's cost estimate (defaults: shared/coordinator/cost.ts). */
  prices: s
    .object({
      egressPerGiB: s.number().min(0).optional(),
      readPer10k: s.number().min(0).optional(),
      listPer10k: s.number().min(0).optional(),
      storagePerGiBMonth: s.record(s.string().max(20), s.number().min(0)).optional(),
    })
    .optional(),
  /** Storage class of every copied object (STANDARD, ONEZONE_IA, GLACIER). */
  storageClass: s.enum(["STANDARD", "ONEZONE_IA", "GLACIER"]).optional(),
  /** Storage class per Azure access tier; wins over storageClass for the tiers it names. */
  tierMap: s.record(s.string().max(20), s.enum(["STANDARD", "ONEZONE_IA", "GLACIER"])).optional(),
  /** ADLS Gen2 directory placeholders become `dir/` keys instead of being skipped. */
  directoryMarkers: s.boolean().default(false),
  /** Blobs under legal hold or a retention policy fail when the destination can not lock them; a bucket without Object Lock is refused. */
  requireImmutability: s.boolean().default(false),
  /** verify: a source Content-MD5 that differs from the bytes fails the object; ignore: set it aside (stale ones exist). */
  sourceMd5: s.enum(["verify", "ignore"]).default("verify"),
});
export type StartOptions = Infer<typeof StartOptions>;

export const StartRequest = s.object({
  v: s.literal(MESSAGE_VERSION),
  type: s.literal("start"),
  runId: RUN_ID,
  source: s.object({
    container: s.string().regex(/^(\$root|[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9])$/, "Azure container name"),
    prefix: s.string().max(1024).default(""),
  }),
  destination: s.object({
    bucket: s.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "bucket name"),
    prefix: s.string().max(1024).default(""),
  }),
  options: StartOptions.default(StartOptions.parse({})),
});
export type StartRequest = Infer<typeof StartRequest>;

/**
 * Two start requests are the same run when they are equal after parsing (which
 * fills defaults): the same run id started twice is one run, with another
 * request it is refused.
 */
export function sameStartRequest(a: StartRequest, b: StartRequest): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Coordinator: go on listing from the recorded cursor. `seq` is the cursor version it expects. */
export const ContinueListing = s.object({ v: s.literal(MESSAGE_VERSION), type: s.literal("continue-listing"), runId: RUN_ID, stateBucket: STATE_BUCKET, seq: s.number().int().min(0) });

/** Worker: copy (or go on copying) one shard. */
export const ShardMessage = s.object({
  v: s.literal(MESSAGE_VERSION),
  type: s.literal("shard"),
  runId: RUN_ID,
  stateBucket: STATE_BUCKET,
  shardId: SHARD_ID,
  /** 0 for the first invocation, +1 for each continuation. */
  continuation: s.number().int().min(0).default(0),
});
export type ShardMessage = Infer<typeof ShardMessage>;

/** Worker: copy one range of parts of a giant object of a shard (many invocations share one upload). */
export const RangeMessage = s.object({
  v: s.literal(MESSAGE_VERSION),
  type: s.literal("range"),
  runId: RUN_ID,
  stateBucket: STATE_BUCKET,
  shardId: SHARD_ID,
  /** Index of the object in the shard's manifest. */
  object: s.number().int().min(0),
  range: s.number().int().min(0),
});
export type RangeMessage = Infer<typeof RangeMessage>;

/** Coordinator: a shard has its result in the state store. */
export const ShardDone = s.object({ v: s.literal(MESSAGE_VERSION), type: s.literal("shard-done"), runId: RUN_ID, stateBucket: STATE_BUCKET, shardId: SHARD_ID });

/** Coordinator (schedule trigger): aggregate runs and re-send silent shards. */
export const ContinueAggregation = s.object({ v: s.literal(MESSAGE_VERSION), type: s.literal("continue-aggregation"), runId: RUN_ID, stateBucket: STATE_BUCKET });

export const Sweep = s.object({ v: s.literal(MESSAGE_VERSION), type: s.literal("sweep"), runId: RUN_ID.optional(), stateBucket: STATE_BUCKET.optional() });

/**
 * Either function (`migrate doctor`): answer with the version and the configuration's
 * fingerprint. `http`: in the response, after the access checks of `probe`; `state`: as
 * a small object under the state bucket's doctor/ prefix (a ping through a queue);
 * `none`: nothing (the queue-send probe of the access checks). Signed
 * (shared/runtime/ping-signature.ts); it reads and writes no run state.
 */
export const Ping = s.object({
  v: s.literal(MESSAGE_VERSION),
  type: s.literal("ping"),
  id: s.string().regex(/^[a-z0-9-]{8,64}$/, "ping id: 8-64 lowercase letters, digits, -"),
  at: s.isoDateTime(),
  reply: s.enum(["http", "state", "none"]),
  stateBucket: STATE_BUCKET.optional(),
  queue: s.string().regex(/^[A-Za-z0-9_-]{1,80}$/, "queue name").optional(),
  probe: s
    .object({
      container: StartRequest.shape.source.shape.container,
      prefix: s.string().max(1024),
      bucket: StartRequest.shape.destination.shape.bucket,
    })
    .optional(),
  sig: s.string().regex(/^[0-9a-f]{64}$/, "signature"),
});
export type Ping = Infer<typeof Ping>;

export const ControlMessage = s.union("type", [StartRequest, ContinueListing, ShardDone, ContinueAggregation, Sweep, Ping]);
export type ControlMessage = Infer<typeof ControlMessage>;
export const WorkerMessage = s.union("type", [ShardMessage, RangeMessage, Ping]);
export type WorkerMessage = Infer<typeof WorkerMessage>;

/** Parses a raw body; throws BadMessageError naming the problem. */
export function parseMessage<T>(schema: Schema<T>, raw: unknown): T {
  let value: unknown = raw;
  if (typeof raw === "string") {
    if (Buffer.byteLength(raw) > QUEUE_LIMITS.maxMessageBytes) {
      throw new BadMessageError(`message of ${Buffer.byteLength(raw)} bytes is over the ${QUEUE_LIMITS.maxMessageBytes}-byte limit`);
    }
    try {
      value = JSON.parse(raw);
    } catch {
      throw new BadMessageError("message body is not JSON");
    }
  }
  if (typeof value === "object" && value !== null && "v" in value && (value as { v: unknown }).v !== MESSAGE_VERSION) {
    throw new BadMessageError(`unknown message version ${JSON.stringify((value as { v: unknown }).v)} (this build speaks ${MESSAGE_VERSION})`, {
      context: { runId: safeRunId(value) },
    });
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new BadMessageError(`invalid message: ${issue.path.join(".") || "(root)"}: ${issue.message}`, { context: { runId: safeRunId(value) } });
  }
  return parsed.data;
}

/** The run id of a message that failed validation, when one can be read safely. */
export function safeRunId(value: unknown): string | undefined {
  if (typeof value === "object" && value !== null && "runId" in value) {
    const r = RUN_ID.safeParse((value as { runId: unknown }).runId);
    if (r.success) return r.data;
  }
  return undefined;
}

export function encode(message: ControlMessage | WorkerMessage): string {
  return JSON.stringify(message);
}
