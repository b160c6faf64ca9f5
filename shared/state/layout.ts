/**
 * Where run state lives in the state bucket, and what each object holds.
 * Everything is under one reserved prefix that is never copied or listed as data.
 *
 *   {prefix}runs/{runId}/run.json                    RunRecord (created once, If-None-Match)
 *   {prefix}runs/{runId}/listing.json                ListingCursor (advanced with If-Match)
 *   {prefix}runs/{runId}/shards/{shardId}.json       ShardManifest (the shard's blobs)
 *   {prefix}runs/{runId}/leases/{shardId}.json       ShardLease (one worker at a time)
 *   {prefix}runs/{runId}/checkpoints/{shardId}.json  ShardCheckpoint (objects done, open uploads)
 *   {prefix}runs/{runId}/results/{shardId}.json      ShardResult (written once)
 *   {prefix}runs/{runId}/done/{g}.json               DoneGroup: shards of group g with a result, and their counts
 *   {prefix}runs/{runId}/done/index.json             DoneIndex: the groups complete (last-shard detection in O(1))
 *   {prefix}runs/{runId}/aggregation.json            AggregationCursor (report and ledger built shard by shard)
 *   {prefix}runs/{runId}/rejected/{id}.json          a message that could never be processed
 *   {prefix}runs/{runId}/giants/{shardId}-{i}/       a giant object copied as part ranges in parallel:
 *       state.json (GiantState), ranges/{r}.json (RangeResult), complete.json (claim), outcome.json (ObjectOutcome)
 *   {prefix}runs/{runId}/report.json                 RunReport (written once, If-None-Match)
 *   {prefix}runs/{runId}/ledger.jsonl                LedgerEntry per line
 *   {prefix}runs/{runId}/attempt.json                AttemptMarker of a failed run retried under its id
 *   {prefix}runs/{runId}/attempts/{n}/               report.json and ledger.jsonl of failed attempt n
 *   {prefix}active/{runId}                           marker of an unfinished run, for the sweep
 *   {prefix}destinations/{bucket}.json               DestinationRecord: the SSE-C key digest each destination prefix was written under
 *   {prefix}proofs/{bucket}/{key}#{token}            copy proof (empty): {key} of {bucket} was copied from, or found to hold, one
 *                                                    version of its blob; {token} = copyProofToken (skip-checks.ts)
 *   {prefix}rejected/{id}.json                       a queue-delivered start refused before any run id was readable
 *   {prefix}sweep.json                               when the scheduled sweep last ran (SweepHeartbeat), read by migrate doctor
 *   {prefix}doctor/{pingId}/queue-{queue}.json       PingAnswer of a function that consumed migrate doctor's ping sent to that queue
 *   {prefix}doctor/{pingId}/probe-{function}         a few bytes written and deleted at once by a function's access check
 */
import type { BlobEntry } from "../ports.ts";
import type { MultipartCheckpoint } from "../copy/types.ts";
import { PROOF_TOKEN_LENGTH } from "../copy/skip-checks.ts";
import type { StartRequest } from "../messages.ts";

