import type { StateStore } from "../ports.ts";
import { MigrationError } from "../errors.ts";

export async function readJson<T>(store: StateStore, key: string): Promise<{ value: T; etag: string } | undefined> {
  const o = await store.get(key);
  if (!o) return undefined;
  try {
    return { value: JSON.parse(o.body) as T, etag: o.etag };
  } catch (err) {
    throw new MigrationError("state-corrupt", `state object ${key} is not valid JSON`, { cause: err });
  }
}

export async function writeJson(store: StateStore, key: string, value: unknown, condition?: { ifNoneMatch?: true; ifMatch?: string }) {
  return store.put(key, JSON.stringify(value), condition);
}
