/**
 * A StateStore on the local disk, for the scale model: the run's state lives in
 * files, not in the measured process's memory (the memory store would make the
 * process grow with the run and hide what the coordinator itself holds). Same
 * semantics as the S3 store: ETag = MD5 of the body (multipart: MD5 of the part
 * MD5s, "-N"), conditional writes, every part but the last at least 5 MiB,
 * listing in UTF-8 byte order. A file holds the ETag on its first line, then the
 * body. Each call is synchronous inside, so it is atomic
 * within the one process that uses the store.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, appendFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { PreconditionFailedError } from "../shared/errors.ts";
import type { RedactedBytes, StateObject, StateStore } from "../shared/ports.ts";
import { redact } from "../shared/redact.ts";
import { S3_LIMITS } from "../shared/limits.ts";
import { pageOfKeys } from "../shared/state/list-page.ts";
import { partBytes } from "../shared/state/ledger-text.ts";

/** Files carry this suffix, so that a key and a longer key under it as a "folder" can coexist. */
const SUFFIX = ".~obj";
const md5 = (b: string | Buffer) => createHash("md5").update(b).digest("hex");

export class FileStateStore implements StateStore {
  readonly #uploads: string;

  constructor(readonly root: string) {
    this.#uploads = join(root, ".~uploads");
    mkdirSync(this.#uploads, { recursive: true });
  }

  /** The file of a key: each "/"-separated segment prefixed with "_" (so that "", "." and ".." are plain names). */
  path(key: string): string {
    return join(this.root, key.split("/").map((s) => `_${s}`).join("/") + SUFFIX);
  }

  /** A file holds its ETag on the first line, then the body: one read per GET, one write per PUT. */
  #read(file: string): StateObject | undefined {
    let raw: string;
    try {
      raw = readFileSync(file, "utf8");
    } catch {
      return undefined;
    }
    const nl = raw.indexOf("\n");
    return { etag: raw.slice(0, nl), body: raw.slice(nl + 1) };
  }

  async get(key: string): Promise<StateObject | undefined> {
    return this.#read(this.path(key));
  }

  async put(key: string, body: string, condition: { ifNoneMatch?: true; ifMatch?: string } = {}): Promise<{ etag: string }> {
    const file = this.path(key);
    const safe = redact(body);
    const current = condition.ifNoneMatch || condition.ifMatch !== undefined ? this.#read(file) : undefined;
    const bare = (etag: string | undefined) => etag?.replace(/"/g, "");
    const lost = (condition.ifNoneMatch && current) || (condition.ifMatch !== undefined && bare(current?.etag) !== bare(condition.ifMatch));
    if (lost) {
      // As on the S3 store: the body already stored is taken for our own earlier write (a replay).
      if (current && current.body === safe) return { etag: current.etag };
      throw new PreconditionFailedError(`conditional write of ${key} lost`);
    }
    const etag = `"${md5(safe)}"`;
    this.#write(file, `${etag}\n${safe}`);
    return { etag };
  }

  #write(file: string, content: string): void {
    try {
      writeFileSync(file, content);
    } catch {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, content);
    }
  }

  async delete(key: string): Promise<void> {
    const file = this.path(key);
    rmSync(file, { force: true });
  }

  listPage(prefix: string, options: { startAfter?: string; maxKeys: number }): Promise<{ keys: string[]; truncated: boolean }> {
    return pageOfKeys(this.list(prefix), options);
  }

  async *list(prefix: string): AsyncIterable<string> {
    // The deepest folder the prefix names, walked whole; keys sorted as S3 sorts them (UTF-8 bytes).
    const cut = prefix.lastIndexOf("/");
    const base = cut < 0 ? "" : prefix.slice(0, cut + 1);
    const keys: string[] = [];
    // `dir`: the folder on disk; `under`: the key prefix it stands for ("" or ending in "/").
    const walk = (dir: string, under: string) => {
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        return;
      }
      for (const n of names) {
        if (!n.startsWith("_")) continue;
        if (n.endsWith(SUFFIX)) {
          const k = under + n.slice(1, -SUFFIX.length);
          if (k.startsWith(prefix)) keys.push(k);
        } else if (!n.endsWith(".tmp")) {
          const sub = `${under}${n.slice(1)}/`;
          if ((sub.startsWith(prefix) || prefix.startsWith(sub)) && statSync(join(dir, n)).isDirectory()) walk(join(dir, n), sub);
        }
      }
    };
    const baseDir = base === "" ? this.root : join(this.root, base.slice(0, -1).split("/").map((s) => `_${s}`).join("/"));
    walk(baseDir, base);
    keys.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    yield* keys;
  }

  async startMultipart(key: string): Promise<string> {
    this.path(key);
    const id = randomBytes(8).toString("hex");
    mkdirSync(join(this.#uploads, id));
    writeFileSync(join(this.#uploads, id, "key"), key);
    return id;
  }

  #upload(key: string, uploadId: string): string {
    const dir = join(this.#uploads, uploadId.replace(/[^0-9a-f]/g, ""));
    let owner: string | undefined;
    try {
      owner = readFileSync(join(dir, "key"), "utf8");
    } catch {
      owner = undefined;
    }
    if (owner !== key) throw Object.assign(new Error(`no upload ${uploadId} of ${key}`), { name: "NoSuchUpload", statusCode: 404 });
    return dir;
  }

  async putPart(key: string, uploadId: string, partNumber: number, body: string | RedactedBytes): Promise<{ etag: string }> {
    const dir = this.#upload(key, uploadId);
    const safe = partBytes(body);
    writeFileSync(join(dir, String(partNumber)), safe);
    return { etag: `"${md5(safe)}"` };
  }

  async completeMultipart(key: string, uploadId: string, parts: Array<{ partNumber: number; etag: string }>): Promise<void> {
    let dir: string;
    try {
      dir = this.#upload(key, uploadId);
    } catch (err) {
      // Completed already (a retried completion): the object is there.
      if (existsSync(this.path(key))) return;
      throw err;
    }
    const sizes = parts.map((p) => statSync(join(dir, String(p.partNumber))).size);
    const small = sizes.slice(0, -1).findIndex((s) => s < S3_LIMITS.minPartSize);
    if (small >= 0) throw Object.assign(new Error(`part ${parts[small]!.partNumber} is smaller than the minimum allowed size`), { name: "EntityTooSmall", statusCode: 400 });
    const file = this.path(key);
    mkdirSync(dirname(file), { recursive: true });
    const digests = parts.map((p) => createHash("md5").update(readFileSync(join(dir, String(p.partNumber)))).digest());
    const tmp = `${file}.${randomBytes(4).toString("hex")}.tmp`;
    writeFileSync(tmp, `"${md5(Buffer.concat(digests))}-${parts.length}"\n`);
    for (const p of parts) appendFileSync(tmp, readFileSync(join(dir, String(p.partNumber))));
    renameSync(tmp, file);
    rmSync(dir, { recursive: true, force: true });
  }

  async abortMultipart(_key: string, uploadId: string): Promise<void> {
    rmSync(join(this.#uploads, uploadId.replace(/[^0-9a-f]/g, "")), { recursive: true, force: true });
  }

  /** Uploads started and neither completed nor aborted. */
  get openUploads(): number {
    return readdirSync(this.#uploads).length;
  }

  async *lines(key: string): AsyncIterable<string> {
    const file = this.path(key);
    if (!existsSync(file)) return;
    let first = true;
    for await (const l of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
      if (first) first = false;
      else if (l) yield l;
    }
  }
}
