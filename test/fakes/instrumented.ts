/**
 * Wrappers around any BlobSource / ObjectSink (in-memory or real) that count
 * requests and inject failures, so the same fault scenarios run against the
 * fakes and against Azurite + RGW.
 */
import { Transform, type Readable } from "node:stream";
import type { BlobEntry, BlobSource, ListPage, ObjectHead, ObjectHeaders, ObjectLock, ObjectSink, UploadedPart } from "../../shared/ports.ts";

export interface SinkCall {
  op: string;
  key: string;
  partNumber?: number;
  /** 1 for the first call of this operation through the wrapper, 2 for the second... */
  n: number;
}

export interface SinkInstrumentation {
  /** Runs before each call reaches the sink; throw to make the call fail. */
  before?: (call: SinkCall) => void | Promise<void>;
  /** Rewrites a part on its way (body and the Content-MD5 sent with it); undefined leaves it alone. */
  tamperPart?: (call: SinkCall, body: Buffer, md5Base64: string) => { body: Buffer; md5Base64: string } | undefined;
}

export class InstrumentedSink implements ObjectSink {
  readonly calls: Record<string, number> = {};
  constructor(
    readonly inner: ObjectSink,
    readonly instrumentation: SinkInstrumentation = {},
  ) {}

  get customerKeyMd5(): string | undefined {
    return this.inner.customerKeyMd5;
  }
  get etagsAreMd5(): boolean {
    return this.inner.etagsAreMd5;
  }

  async #enter(op: string, key: string, partNumber?: number): Promise<SinkCall> {
    const n = (this.calls[op] = (this.calls[op] ?? 0) + 1);
    const call = { op, key, partNumber, n };
    await this.instrumentation.before?.(call);
    return call;
  }

  async head(bucket: string, key: string): Promise<ObjectHead | undefined> {
    await this.#enter("head", key);
    return this.inner.head(bucket, key);
  }
  async get(bucket: string, key: string, signal?: AbortSignal, etag?: string): Promise<Readable> {
    await this.#enter("get", key);
    return this.inner.get(bucket, key, signal, etag);
  }
  async bucketProtection(bucket: string) {
    await this.#enter("bucketProtection", "");
    return this.inner.bucketProtection(bucket);
  }
  async deleteObjects(bucket: string, keys: string[]) {
    await this.#enter("deleteObjects", keys[0] ?? "");
    return this.inner.deleteObjects(bucket, keys);
  }
  async put(bucket: string, key: string, body: Buffer, md5Base64: string, headers: ObjectHeaders, tags?: Record<string, string>) {
    await this.#enter("put", key);
    return this.inner.put(bucket, key, body, md5Base64, headers, tags);
  }
  async createMultipart(bucket: string, key: string, headers: ObjectHeaders): Promise<string> {
    await this.#enter("createMultipart", key);
    return this.inner.createMultipart(bucket, key, headers);
  }
  async uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Buffer, md5Base64: string, signal?: AbortSignal) {
    const call = await this.#enter("uploadPart", key, partNumber);
    const t = this.instrumentation.tamperPart?.(call, body, md5Base64);
    return this.inner.uploadPart(bucket, key, uploadId, partNumber, t?.body ?? body, t?.md5Base64 ?? md5Base64, signal);
  }
  async listParts(bucket: string, key: string, uploadId: string): Promise<UploadedPart[] | undefined> {
    await this.#enter("listParts", key);
    return this.inner.listParts(bucket, key, uploadId);
  }
  async completeMultipart(bucket: string, key: string, uploadId: string, parts: Array<{ partNumber: number; etag: string }>) {
    await this.#enter("completeMultipart", key);
    return this.inner.completeMultipart(bucket, key, uploadId, parts);
  }
  async abortMultipart(bucket: string, key: string, uploadId: string): Promise<void> {
    await this.#enter("abortMultipart", key);
    return this.inner.abortMultipart(bucket, key, uploadId);
  }
  async listKeys(bucket: string, options: { prefix?: string; startAfter?: string; maxKeys?: number }) {
    await this.#enter("listKeys", options.prefix ?? "");
    return this.inner.listKeys(bucket, options);
  }
  async listMultipartUploads(bucket: string, prefix?: string) {
    await this.#enter("listMultipartUploads", prefix ?? "");
    return this.inner.listMultipartUploads(bucket, prefix);
  }
  async putTags(bucket: string, key: string, tags: Record<string, string>): Promise<void> {
    await this.#enter("putTags", key);
    return this.inner.putTags(bucket, key, tags);
  }
  async putObjectLock(bucket: string, key: string, lock: ObjectLock): Promise<void> {
    await this.#enter("putObjectLock", key);
    return this.inner.putObjectLock(bucket, key, lock);
  }
  async getTags(bucket: string, key: string): Promise<Record<string, string>> {
    await this.#enter("getTags", key);
    return this.inner.getTags(bucket, key);
  }
}

export interface SourceCall {
  op: "listPage" | "stat" | "read";
  name: string;
  range?: { offset: number; count: number };
  n: number;
}

export class InstrumentedSource implements BlobSource {
  readonly calls: Record<string, number> = {};
  /** Bytes actually consumed from `read` streams. */
  bytesRead = 0;
  constructor(
    readonly inner: BlobSource,
    readonly instrumentation: { before?: (call: SourceCall) => void | Promise<void> } = {},
  ) {}

  async #enter(op: SourceCall["op"], name: string, range?: SourceCall["range"]): Promise<void> {
    const n = (this.calls[op] = (this.calls[op] ?? 0) + 1);
    await this.instrumentation.before?.({ op, name, range, n });
  }

  async listPage(container: string, options: { prefix?: string; marker?: string; pageSize?: number }): Promise<ListPage> {
    await this.#enter("listPage", options.prefix ?? "");
    return this.inner.listPage(container, options);
  }
  async stat(container: string, name: string): Promise<BlobEntry | undefined> {
    await this.#enter("stat", name);
    return this.inner.stat(container, name);
  }
  async read(container: string, name: string, range: { offset: number; count: number }, etag: string, signal?: AbortSignal): Promise<Readable> {
    await this.#enter("read", name, range);
    const stream = await this.inner.read(container, name, range, etag, signal);
    const counter = new Transform({
      transform: (chunk: Buffer, _enc, cb) => {
        this.bytesRead += chunk.length;
        cb(null, chunk);
      },
    });
    stream.on("error", (err) => counter.destroy(err));
    return stream.pipe(counter);
  }
}
