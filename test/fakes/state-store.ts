import { createHash } from "node:crypto";
import { PreconditionFailedError } from "../../shared/errors.ts";
import type { RedactedBytes, StateObject, StateStore } from "../../shared/ports.ts";
import { redact } from "../../shared/redact.ts";
import { S3_LIMITS } from "../../shared/limits.ts";
import { FakeS3Error } from "./s3-error.ts";
import { pageOfKeys } from "../../shared/state/list-page.ts";

/** In-memory StateStore with the same conditional-write semantics as the S3 one. */
export class MemoryStateStore implements StateStore {
  readonly objects = new Map<string, StateObject>();
  writes = 0;

  /** `minPartBytes`: S3's 5 MiB minimum of every part but the last; tests of many tiny ledger parts lower it. */
  constructor(private readonly options: { minPartBytes?: number } = {}) {}

  async get(key: string): Promise<StateObject | undefined> {
    const o = this.objects.get(key);
    return o ? { ...o } : undefined;
  }

  async put(key: string, body: string, condition: { ifNoneMatch?: true; ifMatch?: string } = {}): Promise<{ etag: string }> {
    const current = this.objects.get(key);
    const safe = redact(body);
    // An ETag matches quoted or bare, as on the S3 store.
    const bare = (etag: string | undefined) => etag?.replace(/"/g, "");
    const lost = (condition.ifNoneMatch && current) || (condition.ifMatch !== undefined && bare(current?.etag) !== bare(condition.ifMatch));
    if (lost) {
      // As on the S3 store: the body already stored is taken for our own earlier write (a replay).
      if (current && current.body === safe) return { etag: current.etag };
      throw new PreconditionFailedError(`conditional write of ${key} lost`);
    }
    const etag = `"${createHash("md5").update(safe).update(String(++this.writes)).digest("hex")}"`;
    this.objects.set(key, { body: safe, etag });
    return { etag };
  }

  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }

  readonly #uploads = new Map<string, { key: string; parts: Map<number, string> }>();

  async startMultipart(key: string): Promise<string> {
    const id = `u${++this.writes}`;
    this.#uploads.set(id, { key, parts: new Map() });
    return id;
  }

  async putPart(key: string, uploadId: string, partNumber: number, body: string | RedactedBytes): Promise<{ etag: string }> {
    const u = this.#uploads.get(uploadId);
    if (!u || u.key !== key) throw Object.assign(new Error(`no upload ${uploadId} of ${key}`), { name: "NoSuchUpload", statusCode: 404 });
    // Bytes are the caller's, reused once the part is written: kept as a copy (the text).
    const safe = typeof body === "string" ? redact(body) : body.toString("utf8");
    u.parts.set(partNumber, safe);
    return { etag: `"${createHash("md5").update(safe).digest("hex")}"` };
  }

  async completeMultipart(key: string, uploadId: string, parts: Array<{ partNumber: number; etag: string }>): Promise<void> {
    const u = this.#uploads.get(uploadId);
    if (!u) {
      // Completed already (a retried completion): the object is there.
      if (this.objects.has(key)) return;
      throw Object.assign(new Error(`no upload ${uploadId} of ${key}`), { name: "NoSuchUpload", statusCode: 404 });
    }
    // As S3: every part but the last at least 5 MiB, or the completion is refused and the upload stays open.
    const small = parts.slice(0, -1).find((p) => Buffer.byteLength(u.parts.get(p.partNumber) ?? "") < (this.options.minPartBytes ?? S3_LIMITS.minPartSize));
    if (small) throw new FakeS3Error("EntityTooSmall", 400, `Your proposed upload is smaller than the minimum allowed object size (part ${small.partNumber}).`);
    const body = parts.map((p) => u.parts.get(p.partNumber) ?? "").join("");
    this.#uploads.delete(uploadId);
    this.objects.set(key, { body, etag: `"${createHash("md5").update(body).update(String(++this.writes)).digest("hex")}-${parts.length}"` });
  }

  async abortMultipart(_key: string, uploadId: string): Promise<void> {
    this.#uploads.delete(uploadId);
  }

  /** Uploads started and neither completed nor aborted (tests: no litter in the state bucket). */
  get openUploads(): number {
    return this.#uploads.size;
  }

  async *lines(key: string): AsyncIterable<string> {
    for (const l of (this.objects.get(key)?.body ?? "").split("\n")) if (l) yield l;
  }

  listPage(prefix: string, options: { startAfter?: string; maxKeys: number }): Promise<{ keys: string[]; truncated: boolean }> {
    return pageOfKeys(this.list(prefix), options);
  }

  async *list(prefix: string): AsyncIterable<string> {
    // S3's order: UTF-8 bytes (a plain sort() orders UTF-16 code units, which differs above U+E000).
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix));
    for (const k of keys.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))) yield k;
  }
}
