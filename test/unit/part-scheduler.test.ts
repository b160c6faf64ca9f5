/** The part loop shared by every multipart copy: its slots bound what is in flight, and nothing is left running. */
import { describe, it, expect } from "vitest";
import { PartScheduler } from "../../shared/copy/part-scheduler.ts";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("PartScheduler", () => {
  it("never holds more than `concurrency` slots, also when slots are released after the job settles", async () => {
    // Prepare
    const scheduler = new PartScheduler(3);
    let held = 0;
    let maxHeld = 0;
    const done: number[] = [];
    const late: Array<Promise<void>> = [];
    // Act: odd jobs give their slot back only some time after they settle (a part waiting for the in-order hash)
    const started = await scheduler.run(Array.from({ length: 20 }, (_, i) => i), {
      stopping: () => false,
      start: async (n, release) => {
        held++;
        maxHeld = Math.max(maxHeld, held);
        await tick(1 + (n % 4));
        done.push(n);
        const give = () => {
          held--;
          release();
        };
        if (n % 2) late.push(tick(3).then(give));
        else give();
      },
      onError: (err) => {
        throw err;
      },
    });
    await Promise.all(late);
    // Assess
    expect(started).toBe(20);
    expect(maxHeld).toBe(3);
    expect([...done].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it("starts nothing once stopping, and returns only after every started job has settled", async () => {
    const scheduler = new PartScheduler(2);
    const errors: unknown[] = [];
    const settled: number[] = [];
    let failed = false;
    const started = await scheduler.run([1, 2, 3, 4, 5, 6], {
      stopping: () => failed,
      start: async (n, release) => {
        try {
          await tick(n === 2 ? 1 : 8);
          if (n === 2) {
            failed = true;
            throw new Error("part 2 failed");
          }
        } finally {
          settled.push(n);
          release();
        }
      },
      onError: (err) => errors.push(err),
    });
    expect(errors).toEqual([new Error("part 2 failed")]);
    // 1 and 2 at once; 2 fails before giving its slot back, so 3 never starts, and 1 is awaited
    expect(started).toBe(2);
    expect([...settled].sort()).toEqual([1, 2]);
  });
});
