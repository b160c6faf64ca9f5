/**
 * The steps of a multipart upload that every multipart copy takes the same
 * way, whether in one invocation (multipart-copy.ts) or as part ranges across
 * invocations (worker/giant.ts): upload a part and check the ETag the server
 * returns, complete, then verify what the server made of it.
 */
import type { UploadedPart } from "../ports.ts";
import { ObjectFailure } from "../errors.ts";
import type { CopyRun } from "./copy-run.ts";
import { errorClassOf } from "./copy-run.ts";
import type { MappedObject } from "./metadata.ts";
import { multipartEtag, verifyDestination } from "./verify.ts";

/**
 * Uploads part `n` with its Content-MD5 (which the server checks). Where ETags
 * are MD5s, the ETag it returns must be ours: anything else is a corrupted part
 * (code `part-corrupted`). Under SSE-C the ETag is opaque; our MD5 is kept
 * with the part for the multipart ETag and the checkpoint.
 */
export async function uploadCheckedPart(run: CopyRun, uploadId: string, n: number, buf: Buffer, md5: Buffer, cutByDeadline = false): Promise<UploadedPart> {
  const { bucket, key } = run.task;
  const md5Hex = md5.toString("hex");
  const { etag } = await run.step(`UploadPart ${n}`, () => run.sink.uploadPart(bucket, key, uploadId, n, buf, md5.toString("base64")), cutByDeadline);
  if (run.sink.etagsAreMd5 && etag !== md5Hex) throw new ObjectFailure("part-corrupted", `part ${n}: the server stored MD5 ${etag || "(none)"}, we sent ${md5Hex}`);
  return { partNumber: n, etag, size: buf.length, md5: md5Hex };
}

/**
 * Completes the upload with `parts` (in any order). A retried Complete whose
 * first try succeeded answers NoSuchUpload: that is not a failure here, the
 * verification that follows decides.
 */
export async function completeUpload(run: CopyRun, uploadId: string, parts: readonly UploadedPart[]): Promise<void> {
  const { bucket, key } = run.task;
  const list = [...parts].sort((a, b) => a.partNumber - b.partNumber).map(({ partNumber, etag }) => ({ partNumber, etag }));
  try {
    await run.step("CompleteMultipartUpload", () => run.sink.completeMultipart(bucket, key, uploadId, list));
  } catch (err) {
    if (errorClassOf(err) !== "gone") throw err;
  }
}

/**
 * After completion: sets the tags and the Object Lock (Ceph RGW ignores both
 * at CreateMultipartUpload), then checks size and the multipart ETag computed
 * from our part MD5s, and the carried headers and metadata.
 */
export async function verifyCompleted(run: CopyRun, parts: readonly UploadedPart[], mapped: MappedObject, size: number) {
  const { bucket, key } = run.task;
  if (Object.keys(mapped.tags).length > 0) await run.step("PutObjectTagging", () => run.sink.putTags(bucket, key, mapped.tags));
  const lock = mapped.headers.objectLock;
  if (lock) await run.step("PutObjectRetention/LegalHold", () => run.sink.putObjectLock(bucket, key, lock));
  const md5s = [...parts].sort((a, b) => a.partNumber - b.partNumber).map((p) => Buffer.from(p.md5 ?? p.etag, "hex"));
  return verifyDestination(run, { size, etag: multipartEtag(md5s), mapped });
}
