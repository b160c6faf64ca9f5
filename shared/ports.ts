/**
 * The ports the engine, coordinator and worker depend on. Azure, S3 (Scaleway,
 * Ceph RGW), SQS and in-memory implementations sit behind them. Each port has
 * one contract suite under test/contract/ that runs the same cases on the
 * in-memory implementation and on a real server: BlobSource and ObjectSink
 * (source-sink.test.ts), StateStore (state-store.test.ts), MessageBus with its
 * trigger (message-bus.test.ts).
 */
import type { Readable } from "node:stream";

/** The HTTP content headers a blob has and an object carries, with their names on the wire. */
export const CONTENT_HEADERS = [
  ["contentType", "Content-Type"],
  ["contentEncoding", "Content-Encoding"],
  ["contentLanguage", "Content-Language"],
  ["contentDisposition", "Content-Disposition"],
  ["cacheControl", "Cache-Control"],
] as const;

export type ContentHeaders = { [K in (typeof CONTENT_HEADERS)[number][0]]?: string };

/** The content headers of `from` that are set (empty values left out). */
export function contentHeadersOf(from: ContentHeaders): ContentHeaders {
  const out: ContentHeaders = {};
  for (const [field] of CONTENT_HEADERS) if (from[field]) out[field] = from[field];
  return out;
}

/** One blob as listed by the source: everything a worker needs, no HEAD per blob. */
export interface BlobEntry extends ContentHeaders {
  name: string;
  size: number;
  /** Quoted or bare ETag as the source gives it; used to pin reads (If-Match). */
  etag: string;
  /** ISO 8601. */
  lastModified: string;
  /** Hex MD5 of the whole blob when the uploader set Content-MD5. */
  contentMd5?: string;
  metadata: Record<string, string>;
  tags: Record<string, string>;
  /** Hot | Cool | Cold | Archive ... */
  accessTier?: string;
  /** Set while an archived blob is being rehydrated. */
  archiveStatus?: string;
  blobType?: string;
  /** The source refused to show this blob's tags (least-privilege identity): `tags` is empty because unread, not because absent. */
  tagsUnread?: true;
  /**
   * The source's Content-MD5 (hex) set aside by `--source-md5 ignore`: neither checked nor written
   * to the destination; compared with our own MD5 afterwards for the ledger.
   */
  ignoredContentMd5?: string;
  /** Not the current blob (listed only to be counted): a snapshot, an older version or a soft-deleted blob. */
  history?: "snapshot" | "version" | "deleted";
  /** Encrypted with a customer-provided key (CPK): unreadable without that key. */
  customerKey?: true;
  /** Under a legal hold. */
  legalHold?: true;
  /** A time-based retention (immutability) policy: its mode and expiry. */
  immutability?: { mode: string; until: string };
}

export interface ListPage {
  entries: BlobEntry[];
  /** Continuation marker of the next page; undefined when this page is the last. */
  nextMarker?: string;
  /** Set when tags could not be listed and the page was listed without them: why, safe to show. */
  tagsUnreadable?: string;
  /** Set when versions, snapshots and deleted blobs could not be listed (so not counted): why. */
  historyUnlisted?: string;
}

export interface BlobSource {
  /** One page of blobs under `prefix`, in the source's order, with metadata and tags. */
  listPage(container: string, options: { prefix?: string; marker?: string; pageSize?: number }): Promise<ListPage>;
  /** Current properties of one blob; undefined when it does not exist. */
  stat(container: string, name: string): Promise<BlobEntry | undefined>;
  /**
   * Bytes [offset, offset + count) of the blob, pinned to `etag`.
   * Throws SourceChangedError when the blob no longer has that ETag (412),
   * BlobArchivedError when the blob is in the archive tier (409).
   */
  read(container: string, name: string, range: { offset: number; count: number }, etag: string, signal?: AbortSignal, hint?: ReadHint): Promise<Readable>;
  /**
   * Optional: the same bytes (count >= 1) written into `into` (exactly count
   * bytes) without a stream, for sources that can fill a buffer directly.
   * Same errors as read(); a short or long body rejects. Returns false when
   * this source can not do it for this blob (the caller uses read()).
   */
  readInto?(container: string, name: string, offset: number, into: Buffer, etag: string, signal?: AbortSignal, hint?: ReadHint): Promise<boolean>;
  /**
   * Optional: bytes [offset, offset + count) (count >= 1) as one answer read
   * in pieces into the caller's buffers, for sources that can; undefined when
   * this source can not for this blob (the caller uses read()). Same errors as
   * read() at opening; a cut body fails the piece being read.
   */
  openRange?(container: string, name: string, range: { offset: number; count: number }, etag: string, hint?: ReadHint): Promise<RangeReader | undefined>;
}

