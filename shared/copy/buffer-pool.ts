/**
 * Reusable part buffers. A multipart copy of a large object goes through
 * hundreds of 16 MiB buffers; allocating each anew leaves the garbage
 * collector behind and the process's RSS well above what is actually held,
 * and every page of fresh memory is a page fault when first written: on a
 * virtual machine, about 4 ms of CPU per MiB, a hundred times the cost of
 * copying into a buffer already touched (measured on the bench machine).
 * Buffers are carved from one arena the size of the memory budget (plus two
 * parts of room against fragmentation), which bounds what is held in use: the
 * pool adds little to the peak, and after the first pass over the arena no
 * part costs a page fault.
 */
import { MiB } from "../limits.ts";

/** Granularity of the arena: capacities are whole MiB, so the last, shorter part of an object fits where a full one was. */
const UNIT = MiB;
const roundUp = (n: number) => Math.max(UNIT, Math.ceil(n / UNIT) * UNIT);

/**
 * One arena of `limit` bytes, allocated at the first request and carved into
 * buffers first-fit; a buffer given back is merged with its free neighbours.
 * With `limit` equal to the memory budget that bounds the buffers in use, the
 * arena serves every request but a fragmented one; those (and any larger
 * than the arena) get a buffer of their own, left to the collector.
 * Shared memory: the MD5 worker threads read a part where it is, without a copy.
 */
export class BufferPool {
  #arena?: SharedArrayBuffer;
  /** Free ranges of the arena, [start, end) in bytes, sorted and never adjacent. */
  #free: Array<[number, number]> = [];
  #outstanding = 0;
  #limit: number;

  constructor(limit: number) {
    this.#limit = roundUp(limit);
  }

  get limit(): number {
    return this.#limit;
  }

  /** A new arena size; applied at once when no buffer of the current one is out, else when the last comes back. */
  set limit(bytes: number) {
    this.#limit = roundUp(bytes);
    if (this.#outstanding === 0) this.#drop();
  }

  /** A buffer of exactly `size` bytes (contents undefined). */
  take(size: number): Buffer {
    const capacity = roundUp(size);
    if (capacity <= this.#limit) {
      if (!this.#arena) {
        this.#arena = new SharedArrayBuffer(this.#limit);
        this.#free = [[0, this.#limit]];
      }
      // Buffers under a quarter of the arena (whole small objects) are carved from its top, larger
      // ones (parts) from its bottom, so small ones never cut up the room a part needs.
      const fromTop = capacity * 4 < this.#limit;
      const fits = ([a, b]: [number, number]) => b - a >= capacity;
      let i = fromTop ? -1 : this.#free.findIndex(fits);
      if (fromTop) for (let k = this.#free.length - 1; k >= 0 && i < 0; k--) if (fits(this.#free[k]!)) i = k;
      if (i >= 0) {
        const range = this.#free[i]!;
        let start: number;
        if (fromTop) {
          start = range[1] - capacity;
          range[1] = start;
        } else {
          start = range[0];
          range[0] = start + capacity;
        }
        if (range[0] === range[1]) this.#free.splice(i, 1);
        this.#outstanding += capacity;
        return Buffer.from(this.#arena, start, size);
      }
    }
    return Buffer.from(new SharedArrayBuffer(capacity)).subarray(0, size);
  }

  /** Returns a buffer obtained from `take`; it must not be used afterwards. */
  give(buf: Buffer): void {
    if (!this.#arena || buf.buffer !== this.#arena) return;
    const start = buf.byteOffset;
    const end = start + roundUp(buf.length);
    let i = this.#free.findIndex(([a]) => a > start);
    if (i < 0) i = this.#free.length;
    // A range already free (a buffer given back twice) is not freed again.
    if ((this.#free[i] && this.#free[i]![0] < end) || (this.#free[i - 1] && this.#free[i - 1]![1] > start)) return;
    this.#outstanding -= end - start;
    this.#free.splice(i, 0, [start, end]);
    // Merge with the next range, then with the previous one.
    const next = this.#free[i + 1];
    if (next && next[0] === end) {
      this.#free[i]![1] = next[1];
      this.#free.splice(i + 1, 1);
    }
    const prev = this.#free[i - 1];
    if (prev && prev[1] === start) {
      prev[1] = this.#free[i]![1];
      this.#free.splice(i, 1);
    }
    if (this.#outstanding === 0 && this.#arena.byteLength !== this.#limit) this.#drop();
  }

  /** Bytes of the arena handed out and not given back. */
  get outstandingBytes(): number {
    return this.#outstanding;
  }

  /** Bytes of the arena free for reuse (0 before the first request). */
  get freeBytes(): number {
    return this.#free.reduce((sum, [a, b]) => sum + b - a, 0);
  }

  #drop(): void {
    this.#arena = undefined;
    this.#free = [];
  }
}

/**
 * The process's part buffers, shared by every copy like the memory budget.
 * Its size is set from that budget where the budget is made
 * (shared/runtime/composition-root.ts); 32 MiB until then.
 */
export const PART_BUFFERS = new BufferPool(32 * MiB);

/** Objects at least this large are read into pooled slabs by the single-PUT path too. */
export const POOLED_MIN_BYTES = MiB;
