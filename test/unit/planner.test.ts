import { describe, it, expect } from "vitest";
import { planParts } from "../../shared/copy/planner.ts";
import { DEFAULT_TUNING, GiB, MiB, S3_LIMITS } from "../../shared/limits.ts";

const tuning = { partSize: 16 * MiB, maxParts: 1000 };

/** Parts must tile [0, size) exactly, in order, numbered from 1. */
function assertTiles(size: number, plan: ReturnType<typeof planParts>) {
  let offset = 0;
  plan.parts.forEach((p, i) => {
    expect(p.partNumber).toBe(i + 1);
    expect(p.offset).toBe(offset);
    offset += p.length;
  });
  expect(offset).toBe(size);
}

describe("planParts", () => {
  it("gives a 0-byte object one empty part (S3 needs at least one)", () => {
    const plan = planParts(0, tuning);
    expect(plan.parts).toEqual([{ partNumber: 1, offset: 0, length: 0 }]);
  });

  it("gives a 1-byte object one part of 1 byte", () => {
    const plan = planParts(1, tuning);
    expect(plan.parts).toEqual([{ partNumber: 1, offset: 0, length: 1 }]);
  });

  it.each([
    [5 * MiB - 1, [5 * MiB - 1]],
    [5 * MiB, [5 * MiB]],
    [5 * MiB + 1, [5 * MiB, 1]],
    [10 * MiB, [5 * MiB, 5 * MiB]],
    [15 * MiB, [5 * MiB, 5 * MiB, 5 * MiB]],
  ])("splits %d bytes with 5 MiB parts into %j", (size, lengths) => {
    const plan = planParts(size, { partSize: 5 * MiB, maxParts: 1000 });
    expect(plan.partSize).toBe(5 * MiB);
    expect(plan.parts.map((p) => p.length)).toEqual(lengths);
    assertTiles(size, plan);
  });

  it("raises a part size below 5 MiB to 5 MiB", () => {
    const plan = planParts(12 * MiB, { partSize: 1 * MiB, maxParts: 1000 });
    expect(plan.partSize).toBe(5 * MiB);
    expect(plan.parts.map((p) => p.length)).toEqual([5 * MiB, 5 * MiB, 2 * MiB]);
  });

  it("keeps the part size at exactly 1000 parts and grows it at 1000 parts + 1 byte", () => {
    const exact = planParts(1000 * 16 * MiB, tuning);
    expect(exact.partSize).toBe(16 * MiB);
    expect(exact.parts).toHaveLength(1000);
    assertTiles(1000 * 16 * MiB, exact);

    const over = planParts(1000 * 16 * MiB + 1, tuning);
    expect(over.partSize).toBe(17 * MiB);
    expect(over.parts.length).toBeLessThanOrEqual(1000);
    expect(over.partSize % MiB).toBe(0);
    assertTiles(1000 * 16 * MiB + 1, over);
  });

  it("plans a 5 TB object within 1000 parts of at most 5 GiB", () => {
    const size = S3_LIMITS.maxObjectSize;
    const plan = planParts(size, DEFAULT_TUNING);
    expect(plan.parts.length).toBe(1000);
    expect(plan.partSize).toBe(4769 * MiB);
    expect(plan.partSize).toBeLessThanOrEqual(5 * GiB);
    assertTiles(size, plan);
  });

  it("refuses an object over 5 TB with a clear error", () => {
    expect(() => planParts(S3_LIMITS.maxObjectSize + 1, DEFAULT_TUNING)).toThrow(/exceeds the 5 TB maximum/);
  });

  it("refuses a lowered cap that would need parts over 5 GiB", () => {
    expect(() => planParts(20 * GiB, { partSize: 16 * MiB, maxParts: 2 })).toThrow(/5 GiB part maximum/);
  });

  it("grows the part size to a whole MiB under a lowered part cap", () => {
    const size = 20 * MiB + 3;
    const plan = planParts(size, { partSize: 5 * MiB, maxParts: 3 });
    expect(plan.partSize).toBe(7 * MiB);
    expect(plan.parts.map((p) => p.length)).toEqual([7 * MiB, 7 * MiB, 6 * MiB + 3]);
    assertTiles(size, plan);
  });

  it("never goes above Scaleway's 1000 parts even if a larger cap is asked", () => {
    const plan = planParts(2000 * 5 * MiB, { partSize: 5 * MiB, maxParts: 5000 });
    expect(plan.parts.length).toBeLessThanOrEqual(1000);
  });

  it("refuses negative and fractional sizes", () => {
    expect(() => planParts(-1, tuning)).toThrow(/whole number/);
    expect(() => planParts(1.5, tuning)).toThrow(/whole number/);
  });
});
