/** Objects below the multipart threshold: one read, one PUT with Content-MD5. */
import { createHash } from "node:crypto";
import type { BlobEntry } from "../ports.ts";
import type { CopyResult } from "./types.ts";
import { ObjectFailure } from "../errors.ts";
import type { CopyRun } from "./copy-run.ts";
import { mapBlobToObject } from "./metadata.ts";
import { readRange } from "./read-range.ts";
import { PART_BUFFERS, POOLED_MIN_BYTES } from "./buffer-pool.ts";
import { verifyDestination } from "./verify.ts";

export async function copySmall(run: CopyRun, blob: BlobEntry): Promise<CopyResult> {
  const { container, bucket, key } = run.task;
  await run.memory.acquire(blob.size);
  // Objects of a MiB or more are read into a pooled slab, given back once the PUT has answered.
  const pooled = blob.size >= POOLED_MIN_BYTES ? PART_BUFFERS.take(blob.size) : undefined;
  let md5Hex: string;
  let mapped;
  let putEtag: string;
  try {
    const body = await run.step("read", () => readRange(run.source, container, blob.name, blob.etag, 0, blob.size, pooled, { blobType: blob.blobType }));
    const digest = createHash("md5").update(body).digest();
    md5Hex = digest.toString("hex");
    if (blob.contentMd5 && blob.contentMd5 !== md5Hex) {
      throw new ObjectFailure("md5-mismatch", `bytes read have MD5 ${md5Hex}, the source's Content-MD5 is ${blob.contentMd5}`);
    }
    // Our own MD5 is known before the PUT, so md5chksum is always set for small objects.
    mapped = mapBlobToObject(blob, { storageClassMap: run.options.storageClassMap, md5Base64: digest.toString("base64"), objectLockAvailable: run.options.objectLockAvailable });
    const tags = Object.keys(mapped.tags).length > 0 ? mapped.tags : undefined;
    // Tags ride on the PUT (x-amz-tagging): the object is never visible without them.
    putEtag = (await run.step("PutObject", () => run.sink.put(bucket, key, body, digest.toString("base64"), mapped!.headers, tags))).etag;
  } finally {
    if (pooled) PART_BUFFERS.give(pooled);
    run.memory.release(blob.size);
  }
  const etagIsMd5 = run.sink.etagsAreMd5;
  if (etagIsMd5 && putEtag && putEtag !== md5Hex) {
    throw new ObjectFailure("verify-failed", `PutObject answered ETag ${putEtag}, we sent MD5 ${md5Hex}`);
  }
  run.emit({ type: "bytes", key, bytes: blob.size });
  // Metadata names outside [a-z0-9-] are the ones servers rewrite (Ceph RGW turns "_" into "-"):
  // only then is a HEAD needed to see what was kept.
  const atRisk = Object.keys(mapped.headers.metadata).some((name) => /[^a-z0-9-]/.test(name));
  // When the server checked the body against Content-MD5 and answered our MD5 as the ETag,
  // the bytes are verified, and headers, metadata and tags rode on that same PUT:
  // a HEAD per small object would double the requests of a migration of small files.
  // Under SSE-C the ETag proves nothing: the HEAD (with the key) checks size, encryption and markers.
  const checked = etagIsMd5 && putEtag === md5Hex && !atRisk ? undefined : await verifyDestination(run, { size: blob.size, etag: md5Hex, mapped });
  const source = blob.contentMd5 ? "+source-md5" : "";
  const how = !etagIsMd5 ? `content-md5+sse-c-head-size+markers${source}` : checked ? `md5${source}+size` : `content-md5+etag${source}`;
  return {
    outcome: "copied",
    key,
    size: blob.size,
    md5: md5Hex,
    verifiedBy: how,
    etag: checked ? checked.head.etag : putEtag,
    sourceEtag: blob.etag,
    parts: 1,
    retries: run.retries,
    warnings: [...mapped.warnings, ...(checked?.warnings ?? [])],
  };
}
