/**
 * `--verify-readback`: proof read from the destination. The copied object is
 * streamed back (with the SSE-C key when there is one) and hashed; its MD5 must
 * equal the MD5 we computed from the source bytes while copying. Memory: one
 * stream chunk at a time, whatever the object's size. Not cut by the deadline:
 * the object is already copied, and an interrupted read back would fail it.
 */
import { createHash } from "node:crypto";
import type { CopyResult } from "./types.ts";
import { ObjectFailure } from "../errors.ts";
import { reasonOf, type CopyRun } from "./copy-run.ts";

type Copied = Extract<CopyResult, { outcome: "copied" }>;

export async function readBack(run: CopyRun, result: Copied): Promise<CopyResult> {
  const { bucket, key } = run.task;
  const expected = result.md5 ?? run.task.blob.contentMd5;
  if (!expected) {
    return { ...result, warnings: [...result.warnings, "not read back: no MD5 of the whole object to compare with"] };
  }
  const { md5, size } = await run.step("GetObject (read back)", async () => {
    const body = await run.sink.get(bucket, key);
    const hash = createHash("md5");
    let n = 0;
    for await (const chunk of body) {
      hash.update(chunk as Buffer);
      n += (chunk as Buffer).length;
    }
    return { md5: hash.digest("hex"), size: n };
  });
  if (size !== result.size || md5 !== expected) {
    // Its markers would make the next run skip it as unchanged: remove it, so that it is copied again.
    let removal = "the object was deleted so that the next run copies it again";
    try {
      const refused = await run.step("DeleteObjects (bad copy)", () => run.sink.deleteObjects(bucket, [key]));
      if (refused.length > 0) removal = `the object could not be deleted (${refused[0]!.error}): delete it before the next run`;
    } catch (err) {
      removal = `the object could not be deleted (${reasonOf(err)}): delete it before the next run`;
    }
    throw new ObjectFailure("readback-mismatch", `read back ${size} bytes with MD5 ${md5} from the destination, copied ${result.size} bytes with MD5 ${expected}; ${removal}`);
  }
  return { ...result, verifiedBy: `${result.verifiedBy}+readback-md5` };
}
