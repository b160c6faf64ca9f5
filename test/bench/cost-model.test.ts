/** The bench's cost model: tier from peak RSS, CPU-bound or wall-bound duration, GB-seconds and invocations per TB. */
import { describe, it, expect } from "vitest";
import { estimate, PRICES, TB } from "../../bench/cost-model.ts";

const GiB = 1024 ** 3;
const base = { shardMaxObjects: 1000, shardMaxBytes: 20 * GiB };

describe("bench cost model", () => {
  it("picks the smallest tier above the peak RSS and prices a CPU-bound copy by CPU seconds / vCPU", () => {
    // 1 GiB in 2 large objects, 7 CPU-s, 4 s wall, 270 MiB peak: the 512 MB tier (0.28 vCPU) needs 25 s per GiB.
    const e = estimate({ ...base, bytes: GiB, objects: 2, cpuSeconds: 7, seconds: 4, peakRssMiB: 270 });
    expect(e.tier).toEqual({ mb: 512, vcpu: 0.28 });
    expect(e.cpuBound).toBe(true);
    expect(e.functionSecondsPerGiB).toBeCloseTo(25, 6);
    const gib = TB / GiB;
    expect(e.gbSecondsPerTB).toBeCloseTo(0.5 * 25 * gib, 3);
    expect(e.eurComputePerTB).toBeCloseTo(0.5 * 25 * gib * PRICES.eurPerGbSecond, 6);
    // Shards by bytes (20 GiB each), each copying 20 x 25 s = 500 s: one worker invocation and one coordinator invocation each.
    expect(e.invocationsPerTB).toBeCloseTo((TB / (20 * GiB)) * 2, 6);
    expect(e.eurPerTB).toBeCloseTo(e.eurComputePerTB + e.invocationsPerTB * PRICES.eurPerRequest, 9);
  });

  it("uses the wall time when the tier's vCPU would be faster than the copy measured, and counts shards by objects for small ones", () => {
    // 16 KiB objects: 65,536 per GiB; 0.1 CPU-s for 1 GiB would take 0.1 s at 1 vCPU, but the copy took 60 s.
    const e = estimate({ ...base, bytes: GiB, objects: 65_536, cpuSeconds: 0.1, seconds: 60, peakRssMiB: 1500 });
    expect(e.tier?.mb).toBe(2048);
    expect(e.cpuBound).toBe(false);
    expect(e.functionSecondsPerGiB).toBe(60);
    const shards = (65_536 * (TB / GiB)) / 1000;
    // 1000 objects per shard at 60 s per 65,536 objects: under a minute each.
    expect(e.invocationsPerTB).toBeCloseTo(shards * 2, 3);
  });

  it("has no tier when the peak RSS is above 2048 MB, and takes a tier given", () => {
    const none = estimate({ ...base, bytes: GiB, objects: 1, cpuSeconds: 1, seconds: 1, peakRssMiB: 4000 });
    expect(none.tier).toBeUndefined();
    expect(Number.isNaN(none.eurComputePerTB)).toBe(true);
    const given = estimate({ ...base, bytes: GiB, objects: 1, cpuSeconds: 1, seconds: 1, peakRssMiB: 100, tierMb: 1024 });
    expect(given.tier).toEqual({ mb: 1024, vcpu: 0.56 });
  });

  it("splits a shard that copies longer than an invocation into several worker invocations", () => {
    // 20 GiB shards at 100 s per GiB on 0.56 vCPU: 2000 s each, three invocations of 840 s, plus the coordinator's.
    const e = estimate({ ...base, bytes: GiB, objects: 1, cpuSeconds: 56, seconds: 1, peakRssMiB: 600 });
    expect(e.functionSecondsPerGiB).toBeCloseTo(100, 6);
    expect(e.invocationsPerTB).toBeCloseTo((TB / (20 * GiB)) * 4, 6);
  });
});
