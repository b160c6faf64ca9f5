/**
 * BlobSource on @azure/storage-blob. Listing asks for metadata and tags so no
 * blob needs its own HEAD; reads are pinned to the listed ETag with If-Match so
 * a blob changed mid-copy fails cleanly instead of producing a mixed object.
 *
 * Listing also asks for legal hold, retention policy, snapshots, versions and
 * deleted blobs (these three only to be counted, never copied). A least-privilege
 * identity refused a part of that (403) gets the rest, and the page says what was
 * lost and why. Page blobs are read sparsely: only their written pages.
 */
import { Readable } from "node:stream";
import type { BlobServiceClient, BlobGetPropertiesResponse } from "@azure/storage-blob";
import { CONTENT_HEADERS, type BlobEntry, type BlobSource, type ContentHeaders, type ListPage, type RangeReader, type ReadHint } from "../ports.ts";
import { BlobArchivedError, ObjectFailure, SourceChangedError } from "../errors.ts";
import { CUSTOMER_KEY_REASON } from "../copy/source-notes.ts";
import { describeError } from "../redact.ts";
import { AZURE_LIMITS } from "../limits.ts";
import type { BlobHttp } from "./blob-http.ts";
import type { ListedBlob } from "./list-xml.ts";

interface AzureErrorLike {
  statusCode?: number;
  code?: string;
  details?: { errorCode?: string };
}

function azureCode(err: unknown): { status?: number; code?: string } {
  const e = (err ?? {}) as AzureErrorLike;
  return { status: e.statusCode, code: e.code ?? e.details?.errorCode };
}

/** Turns the two errors the engine must recognise into their own types; others pass through. */
function mapReadError(err: unknown, name: string, etag: string): unknown {
  const { status, code } = azureCode(err);
  if (status === 412 || code === "ConditionNotMet") {
    return new SourceChangedError(`blob "${name}" changed since it was listed (ETag ${etag} no longer matches)`, { cause: err });
  }
  if (code === "BlobUsesCustomerSpecifiedEncryption") return new ObjectFailure("customer-key", CUSTOMER_KEY_REASON, { cause: err });
  if (code === "BlobArchived" || (status === 409 && /archiv/i.test(describeError(err)))) {
    return new BlobArchivedError("archived: rehydrate first", { cause: err });
  }
  return err;
}

const hex = (md5?: Uint8Array) => (md5 && md5.length > 0 ? Buffer.from(md5).toString("hex") : undefined);

function fromProperties(
  name: string,
  p: ContentHeaders & {
    contentLength?: number;
    etag?: string;
    lastModified?: Date;
    contentMD5?: Uint8Array;
    accessTier?: string;
    archiveStatus?: string;
    blobType?: string;
    /** Listing. */
    customerProvidedKeySha256?: string;
    /** Get Blob Properties. */
    encryptionKeySha256?: string;
    legalHold?: boolean;
    immutabilityPolicyExpiresOn?: Date;
    immutabilityPolicyMode?: string;
  },
  metadata: Record<string, string> | undefined,
  tags: Record<string, string> | undefined,
  /** The maps are the caller's own (a listing's, parsed for this entry): kept, not copied. */
  owned = false,
): BlobEntry {
  const entry: BlobEntry = {
    name,
    size: p.contentLength ?? 0,
    etag: p.etag ?? "",
    lastModified: (p.lastModified ?? new Date(0)).toISOString(),
    metadata: owned && metadata ? metadata : { ...metadata },
    tags: owned && tags ? tags : { ...tags },
  };
  // Set only when present and not empty. Field by field: planning converts every listed blob.
  const md5 = hex(p.contentMD5);
  if (md5) entry.contentMd5 = md5;
  // Azure names the content headers as we do.
  for (const [field] of CONTENT_HEADERS) {
    const v = p[field];
    if (v) entry[field] = v;
  }
  if (p.accessTier) entry.accessTier = p.accessTier;
  if (p.archiveStatus) entry.archiveStatus = p.archiveStatus;
  if (p.blobType) entry.blobType = p.blobType;
  if (p.customerProvidedKeySha256 || p.encryptionKeySha256) entry.customerKey = true;
  if (p.legalHold) entry.legalHold = true;
  if (p.immutabilityPolicyExpiresOn && p.immutabilityPolicyMode && p.immutabilityPolicyMode !== "Mutable") {
    entry.immutability = { mode: p.immutabilityPolicyMode, until: p.immutabilityPolicyExpiresOn.toISOString() };
  }
  return entry;
}