/** The body of one ranged read, in pieces: `read` fills `into`, short only at the end; `close` ends it early. */
export interface RangeReader {
  read(into: Buffer): Promise<number>;
  close(): void;
}

/** What the caller knows of the blob from its listing, so the source can read it the cheapest way. */
export interface ReadHint {
  /** A PageBlob is sparse: only its written ranges need to be read, the rest is zeros. */
  blobType?: string;
}

/** Headers and metadata the destination object carries. */
export interface ObjectHeaders extends ContentHeaders {
  /** User metadata (x-amz-meta-*), names lowercase. */
  metadata: Record<string, string>;
  storageClass?: string;
  /** S3 Object Lock of the written object (the bucket must have Object Lock enabled). */
  objectLock?: ObjectLock;
}

export interface ObjectLock {
  /** Retention: COMPLIANCE (nobody can shorten it) or GOVERNANCE (privileged users can). */
  mode?: "COMPLIANCE" | "GOVERNANCE";
  /** ISO 8601. */
  retainUntil?: string;
  legalHold?: boolean;
}

export interface ObjectHead extends ObjectHeaders {
  size: number;
  etag: string;
  lastModified?: string;
  /** Set when the object is encrypted with SSE-C: the base64 MD5 of its key ("" when the server does not say). */
  sseCustomerKeyMd5?: string;
}

export interface UploadedPart {
  partNumber: number;
  etag: string;
  size: number;
  /** Hex MD5 of the part as we sent it; kept in checkpoints where the ETag is not the MD5 (SSE-C). */
  md5?: string;
}

export interface ObjectSink {
  /** Base64 MD5 of the SSE-C key every data object is written and read with; undefined without SSE-C. */
  readonly customerKeyMd5?: string;
  /**
   * The ETag of a PUT or a part is the MD5 of its bytes (plain S3). False under
   * SSE-C, where S3 does not promise it: verification then relies on Content-MD5
   * (checked by the server) and our own hashes.
   */
  readonly etagsAreMd5: boolean;
  /**
   * The bytes of an object (with the SSE-C key when there is one). With `etag`
   * (bare or quoted) the read is pinned to that version: a replaced object
   * fails (412) instead of mixing versions.
   */
  get(bucket: string, key: string, signal?: AbortSignal, etag?: string): Promise<Readable>;
  /** Whether the bucket keeps versions or has Object Lock (state must then live elsewhere). */
  bucketProtection(bucket: string): Promise<{ versioning: boolean; objectLock: boolean }>;
  /** Deletes up to 1000 keys; returns those the server refused (an absent key is no error). */
  deleteObjects(bucket: string, keys: string[]): Promise<Array<{ key: string; error: string }>>;
  /** Properties of an object; undefined when it does not exist. */
  head(bucket: string, key: string): Promise<ObjectHead | undefined>;
  /** One PUT with Content-MD5 (base64); the server rejects a body that does not match it. */
  put(bucket: string, key: string, body: Buffer, md5Base64: string, headers: ObjectHeaders, tags?: Record<string, string>): Promise<{ etag: string }>;
  createMultipart(bucket: string, key: string, headers: ObjectHeaders): Promise<string>;
  uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Buffer, md5Base64: string, signal?: AbortSignal): Promise<{ etag: string }>;
  /** Parts stored so far; undefined when the upload no longer exists. */
  listParts(bucket: string, key: string, uploadId: string): Promise<UploadedPart[] | undefined>;
  completeMultipart(bucket: string, key: string, uploadId: string, parts: Array<{ partNumber: number; etag: string }>): Promise<{ etag?: string }>;
  /** Must not fail when the upload is already gone. */
  abortMultipart(bucket: string, key: string, uploadId: string): Promise<void>;
  /**
   * One page of keys after `startAfter` (exclusive) under `prefix`, in S3's
   * UTF-8 byte order, with sizes and ETags (bare).
   */
  listKeys(bucket: string, options: { prefix?: string; startAfter?: string; maxKeys?: number }): Promise<{ entries: Array<{ key: string; size: number; etag: string }>; truncated: boolean }>;
  /** Open multipart uploads under a prefix, with when each was initiated (ISO 8601) where the server says. */
  listMultipartUploads(bucket: string, prefix?: string): Promise<Array<{ key: string; uploadId: string; initiated?: string }>>;
  putTags(bucket: string, key: string, tags: Record<string, string>): Promise<void>;
  /** Sets retention and legal hold on an existing object (servers may ignore them at CreateMultipartUpload). */
  putObjectLock(bucket: string, key: string, lock: ObjectLock): Promise<void>;
  getTags(bucket: string, key: string): Promise<Record<string, string>>;
}

