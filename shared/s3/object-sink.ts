/**
 * ObjectSink on @aws-sdk/client-s3 for Scaleway Object Storage (and Ceph RGW in
 * tests). Bodies are Buffers with ContentLength and Content-MD5: no streaming
 * checksums, which Scaleway and RGW refuse. ETags are returned bare (no quotes).
 *
 * With an SSE-C key, every request that writes or reads a data object carries it
 * (PutObject, CreateMultipartUpload, UploadPart, ListParts, CompleteMultipartUpload,
 * HeadObject, GetObject). ETags are then not promised to be MD5s (AWS derives
 * them otherwise): `etagsAreMd5` is false and the engine verifies through
 * Content-MD5, which the server checks, and its own hashes.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectLockConfigurationCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  PutObjectLegalHoldCommand,
  PutObjectRetentionCommand,
  UploadPartCommand,
  type S3Client,
  type StorageClass,
} from "@aws-sdk/client-s3";
import { Readable } from "node:stream";
import { CONTENT_HEADERS, type ObjectHead, type ObjectHeaders, type ObjectLock, type ObjectSink, type UploadedPart } from "../ports.ts";
import { classify } from "../retry.ts";
import { ObjectFailure } from "../errors.ts";
import { sseHeaders, sseParams, type SseCustomerKey } from "./sse-c.ts";
import type { S3Http } from "./signed-http.ts";

const bare = (etag: string | undefined) => (etag ?? "").replace(/"/g, "");
const quoted = (etag: string) => (etag.startsWith('"') ? etag : `"${etag}"`);

/** The SDK's name of a content header: its wire name without the hyphen (Content-Type -> ContentType). */
type SdkContentHeader = "ContentType" | "ContentEncoding" | "ContentLanguage" | "ContentDisposition" | "CacheControl";
const sdkName = (wire: (typeof CONTENT_HEADERS)[number][1]) => wire.replace("-", "") as SdkContentHeader;

function headerParams(h: ObjectHeaders) {
  const content: Partial<Record<SdkContentHeader, string>> = {};
  for (const [field, wire] of CONTENT_HEADERS) content[sdkName(wire)] = h[field];
  return {
    ...content,
    Metadata: h.metadata,
    StorageClass: h.storageClass as StorageClass | undefined,
    ...(h.objectLock?.mode && h.objectLock.retainUntil
      ? { ObjectLockMode: h.objectLock.mode, ObjectLockRetainUntilDate: new Date(h.objectLock.retainUntil) }
      : {}),
    ...(h.objectLock?.legalHold ? { ObjectLockLegalHoldStatus: "ON" as const } : {}),
  };
}

/**
 * `x-amz-tagging` is a query string; RGW keeps a `+` literally, so encode with
 * encodeURIComponent (which writes spaces as %20), not URLSearchParams.
 */
export function encodeTagging(tags: Record<string, string>): string {
  return Object.entries(tags)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join("&");
}

/**
 * Sign the request without hashing its body (SigV4 "UNSIGNED-PAYLOAD"): the
 * body's integrity is already carried by Content-MD5, which the server checks,
 * and a SHA-256 of every part would be one more pass over every byte on the
 * event loop. The signer keeps an x-amz-content-sha256 header it finds set.
 */
function unsignedPayload<T extends { middlewareStack: { add: (mw: never, options: { step: "build"; name: string }) => void } }>(command: T): T {
  const mw = (next: (args: { request: unknown }) => Promise<unknown>) => async (args: { request: unknown }) => {
    const request = args.request as { headers?: Record<string, string> };
    if (request?.headers) request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD";
    return next(args);
  };
  command.middlewareStack.add(mw as never, { step: "build", name: "unsignedPayloadWithContentMd5" });
  return command;
}

/** The date form the SDK sends in headers (ISO 8601 without milliseconds when they are zero). */
const headerDate = (iso: string) => new Date(iso).toISOString().replace(".000Z", "Z");

/** Wire headers of a PutObject or CreateMultipartUpload: what headerParams gives the SDK, by hand. */
export function wireHeaders(h: ObjectHeaders, sse: SseCustomerKey | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [field, wire] of CONTENT_HEADERS) if (h[field]) out[wire] = h[field]!;
  for (const [name, value] of Object.entries(h.metadata)) out[`x-amz-meta-${name}`] = value;
  if (h.storageClass) out["x-amz-storage-class"] = h.storageClass;
  if (h.objectLock?.mode && h.objectLock.retainUntil) {
    out["x-amz-object-lock-mode"] = h.objectLock.mode;
    out["x-amz-object-lock-retain-until-date"] = headerDate(h.objectLock.retainUntil);
  }
  if (h.objectLock?.legalHold) out["x-amz-object-lock-legal-hold"] = "ON";
  return { ...out, ...sseHeaders(sse) };
}

function isGone(err: unknown): boolean {
  return classify(err) === "gone";
}

