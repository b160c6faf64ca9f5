/**
 * One streaming GET per blob, cut into parts as the bytes arrive. Reading a
 * blob as parallel ranges costs a request per part and, on some servers
 * (Azurite), far more server CPU than one stream; one stream also arrives in
 * order, as the whole-object hash wants it. Parts are still uploaded in
 * parallel: only the reading is sequential.
 *
 * `read(offset, into)` calls must come in offset order (the multipart loop
 * starts parts in order); they are served one after another. A cut stream, or
 * a call at another offset (a retried read), reopens the stream at that offset,
 * pinned to the same ETag, so a retry never mixes versions or skips bytes.
 */
import type { Readable } from "node:stream";
import type { BlobSource, RangeReader, ReadHint } from "../ports.ts";
import { ShortReadError } from "./read-range.ts";

export class SequentialReader {
  /** A source that reads a range into buffers (openRange): no stream, no chunk per socket read. */
  #ranged?: RangeReader;
  #stream?: Readable;
  #iterator?: AsyncIterator<Buffer>;
  #position = -1;
  #leftover?: Buffer;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly source: BlobSource,
    private readonly container: string,
    private readonly name: string,
    private readonly etag: string,
    /** End of what this reader serves (exclusive): the blob's size. */
    private readonly end: number,
    private readonly hint?: ReadHint,
  ) {}

  /** Fills `into` with bytes [offset, offset + into.length). */
  read(offset: number, into: Buffer): Promise<Buffer> {
    const next = this.#chain.then(() => this.#readNow(offset, into));
    this.#chain = next.catch(() => undefined);
    return next;
  }

  async #open(offset: number): Promise<void> {
    this.close();
    const ranged = await this.source.openRange?.(this.container, this.name, { offset, count: this.end - offset }, this.etag, this.hint);
    if (ranged) {
      this.#ranged = ranged;
      this.#position = offset;
      return;
    }
    const stream = await this.source.read(this.container, this.name, { offset, count: this.end - offset }, this.etag, undefined, this.hint);
    this.#stream = stream;
    this.#iterator = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    this.#position = offset;
  }

  async #readNow(offset: number, into: Buffer): Promise<Buffer> {
    if (this.#position !== offset || (!this.#iterator && !this.#ranged)) await this.#open(offset);
    if (this.#ranged) {
      try {
        const n = await this.#ranged.read(into);
        if (n !== into.length) throw new ShortReadError(into.length, n);
      } catch (err) {
        this.close();
        throw err;
      }
      this.#position = offset + into.length;
      return into;
    }
    let filled = 0;
    try {
      while (filled < into.length) {
        let chunk = this.#leftover;
        this.#leftover = undefined;
        if (!chunk) {
          const r = await this.#iterator!.next();
          if (r.done) throw new ShortReadError(into.length, filled);
          chunk = r.value;
        }
        const take = Math.min(chunk.length, into.length - filled);
        chunk.copy(into, filled, 0, take);
        filled += take;
        if (take < chunk.length) this.#leftover = chunk.subarray(take);
      }
    } catch (err) {
      // The stream is unusable: the next read (a retry) reopens at its own offset.
      this.close();
      throw err;
    }
    this.#position = offset + into.length;
    return into;
  }

  /** Ends the stream; safe to call more than once. */
  close(): void {
    this.#ranged?.close();
    this.#ranged = undefined;
    if (this.#stream && !this.#stream.destroyed) this.#stream.destroy();
    this.#stream = undefined;
    this.#iterator = undefined;
    this.#leftover = undefined;
    this.#position = -1;
  }
}
