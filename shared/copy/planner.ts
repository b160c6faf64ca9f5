/**
 * Part planning for multipart copies. Pure: the same size and tuning always give
 * the same plan, so a resumed copy finds the parts it planned before.
 */
import { MiB, S3_LIMITS, type Tuning } from "../limits.ts";
import { MigrationError } from "../errors.ts";

export interface PlannedPart {
  partNumber: number;
  offset: number;
  length: number;
}

export interface PartPlan {
  partSize: number;
  parts: PlannedPart[];
}

/**
 * Splits `size` bytes into at most `tuning.maxParts` parts of `tuning.partSize`
 * (at least 5 MiB, at most 5 GiB). When the object would need more parts than
 * the cap, the part size grows to ceil(size / maxParts), rounded up to a whole
 * MiB so part boundaries stay readable in logs and checkpoints.
 *
 * A 0-byte object gets one empty part: S3 refuses a multipart upload with no
 * part at all, and the last part may be smaller than the minimum.
 */
export function planParts(size: number, tuning: Pick<Tuning, "partSize" | "maxParts">): PartPlan {
  if (!Number.isSafeInteger(size) || size < 0) throw new MigrationError("bad-size", `object size must be a whole number of bytes (got ${size})`);
  if (size > S3_LIMITS.maxObjectSize) {
    throw new MigrationError("too-large", `object of ${size} bytes exceeds the 5 TB maximum of Scaleway Object Storage`);
  }
  const maxParts = Math.min(Math.max(1, Math.floor(tuning.maxParts)), S3_LIMITS.maxParts);
  let partSize = Math.min(Math.max(tuning.partSize, S3_LIMITS.minPartSize), S3_LIMITS.maxPartSize);
  if (Math.ceil(size / partSize) > maxParts) {
    partSize = Math.ceil(size / maxParts / MiB) * MiB;
  }
  if (partSize > S3_LIMITS.maxPartSize) {
    throw new MigrationError(
      "too-large",
      `object of ${size} bytes needs parts of ${partSize} bytes to stay within ${maxParts} parts, above the 5 GiB part maximum`,
    );
  }
  const count = Math.max(1, Math.ceil(size / partSize));
  const parts: PlannedPart[] = [];
  for (let i = 0; i < count; i++) {
    const offset = i * partSize;
    parts.push({ partNumber: i + 1, offset, length: Math.min(partSize, size - offset) });
  }
  return { partSize, parts };
}
