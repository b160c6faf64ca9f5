/** Checks of what the destination holds after an upload. */
import { createHash } from "node:crypto";
import type { ObjectHead } from "../ports.ts";
import { ObjectFailure } from "../errors.ts";
import type { CopyRun } from "./copy-run.ts";
import { MARKERS, compareCarried, type MappedObject } from "./metadata.ts";

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
 *
 * Where ETags are not MD5s (SSE-C), the bytes were already checked part by part
 * against Content-MD5 by the server; the HEAD, made with the key, then checks
 * that the object is encrypted, its size, and our markers (source ETag and MD5)
 * as a failure, not a warning: they are what later runs trust to skip it.
 */
export async function verifyDestination(run: CopyRun, expected: { size: number; etag: string; mapped: MappedObject }): Promise<{ head: ObjectHead; warnings: string[] }> {
  const { bucket, key } = run.task;
  const head = await run.step("HeadObject", () => run.sink.head(bucket, key));
  if (!head) throw new ObjectFailure("verify-failed", `object "${key}" is missing right after its upload`);
  if (head.size !== expected.size) {
    throw new ObjectFailure("verify-failed", `destination holds ${head.size} bytes, the source has ${expected.size}`);
  }
  if (run.sink.etagsAreMd5 && head.etag !== expected.etag) {
    throw new ObjectFailure("verify-failed", `destination ETag ${head.etag} differs from the ETag computed from our hashes (${expected.etag})`);
  }
  if (run.sink.customerKeyMd5) {
    if (head.sseCustomerKeyMd5 === undefined) throw new ObjectFailure("verify-failed", `destination object "${key}" is not stored with SSE-C encryption`);
    for (const marker of [MARKERS.sourceEtag, MARKERS.md5]) {
      const want = expected.mapped.headers.metadata[marker];
      if (want !== undefined && head.metadata[marker] !== want) {
        throw new ObjectFailure("verify-failed", `destination metadata ${marker} is ${JSON.stringify(head.metadata[marker] ?? null)}, the copy wrote ${JSON.stringify(want)}`);
      }
    }
  }
  const wantTags = Object.keys(expected.mapped.tags).length > 0;
  const tags = wantTags ? await run.step("GetObjectTagging", () => run.sink.getTags(bucket, key)) : undefined;
  return { head, warnings: compareCarried(expected.mapped, head, tags) };
}
