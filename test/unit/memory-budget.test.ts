import { describe, it, expect } from "vitest";
import { ByteBudget } from "../../shared/copy/memory-budget.ts";

const tick = () => new Promise((r) => setImmediate(r));

describe("ByteBudget", () => {
  it("never holds more than its total under random concurrent use (invariant)", async () => {
    // Prepare
    const budget = new ByteBudget(100);
    let held = 0;
    let peak = 0;
    let violations = 0;
    // Act
    await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const bytes = 1 + ((i * 37) % 60);
        await budget.acquire(bytes);
        held += bytes;
        peak = Math.max(peak, held);
        if (held > 100 || budget.used > 100) violations++;
        await new Promise((r) => setTimeout(r, (i * 7) % 3));
        held -= bytes;
        budget.release(bytes);
      }),
    );
    // Assess
    expect(violations).toBe(0);
    expect(peak).toBeGreaterThan(60);
    expect(budget.used).toBe(0);
    expect(budget.waiting).toBe(0);
  });

  it("serves waiters first come first served: a small request does not overtake a big one", async () => {
    const budget = new ByteBudget(10);
    const order: string[] = [];
    await budget.acquire(8);
    const big = budget.acquire(6).then(() => order.push("big"));
    const small = budget.acquire(1).then(() => order.push("small"));
    await tick();
    // 2 bytes are free, enough for "small", but "big" is first in line.
    expect(order).toEqual([]);
    budget.release(8);
    await Promise.all([big, small]);
    expect(order).toEqual(["big", "small"]);
    expect(budget.used).toBe(7);
  });

  it("grants a request larger than the whole budget, alone", async () => {
    const budget = new ByteBudget(10);
    await budget.acquire(3);
    let granted = false;
    const huge = budget.acquire(50).then(() => (granted = true));
    await tick();
    expect(granted).toBe(false);
    budget.release(3);
    await huge;
    expect(granted).toBe(true);
    expect(budget.used).toBe(10);
    let other = false;
    const next = budget.acquire(1).then(() => (other = true));
    await tick();
    expect(other).toBe(false);
    budget.release(50);
    await next;
    expect(budget.used).toBe(1);
  });

  it("rejects an aborted wait, removes it from the line and lets the next one in", async () => {
    const budget = new ByteBudget(10);
    await budget.acquire(5);
    const ac = new AbortController();
    const blocked = budget.acquire(10, ac.signal);
    let smallGranted = false;
    const small = budget.acquire(5).then(() => (smallGranted = true));
    await tick();
    expect(smallGranted).toBe(false);
    ac.abort(new Error("deadline"));
    await expect(blocked).rejects.toThrow("deadline");
    await small;
    expect(smallGranted).toBe(true);
    expect(budget.used).toBe(10);
    expect(budget.waiting).toBe(0);
  });

  it("rejects at once when the signal is already aborted", async () => {
    const budget = new ByteBudget(10);
    await expect(budget.acquire(1, AbortSignal.abort(new Error("late")))).rejects.toThrow("late");
    expect(budget.used).toBe(0);
  });

  it("refuses to release more than it holds", () => {
    const budget = new ByteBudget(10);
    expect(() => budget.release(1)).toThrow(RangeError);
  });
});
