/**
 * Nothing stuck: whatever ends a giant object's copy before its ranges start
 * (no part plan fits, a key S3 refuses, a destination that refuses the upload)
 * becomes that object's failure in the ledger, and the run finishes.
 * In memory: no local server can hold a blob of terabytes, so the source
 * reports the size its listing would give.
 */
import { describe, it, expect } from "vitest";
import { randomBytes } from "node:crypto";
import { memoryWorld, runPipeline, startRequest } from "../support/memory-pipeline.ts";
import { MemoryBlobSource } from "../fakes/blob-source.ts";
import { MemoryObjectSink } from "../fakes/object-sink.ts";
import type { ListPage, ObjectHeaders } from "../../shared/ports.ts";
import { MiB } from "../../shared/limits.ts";

/** Lists some blobs with the size a real account would give them; their bytes are never read. */
class SizedSource extends MemoryBlobSource {
  constructor(readonly sizes: Map<string, number>) {
    super();
  }
  override async listPage(container: string, options: { prefix?: string; marker?: string; pageSize?: number }): Promise<ListPage> {
    const page = await super.listPage(container, options);
    for (const e of page.entries) e.size = this.sizes.get(e.name) ?? e.size;
    return page;
  }
}

const TB = 1000 ** 4;
const tuning = { giantObjectThreshold: 16 * MiB, giantRangeBytes: 16 * MiB };

function world(sizes: Map<string, number>) {
  const w = memoryWorld();
  const source = new SizedSource(sizes);
  for (const name of ["a.bin", "b.bin", ...sizes.keys()]) source.putBlob("src", name, randomBytes(1000));
  return { ...w, source };
}

describe("the giant-object path never leaves a shard stuck", () => {
  it("a blob over 5 TB fails as too-large in the ledger; the other objects are copied and the run finishes", async () => {
    const w = world(new Map([["huge.vhd", 6 * TB]]));
    const { report, ledger } = await runPipeline(w, startRequest(), { tuning });
    expect(report).toMatchObject({ status: "failed", objects: { planned: 3, copied: 2, failed: 1 } });
    expect(ledger.find((e) => e.source === "huge.vhd")).toMatchObject({ outcome: "failed", code: "too-large" });
    expect(report.failures[0].reason).toMatch(/5 TB/);
  });

  it("a giant blob no part plan fits (too many parts for the cap) fails in the ledger instead of throwing from the worker", async () => {
    const w = world(new Map([["big.bin", 200 * 1024 * MiB]]));
    // 200 GiB in at most 10 parts would need 20 GiB parts: over the 5 GiB part maximum.
    const { report, ledger, bus } = await runPipeline(w, startRequest(), { tuning: { ...tuning, maxParts: 10 } });
    expect(report).toMatchObject({ objects: { planned: 3, copied: 2, failed: 1 } });
    expect(ledger.find((e) => e.source === "big.bin")).toMatchObject({ outcome: "failed", code: "too-large" });
    expect(ledger.find((e) => e.source === "big.bin").reason).toMatch(/5 GiB part maximum/);
    expect(bus.deadLetters).toEqual([]);
  });

  it("a key over 1024 bytes on the giant path fails as key-too-long; the run finishes", async () => {
    const long = `${"k".repeat(1100)}.bin`;
    const w = world(new Map([[long, 64 * MiB]]));
    const { report, ledger } = await runPipeline(w, startRequest(), { tuning });
    expect(report).toMatchObject({ objects: { planned: 3, copied: 2, failed: 1 } });
    expect(ledger.find((e) => e.source === long)).toMatchObject({ outcome: "failed", code: "key-too-long" });
  });

  it("a destination that refuses the giant's upload for good: the object fails with the reason, the run finishes", async () => {
    const w = world(new Map([["refused.bin", 64 * MiB]]));
    class RefusingSink extends MemoryObjectSink {
      override async createMultipart(bucket: string, key: string, headers: ObjectHeaders): Promise<string> {
        if (key === "refused.bin") throw Object.assign(new Error("Access Denied"), { name: "AccessDenied", $metadata: { httpStatusCode: 403 } });
        return super.createMultipart(bucket, key, headers);
      }
    }
    const sink = new RefusingSink();
    const { report, ledger, bus } = await runPipeline(w, startRequest(), { tuning, sink });
    expect(report).toMatchObject({ objects: { planned: 3, copied: 2, failed: 1 } });
    expect(ledger.find((e) => e.source === "refused.bin")).toMatchObject({ outcome: "failed", code: "rejected" });
    expect(ledger.find((e) => e.source === "refused.bin").reason).toMatch(/CreateMultipartUpload/);
    expect(bus.deadLetters).toEqual([]);
  });
});
