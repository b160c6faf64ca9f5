import { describe, it, expect } from "vitest";
import { createHash } from "node:crypto";
import { MemoryObjectSink } from "../fakes/object-sink.ts";
import { indexDestination } from "../../shared/worker/destination-index.ts";

async function put(sink: MemoryObjectSink, key: string) {
  const body = Buffer.from(key);
  await sink.put("b", key, body, createHash("md5").update(body).digest("base64"), { metadata: {} });
}

describe("indexDestination", () => {
  it("finds exactly the keys the destination lacks, across pages, with unicode and neighbours outside the range", async () => {
    const sink = new MemoryObjectSink();
    const keys = Array.from({ length: 2500 }, (_, i) => `p/${String(i).padStart(5, "0")}-${i % 7 === 0 ? "é" : i % 11 === 0 ? "😀" : "x"}`);
    const present = keys.filter((_, i) => i % 3 !== 0);
    for (const k of present) await put(sink, k);
    for (const k of ["p/", "o/zzz", "p/99999-after", "q/0"]) await put(sink, k);
    const { absent, listed } = await indexDestination(sink, "b", keys, { attempts: 1 });
    expect([...absent].sort()).toEqual(keys.filter((_, i) => i % 3 === 0).sort());
    // Present keys come with their size and ETag; neighbours outside the shard's keys are not kept.
    expect([...listed.keys()].sort()).toEqual([...present].sort());
    const k = present[0]!;
    expect(listed.get(k)).toEqual({ size: Buffer.byteLength(k), etag: createHash("md5").update(k).digest("hex") });
    expect(sink.calls.listKeys).toBe(2);
  });

  it("gives up (no key known absent) when the range is crowded with other keys", async () => {
    const sink = new MemoryObjectSink();
    for (let i = 0; i < 3000; i++) await put(sink, `k/${String(i).padStart(5, "0")}`);
    const { absent, listed } = await indexDestination(sink, "b", ["k/00000-a", "k/00001-a", "k/00002-a", "k/00003-a", "k/00004-a", "k/00005-a", "k/00006-a", "k/02999-z"], { attempts: 1 });
    expect(absent.size).toBe(0);
    expect(listed.size).toBe(0);
  });

  it("does not list for one key, and lists for two", async () => {
    const sink = new MemoryObjectSink();
    await put(sink, "b");
    expect((await indexDestination(sink, "b", ["a"], { attempts: 1 })).absent.size).toBe(0);
    expect(sink.calls.listKeys ?? 0).toBe(0);
    const two = await indexDestination(sink, "b", ["a", "b"], { attempts: 1 });
    expect([...two.absent]).toEqual(["a"]);
    expect([...two.listed.keys()]).toEqual(["b"]);
    expect(sink.calls.listKeys).toBe(1);
  });
});
