/**
 * An in-memory BlobSource with Azure's semantics where the engine depends on
 * them: every write gets a new ETag, reads pinned to an old ETag fail with
 * SourceChangedError, archived blobs fail with BlobArchivedError, listing pages
 * with a continuation marker.
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import type { BlobEntry, BlobSource, ListPage } from "../../shared/ports.ts";
import { BlobArchivedError, SourceChangedError } from "../../shared/errors.ts";

interface StoredBlob {
  entry: BlobEntry;
  body: Buffer;
}

export type BlobProps = Partial<Omit<BlobEntry, "name" | "size" | "etag" | "lastModified" | "contentMd5">> & {
  /** Set Content-MD5 as a single-shot upload does (default true); false mimics a blob uploaded in blocks. */
  withMd5?: boolean;
};

/** Bytes handed out by `read`, in chunks like a network stream. */
const CHUNK = 64 * 1024;

export class MemoryBlobSource implements BlobSource {
  readonly #containers = new Map<string, Map<string, StoredBlob>>();
  #version = 0;
  /** Requests served, for tests that count them. */
  readonly calls = { listPage: 0, stat: 0, read: 0 };
  /** Bytes returned by `read`. */
  bytesRead = 0;

  /** Creates or replaces a blob; returns its listing entry. */
  putBlob(container: string, name: string, body: Buffer, props: BlobProps = {}): BlobEntry {
    const { withMd5 = true, ...rest } = props;
    this.#version++;
    const entry: BlobEntry = {
      metadata: {},
      tags: {},
      accessTier: "Hot",
      blobType: "BlockBlob",
      ...rest,
      name,
      size: body.length,
      etag: `"0x8D${this.#version.toString(16).toUpperCase().padStart(12, "0")}"`,
      lastModified: new Date(Date.UTC(2024, 0, 1) + this.#version * 1000).toISOString(),
    };
    if (withMd5) entry.contentMd5 = createHash("md5").update(body).digest("hex");
    let c = this.#containers.get(container);
    if (!c) this.#containers.set(container, (c = new Map()));
    c.set(name, { entry, body: Buffer.from(body) });
    return structuredClone(entry);
  }

  /** Moves a blob to another tier (no new ETag, as on Azure). */
  setTier(container: string, name: string, tier: string, archiveStatus?: string): void {
    const b = this.#containers.get(container)?.get(name);
    if (!b) throw new Error(`no blob ${container}/${name}`);
    b.entry.accessTier = tier;
    if (archiveStatus) b.entry.archiveStatus = archiveStatus;
    else delete b.entry.archiveStatus;
  }

  deleteBlob(container: string, name: string): void {
    this.#containers.get(container)?.delete(name);
  }

  async listPage(container: string, options: { prefix?: string; marker?: string; pageSize?: number }): Promise<ListPage> {
    this.calls.listPage++;
    const prefix = options.prefix ?? "";
    const size = Math.min(Math.max(1, options.pageSize ?? 5000), 5000);
    const names = [...(this.#containers.get(container)?.keys() ?? [])].filter((n) => n.startsWith(prefix)).sort();
    // The marker is the last name of the previous page, like Azure's opaque marker but readable.
    const start = options.marker === undefined ? 0 : names.findIndex((n) => n > options.marker!);
    const page = start < 0 ? [] : names.slice(start, start + size);
    const more = start >= 0 && start + size < names.length;
    return {
      entries: page.map((n) => structuredClone(this.#containers.get(container)!.get(n)!.entry)),
      nextMarker: more ? page[page.length - 1] : undefined,
    };
  }

  async stat(container: string, name: string): Promise<BlobEntry | undefined> {
    this.calls.stat++;
    const b = this.#containers.get(container)?.get(name);
    return b ? structuredClone(b.entry) : undefined;
  }

  async read(container: string, name: string, range: { offset: number; count: number }, etag: string): Promise<Readable> {
    this.calls.read++;
    const b = this.#containers.get(container)?.get(name);
    if (!b || b.entry.etag !== etag) throw new SourceChangedError(`blob ${name} no longer has ETag ${etag}`);
    if (b.entry.accessTier === "Archive" || b.entry.archiveStatus) throw new BlobArchivedError();
    const slice = b.body.subarray(range.offset, range.offset + range.count);
    const chunks: Buffer[] = [];
    for (let i = 0; i < slice.length; i += CHUNK) chunks.push(Buffer.from(slice.subarray(i, i + CHUNK)));
    this.bytesRead += slice.length;
    return Readable.from(chunks);
  }
}
