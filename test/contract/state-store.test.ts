/**
 * One contract for every StateStore: the in-memory fake and the S3 store on
 * Ceph RGW pass the same cases. Every idempotency claim of the pipeline rests
 * on these conditional writes.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import type { StateStore } from "../../shared/ports.ts";
import { PreconditionFailedError } from "../../shared/errors.ts";
import { MemoryStateStore } from "../fakes/state-store.ts";
import { FileStateStore } from "../../bench/file-state-store.ts";
import { S3StateStore } from "../../shared/s3/state-store.ts";
import { LedgerText } from "../../shared/state/ledger-text.ts";
import { createS3Http } from "../../shared/clients.ts";
import { createS3Client } from "../../shared/sdk-clients.ts";
import { newBucket, s3Config } from "../support/env.ts";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { ODD_NAMES, utf8Order } from "../support/odd-names.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

interface StoreFixture {
  store: StateStore;
  /** The next PUT is applied but its answer never reaches the store (a cut connection). In memory no answer can be lost: a no-op. */
  loseNextPutAnswer(): void;
  /** How many PUTs reached the server since the last call (undefined in memory). */
  putsSeen?(): number;
  close(): Promise<void>;
}

const lost = async (p: Promise<unknown>) => expect(p).rejects.toBeInstanceOf(PreconditionFailedError);
const bare = (etag: string) => etag.replace(/"/g, "");

function stateStoreContract(label: string, make: () => Promise<StoreFixture>) {
  describe(`StateStore contract: ${label}`, () => {
    let f: StoreFixture;
    beforeAll(async () => {
      f = await make();
    });
    afterAll(async () => {
      await f?.close();
    });

    it("If-None-Match creates once; a second create loses and changes nothing", async () => {
      // Act
      const first = await f.store.put("once/a.json", '{"n":1}', { ifNoneMatch: true });
      const second = f.store.put("once/a.json", '{"n":2}', { ifNoneMatch: true });
      // Assess
      await lost(second);
      const got = await f.store.get("once/a.json");
      expect(got?.body).toBe('{"n":1}');
      expect(bare(got!.etag)).toBe(bare(first.etag));
      expect(await f.store.get("once/missing.json")).toBeUndefined();
    });

    it("If-Match replaces only the version held, given quoted or unquoted", async () => {
      // Prepare
      const v1 = await f.store.put("match/a.json", '{"v":1}');
      const quoted = `"${bare(v1.etag)}"`;
      // Act: quoted form
      const v2 = await f.store.put("match/a.json", '{"v":2}', { ifMatch: quoted });
      // Act: unquoted form of the new version
      const v3 = await f.store.put("match/a.json", '{"v":3}', { ifMatch: bare(v2.etag) });
      // Assess: a stale version loses, in either form
      await lost(f.store.put("match/a.json", '{"v":4}', { ifMatch: quoted }));
      await lost(f.store.put("match/a.json", '{"v":4}', { ifMatch: bare(v2.etag) }));
      const got = await f.store.get("match/a.json");
      expect(got?.body).toBe('{"v":3}');
      expect(bare(got!.etag)).toBe(bare(v3.etag));
    });

    it("If-Match on a key that does not exist loses", async () => {
      await lost(f.store.put("match/never.json", "{}", { ifMatch: '"0123456789abcdef0123456789abcdef"' }));
      expect(await f.store.get("match/never.json")).toBeUndefined();
    });

    it("a conditional write whose answer was lost resolves as written, once", async () => {
      // Prepare
      const v1 = await f.store.put("replay/a.json", '{"v":1}');
      // Act: create, then replace, each with its answer lost on the way back
      f.loseNextPutAnswer();
      f.putsSeen?.();
      const created = await f.store.put("replay/b.json", '{"b":1}', { ifNoneMatch: true });
      const createPuts = f.putsSeen?.();
      f.loseNextPutAnswer();
      const replaced = await f.store.put("replay/a.json", '{"v":2}', { ifMatch: v1.etag });
      // Assess: our own write is recognised, and what is stored is it
      expect(bare((await f.store.get("replay/b.json"))!.etag)).toBe(bare(created.etag));
      expect((await f.store.get("replay/a.json"))?.body).toBe('{"v":2}');
      expect(bare((await f.store.get("replay/a.json"))!.etag)).toBe(bare(replaced.etag));
      if (createPuts !== undefined) expect(createPuts).toBeGreaterThanOrEqual(2); // the loss did happen, and was retried
      // A replay of a write that did not land is not mistaken for ours
      await lost(f.store.put("replay/b.json", '{"b":"other"}', { ifNoneMatch: true }));
    });

    it("a conditional write of the body already stored resolves with the stored version (a replay of our own write)", async () => {
      const first = await f.store.put("same/a.json", '{"same":1}', { ifNoneMatch: true });
      const again = await f.store.put("same/a.json", '{"same":1}', { ifNoneMatch: true });
      expect(bare(again.etag)).toBe(bare(first.etag));
      const v2 = await f.store.put("same/a.json", '{"same":2}', { ifMatch: first.etag });
      const replayed = await f.store.put("same/a.json", '{"same":2}', { ifMatch: first.etag });
      expect(bare(replayed.etag)).toBe(bare(v2.etag));
      await lost(f.store.put("same/a.json", '{"same":3}', { ifMatch: first.etag }));
    });

    it("deletes (a missing key too), after which the key can be created again", async () => {
      await f.store.put("del/a.json", "{}", { ifNoneMatch: true });
      await f.store.delete("del/a.json");
      await f.store.delete("del/never.json");
      expect(await f.store.get("del/a.json")).toBeUndefined();
      await f.store.put("del/a.json", '{"again":true}', { ifNoneMatch: true });
      expect((await f.store.get("del/a.json"))?.body).toBe('{"again":true}');
    });

    it("assembles a multipart state object (the streamed ledger) from its parts; completing twice and aborting twice are harmless", async () => {
      // Prepare: a first part of 5 MiB (the S3 minimum for all but the last), a short last part
      const first = "a".repeat(5 * 1024 * 1024 - 1) + "\n";
      const last = '{"k":"é😀"}\n';
      // Act
      const uploadId = await f.store.startMultipart("mp/ledger.jsonl");
      const p2 = await f.store.putPart("mp/ledger.jsonl", uploadId, 2, last);
      const p1 = await f.store.putPart("mp/ledger.jsonl", uploadId, 1, first);
      const parts = [{ partNumber: 1, etag: p1.etag }, { partNumber: 2, etag: p2.etag }];
      await f.store.completeMultipart("mp/ledger.jsonl", uploadId, parts);
      await f.store.completeMultipart("mp/ledger.jsonl", uploadId, parts);
      const dropped = await f.store.startMultipart("mp/dropped.jsonl");
      await f.store.putPart("mp/dropped.jsonl", dropped, 1, "x\n");
      await f.store.abortMultipart("mp/dropped.jsonl", dropped);
      await f.store.abortMultipart("mp/dropped.jsonl", dropped);
      // Assess
      const got = await f.store.get("mp/ledger.jsonl");
      expect(got?.body.length).toBe(first.length + last.length);
      expect(got?.body.endsWith(last)).toBe(true);
      expect(await f.store.get("mp/dropped.jsonl")).toBeUndefined();
      // Streamed back line by line, whole lines only, across the part boundary
      const lines: string[] = [];
      for await (const l of f.store.lines("mp/ledger.jsonl")) lines.push(l);
      expect(lines.map((l) => l.length)).toEqual([first.length - 1, last.length - 1]);
      expect(lines[1]).toBe('{"k":"é😀"}');
      const none: string[] = [];
      for await (const l of f.store.lines("mp/never.jsonl")) none.push(l);
      expect(none).toEqual([]);
    });

    it("keeps each part's own bytes when parts are sent at the same time, and after a larger part a smaller one", async () => {
      // Prepare: parts of different sizes and contents
      const a = "a".repeat(5 * 1024 * 1024) + "\n";
      const b = "b".repeat(5 * 1024 * 1024) + "\n";
      const c = "c\n";
      // Act: 1 and 2 at once, then 3 after them
      const uploadId = await f.store.startMultipart("mp/concurrent.jsonl");
      const [p1, p2] = await Promise.all([f.store.putPart("mp/concurrent.jsonl", uploadId, 1, a), f.store.putPart("mp/concurrent.jsonl", uploadId, 2, b)]);
      // A part given as redacted bytes, whose buffer the caller reuses at once
      const reused = new LedgerText();
      reused.add(c);
      const p3 = await f.store.putPart("mp/concurrent.jsonl", uploadId, 3, reused.bytes());
      reused.clear();
      reused.add("z\n");
      await f.store.completeMultipart("mp/concurrent.jsonl", uploadId, [{ partNumber: 1, etag: p1.etag }, { partNumber: 2, etag: p2.etag }, { partNumber: 3, etag: p3.etag }]);
      // Assess
      expect((await f.store.get("mp/concurrent.jsonl"))?.body).toBe(a + b + c);
    });

    it("refuses to complete a multipart state object whose middle part is under 5 MiB", async () => {
      const uploadId = await f.store.startMultipart("mp/small.jsonl");
      const p1 = await f.store.putPart("mp/small.jsonl", uploadId, 1, "small\n");
      const p2 = await f.store.putPart("mp/small.jsonl", uploadId, 2, "last\n");
      const err = await f.store
        .completeMultipart("mp/small.jsonl", uploadId, [{ partNumber: 1, etag: p1.etag }, { partNumber: 2, etag: p2.etag }])
        .catch((e: unknown) => e);
      expect((err as Error)?.name).toBe("EntityTooSmall");
      expect(await f.store.get("mp/small.jsonl")).toBeUndefined();
      await f.store.abortMultipart("mp/small.jsonl", uploadId);
    });

    it("lists keys under a prefix in UTF-8 byte order, odd names included, nothing outside the prefix", async () => {
      for (const name of ODD_NAMES) await f.store.put(`list/${name}`, "{}");
      await f.store.put("listed-not/x.json", "{}");
      const keys: string[] = [];
      for await (const k of f.store.list("list/")) keys.push(k);
      expect(keys).toEqual(utf8Order(ODD_NAMES.map((n) => `list/${n}`)));
    });

    it("lists a page after a key: the keys that follow it in byte order, at most as many as asked, and whether more follow", async () => {
      const names = utf8Order(ODD_NAMES.map((n) => `page/${n}`));
      for (const k of names) await f.store.put(k, "");
      await f.store.put("pages-not/x", "");
      const first = await f.store.listPage("page/", { maxKeys: 2 });
      expect(first).toEqual({ keys: names.slice(0, 2), truncated: true });
      const next = await f.store.listPage("page/", { startAfter: first.keys[1], maxKeys: 1000 });
      expect(next).toEqual({ keys: names.slice(2), truncated: false });
      // A start that is not itself a key: the keys after it.
      const cut = names[3]!.slice(0, -1);
      expect((await f.store.listPage("page/", { startAfter: cut, maxKeys: 1000 })).keys).toEqual(names.filter((k) => Buffer.compare(Buffer.from(k), Buffer.from(cut)) > 0));
    });
  });
}

stateStoreContract("in-memory", async () => ({ store: new MemoryStateStore(), loseNextPutAnswer: () => undefined, close: async () => undefined }));

// The scale model's store (bench/scale-child.ts): the run's state on disk, out of the measured process's memory.
stateStoreContract("files (bench scale model)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "file-state-"));
  return { store: new FileStateStore(dir), loseNextPutAnswer: () => undefined, close: async () => rmSync(dir, { recursive: true, force: true }) };
});

for (const plain of [false, true]) {
  stateStoreContract(plain ? "Ceph RGW (S3), single objects by plain signed requests" : "Ceph RGW (S3)", async () => {
    const bucket = await newBucket("state");
    const proxy: FaultProxy = await startFaultProxy({ target: s3Config().endpoint, seed: 11 });
    const s3 = createS3Client({ ...s3Config(), endpoint: proxy.endpoint }, undefined);
    const http = plain ? createS3Http({ ...s3Config(), endpoint: proxy.endpoint }, undefined) : undefined;
    let seen = 0;
    return {
      store: new S3StateStore(async () => s3, bucket, undefined, undefined, http),
      loseNextPutAnswer: () => proxy.setRules([{ fault: { kind: "reset-response" }, methods: ["PUT"], count: 1 }]),
      putsSeen: () => {
        const now = proxy.stats.forwarded;
        const n = now - seen;
        seen = now;
        return n;
      },
      close: async () => {
        s3.destroy();
        http?.destroy();
        await proxy.stop();
      },
    };
  });
}
