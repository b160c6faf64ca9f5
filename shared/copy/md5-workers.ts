/**
 * MD5 off the event loop. Every byte of a multipart copy is hashed twice (per
 * part for Content-MD5 and the ETag check, and in order for the whole-object
 * MD5); on the event loop that caps a copy near the speed of one core's MD5
 * while the same thread also has to move the bytes. Two worker threads take the
 * hashing; part buffers live in SharedArrayBuffers (see buffer-pool.ts) so
 * nothing is copied to reach them.
 *
 * Without worker threads (or after a worker fails) hashing falls back to the
 * calling thread: slower, never wrong.
 */
import { createHash, type Hash } from "node:crypto";
import { Worker } from "node:worker_threads";

/** Below this size a round trip to a worker costs more than hashing in place. */
const INLINE_BYTES = 256 * 1024;
const WORKERS = 2;

/** CommonJS source of the worker: one job, hashing what it is sent, in the order it is sent. */
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const open = new Map();
parentPort.on("message", (m) => {
  try {
    if (m.op === "digest") parentPort.postMessage({ id: m.id, md5: createHash("md5").update(m.buf).digest() });
    else if (m.op === "open") open.set(m.hid, createHash("md5"));
    else if (m.op === "update") { open.get(m.hid).update(m.buf); parentPort.postMessage({ id: m.id }); }
    else if (m.op === "final") { const h = open.get(m.hid); open.delete(m.hid); parentPort.postMessage({ id: m.id, md5: h.digest() }); }
    else if (m.op === "drop") open.delete(m.hid);
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String((e && e.message) || e) });
  }
});
`;

export interface IncrementalMd5 {
  /** Hashes `buf` after every earlier update; `buf` must not change until the promise settles. */
  update(buf: Buffer): Promise<void>;
  digest(): Promise<Buffer>;
  /** Frees the hash when the copy gives up before `digest`. */
  dispose(): void;
}

interface Pending {
  resolve: (value: Buffer | undefined) => void;
  reject: (err: Error) => void;
}

interface HashThread {
  worker: Worker;
  pending: Map<number, Pending>;
  dead: boolean;
}

let seq = 0;
let threads: HashThread[] | undefined;
let disabled = false;

function spawnThread(): HashThread | undefined {
  let worker: Worker;
  try {
    worker = new Worker(WORKER_SOURCE, { eval: true });
  } catch {
    disabled = true;
    return undefined;
  }
  const t: HashThread = { worker, pending: new Map(), dead: false };
  worker.on("message", (m: { id: number; md5?: Uint8Array; error?: string }) => {
    const p = t.pending.get(m.id);
    if (!p) return;
    t.pending.delete(m.id);
    if (t.pending.size === 0) worker.unref();
    if (m.error) p.reject(new Error(`MD5 worker: ${m.error}`));
    else p.resolve(m.md5 ? Buffer.from(m.md5.buffer, m.md5.byteOffset, m.md5.byteLength) : undefined);
  });
  const fail = (err: Error) => {
    t.dead = true;
    for (const p of t.pending.values()) p.reject(err);
    t.pending.clear();
    if (threads) threads = threads.filter((x) => x !== t);
  };
  worker.on("error", (err) => fail(err instanceof Error ? err : new Error(String(err))));
  worker.on("exit", (code) => fail(new Error(`MD5 worker exited with code ${code}`)));
  // The worker must not keep the process alive when idle; it is ref'd while work is pending.
  // After the listeners: adding a "message" listener refs the worker again.
  worker.unref();
  return t;
}

function pool(): HashThread[] {
  if (disabled) return [];
  if (!threads) threads = [];
  while (threads.length < WORKERS) {
    const t = spawnThread();
    if (!t) break;
    threads.push(t);
  }
  return threads;
}

function call(t: HashThread, message: Record<string, unknown>): Promise<Buffer | undefined> {
  if (t.dead) return Promise.reject(new Error("MD5 worker is gone"));
  const id = ++seq;
  return new Promise((resolve, reject) => {
    t.pending.set(id, { resolve, reject });
    t.worker.ref();
    t.worker.postMessage({ ...message, id });
  });
}

function leastBusy(): HashThread | undefined {
  let best: HashThread | undefined;
  for (const t of pool()) if (!t.dead && (!best || t.pending.size < best.pending.size)) best = t;
  return best;
}

/** MD5 of `buf` (which must not change until the promise settles). */
export async function md5Of(buf: Buffer): Promise<Buffer> {
  const t = buf.length >= INLINE_BYTES ? leastBusy() : undefined;
  if (!t) return createHash("md5").update(buf).digest();
  return (await call(t, { op: "digest", buf }))!;
}

/** An in-order MD5 whose updates run on one worker thread. */
export function incrementalMd5(): IncrementalMd5 {
  const t = leastBusy();
  if (!t) return inlineIncremental();
  const hid = ++seq;
  t.worker.postMessage({ op: "open", hid });
  return {
    update: async (buf) => void (await call(t, { op: "update", hid, buf })),
    digest: async () => (await call(t, { op: "final", hid }))!,
    dispose: () => {
      if (!t.dead) t.worker.postMessage({ op: "drop", hid });
    },
  };
}

function inlineIncremental(): IncrementalMd5 {
  const h: Hash = createHash("md5");
  return {
    update: async (buf) => void h.update(buf),
    digest: async () => h.digest(),
    dispose: () => undefined,
  };
}
