import type { StateStore } from "../ports.ts";
import { MigrationError } from "../errors.ts";

export async function readJson<T>(store: StateStore, key: string): Promise<{ value: T; etag: string } | undefined> {
  const o = await store.get(key);
  return o ? parseJson<T>(key, o) : undefined;
}

/** The text of state object `key`, read earlier, as JSON. */
export function parseJson<T>(key: string, o: { body: string; etag: string }): { value: T; etag: string } {
  try {
    return { value: JSON.parse(o.body) as T, etag: o.etag };
  } catch (err) {
    throw new MigrationError("state-corrupt", `state object ${key} is not valid JSON`, { cause: err });
  }
}

export async function writeJson(store: StateStore, key: string, value: unknown, condition?: { ifNoneMatch?: true; ifMatch?: string }) {
  return store.put(key, JSON.stringify(value), condition);
}
