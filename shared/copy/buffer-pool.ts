/**
 * Reusable part buffers. A multipart copy of a large object goes through
 * hundreds of 16 MiB buffers; allocating each anew leaves the garbage
 * collector behind and the process's RSS well above what is actually held.
 * Slabs are kept for reuse up to `maxFreeBytes`; what is held in use is bounded
 * by the MemoryBudget, not here.
 */
import { MiB } from "../limits.ts";

export class BufferPool {
  readonly #free: Buffer[] = [];
  #freeBytes = 0;

  constructor(readonly maxFreeBytes: number) {}

  /** A buffer of exactly `size` bytes (contents undefined), backed by a pooled slab when one fits. */
  take(size: number): Buffer {
    let best = -1;
    for (let i = 0; i < this.#free.length; i++) {
      const cap = this.#free[i]!.length;
      if (cap >= size && (best < 0 || cap < this.#free[best]!.length)) best = i;
    }
    if (best >= 0) {
      const slab = this.#free.splice(best, 1)[0]!;
      this.#freeBytes -= slab.length;
      return slab.subarray(0, size);
    }
    // Whole MiB capacities so the last, shorter part of an object reuses a slab too.
    // Shared memory: the MD5 worker threads read the part where it is, without a copy.
    const capacity = Math.max(MiB, Math.ceil(size / MiB) * MiB);
    return Buffer.from(new SharedArrayBuffer(capacity)).subarray(0, size);
  }

  /** Returns a buffer obtained from `take`; it must not be used afterwards. */
  give(buf: Buffer): void {
    const slab = Buffer.from(buf.buffer as SharedArrayBuffer, 0, buf.buffer.byteLength);
    if (this.#freeBytes + slab.length > this.maxFreeBytes) return;
    this.#free.push(slab);
    this.#freeBytes += slab.length;
  }

  get freeBytes(): number {
    return this.#freeBytes;
  }
}

/**
 * The process's pool of part buffers, shared by every copy like the memory budget.
 * Buffers in use are bounded by the budget; the free ones kept here come on top
 * of it, so only a couple of parts' worth are kept: enough to reuse slabs as
 * parts cycle, small enough that the process stays near its budget.
 */
export const PART_BUFFERS = new BufferPool(32 * MiB);
