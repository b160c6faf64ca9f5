/**
 * One page cut from a store's sorted stream of keys, for stores without a paged
 * listing of their own (in memory, on files): keys after `startAfter`, at most
 * `maxKeys`, and whether more follow.
 */
export async function pageOfKeys(sorted: AsyncIterable<string>, options: { startAfter?: string; maxKeys: number }): Promise<{ keys: string[]; truncated: boolean }> {
  const after = options.startAfter === undefined ? undefined : Buffer.from(options.startAfter, "utf8");
  const keys: string[] = [];
  for await (const k of sorted) {
    if (after && Buffer.compare(Buffer.from(k, "utf8"), after) <= 0) continue;
    if (keys.length === options.maxKeys) return { keys, truncated: true };
    keys.push(k);
  }
  return { keys, truncated: false };
}