export class StateLayout {
  constructor(readonly prefix: string) {}
  run(runId: string) {
    const base = `${this.prefix}runs/${runId}/`;
    return {
      base,
      record: `${base}run.json`,
      listing: `${base}listing.json`,
      shardsPrefix: `${base}shards/`,
      shard: (shardId: string) => `${base}shards/${shardId}.json`,
      lease: (shardId: string) => `${base}leases/${shardId}.json`,
      checkpoint: (shardId: string) => `${base}checkpoints/${shardId}.json`,
      resultsPrefix: `${base}results/`,
      result: (shardId: string) => `${base}results/${shardId}.json`,
      rejected: (id: string) => `${base}rejected/${id}.json`,
      /** DoneGroup: which shards of group g (SHARDS_PER_GROUP consecutive shards) have their result, and their counts. */
      doneGroup: (g: number) => `${base}done/${String(g).padStart(6, "0")}.json`,
      /** DoneIndex: the groups whose every shard is done. */
      doneIndex: `${base}done/index.json`,
      /** AggregationCursor: how far the report and ledger have been built (advanced with If-Match). */
      aggregation: `${base}aggregation.json`,
      giant: (shardId: string, object: number) => {
        const g = `${base}giants/${shardId}-${object}/`;
        return { prefix: g, state: `${g}state.json`, rangesPrefix: `${g}ranges/`, range: (r: number) => `${g}ranges/${String(r).padStart(5, "0")}.json`, complete: `${g}complete.json`, outcome: `${g}outcome.json` };
      },
      report: `${base}report.json`,
      ledger: `${base}ledger.jsonl`,
      /** The attempt a reopened failed run is on (AttemptMarker), read when its new report is written. */
      nextAttempt: `${base}attempt.json`,
      /** An earlier, failed attempt's report and ledger, kept when the run is retried. */
      attempt: (n: number) => ({ report: `${base}attempts/${n}/report.json`, ledger: `${base}attempts/${n}/ledger.jsonl` }),
    };
  }
  /** A refused queue-delivered start without a readable run id. */
  rejected(id: string): string {
    return `${this.prefix}rejected/${id}.json`;
  }
  /** The scheduled sweep's last run. */
  sweepHeartbeat(): string {
    return `${this.prefix}sweep.json`;
  }
  /** Objects of one `migrate doctor` ping: the answers through the queues, the access probes. */
  doctor(pingId: string) {
    const base = `${this.prefix}doctor/${pingId}/`;
    return { prefix: base, queueAnswer: (queue: string) => `${base}queue-${queue}.json`, probe: (fn: string) => `${base}probe-${fn}` };
  }
  runsPrefix(): string {
    return `${this.prefix}runs/`;
  }
  activePrefix(): string {
    return `${this.prefix}active/`;
  }
  active(runId: string): string {
    return `${this.prefix}active/${runId}`;
  }
  destination(bucket: string): string {
    return `${this.prefix}destinations/${bucket}.json`;
  }
  /**
   * Copy proofs of a destination bucket: one empty object per destination key
   * whose listed ETag can not prove its content by itself (multipart objects,
   * blobs without Content-MD5, SSE-C). The key ends in `#` and a fixed-length
   * token, so a destination key holding `#` parses back from the last one.
   */
  proofs(bucket: string) {
    const base = `${this.prefix}proofs/${bucket}/`;
    return {
      base,
      proof: (key: string, token: string) => `${base}${key}#${token}`,
      /** The destination key and token of a proof key; undefined for a key of another shape. */
      parse: (proofKey: string): { key: string; token: string } | undefined => {
        const cut = proofKey.length - PROOF_TOKEN_LENGTH - 1;
        if (!proofKey.startsWith(base) || cut < base.length || proofKey[cut] !== "#") return undefined;
        const token = proofKey.slice(cut + 1);
        return /^[0-9a-f]+$/.test(token) ? { key: proofKey.slice(base.length, cut), token } : undefined;
      },
    };
  }
}

/**
 * What each destination prefix of a bucket was last written under: the base64
 * MD5 of its SSE-C key, or null for no encryption. Never the key itself.
 */
export interface DestinationRecord {
  bucket: string;
  prefixes: Record<string, { sseCustomerKeyMd5: string | null; runId: string; at: string }>;
}

/** Shard ids sort in listing order: s-000000, s-000001, ... */
export function shardId(index: number): string {
  return `s-${String(index).padStart(6, "0")}`;
}

export interface RunRecord {
  runId: string;
  request: StartRequest;
  /** Bucket holding this run's state (so workers find it from a message). */
  stateBucket: string;
  createdAt: string;
  /** Base64 MD5 of the SSE-C key the run writes with; null without SSE-C (absent in records of older builds). */
  sseCustomerKeyMd5?: string | null;
  /** The destination bucket had Object Lock when the run started. */
  destinationObjectLock?: boolean;
}

