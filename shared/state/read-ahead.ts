/**
 * Reads of numbered state objects in order, with up to `window` of the next
 * ones already asked for: a run's aggregation reads one result (or manifest)
 * per shard, and one at a time it waited a round trip per shard (10^5 shards
 * for 10^8 blobs at 1,000 a shard). Memory is `window` objects, whatever the
 * count. A read that fails fails the step that reaches it, not before; reads
 * still in flight when the caller stops (a deadline, a missing object) are
 * left to finish, their answers and errors dropped.
 */
export async function* readAhead<T>(from: number, to: number, window: number, read: (i: number) => Promise<T>): AsyncGenerator<T> {
  const ahead = new Map<number, Promise<T>>();
  let next = from;
  const fill = (upTo: number) => {
    for (; next < Math.min(to, upTo); next++) {
      const p = read(next);
      // Handled where it is awaited; a read the caller never reaches must not be an unhandled rejection.
      p.catch(() => {});
      ahead.set(next, p);
    }
  };
  for (let i = from; i < to; i++) {
    fill(i + Math.max(1, window));
    const p = ahead.get(i)!;
    ahead.delete(i);
    yield await p;
  }
}
