/**
 * Read-modify-write of one small state object under conditional writes: the
 * change is applied to what is stored and written with If-Match (If-None-Match
 * when absent); a lost race reads again and re-applies. For counters and sets
 * that several invocations update at once.
 */
import { PreconditionFailedError } from "../errors.ts";
import type { StateStore } from "../ports.ts";
import { sleep } from "../retry.ts";
import { readJson, writeJson } from "./json.ts";

/** `change` returns the new value, or undefined when nothing needs writing. */
export async function updateJson<T>(store: StateStore, key: string, change: (current: T | undefined) => T | undefined, tries = 50): Promise<T | undefined> {
  for (let attempt = 1; ; attempt++) {
    const current = await readJson<T>(store, key);
    const next = change(current?.value);
    if (next === undefined) return current?.value;
    try {
      await writeJson(store, key, next, current ? { ifMatch: current.etag } : { ifNoneMatch: true });
      return next;
    } catch (err) {
      if (!(err instanceof PreconditionFailedError) || attempt >= tries) throw err;
      await sleep(Math.floor(Math.random() * Math.min(1000, 10 * 2 ** attempt)));
    }
  }
}
