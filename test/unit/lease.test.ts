import { describe, it, expect } from "vitest";
import { Lease } from "../../shared/worker/lease.ts";
import { MemoryStateStore } from "../fakes/state-store.ts";
import type { StateObject } from "../../shared/ports.ts";

const KEY = "runs/r/leases/s-000000.json";
const TTL = 60_000;

/** The in-memory store, with every request it answers recorded in order. */
class CountingStore extends MemoryStateStore {
  readonly calls: string[] = [];
  /** Runs once, just before the next get is answered (another worker acting between our two requests). */
  beforeGet?: () => void;
  override async get(key: string): Promise<StateObject | undefined> {
    this.calls.push("get");
    const hook = this.beforeGet;
    this.beforeGet = undefined;
    hook?.();
    return super.get(key);
  }
  override async put(key: string, body: string, condition?: { ifNoneMatch?: true; ifMatch?: string }): Promise<{ etag: string }> {
    this.calls.push(condition?.ifNoneMatch ? "create" : condition?.ifMatch ? "replace" : "put");
    return super.put(key, body, condition);
  }
}

const holder = (store: CountingStore, owner: string, expiresAt: number) => store.objects.set(KEY, { body: JSON.stringify({ owner, expiresAt: new Date(expiresAt).toISOString() }), etag: `"${owner}"` });
const ownerOf = (store: CountingStore) => JSON.parse(store.objects.get(KEY)!.body).owner as string;

describe("shard lease", () => {
  const now = () => 1_000_000;

  it("a free shard is leased in one request", async () => {
    const store = new CountingStore();
    expect(await new Lease(store, KEY, "p1/a", TTL, now).acquire()).toBe(true);
    expect(store.calls).toEqual(["create"]);
    expect(ownerOf(store)).toBe("p1/a");
  });

  it("a live lease of another owner is left alone; an expired one, or our own, is taken with If-Match", async () => {
    const store = new CountingStore();
    holder(store, "p2/b", now() + 10_000);
    expect(await new Lease(store, KEY, "p1/a", TTL, now).acquire()).toBe(false);
    expect(store.calls).toEqual(["create", "get"]);
    expect(ownerOf(store)).toBe("p2/b");

    store.calls.length = 0;
    holder(store, "p2/b", now() - 1);
    expect(await new Lease(store, KEY, "p1/a", TTL, now).acquire()).toBe(true);
    expect(store.calls).toEqual(["create", "get", "replace"]);
    expect(ownerOf(store)).toBe("p1/a");

    expect(await new Lease(store, KEY, "p1/a", TTL, now).acquire()).toBe(true);
  });

  it("a live lease is taken from an owner the caller knows is dead", async () => {
    const store = new CountingStore();
    holder(store, "dead/x", now() + 10_000);
    expect(await new Lease(store, KEY, "p1/a", TTL, now).acquire({ takeOverFrom: (o) => o.startsWith("dead/") })).toBe(true);
    expect(ownerOf(store)).toBe("p1/a");
  });

  it("a lease released between the failed create and the read is created again; of two takers of an expired lease one wins", async () => {
    const store = new CountingStore();
    holder(store, "p2/b", now() + 10_000);
    store.beforeGet = () => store.objects.delete(KEY);
    expect(await new Lease(store, KEY, "p1/a", TTL, now).acquire()).toBe(true);
    expect(store.calls).toEqual(["create", "get", "create"]);
    expect(ownerOf(store)).toBe("p1/a");

    holder(store, "p2/b", now() - 1);
    const taken = await Promise.all([new Lease(store, KEY, "p3/c", TTL, now).acquire(), new Lease(store, KEY, "p4/d", TTL, now).acquire()]);
    expect(taken.filter(Boolean)).toHaveLength(1);
  });

  it("renewal fails once another owner took the lease; release deletes it", async () => {
    const store = new CountingStore();
    const lease = new Lease(store, KEY, "p1/a", TTL, now);
    expect(await lease.acquire()).toBe(true);
    expect(await lease.renew()).toBe(true);
    holder(store, "p2/b", now() + 10_000);
    expect(await lease.renew()).toBe(false);
    const mine = new Lease(store, KEY, "p2/b", TTL, now);
    expect(await mine.acquire()).toBe(true);
    await mine.release();
    expect(store.objects.has(KEY)).toBe(false);
  });
});