export function blobItemToEntry(item: ListedBlob): BlobEntry {
  const entry = fromProperties(item.name, item.properties, item.metadata, item.tags, true);
  const history = historyKind(item);
  if (history) entry.history = history;
  return entry;
}

/**
 * A 403 on a request for more than the bare listing: the identity may read and
 * list blobs but not, say, their tags (SAS without `t`, a role without the
 * tags/read data action). Azure answers AuthorizationPermissionMismatch for the
 * whole listing page.
 */
function refusedWhy(err: unknown): string | undefined {
  const { status, code } = azureCode(err);
  if (status !== 403) return undefined;
  return `the source answered 403${code ? ` ${code}` : ""}`;
}

function tagsRefused(err: unknown): string | undefined {
  const why = refusedWhy(err);
  return why && `${why} to reading tags`;
}

/** Not the current blob: a snapshot, an older version, or a soft-deleted blob. Never copied. */
export function historyKind(item: ListedBlob): BlobEntry["history"] {
  if (item.snapshot) return "snapshot";
  if (item.deleted || item.hasVersionsOnly) return "deleted";
  if (item.versionId && item.isCurrentVersion !== true) return "version";
  return undefined;
}

/** What listing can do without, in the order tried after a 403: tags alone, then history alone, then both. */
const NARROWER = [
  { tags: false, history: true },
  { tags: true, history: false },
  { tags: false, history: false },
];

/** Shared, never written: the zeros of unwritten pages. */
const ZERO_CHUNK = Buffer.alloc(1024 * 1024);

export class AzureBlobSource implements BlobSource {
  /** Bytes asked of the server by reads, and bytes of page-blob gaps served as zeros without a read. */
  readonly readStats = { bytesDownloaded: 0, zeroBytes: 0 };

  /** Why tags can not be read with this identity, once a tag request was refused; then listing asks for none. */
  #tagsUnreadable?: string;
  /** Why versions, snapshots and deleted blobs can not be listed, once that was refused. */
  #historyUnlisted?: string;
  /** What listing asks for beyond metadata; narrowed once when the identity is refused a part. */
  #include = { tags: true, history: true };

  /** `http`: Get Blob of block-blob ranges as plain requests (blob-http.ts), in place of the SDK's. */
  readonly #service: () => Promise<BlobServiceClient>;

  /** `service`: the SDK's client, or what builds it on first use (a run's listing and reads go through `http`). */
  constructor(
    service: BlobServiceClient | (() => Promise<BlobServiceClient>),
    private readonly http?: BlobHttp,
  ) {
    this.#service = typeof service === "function" ? service : async () => service;
  }

