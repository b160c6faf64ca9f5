/**
 * An in-memory ObjectSink with the S3 semantics the engine relies on:
 * Content-MD5 checked (BadDigest), part ETag = MD5 hex of the part, multipart
 * ETag = MD5 of the concatenated part MD5s + "-N", parts below the minimum size
 * refused at completion (EntityTooSmall), wrong part ETags refused (InvalidPart),
 * NoSuchUpload for a finished or aborted upload, idempotent abort.
 * ETags are returned bare (no quotes), like the S3 adapter.
 *
 * With `sseCustomerKeyMd5` it behaves like AWS under SSE-C: objects are
 * "encrypted" under that key, and ETags are opaque (not the MD5 of anything),
 * so the engine's verification is proven not to depend on ETag = MD5, which
 * Ceph RGW (it returns the MD5 even under SSE-C) can not show.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import type { ObjectHead, ObjectHeaders, ObjectLock, ObjectSink, UploadedPart } from "../../shared/ports.ts";
import { S3_LIMITS } from "../../shared/limits.ts";
import { FakeS3Error } from "./s3-error.ts";

interface StoredObject {
  body: Buffer;
  headers: ObjectHeaders;
  etag: string;
  tags: Record<string, string>;
  lastModified: string;
  sseCustomerKeyMd5?: string;
}

interface OpenUpload {
  bucket: string;
  key: string;
  headers: ObjectHeaders;
  parts: Map<number, { body: Buffer; etag: string }>;
  initiated: string;
}

const md5 = (b: Buffer) => createHash("md5").update(b).digest();

export class MemoryObjectSink implements ObjectSink {
  readonly #objects = new Map<string, StoredObject>();
  readonly #uploads = new Map<string, OpenUpload>();
  readonly #minPartSize: number;
  /** Requests served per operation, for tests that count them. */
  readonly calls: Record<string, number> = {};
  readonly customerKeyMd5: string | undefined;
  readonly etagsAreMd5: boolean;

  constructor(options: { minPartSize?: number; sseCustomerKeyMd5?: string } = {}) {
    this.#minPartSize = options.minPartSize ?? S3_LIMITS.minPartSize;
    this.customerKeyMd5 = options.sseCustomerKeyMd5;
    this.etagsAreMd5 = !options.sseCustomerKeyMd5;
  }

  /** The ETag the server gives a body: its MD5, or an opaque value under SSE-C. */
  #etagOf(digest: Buffer): string {
    return this.customerKeyMd5 ? randomBytes(16).toString("hex") : digest.toString("hex");
  }

  /** An object written under another key (or none) can not be read with ours, and the other way round. */
  #readable(o: StoredObject, key: string): void {
    if (o.sseCustomerKeyMd5 !== this.customerKeyMd5) throw new FakeS3Error("InvalidArgument", 400, `object ${key} is encrypted with another SSE-C key (or none)`);
  }

  async get(bucket: string, key: string, _signal?: AbortSignal, etag?: string): Promise<Readable> {
    this.#count("get");
    const o = this.#objects.get(id(bucket, key));
    if (!o) throw new FakeS3Error("NoSuchKey", 404, "The specified key does not exist.");
    this.#readable(o, key);
    if (etag !== undefined && o.etag !== etag.replace(/"/g, "")) throw new FakeS3Error("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold");
    return Readable.from([Buffer.from(o.body)]);
  }

  /** Versioning / Object Lock per bucket, as a test sets them. */
  readonly protection = new Map<string, { versioning: boolean; objectLock: boolean }>();

  async bucketProtection(bucket: string): Promise<{ versioning: boolean; objectLock: boolean }> {
    return this.protection.get(bucket) ?? { versioning: false, objectLock: false };
  }

  async deleteObjects(bucket: string, keys: string[]): Promise<Array<{ key: string; error: string }>> {
    this.#count("deleteObjects");
    for (const k of keys) this.#objects.delete(id(bucket, k));
    return [];
  }

  /** The stored object with its body, or undefined (for assertions). */
  getObject(bucket: string, key: string): { body: Buffer; head: ObjectHead; tags: Record<string, string> } | undefined {
    const o = this.#objects.get(id(bucket, key));
    return o ? { body: Buffer.from(o.body), head: toHead(o), tags: { ...o.tags } } : undefined;
  }

  /** Number of open multipart uploads (for "nothing orphaned" assertions). */
  openUploads(): number {
    return this.#uploads.size;
  }

  #count(op: string) {
    this.calls[op] = (this.calls[op] ?? 0) + 1;
  }

  async head(bucket: string, key: string): Promise<ObjectHead | undefined> {
    this.#count("head");
    const o = this.#objects.get(id(bucket, key));
    if (!o) return undefined;
    this.#readable(o, key);
    return toHead(o);
  }

  async put(bucket: string, key: string, body: Buffer, md5Base64: string, headers: ObjectHeaders, tags?: Record<string, string>): Promise<{ etag: string }> {
    this.#count("put");
    const digest = md5(body);
    if (digest.toString("base64") !== md5Base64) throw new FakeS3Error("BadDigest", 400, "The Content-MD5 you specified did not match what we received.");
    const etag = this.#etagOf(digest);
    this.#objects.set(id(bucket, key), { body: Buffer.from(body), headers: cloneHeaders(headers), etag, tags: { ...(tags ?? {}) }, lastModified: new Date().toISOString(), sseCustomerKeyMd5: this.customerKeyMd5 });
    return { etag };
  }

  async createMultipart(bucket: string, key: string, headers: ObjectHeaders): Promise<string> {
    this.#count("createMultipart");
    const uploadId = randomUUID();
    this.#uploads.set(uploadId, { bucket, key, headers: cloneHeaders(headers), parts: new Map(), initiated: new Date().toISOString() });
    return uploadId;
  }

  async uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Buffer, md5Base64: string): Promise<{ etag: string }> {
    this.#count("uploadPart");
    const u = this.#upload(bucket, key, uploadId);
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10_000) throw new FakeS3Error("InvalidArgument", 400, "Part number must be an integer between 1 and 10000");
    const digest = md5(body);
    if (digest.toString("base64") !== md5Base64) throw new FakeS3Error("BadDigest", 400, "The Content-MD5 you specified did not match what we received.");
    const etag = this.#etagOf(digest);
    u.parts.set(partNumber, { body: Buffer.from(body), etag });
    return { etag };
  }

  async listParts(bucket: string, key: string, uploadId: string): Promise<UploadedPart[] | undefined> {
    this.#count("listParts");
    const u = this.#uploads.get(uploadId);
    if (!u || u.bucket !== bucket || u.key !== key) return undefined;
    return [...u.parts.entries()].sort(([a], [b]) => a - b).map(([partNumber, p]) => ({ partNumber, etag: p.etag, size: p.body.length }));
  }

  async completeMultipart(bucket: string, key: string, uploadId: string, parts: Array<{ partNumber: number; etag: string }>): Promise<{ etag?: string }> {
    this.#count("completeMultipart");
    const u = this.#upload(bucket, key, uploadId);
    if (parts.length === 0) throw new FakeS3Error("MalformedXML", 400, "The XML you provided was not well-formed");
    const bodies: Buffer[] = [];
    const digests: Buffer[] = [];
    for (const [i, p] of parts.entries()) {
      if (i > 0 && p.partNumber <= parts[i - 1]!.partNumber) throw new FakeS3Error("InvalidPartOrder", 400, "The list of parts was not in ascending order.");
      const stored = u.parts.get(p.partNumber);
      if (!stored || stored.etag !== p.etag.replace(/"/g, "")) throw new FakeS3Error("InvalidPart", 400, `One or more of the specified parts could not be found (part ${p.partNumber}).`);
      if (i < parts.length - 1 && stored.body.length < this.#minPartSize) throw new FakeS3Error("EntityTooSmall", 400, "Your proposed upload is smaller than the minimum allowed object size.");
      bodies.push(stored.body);
      digests.push(Buffer.from(stored.etag, "hex"));
    }
    const etag = `${md5(Buffer.concat(digests)).toString("hex")}-${parts.length}`;
    this.#uploads.delete(uploadId);
    this.#objects.set(id(bucket, key), { body: Buffer.concat(bodies), headers: u.headers, etag, tags: {}, lastModified: new Date().toISOString(), sseCustomerKeyMd5: this.customerKeyMd5 });
    return { etag };
  }

  async abortMultipart(bucket: string, key: string, uploadId: string): Promise<void> {
    this.#count("abortMultipart");
    const u = this.#uploads.get(uploadId);
    if (u && u.bucket === bucket && u.key === key) this.#uploads.delete(uploadId);
  }

  async listKeys(bucket: string, options: { prefix?: string; startAfter?: string; maxKeys?: number }) {
    this.#count("listKeys");
    const prefix = options.prefix ?? "";
    const after = Buffer.from(options.startAfter ?? "");
    const all = [...this.#objects.entries()]
      .map(([k, o]) => ({ key: k.slice(bucket.length + 1), o, owner: k.slice(0, bucket.length + 1) }))
      .filter((e) => e.owner === id(bucket, "") && e.key.startsWith(prefix) && Buffer.compare(Buffer.from(e.key), after) > 0)
      .sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
    const max = options.maxKeys ?? 1000;
    return { entries: all.slice(0, max).map((e) => ({ key: e.key, size: e.o.body.length, etag: e.o.etag })), truncated: all.length > max };
  }

  async listMultipartUploads(bucket: string, prefix = ""): Promise<Array<{ key: string; uploadId: string; initiated?: string }>> {
    this.#count("listMultipartUploads");
    return [...this.#uploads.entries()]
      .filter(([, u]) => u.bucket === bucket && u.key.startsWith(prefix))
      .map(([uploadId, u]) => ({ key: u.key, uploadId, initiated: u.initiated }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async putTags(bucket: string, key: string, tags: Record<string, string>): Promise<void> {
    this.#count("putTags");
    const o = this.#objects.get(id(bucket, key));
    if (!o) throw new FakeS3Error("NoSuchKey", 404, "The specified key does not exist.");
    o.tags = { ...tags };
  }

  async putObjectLock(bucket: string, key: string, lock: ObjectLock): Promise<void> {
    this.#count("putObjectLock");
    const o = this.#objects.get(id(bucket, key));
    if (!o) throw new FakeS3Error("NoSuchKey", 404, "The specified key does not exist.");
    o.headers = { ...o.headers, objectLock: { ...o.headers.objectLock, ...lock } };
  }

  async getTags(bucket: string, key: string): Promise<Record<string, string>> {
    this.#count("getTags");
    const o = this.#objects.get(id(bucket, key));
    if (!o) throw new FakeS3Error("NoSuchKey", 404, "The specified key does not exist.");
    return { ...o.tags };
  }

  #upload(bucket: string, key: string, uploadId: string): OpenUpload {
    const u = this.#uploads.get(uploadId);
    if (!u || u.bucket !== bucket || u.key !== key) throw new FakeS3Error("NoSuchUpload", 404, "The specified upload does not exist.");
    return u;
  }
}

function id(bucket: string, key: string): string {
  return `${bucket}\u0000${key}`;
}

function cloneHeaders(h: ObjectHeaders): ObjectHeaders {
  return { ...h, metadata: Object.fromEntries(Object.entries(h.metadata).map(([k, v]) => [k.toLowerCase(), v])) };
}

function toHead(o: StoredObject): ObjectHead {
  const head: ObjectHead = { ...cloneHeaders(o.headers), size: o.body.length, etag: o.etag, lastModified: o.lastModified };
  if (o.sseCustomerKeyMd5) head.sseCustomerKeyMd5 = o.sseCustomerKeyMd5;
  return head;
}
