/**
 * ObjectSink for Scaleway Object Storage (and Ceph RGW in tests). Every request
 * of a copy (HEAD, PutObject, the multipart upload's, the listings, the bucket
 * settings) is a plain signed request of signed-http.ts, its XML answer read by
 * shared/xml.ts; what a copy seldom does (tags, Object Lock settings,
 * deletions, reading an object back) goes through @aws-sdk/client-s3.
 * Bodies are Buffers with Content-MD5: no streaming checksums, which Scaleway
 * and RGW refuse. ETags are returned bare (no quotes).
 *
 * With an SSE-C key, every request that writes or reads a data object carries it
 * (PutObject, CreateMultipartUpload, UploadPart, ListParts, CompleteMultipartUpload,
 * HeadObject, GetObject). ETags are then not promised to be MD5s (AWS derives
 * them otherwise): `etagsAreMd5` is false and the engine verifies through
 * Content-MD5, which the server checks, and its own hashes.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { Readable } from "node:stream";
import { CONTENT_HEADERS, type ObjectHead, type ObjectHeaders, type ObjectLock, type ObjectSink, type UploadedPart } from "../ports.ts";
import { classify } from "../retry.ts";
import { ObjectFailure } from "../errors.ts";
import { sseHeaders, sseParams, type SseCustomerKey } from "./sse-c.ts";
import { S3HttpError, type S3Http } from "./signed-http.ts";
import { sdkSend } from "./sdk-send.ts";
import { childrenOf, parseXmlTree, textOf, type XmlElement } from "../xml.ts";


const bare = (etag: string | undefined) => (etag ?? "").replace(/"/g, "");
const quoted = (etag: string) => (etag.startsWith('"') ? etag : `"${etag}"`);

/**
 * `x-amz-tagging` is a query string; RGW keeps a `+` literally, so encode with
 * encodeURIComponent (which writes spaces as %20), not URLSearchParams.
 */
export function encodeTagging(tags: Record<string, string>): string {
  return Object.entries(tags)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join("&");
}

/** The date form the SDK sends in headers (ISO 8601 without milliseconds when they are zero). */
const headerDate = (iso: string) => new Date(iso).toISOString().replace(".000Z", "Z");

/** Wire headers of a PutObject or CreateMultipartUpload: content headers, metadata, storage class, Object Lock, SSE-C. */
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

/** S3's XML escaping of a text value in a request body. */
const escapeXml = (v: string) => v.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** The root element of an XML answer; a 200 whose body is an <Error> (CompleteMultipartUpload may answer so) throws it. */
function answerXml(body: Buffer): XmlElement {
  const root = parseXmlTree(body.toString("utf8"));
  if (root.name === "Error") throw new S3HttpError(500, textOf(root, "Code") ?? "InternalError", textOf(root, "Message") ?? "", textOf(root, "RequestId"));
  return root;
}

const isoOf = (date: string | undefined) => (date ? new Date(date).toISOString() : undefined);

export class S3ObjectSink implements ObjectSink {
  readonly customerKeyMd5: string | undefined;
  readonly etagsAreMd5: boolean;
  readonly #http: S3Http;

  constructor(
    /** The SDK's client, built on first use: for what a copy seldom does (tags, Object Lock settings, deletions, reading objects back). */
    private readonly s3: () => Promise<S3Client>,
    /** `http`: the plain signed requests of signed-http.ts, for every request of a copy. */
    private readonly options: { sseCustomerKey?: SseCustomerKey; http: S3Http },
  ) {
    this.customerKeyMd5 = options.sseCustomerKey?.keyMd5;
    this.etagsAreMd5 = !options.sseCustomerKey;
    this.#http = options.http;
  }

