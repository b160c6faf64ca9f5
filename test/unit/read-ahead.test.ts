import { describe, it, expect } from "vitest";
import { readAhead } from "../../shared/state/read-ahead.ts";

/** Reads that resolve when released, in any order; counts those in flight. */
function controlledReads() {
  const waiting = new Map<number, { resolve: (v: string) => void; reject: (e: Error) => void }>();
  const stats = { inFlight: 0, maxInFlight: 0, asked: [] as number[] };
  const read = (i: number) =>
    new Promise<string>((resolve, reject) => {
      stats.asked.push(i);
      stats.inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      waiting.set(i, {
        resolve: (v) => {
          stats.inFlight--;
          resolve(v);
        },
        reject: (e) => {
          stats.inFlight--;
          reject(e);
        },
      });
    });
  const release = () => {
    // Latest first: answers arrive out of order.
    for (const i of [...waiting.keys()].sort((a, b) => b - a)) {
      waiting.get(i)!.resolve(`r${i}`);
      waiting.delete(i);
    }
  };
  return { read, release, waiting, stats };
}

describe("readAhead", () => {
  it("yields every read in order while at most `window` are in flight", async () => {
    // Prepare
    const c = controlledReads();
    const timer = setInterval(c.release, 1);
    // Act
    const got: string[] = [];
    try {
      for await (const v of readAhead(3, 40, 5, c.read)) got.push(v);
    } finally {
      clearInterval(timer);
    }
    // Assess
    expect(got).toEqual(Array.from({ length: 37 }, (_, k) => `r${k + 3}`));
    expect(c.stats.asked).toEqual(Array.from({ length: 37 }, (_, k) => k + 3));
    expect(c.stats.maxInFlight).toBe(5);
  });

  it("asks for the window before the first answer, and nothing past the end", async () => {
    // Prepare
    const c = controlledReads();
    const reads = readAhead(0, 3, 8, c.read);
    // Act
    const first = reads.next();
    await Promise.resolve();
    // Assess
    expect(c.stats.asked).toEqual([0, 1, 2]);
    c.release();
    expect((await first).value).toBe("r0");
  });

  it("fails at the read that failed, after the ones before it, with no unhandled rejection for reads never reached", async () => {
    // Prepare
    const read = (i: number) => (i === 2 || i === 4 ? Promise.reject(new Error(`read ${i} failed`)) : Promise.resolve(i));
    const got: number[] = [];
    // Act
    let error: unknown;
    try {
      for await (const v of readAhead(0, 10, 4, read)) got.push(v);
    } catch (err) {
      error = err;
    }
    await new Promise((r) => setTimeout(r, 10));
    // Assess
    expect(got).toEqual([0, 1]);
    expect((error as Error).message).toBe("read 2 failed");
  });

  it("a window of 0 or 1 reads one at a time", async () => {
    for (const window of [0, 1]) {
      const c = controlledReads();
      const timer = setInterval(c.release, 1);
      const got: string[] = [];
      try {
        for await (const v of readAhead(0, 4, window, c.read)) got.push(v);
      } finally {
        clearInterval(timer);
      }
      expect(got).toEqual(["r0", "r1", "r2", "r3"]);
      expect(c.stats.maxInFlight).toBe(1);
    }
  });
});
