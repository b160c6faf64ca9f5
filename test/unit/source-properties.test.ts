/**
 * What the Azure listing says about a blob beyond its bytes (customer-provided
 * key, legal hold, retention policy) and what the run does with it. Azurite
 * implements none of these (legal hold and immutability answer 501, CPK needs
 * HTTPS and is not enforced), so the listing items are built as the SDK parses
 * them, and the pipeline runs on in-memory adapters.
 */
import { describe, it, expect } from "vitest";
import type { BlobItem } from "@azure/storage-blob";
import { blobItemToEntry, historyKind } from "../../shared/azure/blob-source.ts";
import { memoryWorld, runPipeline, startRequest } from "../support/memory-pipeline.ts";

function item(properties: Partial<BlobItem["properties"]>): BlobItem {
  return { name: "b", deleted: false, snapshot: "", properties: { lastModified: new Date(0), etag: '"0x1"', contentLength: 3, blobType: "BlockBlob", ...properties } } as BlobItem;
}

describe("blob properties from the listing", () => {
  it("customer-provided key, legal hold and a locked retention policy are read; a Mutable policy is none", () => {
    expect(blobItemToEntry(item({ customerProvidedKeySha256: "abc=" })).customerKey).toBe(true);
    expect(blobItemToEntry(item({ legalHold: true })).legalHold).toBe(true);
    const until = new Date("2031-01-01T00:00:00Z");
    expect(blobItemToEntry(item({ immutabilityPolicyMode: "Locked", immutabilityPolicyExpiresOn: until })).immutability).toEqual({ mode: "Locked", until: until.toISOString() });
    const plain = blobItemToEntry(item({ immutabilityPolicyMode: "Mutable", immutabilityPolicyExpiresOn: until, legalHold: false }));
    expect(plain.immutability).toBeUndefined();
    expect(plain.legalHold).toBeUndefined();
    expect(plain.customerKey).toBeUndefined();
  });
});

describe("immutable and CPK blobs in a run", () => {
  function seed() {
    const w = memoryWorld();
    w.source.putBlob("src", "free.txt", Buffer.from("free"));
    w.source.putBlob("src", "held.txt", Buffer.from("held"), { legalHold: true });
    w.source.putBlob("src", "kept.txt", Buffer.from("kept"), { immutability: { mode: "Unlocked", until: "2030-01-01T00:00:00.000Z" } });
    w.source.putBlob("src", "sealed.bin", Buffer.from("sealed"), { customerKey: true });
    return w;
  }

  it("by default: immutable blobs are copied with a warning naming the policy; the CPK blob fails without a read", async () => {
    const w = seed();
    const { report, ledger } = await runPipeline(w, startRequest());
    expect(report.objects).toMatchObject({ planned: 4, copied: 3, failed: 1 });
    const warned = Object.fromEntries(report.warnings.map((x) => [x.key, x.warning]));
    expect(warned["held.txt"]).toMatch(/legal hold.*without Object Lock/);
    expect(warned["kept.txt"]).toMatch(/retention until 2030-01-01T00:00:00.000Z.*without Object Lock/);
    expect(warned["free.txt"]).toBeUndefined();
    expect(ledger.find((e) => e.source === "sealed.bin")).toMatchObject({ outcome: "failed", code: "customer-key", reason: expect.stringMatching(/^encrypted with a customer-provided key/) });
    expect(await w.sink.head("dst", "sealed.bin")).toBeUndefined();
    expect(w.source.calls.read).toBe(3);
  });

  it("--require-immutability refuses a destination that can not lock, before anything is copied", async () => {
    const w = seed();
    await expect(runPipeline(w, startRequest({ options: { requireImmutability: true } }))).rejects.toThrow(/Object Lock/);
    expect(await w.sink.head("dst", "held.txt")).toBeUndefined();
    expect(await w.sink.head("dst", "free.txt")).toBeUndefined();
  });
});

describe("history items of a listing with versions, snapshots and deleted blobs", () => {
  it("only the current blob is current: snapshots, non-current versions, deleted and version-only roots are history", () => {
    const base = item({});
    expect(historyKind(base)).toBeUndefined();
    expect(historyKind({ ...base, versionId: "2024-01-01T00:00:00.0000000Z", isCurrentVersion: true })).toBeUndefined();
    expect(historyKind({ ...base, versionId: "2023-01-01T00:00:00.0000000Z" })).toBe("version");
    expect(historyKind({ ...base, snapshot: "2023-01-01T00:00:00.0000000Z" })).toBe("snapshot");
    expect(historyKind({ ...base, deleted: true })).toBe("deleted");
    expect(historyKind({ ...base, hasVersionsOnly: true })).toBe("deleted");
    expect(blobItemToEntry({ ...base, versionId: "v1" }).history).toBe("version");
  });

  it("history entries are counted, never copied, in a run on in-memory adapters", async () => {
    const w = memoryWorld();
    w.source.putBlob("src", "a.txt", Buffer.from("a"));
    w.source.putBlob("src", "a.txt@v1", Buffer.from("old"), { history: "version" });
    w.source.putBlob("src", "gone.txt", Buffer.from("x"), { history: "deleted" });
    const { report, ledger } = await runPipeline(w, startRequest());
    expect(report.objects).toMatchObject({ planned: 1, copied: 1, olderVersions: 2 });
    expect(ledger.map((e) => e.source)).toEqual(["a.txt"]);
  });
});
