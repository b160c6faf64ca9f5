/**
 * State work linear in the run and a report that does not grow with it: many
 * tiny shards on the memory ports, with the state requests counted.
 */
import { describe, it, expect } from "vitest";
import { memoryWorld, runPipeline, startRequest } from "../support/memory-pipeline.ts";
import type { StateStore } from "../../shared/ports.ts";
import { REPORT_SAMPLE } from "../../shared/coordinator/aggregate.ts";

type Counts = Record<"get" | "put" | "delete" | "list" | "parts", number>;

/** The world's state stores, each call counted. */
function countState(world: ReturnType<typeof memoryWorld>): Counts {
  const counts: Counts = { get: 0, put: 0, delete: 0, list: 0, parts: 0 };
  const inner = world.state;
  (world as { state: (bucket: string) => StateStore }).state = (bucket: string): StateStore => {
    const s = inner(bucket);
    return {
      get: (k) => (counts.get++, s.get(k)),
      put: (k, b, c) => (counts.put++, s.put(k, b, c)),
      delete: (k) => (counts.delete++, s.delete(k)),
      list: (p) => (counts.list++, s.list(p)),
      listPage: (p, o) => (counts.list++, s.listPage(p, o)),
      startMultipart: (k) => s.startMultipart(k),
      putPart: (k, u, n, b) => (counts.parts++, s.putPart(k, u, n, b)),
      completeMultipart: (k, u, p) => s.completeMultipart(k, u, p),
      abortMultipart: (k, u) => s.abortMultipart(k, u),
      lines: (k) => s.lines(k),
    };
  };
  return counts;
}

function seed(world: ReturnType<typeof memoryWorld>, n: number, archivedEvery: number) {
  for (let i = 0; i < n; i++) {
    world.source.putBlob("src", `d/${String(i).padStart(6, "0")}`, Buffer.from([i & 255]), i % archivedEvery === 0 ? { accessTier: "Archive" } : {});
  }
}

describe("a run of many shards", () => {
  it("detects its last shard without listing results, and its report stays bounded", { timeout: 120_000 }, async () => {
    const world = memoryWorld({ stateMinPartBytes: 1024 });
    seed(world, 20_000, 10);
    const counts = countState(world);
    const { report, ledger } = await runPipeline(world, startRequest({ options: { shardMaxObjects: 10 } }), { tuning: { ledgerPartBytes: 256 * 1024 } });

    expect(report.objects).toMatchObject({ planned: 20_000, copied: 18_000, failed: 2_000 });
    expect(report.shards).toBe(2_000);
    // The report lists the first failures and counts the rest; the ledger has every object.
    expect(report.failures).toHaveLength(REPORT_SAMPLE);
    expect(report.failuresOmitted).toBe(2_000 - REPORT_SAMPLE);
    expect(report.failuresByReason).toEqual({ archived: 2_000 });
    expect(JSON.stringify(report).length).toBeLessThan(150 * 1024);
    expect(ledger).toHaveLength(20_000);
    expect(new Set(ledger.map((e: { key: string }) => e.key)).size).toBe(20_000);
    // Streamed in parts, not built whole.
    expect(counts.parts).toBeGreaterThan(5);

    // Requests per shard bounded by a constant; no listing of results per shard-done (that would be >= 2,000 lists).
    expect(counts.list).toBeLessThan(10);
    const perShard = (counts.get + counts.put + counts.delete) / report.shards;
    expect(perShard).toBeLessThan(20);
  });

  it("aggregates across invocations when each has little time, with the same report and ledger", { timeout: 120_000 }, async () => {
    const relaxedWorld = memoryWorld({ stateMinPartBytes: 1024 });
    seed(relaxedWorld, 3_000, 7);
    const relaxed = await runPipeline(relaxedWorld, startRequest({ options: { shardMaxObjects: 5 } }), { tuning: { ledgerPartBytes: 16 * 1024 } });
    const rushedWorld = memoryWorld({ stateMinPartBytes: 1024 });
    seed(rushedWorld, 3_000, 7);
    const rushed = await runPipeline(rushedWorld, startRequest({ options: { shardMaxObjects: 5 } }), { tuning: { ledgerPartBytes: 16 * 1024 }, coordinatorTimeoutMs: 40 });

    const continued = rushed.bus.sent.filter((m) => m.body.includes('"continue-aggregation"')).length;
    expect(continued).toBeGreaterThan(0);
    expect(rushed.report.objects).toEqual(relaxed.report.objects);
    expect(rushed.report.failuresByReason).toEqual(relaxed.report.failuresByReason);
    expect(rushed.ledger).toEqual(relaxed.ledger);
    // No ledger upload left open in the state store.
    const store = rushedWorld.stores.get("dst")!;
    expect(store.openUploads).toBe(0);
  });
});
