/** The copy engine's contract: one blob to one key. Implemented in copy-object.ts. */
import type { BlobEntry, UploadedPart } from "../ports.ts";
import type { Tuning } from "../limits.ts";

export interface CopyTask {
  container: string;
  blob: BlobEntry;
  bucket: string;
  key: string;
}

/** Progress of an open multipart upload, saved before a deadline and on every part. */
export interface MultipartCheckpoint {
  key: string;
  uploadId: string;
  /** Source version the parts were read from; a different ETag means start over. */
  sourceEtag: string;
  partSize: number;
  parts: UploadedPart[];
}

export type ProgressEvent =
  | { type: "object-start"; key: string; size: number }
  | { type: "bytes"; key: string; bytes: number }
  | { type: "part"; key: string; partNumber: number; bytes: number }
  | { type: "retry"; key: string; operation: string; attempt: number; reason: string }
  | { type: "object-end"; key: string; outcome: CopyResult["outcome"] };

export interface CopyOptions {
  tuning: Tuning;
  /** Aborted when the invocation's deadline nears: start nothing new, return "interrupted". */
  signal?: AbortSignal;
  /**
   * Move forward (store one new part, or the whole small object) before honouring
   * `signal`: an invocation that starts late, or is slowed down, still makes
   * progress instead of handing the same work on forever.
   */
  mustProgress?: boolean;
  /** A checkpoint from an earlier invocation for this key. */
  checkpoint?: MultipartCheckpoint;
  /** Called after each part is stored, so a crash loses at most the parts in flight. */
  onCheckpoint?: (checkpoint: MultipartCheckpoint) => Promise<void>;
  onProgress?: (event: ProgressEvent) => void;
  /** Azure access tier -> S3 storage class; a tier not in the map gets no class. */
  storageClassMap?: Record<string, string>;
  /** Overwrite even when the destination looks unchanged. */
  force?: boolean;
  /** The caller listed the destination and found no object at this key: no HEAD needed to decide a skip. */
  knownAbsent?: boolean;
  /** The caller listed the destination and found this size and ETag at this key: enough to skip an unchanged blob without a HEAD. */
  listed?: { size: number; etag: string };
  /** Tokens of the copy proofs the caller found in the state store for this key: with `listed`, enough to skip a multipart or SSE-C object without a HEAD. */
  proofs?: ReadonlySet<string>;
  /** "ignore": a blob read again after a change has its Content-MD5 set aside, as the listing did. */
  sourceMd5?: "verify" | "ignore";
  /** Shared byte budget for part buffers across every copy of the process. */
  memory?: MemoryBudget;
  /** The destination bucket has Object Lock (blobs under legal hold or retention are written locked). */
  objectLockAvailable?: boolean;
  /** Fail a blob under legal hold or retention that can not be locked on the destination. */
  requireImmutability?: boolean;
  /** After the copy, stream the object back from the destination (with the SSE-C key) and compare its MD5 with ours. */
  verifyReadback?: boolean;
}

export interface MemoryBudget {
  acquire(bytes: number, signal?: AbortSignal): Promise<void>;
  release(bytes: number): void;
}

export type CopyResult =
  | {
      outcome: "copied";
      key: string;
      size: number;
      /** Hex MD5 of the whole object, computed by us while streaming. */
      md5?: string;
      /** How it was verified, e.g. "md5" or "parts-md5+size". Never absent for "copied". */
      verifiedBy: string;
      etag: string;
      /** The source version copied: the listed one, or a newer one read after the blob changed mid-copy. */
      sourceEtag: string;
      parts: number;
      retries: number;
      /** What could not be carried (metadata key refused, tags over the limit...). */
      warnings: string[];
    }
  | {
      outcome: "skipped";
      key: string;
      size: number;
      reason: string;
      md5?: string;
      /** The destination's ETag when a HEAD decided (the caller may record a copy proof for the next run). */
      headEtag?: string;
    }
  | { outcome: "failed"; key: string; size: number; code: string; reason: string; retries: number }
  | { outcome: "interrupted"; key: string; size: number; checkpoint?: MultipartCheckpoint };
