/**
 * The part loop of a multipart copy, shared by the one-invocation copy
 * (multipart-copy.ts) and the giant-object ranges (worker/giant.ts).
 *
 * Jobs start in order, at most `concurrency` holding a slot at once. A job
 * holds its slot from its start until it calls `release`, which may come after
 * its promise settles (a part waiting for the in-order hash still holds its
 * buffer): so the slots bound requests in flight and memory together. No job
 * starts once `stopping()` says so, and `run` returns only after every started
 * job has settled: nothing is left in flight when the caller acts on a failure.
 */
export interface PartJobs<T> {
  /** Checked before each start. */
  stopping(): boolean;
  start(job: T, release: () => void): Promise<void>;
  /** A job's failure. The job's slot stays held until the job calls release. */
  onError(err: unknown): void;
}

export class PartScheduler {
  private active = 0;
  private wakeUp: () => void = () => undefined;

  constructor(private readonly concurrency: number) {}

  /** Makes a waiting `run` look at `stopping()` again (a failure outside a job). */
  wake(): void {
    this.wakeUp();
  }

  /** Starts jobs until all are started or `stopping()`; resolves with how many were started, once all of them settled. */
  async run<T>(jobs: readonly T[], handlers: PartJobs<T>): Promise<number> {
    const limit = Math.max(1, this.concurrency);
    const inFlight = new Set<Promise<void>>();
    let next = 0;
    while (next < jobs.length && !handlers.stopping()) {
      if (this.active >= limit) {
        await new Promise<void>((resolve) => (this.wakeUp = resolve));
        continue;
      }
      const job = jobs[next++]!;
      this.active++;
      let held = true;
      const release = () => {
        if (!held) return;
        held = false;
        this.active--;
        this.wake();
      };
      const task: Promise<void> = handlers
        .start(job, release)
        .catch((err: unknown) => {
          handlers.onError(err);
        })
        .finally(() => {
          inFlight.delete(task);
          this.wake();
        });
      inFlight.add(task);
    }
    await Promise.all(inFlight);
    return next;
  }
}