/** A stored state object with the version needed for conditional writes. */
export interface StateObject {
  body: string;
  etag: string;
}

/** UTF-8 text that went through redact(): the only bytes a state store writes as given (see shared/state/ledger-text.ts). */
export type RedactedBytes = Buffer & { readonly redacted: true };

/**
 * Run state in object storage. Conditional writes make races safe:
 * `ifNoneMatch` creates only when absent, `ifMatch` replaces only that version.
 * A failed condition throws PreconditionFailedError.
 */
export interface StateStore {
  get(key: string): Promise<StateObject | undefined>;
  put(key: string, body: string, condition?: { ifNoneMatch?: true; ifMatch?: string }): Promise<{ etag: string }>;
  delete(key: string): Promise<void>;
  /** Keys under a prefix, in UTF-8 byte order (as S3 lists them), streamed page by page. */
  list(prefix: string): AsyncIterable<string>;
  /** One page of at most `maxKeys` keys under `prefix` after `startAfter` (exclusive), in UTF-8 byte order. */
  listPage(prefix: string, options: { startAfter?: string; maxKeys: number }): Promise<{ keys: string[]; truncated: boolean }>;
  /**
   * One large state object (the run ledger) written in parts, so that no
   * process holds it whole: every part but the last at least 5 MiB, at most
   * 1000 parts, numbered from 1. Completing twice with the same parts is harmless.
   */
  startMultipart(key: string): Promise<string>;
  /** A string body is redacted by the store; RedactedBytes (ledger-text.ts) are written as given, and may be reused by the caller once the part is written. */
  putPart(key: string, uploadId: string, partNumber: number, body: string | RedactedBytes): Promise<{ etag: string }>;
  completeMultipart(key: string, uploadId: string, parts: Array<{ partNumber: number; etag: string }>): Promise<void>;
  /** Idempotent: an upload already gone is not an error. */
  abortMultipart(key: string, uploadId: string): Promise<void>;
  /** The lines of a large state object (the ledger), streamed; nothing when it does not exist. */
  lines(key: string): AsyncIterable<string>;
}

/** Where messages go: the coordinator's control queue or one of the worker queues. */
export type QueueTarget = { kind: "control" } | { kind: "worker"; index: number };

export interface MessageBus {
  /** Number of worker queues (K). */
  readonly workerQueues: number;
  /** Sends message bodies (JSON strings, each under 256 KB), batching as the transport allows. */
  send(target: QueueTarget, bodies: string[]): Promise<void>;
}
