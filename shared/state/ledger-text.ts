/**
 * The ledger's text not yet written, kept as UTF-8 bytes in one buffer that
 * the next part reuses. Lines are redacted as they are added, a shard's lines
 * at a time (a secret never spans lines), so the bytes can be written as
 * they are. Kept as a string instead, a part's 6 MiB of lines lived until
 * the part was written: promoted to the old generation, then flattened into
 * one more copy, then encoded into a third; a dry run over 10^6 blobs peaked
 * some 30 MiB higher for it.
 */
import type { RedactedBytes } from "../ports.ts";
import { redact } from "../redact.ts";

export class LedgerText {
  #buffer: Buffer;
  #length = 0;

  /** `pending`: the text a previous invocation saved in the aggregation cursor (redacted when it was saved). */
  constructor(pending = "") {
    this.#buffer = Buffer.allocUnsafeSlow(Math.max(64 * 1024, Buffer.byteLength(pending)));
    this.#length = this.#buffer.write(pending, 0, "utf8");
  }

  get byteLength(): number {
    return this.#length;
  }

  /** Adds whole lines (each ending with "\n"). */
  add(lines: string): void {
    const safe = redact(lines);
    const need = this.#length + Buffer.byteLength(safe, "utf8");
    if (need > this.#buffer.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(need, this.#buffer.length * 2));
      this.#buffer.copy(bigger, 0, 0, this.#length);
      this.#buffer = bigger;
    }
    this.#length += this.#buffer.write(safe, this.#length, "utf8");
  }

  /** The bytes so far: valid until the next add() or clear(). */
  bytes(): RedactedBytes {
    return this.#buffer.subarray(0, this.#length) as RedactedBytes;
  }

  /** The text so far, for the aggregation cursor (saved between invocations) or a ledger written whole. */
  text(): string {
    return this.#buffer.toString("utf8", 0, this.#length);
  }

  clear(): void {
    this.#length = 0;
  }
}

/** A part's bytes as a state store writes them: a string body redacted and encoded, RedactedBytes as given. */
export function partBytes(body: string | RedactedBytes): Buffer {
  return typeof body === "string" ? Buffer.from(redact(body), "utf8") : body;
}