export interface ListingCursor {
  /** Bumped on each advance; a continue message naming an older seq is a duplicate. */
  seq: number;
  /** Marker of the page being consumed ("" = first page). */
  pageMarker: string;
  /** Entries of that page already consumed. */
  skipInPage: number;
  nextShardIndex: number;
  done: boolean;
  /** Totals of what was planned so far. */
  planned: { objects: number; bytes: number };
  filteredOut: number;
  archived: number;
  /** ADLS Gen2 directory placeholders seen (skipped, or planned as `dir/` markers with --directory-markers). */
  directories?: number;
  /** Snapshots, older versions and soft-deleted blobs seen (never copied). */
  olderVersions?: number;
  startedAt: string;
  updatedAt: string;
  finishedAt?: string;
  invocations: number;
  /** Run-wide problems of the source found while listing (tags unreadable...), each once. */
  sourceWarnings?: string[];
}

export interface ShardManifest {
  runId: string;
  shardId: string;
  container: string;
  bucket: string;
  /** Destination key of each blob, same order as `blobs`. */
  keys: string[];
  blobs: BlobEntry[];
  bytes: number;
  /** Queue index the shard was sent to. */
  queue: number;
  /** Listing position right after this shard, and what it consumed: lets a crashed listing adopt the shard as it was cut. */
  end: { pageMarker: string; skipInPage: number };
  consumed: { filteredOut: number; archived: number; directories?: number; olderVersions?: number };
  createdAt: string;
}

export interface ShardLease {
  owner: string;
  expiresAt: string;
}

export interface ObjectOutcome {
  key: string;
  source: string;
  size: number;
  outcome: "copied" | "skipped" | "failed" | "planned";
  reason?: string;
  code?: string;
  md5?: string;
  verifiedBy?: string;
  warnings?: string[];
  /** Facts of the source this entry could not carry (e.g. tags not read); not repeated in the report's warnings. */
  notes?: string[];
  retries?: number;
}

export interface ShardCheckpoint {
  runId: string;
  shardId: string;
  continuation: number;
  /** Finished objects by index in the manifest. */
  done: Record<number, ObjectOutcome>;
  /** Open multipart uploads by index in the manifest. */
  uploads: Record<number, MultipartCheckpoint>;
  updatedAt: string;
}

export interface ShardResult {
  runId: string;
  shardId: string;
  objects: ObjectOutcome[];
  startedAt: string;
  finishedAt: string;
  invocations: number;
}

export type LedgerEntry = ObjectOutcome;

/** Shards per done-group: detecting the last shard reads and writes a few small objects, never a listing. */
export const SHARDS_PER_GROUP = 1000;

/** Groups of done shards a run of `totalShards` shards has. */
export function groupsOf(totalShards: number): number {
  return Math.ceil(totalShards / SHARDS_PER_GROUP);
}

export interface OutcomeCounts {
  copied: number;
  skipped: number;
  failed: number;
  bytesCopied: number;
}

export interface DoneGroup {
  group: number;
  /** Indexes (within the group) of the shards with a result. */
  shards: number[];
  counts: OutcomeCounts;
}

export interface DoneIndex {
  complete: number[];
}

export interface AggregationCursor {
  seq: number;
  /** Shards whose entries are in `counts` and in the ledger parts (or `pending`). */
  nextShard: number;
  objects: { copied: number; skipped: number; failed: number };
  bytesCopied: number;
  retries: number;
  failures: Array<{ key: string; reason: string }>;
  failureExamples: Record<string, Array<{ key: string; reason: string }>>;
  failuresTotal: number;
  failuresByReason: Record<string, number>;
  warnings: Array<{ key: string; warning: string }>;
  warningsTotal: number;
  /** Dry run: the cost estimate's accumulated figures. */
  cost?: CostState;
  /** The ledger written in parts once it outgrows one part. */
  ledger: { uploadId?: string; parts: Array<{ partNumber: number; etag: string }>; pending: string };
  updatedAt: string;
  invocations: number;
}

