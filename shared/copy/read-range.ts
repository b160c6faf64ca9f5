/** Reading one byte range of a blob into a buffer of exactly its size. */
import type { BlobSource, ReadHint } from "../ports.ts";

/** A stream that ended with more or fewer bytes than asked: the connection was cut or the server misbehaved. */
export class ShortReadError extends Error {
  readonly code = "ERR_STREAM_PREMATURE_CLOSE";
  constructor(expected: number, got: number) {
    super(`range read returned ${got} bytes, expected ${expected} (premature close)`);
    this.name = "ShortReadError";
  }
}

/**
 * Bytes [offset, offset + count) pinned to `etag`, in one preallocated buffer:
 * no concatenation, so a part costs its own size in memory and nothing more.
 * `into` (exactly `count` bytes) is filled from its start on every call, so a
 * retried read can reuse it.
 */
export async function readRange(source: BlobSource, container: string, name: string, etag: string, offset: number, count: number, into?: Buffer, hint?: ReadHint): Promise<Buffer> {
  if (into && into.length !== count) throw new RangeError(`readRange: buffer of ${into.length} bytes for a range of ${count}`);
  const buf = into ?? Buffer.allocUnsafe(count);
  if (source.readInto && count > 0 && (await source.readInto(container, name, offset, buf, etag, undefined, hint))) return buf;
  const stream = await source.read(container, name, { offset, count }, etag, undefined, hint);
  let filled = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (filled + chunk.length > count) throw new ShortReadError(count, filled + chunk.length);
      chunk.copy(buf, filled);
      filled += chunk.length;
    }
  } finally {
    if (!stream.destroyed) stream.destroy();
  }
  if (filled !== count) throw new ShortReadError(count, filled);
  return buf;
}
