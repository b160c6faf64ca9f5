import { redact } from "./redact.ts";

/** Base error of the project: a stable `code`, a `cause`, and context that is safe to log. */
export class MigrationError extends Error {
  readonly code: string;
  readonly context: Record<string, unknown>;
  constructor(code: string, message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(redact(message), { cause: options.cause });
    this.name = "MigrationError";
    this.code = code;
    this.context = options.context ?? {};
  }
}

/** A mistake in configuration or usage: the message names the variable or flag. Exit code 2. */
export class ConfigError extends MigrationError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super("config", message, options);
    this.name = "ConfigError";
  }
}

/** A message that can never be processed (malformed, oversized, unknown version). */
export class BadMessageError extends MigrationError {
  constructor(message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super("bad-message", message, options);
    this.name = "BadMessageError";
  }
}

/** A failure that concerns one object and is final for it; the shard goes on. */
export class ObjectFailure extends MigrationError {
  constructor(code: string, message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(code, message, options);
    this.name = "ObjectFailure";
  }
}

/** The source blob no longer has the ETag its copy started from (HTTP 412 on If-Match). */
export class SourceChangedError extends MigrationError {
  constructor(message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super("source-changed", message, options);
    this.name = "SourceChangedError";
  }
}

/** The source blob is in the archive tier and can not be read until rehydrated. */
export class BlobArchivedError extends MigrationError {
  constructor(message = "archived: rehydrate first", options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super("archived", message, options);
    this.name = "BlobArchivedError";
  }
}

/** A conditional write of the state store lost (If-None-Match / If-Match failed). */
export class PreconditionFailedError extends MigrationError {
  constructor(message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super("precondition-failed", message, options);
    this.name = "PreconditionFailedError";
  }
}