  async listPage(container: string, options: { prefix?: string; marker?: string; pageSize?: number }): Promise<ListPage> {
    // Ask for everything; an identity refused a part of it (403) gets the rest, each loss said once.
    // Narrower listings are tried one part at a time, so the warning names the part actually refused;
    // an identity that can not list at all gets the error of the barest listing.
    const tries = [this.#include, ...NARROWER.filter((n) => n !== this.#include && (this.#include.tags || !n.tags) && (this.#include.history || !n.history))];
    let why: string | undefined;
    for (let i = 0; ; i++) {
      const include = tries[i]!;
      try {
        const page = await this.#list(container, options, include);
        if (why !== undefined) {
          if (!include.tags && this.#include.tags) this.#tagsUnreadable ??= `${why} to reading tags`;
          if (!include.history && this.#include.history) this.#historyUnlisted ??= `${why} to listing versions, snapshots and deleted blobs`;
        }
        this.#include = include;
        if (!include.tags) for (const e of page.entries) e.tagsUnread = true;
        return { ...page, tagsUnreadable: this.#tagsUnreadable, historyUnlisted: this.#historyUnlisted };
      } catch (err) {
        why = refusedWhy(err);
        if (!why || i === tries.length - 1) throw err;
      }
    }
  }

  async #list(container: string, options: { prefix?: string; marker?: string; pageSize?: number }, include: { tags: boolean; history: boolean }): Promise<ListPage> {
    const maxResults = Math.min(options.pageSize ?? AZURE_LIMITS.listPageSize, AZURE_LIMITS.listPageSize);
    if (this.http) {
      // List Blobs' include list, in the order the SDK sends it. Snapshots, versions and deleted
      // blobs are never copied; they are listed so the run can say how many it left behind.
      const page = await this.http.listBlobs(container, {
        prefix: options.prefix || undefined,
        marker: options.marker || undefined,
        maxResults,
        include: [...(include.history ? ["deleted", "metadata", "snapshots", "versions"] : ["metadata"]), ...(include.tags ? ["tags"] : []), "immutabilitypolicy", "legalhold"],
      });
      return { entries: page.blobs.map(blobItemToEntry), nextMarker: page.nextMarker || undefined };
    }
    const pages = (await this.#service())
      .getContainerClient(container)
      .listBlobsFlat({
        prefix: options.prefix || undefined,
        includeMetadata: true,
        includeTags: include.tags,
        includeLegalHold: true,
        includeImmutabilityPolicy: true,
        // Never copied; listed so the run can say how many it left behind.
        includeSnapshots: include.history,
        includeVersions: include.history,
        includeDeleted: include.history,
      })
      .byPage({ maxPageSize: maxResults, continuationToken: options.marker || undefined });
    const { value, done } = await pages.next();
    if (done || !value) return { entries: [] };
    return {
      entries: value.segment.blobItems.map(blobItemToEntry),
      nextMarker: value.continuationToken ? value.continuationToken : undefined,
    };
  }

  async stat(container: string, name: string): Promise<BlobEntry | undefined> {
    const blob = (await this.#service()).getContainerClient(container).getBlobClient(name);
    let props: BlobGetPropertiesResponse;
    try {
      props = await blob.getProperties();
    } catch (err) {
      if (azureCode(err).status === 404) return undefined;
      throw err;
    }
    // Tags need their own request; skip it when the properties say there are none.
    let tags: Record<string, string> | undefined;
    let tagsUnread = false;
    if (this.#tagsUnreadable === undefined && (props.tagCount === undefined || props.tagCount > 0)) {
      try {
        tags = (await blob.getTags({ conditions: { ifMatch: props.etag } })).tags;
      } catch (err) {
        const why = tagsRefused(err);
        if (!why) throw mapReadError(err, name, props.etag ?? "");
        this.#tagsUnreadable = why;
      }
    }
    // x-ms-tag-count is present exactly when the blob has tags (it needs no tag permission).
    if (this.#tagsUnreadable !== undefined && (props.tagCount ?? 0) > 0) tagsUnread = true;
    const entry = fromProperties(name, props, props.metadata, tags);
    if (tagsUnread) entry.tagsUnread = true;
    return entry;
  }

  /** The plain-request client for a read of `count` bytes: not for an empty range, nor for a page blob (read sparsely). */
  #direct(count: number, hint?: ReadHint): BlobHttp | undefined {
    return count > 0 && hint?.blobType !== "PageBlob" ? this.http : undefined;
  }

  async openRange(container: string, name: string, range: { offset: number; count: number }, etag: string, hint?: ReadHint): Promise<RangeReader | undefined> {
    const http = this.#direct(range.count, hint);
    if (!http) return undefined;
    let reader: RangeReader;
    try {
      reader = await http.openRange(container, name, range.offset, range.count, etag);
    } catch (err) {
      throw mapReadError(err, name, etag);
    }
    const stats = this.readStats;
    return {
      read: async (into) => {
        try {
          const n = await reader.read(into);
          stats.bytesDownloaded += n;
          return n;
        } catch (err) {
          throw mapReadError(err, name, etag);
        }
      },
      close: () => reader.close(),
    };
  }

  async readInto(container: string, name: string, offset: number, into: Buffer, etag: string, signal?: AbortSignal, hint?: ReadHint): Promise<boolean> {
    const http = this.#direct(into.length, hint);
    if (!http) return false;
    try {
      await http.readRangeInto(container, name, offset, into.length, etag, into, signal);
    } catch (err) {
      throw mapReadError(err, name, etag);
    }
    this.readStats.bytesDownloaded += into.length;
    return true;
  }

  async read(container: string, name: string, range: { offset: number; count: number }, etag: string, signal?: AbortSignal, hint?: ReadHint): Promise<Readable> {
    // Azure reads "count 0" as "to the end": an empty range of a non-empty blob must not go to the server.
    if (range.count === 0 && range.offset > 0) return Readable.from([]);
    if (hint?.blobType === "PageBlob" && range.count > 0) return this.#readSparse(container, name, range, etag, signal);
    const http = this.#direct(range.count, hint);
    if (http) {
      try {
        const body = await http.readRange(container, name, range.offset, range.count, etag, signal);
        this.readStats.bytesDownloaded += range.count;
        return body;
      } catch (err) {
        throw mapReadError(err, name, etag);
      }
    }
    const blob = (await this.#service()).getContainerClient(container).getBlobClient(name);
    try {
      const res = await blob.download(range.offset, range.count === 0 ? undefined : range.count, {
        conditions: { ifMatch: etag },
        abortSignal: signal,
      });
      const body = res.readableStreamBody;
      if (!body) return Readable.from([]);
      this.readStats.bytesDownloaded += range.count === 0 ? (res.contentLength ?? 0) : range.count;
      return body as Readable;
    } catch (err) {
      throw mapReadError(err, name, etag);
    }
  }

  /**
   * A page blob's range: Get Page Ranges says which pages hold data; those are
   * downloaded (pinned to the ETag), the rest is zeros that never cross the
   * network. A disk image of 1 TB with 50 GB written costs 50 GB of reads.
   */
  async #readSparse(container: string, name: string, range: { offset: number; count: number }, etag: string, signal?: AbortSignal): Promise<Readable> {
    const blob = (await this.#service()).getContainerClient(container).getPageBlobClient(name);
    const end = range.offset + range.count;
    let written: Array<{ start: number; end: number }>;
    try {
      const res = await blob.getPageRanges(range.offset, range.count, { conditions: { ifMatch: etag }, abortSignal: signal });
      // The SDK gives `count` as end - start of Azure's inclusive [Start, End]: the length is count + 1.
      written = (res.pageRange ?? [])
        .map((r) => ({ start: Math.max(range.offset, r.offset), end: Math.min(end, r.offset + (r.count ?? 0) + 1) }))
        .filter((r) => r.end > r.start)
        .sort((a, b) => a.start - b.start);
    } catch (err) {
      throw mapReadError(err, name, etag);
    }
    const stats = this.readStats;
    const download = async (start: number, count: number) => {
      try {
        const res = await blob.download(start, count, { conditions: { ifMatch: etag }, abortSignal: signal });
        stats.bytesDownloaded += count;
        return res.readableStreamBody as Readable | undefined;
      } catch (err) {
        throw mapReadError(err, name, etag);
      }
    };
    async function* pieces(): AsyncGenerator<Buffer> {
      let at = range.offset;
      const zeros = function* (until: number) {
        while (at < until) {
          const n = Math.min(ZERO_CHUNK.length, until - at);
          stats.zeroBytes += n;
          at += n;
          yield ZERO_CHUNK.subarray(0, n);
        }
      };
      for (const r of written) {
        if (r.start < at) continue;
        yield* zeros(r.start);
        const body = await download(r.start, r.end - r.start);
        if (body) for await (const chunk of body as AsyncIterable<Buffer>) yield chunk;
        at = r.end;
      }
      yield* zeros(end);
    }
    return Readable.from(pieces(), { objectMode: false });
  }
}
