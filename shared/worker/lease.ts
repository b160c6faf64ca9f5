/**
 * One worker at a time on a shard. The lease is a state object written with
 * If-None-Match (new) or If-Match (take-over of an expired lease, renewal), so
 * two invocations on the same shard never both copy it.
 */
import { PreconditionFailedError } from "../errors.ts";
import type { StateStore } from "../ports.ts";
import { readJson, writeJson } from "../state/json.ts";
import type { ShardLease } from "../state/layout.ts";
import { writeOnce } from "../state/write-once.ts";

export class Lease {
  private etag?: string;
  constructor(
    private readonly store: StateStore,
    private readonly key: string,
    private readonly owner: string,
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  private body(): ShardLease {
    return { owner: this.owner, expiresAt: new Date(this.now() + this.ttlMs).toISOString() };
  }

  /**
   * True when this owner now holds the lease. `takeOverFrom(owner)` lets a caller
   * take a live lease it knows is dead (a local run resuming after its process was killed).
   */
  async acquire(options: { takeOverFrom?: (owner: string) => boolean } = {}): Promise<boolean> {
    try {
      // Most shards have no lease: it is created at once (one round trip); only one that exists is read.
      if (await this.create()) return true;
      const current = await readJson<ShardLease>(this.store, this.key);
      // Released between the two requests: create it once more.
      return current ? await this.takeOver(current, options) : await this.create();
    } catch (err) {
      if (err instanceof PreconditionFailedError) return false;
      throw err;
    }
  }

  private async create(): Promise<boolean> {
    const written = await writeOnce(this.store, this.key, this.body());
    if (written.created) this.etag = written.etag;
    return written.created;
  }

  /** An expired lease, our own, or one the caller knows is dead is taken (If-Match: of two takers, one wins). */
  private async takeOver(current: { value: ShardLease; etag: string }, options: { takeOverFrom?: (owner: string) => boolean }): Promise<boolean> {
    const expired = Date.parse(current.value.expiresAt) < this.now();
    if (!expired && current.value.owner !== this.owner && !options.takeOverFrom?.(current.value.owner)) return false;
    this.etag = (await writeJson(this.store, this.key, this.body(), { ifMatch: current.etag })).etag;
    return true;
  }

  /** Extends the lease; false when another owner took it (then stop working). */
  async renew(): Promise<boolean> {
    if (!this.etag) return false;
    try {
      this.etag = (await writeJson(this.store, this.key, this.body(), { ifMatch: this.etag })).etag;
      return true;
    } catch (err) {
      if (err instanceof PreconditionFailedError) return false;
      throw err;
    }
  }

  async release(): Promise<void> {
    if (!this.etag) return;
    await this.store.delete(this.key).catch(() => undefined);
    this.etag = undefined;
  }
}