const statusOf = (err: unknown) => (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

/**
 * A HEAD or GET of an SSE-C object without its key (or with another key) answers
 * 400, bodiless on HEAD: say what it means instead of "UnknownError".
 */
export function keyMismatch(key: string, err: unknown, withKey: boolean): ObjectFailure | undefined {
  if (statusOf(err) !== 400) return undefined;
  const why = withKey
    ? `can not be read with S3_SSE_C_KEY: it is encrypted with another SSE-C key (or, on servers that refuse a key for a plain object, stored without SSE-C)`
    : `is encrypted with SSE-C and no key is configured: set S3_SSE_C_KEY (or S3_SSE_C_KEY_FILE)`;
  return new ObjectFailure("sse-c-key-mismatch", `destination object "${key}" ${why}`, { cause: err });
}

export class S3ObjectSink implements ObjectSink {
  readonly customerKeyMd5: string | undefined;
  readonly etagsAreMd5: boolean;

  constructor(
    private readonly s3: S3Client,
    /** `http`: the signed requests of signed-http.ts for PutObject and UploadPart, in place of the SDK's. */
    private readonly options: { sseCustomerKey?: SseCustomerKey; http?: S3Http } = {},
  ) {
    this.customerKeyMd5 = options.sseCustomerKey?.keyMd5;
    this.etagsAreMd5 = !options.sseCustomerKey;
  }

  /** SSE-C parameters of a data-object request (none without a key). */
  get #sse() {
    return sseParams(this.options.sseCustomerKey);
  }

  async head(bucket: string, key: string): Promise<ObjectHead | undefined> {
    try {
      const r = await this.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ...this.#sse }));
      const head: ObjectHead = { size: r.ContentLength ?? 0, etag: bare(r.ETag), metadata: { ...(r.Metadata ?? {}) } };
      if (r.SSECustomerAlgorithm) head.sseCustomerKeyMd5 = r.SSECustomerKeyMD5 ?? "";
      if (r.LastModified) head.lastModified = r.LastModified.toISOString();
      for (const [field, wire] of CONTENT_HEADERS) {
        const value = r[sdkName(wire)];
        if (value) head[field] = value;
      }
      if (r.StorageClass) head.storageClass = r.StorageClass;
      if (r.ObjectLockMode || r.ObjectLockLegalHoldStatus === "ON") {
        head.objectLock = {
          ...(r.ObjectLockMode ? { mode: r.ObjectLockMode, retainUntil: r.ObjectLockRetainUntilDate?.toISOString() } : {}),
          ...(r.ObjectLockLegalHoldStatus === "ON" ? { legalHold: true } : {}),
        };
      }
      return head;
    } catch (err) {
      if (isGone(err)) return undefined;
      throw keyMismatch(key, err, !!this.options.sseCustomerKey) ?? err;
    }
  }

  async get(bucket: string, key: string, signal?: AbortSignal, etag?: string): Promise<Readable> {
    try {
      const r = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: etag === undefined ? undefined : quoted(etag), ...this.#sse }), { abortSignal: signal });
      return r.Body as Readable;
    } catch (err) {
      throw keyMismatch(key, err, !!this.options.sseCustomerKey) ?? err;
    }
  }

  async bucketProtection(bucket: string): Promise<{ versioning: boolean; objectLock: boolean }> {
    // Both at once (one round trip); the versioning answer's error is the one reported, as when asked first.
    const [v, l] = await Promise.allSettled([
      this.s3.send(new GetBucketVersioningCommand({ Bucket: bucket })),
      this.s3.send(new GetObjectLockConfigurationCommand({ Bucket: bucket })),
    ]);
    if (v.status === "rejected") throw v.reason;
    let objectLock = false;
    if (l.status === "fulfilled") objectLock = l.value.ObjectLockConfiguration?.ObjectLockEnabled === "Enabled";
    // ObjectLockConfigurationNotFoundError (404): no Object Lock on this bucket.
    else if (statusOf(l.reason) !== 404) throw l.reason;
    return { versioning: v.value.Status === "Enabled" || v.value.Status === "Suspended", objectLock };
  }

  async deleteObjects(bucket: string, keys: string[]): Promise<Array<{ key: string; error: string }>> {
    if (keys.length === 0) return [];
    const r = await this.s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }));
    return (r.Errors ?? []).map((e) => ({ key: e.Key ?? "", error: [e.Code, e.Message].filter(Boolean).join(": ") || "refused" }));
  }

  async put(bucket: string, key: string, body: Buffer, md5Base64: string, headers: ObjectHeaders, tags?: Record<string, string>): Promise<{ etag: string }> {
    const tagging = tags && Object.keys(tags).length > 0 ? encodeTagging(tags) : undefined;
    const http = this.options.http;
    if (http) {
      const wire = { ...wireHeaders(headers, this.options.sseCustomerKey), "content-md5": md5Base64, ...(tagging ? { "x-amz-tagging": tagging } : {}) };
      const r = await http.send("PUT", bucket, key, { headers: wire, body });
      return { etag: bare(r.headers.etag as string | undefined) };
    }
    const r = await this.s3.send(
      unsignedPayload(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length, ContentMD5: md5Base64, Tagging: tagging, ...headerParams(headers), ...this.#sse })),
    );
    return { etag: bare(r.ETag) };
  }

  async createMultipart(bucket: string, key: string, headers: ObjectHeaders): Promise<string> {
    const r = await this.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...headerParams(headers), ...this.#sse }));
    if (!r.UploadId) throw new Error(`CreateMultipartUpload for "${key}" returned no UploadId`);
    return r.UploadId;
  }

  async uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Buffer, md5Base64: string, signal?: AbortSignal): Promise<{ etag: string }> {
    const http = this.options.http;
    if (http) {
      const query = { partNumber: String(partNumber), uploadId };
      const r = await http.send("PUT", bucket, key, { query, headers: { "content-md5": md5Base64, ...sseHeaders(this.options.sseCustomerKey) }, body, signal });
      return { etag: bare(r.headers.etag as string | undefined) };
    }
    const r = await this.s3.send(
      unsignedPayload(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: body, ContentLength: body.length, ContentMD5: md5Base64, ...this.#sse })),
      { abortSignal: signal },
    );
    return { etag: bare(r.ETag) };
  }

  async listParts(bucket: string, key: string, uploadId: string): Promise<UploadedPart[] | undefined> {
    const parts: UploadedPart[] = [];
    let marker: string | undefined;
    try {
      for (;;) {
        const r = await this.s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker, ...this.#sse }));
        for (const p of r.Parts ?? []) parts.push({ partNumber: p.PartNumber ?? 0, etag: bare(p.ETag), size: p.Size ?? 0 });
        if (!r.IsTruncated || !r.NextPartNumberMarker) break;
        marker = r.NextPartNumberMarker;
      }
    } catch (err) {
      // RGW answers NoSuchKey, AWS and Scaleway NoSuchUpload, for an upload that was completed or aborted.
      if (isGone(err)) return undefined;
      throw err;
    }
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  async completeMultipart(bucket: string, key: string, uploadId: string, parts: Array<{ partNumber: number; etag: string }>): Promise<{ etag?: string }> {
    const r = await this.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: quoted(p.etag) })) },
        ...this.#sse,
      }),
    );
    // RGW gives an empty ETag here: callers HEAD the object for the real one.
    const etag = bare(r.ETag);
    return etag ? { etag } : {};
  }

  async abortMultipart(bucket: string, key: string, uploadId: string): Promise<void> {
    try {
      await this.s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
    } catch (err) {
      if (!isGone(err)) throw err;
    }
  }

  async listKeys(bucket: string, options: { prefix?: string; startAfter?: string; maxKeys?: number }) {
    const r = await this.s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: options.prefix || undefined, StartAfter: options.startAfter || undefined, MaxKeys: options.maxKeys ?? 1000 }),
    );
    return {
      entries: (r.Contents ?? []).filter((o) => o.Key !== undefined).map((o) => ({ key: o.Key!, size: o.Size ?? 0, etag: bare(o.ETag) })),
      truncated: !!r.IsTruncated,
    };
  }

  async listMultipartUploads(bucket: string, prefix?: string): Promise<Array<{ key: string; uploadId: string; initiated?: string }>> {
    const out: Array<{ key: string; uploadId: string; initiated?: string }> = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const r = await this.s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }));
      for (const u of r.Uploads ?? []) if (u.Key && u.UploadId) out.push({ key: u.Key, uploadId: u.UploadId, initiated: u.Initiated?.toISOString() });
      if (!r.IsTruncated) break;
      keyMarker = r.NextKeyMarker;
      uploadIdMarker = r.NextUploadIdMarker;
      if (!keyMarker && !uploadIdMarker) break;
    }
    return out;
  }

  async putTags(bucket: string, key: string, tags: Record<string, string>): Promise<void> {
    await this.s3.send(
      new PutObjectTaggingCommand({ Bucket: bucket, Key: key, Tagging: { TagSet: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) } }),
    );
  }

  async putObjectLock(bucket: string, key: string, lock: ObjectLock): Promise<void> {
    if (lock.mode && lock.retainUntil) {
      await this.s3.send(new PutObjectRetentionCommand({ Bucket: bucket, Key: key, Retention: { Mode: lock.mode, RetainUntilDate: new Date(lock.retainUntil) } }));
    }
    if (lock.legalHold) await this.s3.send(new PutObjectLegalHoldCommand({ Bucket: bucket, Key: key, LegalHold: { Status: "ON" } }));
  }

  async getTags(bucket: string, key: string): Promise<Record<string, string>> {
    const r = await this.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }));
    return Object.fromEntries((r.TagSet ?? []).map((t) => [t.Key ?? "", t.Value ?? ""]));
  }
}
