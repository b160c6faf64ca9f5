/**
 * What one copyObject call carries through its steps: the ports, the task,
 * retry accounting and the progress stream. Every remote call goes through
 * `step`, so retries are counted and a final failure names the operation.
 */
import type { BlobSource, ObjectSink } from "../ports.ts";
import type { CopyOptions, CopyResult, CopyTask, MemoryBudget, ProgressEvent } from "./types.ts";
import { MigrationError, ObjectFailure } from "../errors.ts";
import { describeError } from "../redact.ts";
import { classify, withRetry, type ErrorClass } from "../retry.ts";
import { UNLIMITED_BUDGET } from "./memory-budget.ts";

/** A remote operation that failed for good (after retries when it was retryable). */
export class StepFailure extends ObjectFailure {
  readonly errorClass: ErrorClass;
  constructor(operation: string, errorClass: ErrorClass, cause: unknown) {
    super(codeForClass(errorClass), `${operation}: ${describeError(cause)}`, { cause, context: { operation } });
    this.name = "StepFailure";
    this.errorClass = errorClass;
  }
}

export function codeForClass(c: ErrorClass): string {
  switch (c) {
    case "retryable":
      return "unavailable";
    case "permanent":
      return "rejected";
    case "gone":
      return "not-found";
    default:
      return c;
  }
}

/** The class of an error, seeing through StepFailure. */
export function errorClassOf(err: unknown): ErrorClass {
  return err instanceof StepFailure ? err.errorClass : classify(err);
}

/** The failure code of an error that ends an object's copy. */
export function failureCode(err: unknown): string {
  return err instanceof MigrationError ? err.code : codeForClass(classify(err));
}

/** A safe reason string: our own errors are already redacted, others go through describeError. */
export function reasonOf(err: unknown): string {
  return err instanceof MigrationError ? err.message : describeError(err);
}

export class CopyRun {
  retries = 0;
  readonly memory: MemoryBudget;

  constructor(
    readonly source: BlobSource,
    readonly sink: ObjectSink,
    readonly task: CopyTask,
    readonly options: CopyOptions,
  ) {
    this.memory = options.memory ?? UNLIMITED_BUDGET;
  }

  get key(): string {
    return this.task.key;
  }

  emit(event: ProgressEvent): void {
    try {
      this.options.onProgress?.(event);
    } catch {
      // A broken progress subscriber must not fail a copy.
    }
  }

  /**
   * Runs one remote operation with the shared retry policy. `cutByDeadline`
   * lets the deadline signal end the waits between tries (in-flight parts
   * stop retrying so the checkpoint is saved in time).
   */
  async step<T>(operation: string, fn: () => Promise<T>, cutByDeadline = false): Promise<T> {
    try {
      return await withRetry(fn, {
        attempts: this.options.tuning.maxAttempts,
        signal: cutByDeadline ? this.options.signal : undefined,
        onRetry: ({ attempt, error }) => {
          this.retries++;
          this.emit({ type: "retry", key: this.key, operation, attempt, reason: describeError(error) });
        },
      });
    } catch (err) {
      if (err instanceof MigrationError) throw err;
      throw new StepFailure(operation, classify(err), err);
    }
  }

  failed(code: string, reason: string, size = this.task.blob.size): CopyResult {
    return { outcome: "failed", key: this.key, size, code, reason, retries: this.retries };
  }

  /** Aborts an upload; returns a description of the failure instead of throwing (the caller is already failing). */
  async abortUpload(key: string, uploadId: string): Promise<string | undefined> {
    try {
      await this.step("AbortMultipartUpload", () => this.sink.abortMultipart(this.task.bucket, key, uploadId));
      return undefined;
    } catch (err) {
      return `upload ${uploadId} could not be aborted (${describeError(err)})`;
    }
  }
}
