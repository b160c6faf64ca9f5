/**
 * Limits and defaults as data, in one place: S3 / Scaleway Object Storage
 * (docs: object-storage/api-cli/multipart-uploads), Azure listing, Scaleway
 * Queues and triggers, and the copy tuning defaults that config.ts overrides.
 */
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;

export const S3_LIMITS = {
  maxParts: 1000,
  minPartSize: 5 * MiB,
  maxPartSize: 5 * GiB,
  maxObjectSize: 5 * 1000 ** 4, // 5 TB
  maxSinglePutSize: 5 * GiB,
  /** User metadata, names and values together (AWS's limit; Scaleway's is unverified). */
  maxUserMetadataBytes: 2048,
  maxTags: 10,
  maxTagKeyLength: 128,
  maxTagValueLength: 256,
  maxKeyBytes: 1024,
} as const;

export const AZURE_LIMITS = {
  listPageSize: 5000,
} as const;

/**
 * Shard results (or manifests) the aggregation has asked for ahead of the one
 * it reads: a round trip per shard overlapped eight ways. A result of 1,000
 * objects is about 0.3 MiB of JSON, so this holds a few MiB.
 */
export const AGGREGATION_READ_AHEAD = 8;

export const QUEUE_LIMITS = {
  maxMessageBytes: 256 * 1024,
  sendBatchSize: 10,
  /** Scaleway runs at most this many invocations of one trigger at once. */
  maxInFlightPerTrigger: 10,
  triggerRetries: 3,
} as const;

export interface Tuning {
  /** Preferred part size; grows when the object would need more than maxParts. */
  partSize: number;
  /** Objects at or above this size are copied in parts. */
  multipartThreshold: number;
  /** Parts of one object in flight at once. */
  partConcurrency: number;
  /** Objects of one shard in flight at once. */
  objectConcurrency: number;
  /** Bytes of part buffers one process may hold at once. */
  memoryBudget: number;
  /** Part-count cap (Scaleway: 1000). Lower it only in tests. */
  maxParts: number;
  shardMaxObjects: number;
  shardMaxBytes: number;
  /** Objects above this size have their part ranges spread over several invocations. */
  giantObjectThreshold: number;
  /** Bytes of one part range of a giant object (one message, one invocation or a few). */
  giantRangeBytes: number;
  /** Attempts of one request before it is a failure (retryable errors only). */
  maxAttempts: number;
  /** Blobs per listing page (Azure's maximum is 5000). */
  listPageSize: number;
  /** How a multipart copy reads its blob: one stream cut into parts, or one ranged GET per part. */
  readMode: "stream" | "ranges";
  /**
   * The MD5 of a whole multipart object: "auto" computes it when the source's Content-MD5 or a read
   * back compares with it; "always" also for blobs without one, so the ledger holds it (a second
   * MD5 pass over every byte).
   */
  wholeObjectMd5: "auto" | "always";
  /** Smallest part of the streamed run ledger (S3 needs 5 MiB but for the last part; lower only in tests on fakes). */
  ledgerPartBytes: number;
}

export const DEFAULT_TUNING: Tuning = {
  wholeObjectMd5: "auto",
  partSize: 16 * MiB,
  multipartThreshold: 16 * MiB,
  partConcurrency: 6,
  // Objects copied at once by a worker. Over a WAN every small object costs two round trips (GET,
  // PUT), so objects in flight set the pace: with 15 ms per answer, 2,000 x 16 KiB took 15.6 s at 16
  // and 9.7 s at 64; on loopback 64 is no slower. Bytes in flight stay bounded by memoryBudget.
  objectConcurrency: 64,
  // Part bytes in flight (the arena is this plus two parts): three 16 MiB parts. Fresh memory costs
  // a page fault per page (96 MiB first written: 0.39 CPU-s on the bench machine; copying 512 MiB
  // into memory already touched: 0.05), so a smaller arena is cheaper. On the dev servers, 2 x 256
  // MiB took 2.8 CPU-s at 48 against 3.0-3.1 at 64 (96 before that: 3.6), peak RSS 155 MiB against
  // 174, at the same speed within the runs' spread; the mix 3.8 CPU-s and 205 MiB against 4.0-4.5 and
  // 240. At 40 (two parts) a copy through the 15 ms WAN proxies was 5-7% slower than at 64.
  memoryBudget: 48 * MiB,
  maxParts: S3_LIMITS.maxParts,
  shardMaxObjects: 1000,
  shardMaxBytes: 20 * GiB,
  giantObjectThreshold: 8 * GiB,
  giantRangeBytes: 4 * GiB,
  maxAttempts: 6,
  // Azure allows 5000 a page; a page's XML is held whole while it is read. A dry run of 100,000
  // blobs peaked at 206 MiB with pages of 5000 against 174-181 with 1000, and was no faster.
  listPageSize: 1000,
  // One GET per blob, read part by part into the part buffers (the socket reads only while a part
  // waits for bytes): a request per blob instead of one per part, which over a WAN's round trips
  // and on Azurite measured faster than ranges; a cut stream reopens at the part being read.
  readMode: "stream",
  // Parts of the streamed ledger: over S3's 5 MiB minimum with a margin (redaction may shorten a part), and no larger: each is held a few times over while it is sent.
  ledgerPartBytes: 6 * MiB,
};

/** What the SQS API (Scaleway Queues) accepts for the attributes provisioning sets. */
export const QUEUE_LIMITS_SQS = {
  minRetention: 60,
  maxRetention: 14 * 24 * 3600,
  maxVisibilityTimeout: 12 * 3600,
  maxReceiveCount: 1000,
} as const;
