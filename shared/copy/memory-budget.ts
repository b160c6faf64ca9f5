/**
 * A byte semaphore shared by every copy of one process, so the part buffers held
 * at once stay under a fixed budget whatever the number and size of objects.
 */
import type { MemoryBudget } from "./types.ts";

interface Waiter {
  bytes: number;
  resolve: () => void;
  reject: (err: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export class ByteBudget implements MemoryBudget {
  readonly total: number;
  #used = 0;
  #queue: Waiter[] = [];

  constructor(totalBytes: number) {
    if (!Number.isFinite(totalBytes) || totalBytes <= 0) throw new RangeError(`memory budget must be a positive number of bytes (got ${totalBytes})`);
    this.total = totalBytes;
  }

  /** Bytes currently held. */
  get used(): number {
    return this.#used;
  }

  /** Requests waiting for bytes. */
  get waiting(): number {
    return this.#queue.length;
  }

  /**
   * Waits until `bytes` are free, first come first served: a small request never
   * overtakes a big one queued before it, so big parts can not starve. A request
   * larger than the whole budget is granted alone (it counts as the whole budget).
   * Rejects with the signal's reason when aborted while waiting.
   */
  acquire(bytes: number, signal?: AbortSignal): Promise<void> {
    const need = this.#clamp(bytes);
    if (signal?.aborted) return Promise.reject(signal.reason ?? new Error("aborted"));
    if (this.#queue.length === 0 && this.#used + need <= this.total) {
      this.#used += need;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { bytes: need, resolve, reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          const i = this.#queue.indexOf(waiter);
          if (i < 0) return;
          this.#queue.splice(i, 1);
          reject(signal.reason ?? new Error("aborted"));
          // The head may have been the one blocking smaller requests behind it.
          this.#grant();
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.#queue.push(waiter);
    });
  }

  /** Gives back bytes obtained with `acquire` (the same amount). */
  release(bytes: number): void {
    const back = this.#clamp(bytes);
    if (back > this.#used) throw new RangeError(`released ${back} bytes but only ${this.#used} are held`);
    this.#used -= back;
    this.#grant();
  }

  #clamp(bytes: number): number {
    if (!Number.isFinite(bytes) || bytes < 0) throw new RangeError(`byte count must be a non-negative number (got ${bytes})`);
    return Math.min(bytes, this.total);
  }

  #grant(): void {
    while (this.#queue.length > 0) {
      const head = this.#queue[0]!;
      if (this.#used + head.bytes > this.total) return;
      this.#queue.shift();
      this.#used += head.bytes;
      if (head.onAbort) head.signal?.removeEventListener("abort", head.onAbort);
      head.resolve();
    }
  }
}

/** A budget that never waits, for callers that bound memory another way. */
export const UNLIMITED_BUDGET: MemoryBudget = {
  acquire: () => Promise.resolve(),
  release: () => undefined,
};
