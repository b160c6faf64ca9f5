import { describe, expect, it } from "vitest";
import { BufferPool } from "../../shared/copy/buffer-pool.ts";
import { MiB } from "../../shared/limits.ts";

describe("BufferPool", () => {
  it("carves buffers from one arena and reuses what comes back, merged with its neighbours", () => {
    const pool = new BufferPool(8 * MiB);
    const a = pool.take(3 * MiB);
    const b = pool.take(2 * MiB + 1); // rounded up to 3 MiB
    const c = pool.take(2 * MiB);
    expect([a.length, b.length, c.length]).toEqual([3 * MiB, 2 * MiB + 1, 2 * MiB]);
    expect(b.buffer).toBe(a.buffer);
    expect(c.buffer).toBe(a.buffer);
    expect([a.byteOffset, b.byteOffset, c.byteOffset]).toEqual([0, 3 * MiB, 6 * MiB]);
    expect(pool.outstandingBytes).toBe(8 * MiB);
    // Full: a buffer of its own, not part of the arena, and dropped when given back.
    const own = pool.take(MiB);
    expect(own.buffer).not.toBe(a.buffer);
    pool.give(own);
    expect(pool.freeBytes).toBe(0);
    // a and b come back: one free range of 6 MiB that a 5 MiB request fits in.
    pool.give(b);
    pool.give(a);
    expect(pool.freeBytes).toBe(6 * MiB);
    const d = pool.take(5 * MiB);
    expect(d.buffer).toBe(a.buffer);
    expect(d.byteOffset).toBe(0);
    // Given back twice: counted once.
    pool.give(c);
    pool.give(c);
    expect(pool.outstandingBytes).toBe(5 * MiB);
    expect(pool.freeBytes).toBe(3 * MiB);
  });

  it("carves small buffers from the top and parts from the bottom, so small ones do not split the room of a part", () => {
    const pool = new BufferPool(64 * MiB);
    const part = pool.take(16 * MiB);
    const small = pool.take(4 * MiB);
    expect(part.byteOffset).toBe(0);
    expect(small.byteOffset).toBe(60 * MiB);
    // Two more parts fit below the small one, contiguous.
    const parts = [pool.take(16 * MiB), pool.take(16 * MiB)];
    expect(parts.map((p) => p.buffer === part.buffer)).toEqual([true, true]);
    expect(parts.map((p) => p.byteOffset)).toEqual([16 * MiB, 32 * MiB]);
  });

  it("writes into one buffer never show in another", () => {
    const pool = new BufferPool(4 * MiB);
    const a = pool.take(2 * MiB).fill(1);
    const b = pool.take(2 * MiB).fill(2);
    expect(a.every((x) => x === 1)).toBe(true);
    expect(b.every((x) => x === 2)).toBe(true);
  });

  it("applies a new size once nothing of the old arena is out", () => {
    const pool = new BufferPool(2 * MiB);
    const a = pool.take(MiB);
    pool.limit = 4 * MiB;
    const b = pool.take(MiB);
    expect(b.buffer).toBe(a.buffer); // the old arena still serves
    pool.give(a);
    pool.give(b);
    const c = pool.take(3 * MiB);
    expect(c.buffer.byteLength).toBe(4 * MiB);
  });
});