export interface AttemptMarker {
  attempt: number;
  /** The report of the attempt before. */
  previous: string;
}

/** One multipart upload shared by the invocations copying the ranges of a giant object. */
export interface GiantState {
  key: string;
  uploadId: string;
  sourceEtag: string;
  size: number;
  partSize: number;
  parts: number;
  /** Inclusive part-number ranges, one message each. */
  ranges: Array<{ first: number; last: number }>;
  createdAt: string;
}

export interface RangeResult {
  range: number;
  parts: Array<{ partNumber: number; etag: string; size: number }>;
  retries: number;
}

export interface RunReport {
  runId: string;
  status: "succeeded" | "failed";
  dryRun: boolean;
  source: string;
  destination: string;
  /** `directories`: ADLS Gen2 directory placeholders (not copied as files; in `planned` only with --directory-markers). */
  /** `olderVersions`: snapshots, older versions and soft-deleted blobs, never copied. */
  objects: { planned: number; copied: number; skipped: number; failed: number; archived: number; filteredOut: number; directories: number; olderVersions: number };
  bytes: { planned: number; copied: number };
  /** The first REPORT_SAMPLE failures; every one is in the ledger. */
  failures: Array<{ key: string; reason: string }>;
  /** Up to three failures of each failure code, for a report at a glance. */
  failureExamples: Record<string, Array<{ key: string; reason: string }>>;
  /** Failures beyond those listed (0 unless the run had more than REPORT_SAMPLE). */
  failuresOmitted: number;
  failuresByReason: Record<string, number>;
  warnings: Array<{ key: string; warning: string }>;
  warningsOmitted: number;
  retries: number;
  /** Multipart uploads of this run found open at its end and aborted (none stays open, billed). */
  uploadsAborted: number;
  /** 1 for a run's first report; n+1 after a failed attempt n was retried under the same run id. */
  attempt: number;
  /** Reports of the earlier, failed attempts (their ledgers beside them). */
  previousAttempts: string[];
  shards: number;
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  throughputBytesPerSecond: number;
  ledger: string;
  /** Dry run: estimated Azure read-out cost and Scaleway monthly storage cost (estimates, not a quote). */
  estimate?: CostEstimate;
  /** `--delete-extraneous`: what the cutover pass deleted (or, in a dry run, would delete). */
  deletions?: {
    deleted: number;
    failed: number;
    /** Extraneous keys kept because they carry none of the tool's markers (see --delete-unmanaged). */
    unmanagedKept: number;
    /** Dry run: the keys a real run would delete. */
    wouldDelete?: string[];
    /** Why nothing was deleted, when nothing was. */
    skipped?: string;
  };
}

/** Prices of the dry run's cost estimate (coordinator/cost.ts). */
export interface CostPrices {
  /** Azure outbound data transfer to the internet, per GiB (USD). */
  egressPerGiB: number;
  /** Azure read operations (GET Blob), per 10,000 (USD). */
  readPer10k: number;
  /** Azure list operations, per 10,000 (USD). */
  listPer10k: number;
  /** Scaleway storage, per GiB-month, by storage class (EUR). */
  storagePerGiBMonth: Record<string, number>;
}

export interface CostEstimate {
  note: string;
  azure: { egressGiB: number; readOperations: number; listOperations: number; egressCost: number; readCost: number; listCost: number; total: number; currency: "USD" };
  scaleway: { storageGiBByClass: Record<string, number>; monthlyCostByClass: Record<string, number>; monthlyTotal: number; currency: "EUR" };
  prices: CostPrices;
}

/** The running totals of the estimate, kept in the listing cursor. */
export interface CostState {
  bytes: number;
  reads: number;
  byClass: Record<string, number>;
}