  /** SSE-C parameters of a data-object request through the SDK (none without a key). */
  get #sse() {
    return sseParams(this.options.sseCustomerKey);
  }

  /** SSE-C headers of a data-object request (none without a key). */
  get #sseHeaders() {
    return sseHeaders(this.options.sseCustomerKey);
  }

  async head(bucket: string, key: string): Promise<ObjectHead | undefined> {
    let h: Record<string, string>;
    try {
      h = (await this.#http.send("HEAD", bucket, key, { headers: this.#sseHeaders })).headers;
    } catch (err) {
      if (isGone(err)) return undefined;
      throw keyMismatch(key, err, !!this.options.sseCustomerKey) ?? err;
    }
    const metadata: Record<string, string> = {};
    for (const [name, value] of Object.entries(h)) if (name.startsWith("x-amz-meta-")) metadata[name.slice(11)] = value;
    const head: ObjectHead = { size: Number(h["content-length"] ?? 0), etag: bare(h.etag), metadata };
    if (h["x-amz-server-side-encryption-customer-algorithm"]) head.sseCustomerKeyMd5 = h["x-amz-server-side-encryption-customer-key-md5"] ?? "";
    const lastModified = isoOf(h["last-modified"]);
    if (lastModified) head.lastModified = lastModified;
    for (const [field, wire] of CONTENT_HEADERS) {
      const value = h[wire.toLowerCase()];
      if (value) head[field] = value;
    }
    if (h["x-amz-storage-class"]) head.storageClass = h["x-amz-storage-class"];
    const mode = h["x-amz-object-lock-mode"] as ObjectLock["mode"] | undefined;
    const legalHold = h["x-amz-object-lock-legal-hold"] === "ON";
    if (mode || legalHold) {
      head.objectLock = {
        ...(mode ? { mode, retainUntil: isoOf(h["x-amz-object-lock-retain-until-date"]) } : {}),
        ...(legalHold ? { legalHold: true } : {}),
      };
    }
    return head;
  }

  async get(bucket: string, key: string, signal?: AbortSignal, etag?: string): Promise<Readable> {
    try {
      const r = await sdkSend(this.s3, (s3, sdk) => s3.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: etag === undefined ? undefined : quoted(etag), ...this.#sse }), { abortSignal: signal }));
      return r.Body as Readable;
    } catch (err) {
      throw keyMismatch(key, err, !!this.options.sseCustomerKey) ?? err;
    }
  }

  async bucketProtection(bucket: string): Promise<{ versioning: boolean; objectLock: boolean }> {
    // Both at once (one round trip); the versioning answer's error is the one reported, as when asked first.
    const [v, l] = await Promise.allSettled([
      this.#http.request("GET", bucket, "", { query: { versioning: "" } }),
      this.#http.request("GET", bucket, "", { query: { "object-lock": "" } }),
    ]);
    if (v.status === "rejected") throw v.reason;
    let objectLock = false;
    if (l.status === "fulfilled") objectLock = textOf(answerXml(l.value.body), "ObjectLockEnabled") === "Enabled";
    // ObjectLockConfigurationNotFoundError (404): no Object Lock on this bucket.
    else if (statusOf(l.reason) !== 404) throw l.reason;
    const status = textOf(answerXml(v.value.body), "Status");
    return { versioning: status === "Enabled" || status === "Suspended", objectLock };
  }

  async deleteObjects(bucket: string, keys: string[]): Promise<Array<{ key: string; error: string }>> {
    if (keys.length === 0) return [];
    const r = await sdkSend(this.s3, (s3, sdk) => s3.send(new sdk.DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } })));
    return (r.Errors ?? []).map((e) => ({ key: e.Key ?? "", error: [e.Code, e.Message].filter(Boolean).join(": ") || "refused" }));
  }

  async put(bucket: string, key: string, body: Buffer, md5Base64: string, headers: ObjectHeaders, tags?: Record<string, string>): Promise<{ etag: string }> {
    const tagging = tags && Object.keys(tags).length > 0 ? encodeTagging(tags) : undefined;
    const wire = { ...wireHeaders(headers, this.options.sseCustomerKey), "content-md5": md5Base64, ...(tagging ? { "x-amz-tagging": tagging } : {}) };
    const r = await this.#http.send("PUT", bucket, key, { headers: wire, body });
    return { etag: bare(r.headers.etag) };
  }

  async createMultipart(bucket: string, key: string, headers: ObjectHeaders): Promise<string> {
    const r = await this.#http.request("POST", bucket, key, { query: { uploads: "" }, headers: wireHeaders(headers, this.options.sseCustomerKey) });
    const uploadId = textOf(answerXml(r.body), "UploadId");
    if (!uploadId) throw new Error(`CreateMultipartUpload for "${key}" returned no UploadId`);
    return uploadId;
  }

  async uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Buffer, md5Base64: string, signal?: AbortSignal): Promise<{ etag: string }> {
    const query = { partNumber: String(partNumber), uploadId };
    const r = await this.#http.send("PUT", bucket, key, { query, headers: { "content-md5": md5Base64, ...this.#sseHeaders }, body, signal });
    return { etag: bare(r.headers.etag) };
  }

  async listParts(bucket: string, key: string, uploadId: string): Promise<UploadedPart[] | undefined> {
    const parts: UploadedPart[] = [];
    let marker: string | undefined;
    try {
      for (;;) {
        const query: Record<string, string> = { uploadId, ...(marker ? { "part-number-marker": marker } : {}) };
        const page = answerXml((await this.#http.request("GET", bucket, key, { query, headers: this.#sseHeaders })).body);
        for (const p of childrenOf(page, "Part")) parts.push({ partNumber: Number(textOf(p, "PartNumber") ?? 0), etag: bare(textOf(p, "ETag")), size: Number(textOf(p, "Size") ?? 0) });
        marker = textOf(page, "NextPartNumberMarker");
        if (textOf(page, "IsTruncated") !== "true" || !marker) break;
      }
    } catch (err) {
      // RGW answers NoSuchKey, AWS and Scaleway NoSuchUpload, for an upload that was completed or aborted.
      if (isGone(err)) return undefined;
      throw err;
    }
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  async completeMultipart(bucket: string, key: string, uploadId: string, parts: Array<{ partNumber: number; etag: string }>): Promise<{ etag?: string }> {
    const xml =
      "<CompleteMultipartUpload>" +
      parts.map((p) => `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${escapeXml(quoted(p.etag))}</ETag></Part>`).join("") +
      "</CompleteMultipartUpload>";
    const r = await this.#http.request("POST", bucket, key, { query: { uploadId }, headers: { "content-type": "application/xml", ...this.#sseHeaders }, body: Buffer.from(xml, "utf8") });
    // RGW gives an empty ETag here: callers HEAD the object for the real one.
    const etag = bare(textOf(answerXml(r.body), "ETag"));
    return etag ? { etag } : {};
  }

  async abortMultipart(bucket: string, key: string, uploadId: string): Promise<void> {
    try {
      await this.#http.send("DELETE", bucket, key, { query: { uploadId } });
    } catch (err) {
      if (!isGone(err)) throw err;
    }
  }

  async listKeys(bucket: string, options: { prefix?: string; startAfter?: string; maxKeys?: number }) {
    const query: Record<string, string> = { "list-type": "2", "max-keys": String(options.maxKeys ?? 1000) };
    if (options.prefix) query.prefix = options.prefix;
    if (options.startAfter) query["start-after"] = options.startAfter;
    const page = answerXml((await this.#http.request("GET", bucket, "", { query })).body);
    return {
      entries: childrenOf(page, "Contents")
        .filter((o) => textOf(o, "Key") !== undefined)
        .map((o) => ({ key: textOf(o, "Key")!, size: Number(textOf(o, "Size") ?? 0), etag: bare(textOf(o, "ETag")) })),
      truncated: textOf(page, "IsTruncated") === "true",
    };
  }

  async listMultipartUploads(bucket: string, prefix?: string): Promise<Array<{ key: string; uploadId: string; initiated?: string }>> {
    const out: Array<{ key: string; uploadId: string; initiated?: string }> = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const query: Record<string, string> = { uploads: "" };
      if (prefix) query.prefix = prefix;
      if (keyMarker) query["key-marker"] = keyMarker;
      if (uploadIdMarker) query["upload-id-marker"] = uploadIdMarker;
      const page = answerXml((await this.#http.request("GET", bucket, "", { query })).body);
      for (const u of childrenOf(page, "Upload")) {
        const key = textOf(u, "Key");
        const uploadId = textOf(u, "UploadId");
        if (key && uploadId) out.push({ key, uploadId, initiated: isoOf(textOf(u, "Initiated")) });
      }
      if (textOf(page, "IsTruncated") !== "true") break;
      keyMarker = textOf(page, "NextKeyMarker");
      uploadIdMarker = textOf(page, "NextUploadIdMarker");
      if (!keyMarker && !uploadIdMarker) break;
    }
    return out;
  }

  async putTags(bucket: string, key: string, tags: Record<string, string>): Promise<void> {
    await sdkSend(this.s3, (s3, sdk) => s3.send(
      new sdk.PutObjectTaggingCommand({ Bucket: bucket, Key: key, Tagging: { TagSet: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) } }),
    ));
  }

  async putObjectLock(bucket: string, key: string, lock: ObjectLock): Promise<void> {
    const { mode, retainUntil } = lock;
    if (mode && retainUntil) {
      await sdkSend(this.s3, (s3, sdk) => s3.send(new sdk.PutObjectRetentionCommand({ Bucket: bucket, Key: key, Retention: { Mode: mode, RetainUntilDate: new Date(retainUntil) } })));
    }
    if (lock.legalHold) await sdkSend(this.s3, (s3, sdk) => s3.send(new sdk.PutObjectLegalHoldCommand({ Bucket: bucket, Key: key, LegalHold: { Status: "ON" } })));
  }

  async getTags(bucket: string, key: string): Promise<Record<string, string>> {
    const r = await sdkSend(this.s3, (s3, sdk) => s3.send(new sdk.GetObjectTaggingCommand({ Bucket: bucket, Key: key })));
    return Object.fromEntries((r.TagSet ?? []).map((t) => [t.Key ?? "", t.Value ?? ""]));
  }
}
