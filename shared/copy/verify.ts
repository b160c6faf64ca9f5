/** Checks of what the destination holds after an upload. */
import { createHash } from "node:crypto";
import type { ObjectHead } from "../ports.ts";
import { ObjectFailure } from "../errors.ts";
import type { CopyRun } from "./copy-run.ts";
import { compareCarried, type MappedObject } from "./metadata.ts";

/** S3's multipart ETag: MD5 of the concatenated binary part MD5s, then "-" and the part count. */
export function multipartEtag(partMd5s: Buffer[]): string {
  const h = createHash("md5");
  for (const d of partMd5s) h.update(d);
  return `${h.digest("hex")}-${partMd5s.length}`;
}

/**
 * HEADs the object and checks size and ETag; then compares headers, metadata
 * and (when any were sent) tags with what was sent. Byte problems throw
 * ObjectFailure; carried-metadata differences come back as warnings.
 */
export async function verifyDestination(run: CopyRun, expected: { size: number; etag: string; mapped: MappedObject }): Promise<{ head: ObjectHead; warnings: string[] }> {
  const { bucket, key } = run.task;
  const head = await run.step("HeadObject", () => run.sink.head(bucket, key));
  if (!head) throw new ObjectFailure("verify-failed", `object "${key}" is missing right after its upload`);
  if (head.size !== expected.size) {
    throw new ObjectFailure("verify-failed", `destination holds ${head.size} bytes, the source has ${expected.size}`);
  }
  if (head.etag !== expected.etag) {
    throw new ObjectFailure("verify-failed", `destination ETag ${head.etag} differs from the ETag computed from our hashes (${expected.etag})`);
  }
  const wantTags = Object.keys(expected.mapped.tags).length > 0;
  const tags = wantTags ? await run.step("GetObjectTagging", () => run.sink.getTags(bucket, key)) : undefined;
  return { head, warnings: compareCarried(expected.mapped, head, tags) };
}
