/**
 * A small HTTP/1.1 client for the hot requests of a copy (Get Blob of a range,
 * PutObject, UploadPart): one request, one whole answer, on keep-alive sockets
 * of a bounded pool.
 *
 * Why not node:http: per request it builds a ClientRequest, an
 * IncomingMessage stream, an agent queue entry and a dozen listeners, and every
 * socket read allocates a fresh chunk that is copied once more into the part's
 * buffer and then left to the collector. On 16 KiB objects that machinery was
 * most of the client's own CPU, and on large ones the chunks were garbage the
 * size of the data. Here each socket reads into one fixed buffer (`onread`),
 * the answer's body is copied straight into the caller's buffer (a range read
 * of known size) or dropped (a PUT's empty answer), and the request is one
 * write of its head and body.
 *
 * What it understands of HTTP/1.1: a status line, headers, a body framed by
 * Content-Length or chunked transfer coding or the end of the connection,
 * bodiless answers (HEAD, 1xx, 204, 304), `Connection: close`. It does not
 * pipeline. A request that fails on a reused socket before any byte of the
 * answer (the server closed an idle connection as we wrote) is sent once more
 * on a new connection, as browsers do for idempotent requests; every other
 * failure is the caller's (the retry policy of shared/retry.ts).
 */
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";

const CONNECT_TIMEOUT_MS = 10_000;
/** No byte of the answer for this long: the request fails (ETIMEDOUT). */
const IDLE_TIMEOUT_MS = 120_000;
/** A kept socket unused for this long is closed (servers close theirs after 5-120 s). */
const KEEP_IDLE_MS = 4_000;
/** One fixed read buffer per socket. */
const READ_BUFFER = 64 * 1024;
const MAX_HEAD = 64 * 1024;
/** Error bodies are small XML documents; more than this is not kept. */
const MAX_ERROR_BODY = 64 * 1024;

export interface Http1Request {
  method: "GET" | "PUT" | "HEAD" | "POST" | "DELETE";
  /** Path and query, already encoded. */
  path: string;
  /** Header names in lower case; host and content-length are added. */
  headers: Record<string, string>;
  /** Host header when it is not the endpoint's host (S3 virtual-hosted buckets). */
  host?: string;
  body?: Buffer;
  signal?: AbortSignal;
}

export interface Http1Answer {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** Bytes of the body written into `into` (or dropped, without one). */
  bodyBytes: number;
}

/** A connection lost after a success's head, while its body was coming (an error that says so carries `bodyCut: true`). */
export function isBodyCut(err: unknown): boolean {
  return (err as { bodyCut?: boolean } | null)?.bodyCut === true;
}

/** The answer's status was 300 or more: its body's start and its headers, for the caller's error. */
export type FailAnswer = (status: number, body: string, headers: Record<string, string>) => Error;

const HEADER_VALUE_INVALID = /[^\t\x20-\x7e\x80-\xff]/;
const HEADER_NAME_VALID = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function networkError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

function abortError(): Error {
  return Object.assign(new Error("The operation was aborted"), { name: "AbortError", code: "ABORT_ERR" });
}

/** One exchange in progress on a connection: the parser's state. */
interface Exchange {
  method: string;
  into: Buffer | undefined;
  fail: FailAnswer;
  resolve: (a: Http1Answer) => void;
  reject: (e: Error) => void;
  /** Bytes of the answer received so far (0: the request may be resent on a new connection). */
  received: number;
  head: Buffer[];
  headBytes: number;
  status: number;
  headers: Record<string, string>;
  /** Body framing once the head is read: bytes left, chunked, or to the end of the connection. */
  mode: "head" | "length" | "chunked" | "close" | "done";
  left: number;
  chunkState: "size" | "data" | "data-crlf" | "trailer";
  chunkLine: string;
  bodyBytes: number;
  errorBody: Buffer[];
  errorBytes: number;
  keepAlive: boolean;
  /** A streamed body (open()): the reader's side; the answer resolves at its head. */
  stream?: BodyStream;
  /** The streamed body has ended: the connection can serve another request. */
  onDone?: () => void;
}

/** Pieces a body is read in: a range read as a stream, a listing or a state object read whole (a page of 5,000 blobs is a few MiB of XML). */
export const BODY_PIECE = 256 * 1024;

/** A body whose length the answer declares, up to this size, is read into one buffer of that length. */
const WHOLE_AT_ONCE = 64 * 1024 * 1024;

/**
 * A whole body: in one buffer of the length declared by Content-Length (a state object, a listing page:
 * one allocation instead of pieces and their concatenation, which for a run's thousands of manifests
 * was most of the process's short-lived native memory), else in pieces of BODY_PIECE.
 */
export async function readAll(reader: BodyReader): Promise<Buffer> {
  const declared = Number(reader.headers["content-length"]);
  if (reader.headers["transfer-encoding"] === undefined && Number.isSafeInteger(declared) && declared > 0 && declared <= WHOLE_AT_ONCE) {
    const whole = Buffer.allocUnsafe(declared);
    const n = await reader.read(whole);
    return n === declared ? whole : whole.subarray(0, n);
  }
  const pieces: Buffer[] = [];
  for (;;) {
    const buf = Buffer.allocUnsafe(BODY_PIECE);
    const n = await reader.read(buf);
    if (n > 0) pieces.push(n === buf.length ? buf : buf.subarray(0, n));
    if (n < buf.length) return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
  }
}

/** The body of an answer read in pieces into the caller's buffers (open()). */
export interface BodyReader {
  /** The answer's status (below 300: error answers are thrown). */
  readonly status: number;
  /** The answer's headers (lower-case names; repeated headers joined with ", "). */
  readonly headers: Record<string, string>;
  /** Fills `into` from the body; resolves with the bytes written, fewer than its length only at the body's end. One read at a time. */
  read(into: Buffer): Promise<number>;
  /** Ends the reading: a body not read to its end closes its connection. Safe to call more than once. */
  close(): void;
}

class BodyStream implements BodyReader {
  status = 0;
  headers: Record<string, string> = {};
  #target?: Buffer;
  #filled = 0;
  #pending?: { resolve: (n: number) => void; reject: (e: Error) => void };
  #leftover: Buffer[] = [];
  #ended = false;
  #closed = false;
  #error?: Error;

  constructor(private readonly socket: Socket) {}

  /** Bytes of the body from the socket's read buffer (copied now: that buffer is reused). Returns false to pause the socket. */
  push(buf: Buffer, i: number, n: number): boolean {
    if (this.#closed) return true;
    let off = i;
    let left = n;
    if (this.#target) {
      const take = Math.min(left, this.#target.length - this.#filled);
      buf.copy(this.#target, this.#filled, off, off + take);
      this.#filled += take;
      off += take;
      left -= take;
      if (this.#filled === this.#target.length) this.#settle();
    }
    if (left > 0) this.#leftover.push(Buffer.from(buf.subarray(off, off + left)));
    // Nobody waiting for bytes: the socket pauses until the next read.
    return this.#target !== undefined;
  }

  end(): void {
    this.#ended = true;
    if (this.#pending) this.#settle();
  }

  fail(err: Error): void {
    if (this.#ended) return;
    this.#error = err;
    const p = this.#pending;
    this.#pending = undefined;
    this.#target = undefined;
    p?.reject(err);
  }

  read(into: Buffer): Promise<number> {
    if (this.#pending) return Promise.reject(new Error("BodyReader.read: one read at a time"));
    let filled = 0;
    while (this.#leftover.length > 0 && filled < into.length) {
      const c = this.#leftover[0]!;
      const take = Math.min(c.length, into.length - filled);
      c.copy(into, filled, 0, take);
      filled += take;
      if (take === c.length) this.#leftover.shift();
      else this.#leftover[0] = c.subarray(take);
    }
    if (filled === into.length || this.#ended) return Promise.resolve(filled);
    if (this.#error) return Promise.reject(this.#error);
    if (this.#closed) return Promise.reject(networkError("body reader closed", "ECONNRESET"));
    this.#target = into;
    this.#filled = filled;
    return new Promise<number>((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.socket.setTimeout(IDLE_TIMEOUT_MS);
      this.socket.resume();
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#leftover = [];
    if (!this.#ended && !this.#error) this.socket.destroy();
  }

  #settle(): void {
    if (!this.#ended) this.socket.setTimeout(0);
    const p = this.#pending;
    const n = this.#filled;
    this.#pending = undefined;
    this.#target = undefined;
    this.#filled = 0;
    p?.resolve(n);
  }
}

class Connection {
  readonly socket: Socket;
  exchange: Exchange | undefined;
  used = false;
  idleTimer: NodeJS.Timeout | undefined;
  closed = false;
  /** Set while parsing a read: a streamed body's reader is not waiting, pause the socket. */
  #pause = false;

  constructor(endpoint: URL, onClose: (c: Connection) => void) {
    const port = Number(endpoint.port) || (endpoint.protocol === "https:" ? 443 : 80);
    const readBuffer = Buffer.allocUnsafe(READ_BUFFER);
    const onread = { buffer: readBuffer, callback: (n: number, buf: Buffer) => this.#data(buf, n) };
    this.socket =
      endpoint.protocol === "https:"
        ? tlsConnect({ host: endpoint.hostname, port, servername: isIp(endpoint.hostname) ? undefined : endpoint.hostname, onread } as ConnectionOptions)
        : netConnect({ host: endpoint.hostname, port, onread });
    this.socket.setNoDelay(true);
    this.socket.on("error", (err) => this.#end(err));
    this.socket.on("close", () => {
      this.closed = true;
      this.#end(networkError("socket closed before the answer ended (socket hang up)", "ECONNRESET"));
      onClose(this);
    });
    this.socket.on("end", () => {
      const x = this.exchange;
      if (x && x.mode === "close") return this.#finish(x, false);
      this.socket.destroy();
    });
    this.socket.on("timeout", () => this.socket.destroy(networkError(this.exchange ? "no answer within the idle timeout" : "connect timed out", "ETIMEDOUT")));
  }

  #end(err: Error): void {
    const x = this.exchange;
    if (!x) return;
    // An answer framed by the end of the connection ends here.
    if (x.mode === "close") return this.#finish(x, false);
    this.exchange = undefined;
    x.reject(err);
  }

  #data(buf: Buffer, n: number): boolean {
    const x = this.exchange;
    if (!x) {
      // Bytes with no request outstanding: the connection can not be trusted.
      this.socket.destroy();
      return false;
    }
    x.received += n;
    this.#pause = false;
    try {
      this.#parse(x, buf, 0, n);
    } catch (err) {
      this.exchange = undefined;
      this.socket.destroy();
      x.reject(err as Error);
    }
    return !this.#pause;
  }

  #parse(x: Exchange, buf: Buffer, start: number, end: number): void {
    let i = start;
    while (i < end) {
      if (x.mode === "head") {
        i = this.#head(x, buf, i, end);
        continue;
      }
      if (x.mode === "length" || x.mode === "close") {
        const take = x.mode === "close" ? end - i : Math.min(x.left, end - i);
        this.#body(x, buf, i, take);
        i += take;
        if (x.mode === "length") {
          x.left -= take;
          if (x.left === 0) return this.#finish(x, i < end);
        }
        continue;
      }
      if (x.mode === "chunked") {
        i = this.#chunked(x, buf, i, end);
        continue;
      }
      // done: bytes after a whole answer.
      throw networkError("bytes after the end of the answer", "ECONNRESET");
    }
  }

  #head(x: Exchange, buf: Buffer, i: number, end: number): number {
    const slice = buf.subarray(i, end);
    // The blank line may straddle reads: search the held bytes' tail together with this read.
    const held = x.headBytes > 0 ? Buffer.concat([...x.head, slice]) : slice;
    const from = Math.max(0, x.headBytes - 3);
    const at = held.indexOf("\r\n\r\n", from, "latin1");
    if (at < 0) {
      if (held.length > MAX_HEAD) throw networkError("answer head larger than 64 KiB", "ECONNRESET");
      x.head = [Buffer.from(held)];
      x.headBytes = held.length;
      return end;
    }
    const consumed = at + 4 - x.headBytes;
    const lines = held.toString("latin1", 0, at).split("\r\n");
    x.head = [];
    x.headBytes = 0;
    const statusLine = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0]!);
    if (!statusLine) throw networkError(`not an HTTP answer: ${JSON.stringify(lines[0]!.slice(0, 40))}`, "ECONNRESET");
    const status = Number(statusLine[2]);
    const headers: Record<string, string> = {};
    for (let k = 1; k < lines.length; k++) {
      const line = lines[k]!;
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    if (status >= 100 && status < 200) return i + consumed; // an interim answer: the real one follows
    x.status = status;
    x.headers = headers;
    if (x.stream && status < 300) x.resolve({ status, headers, bodyBytes: 0 });
    const connection = (headers.connection ?? "").toLowerCase();
    x.keepAlive = statusLine[1] === "1" ? !connection.includes("close") : connection.includes("keep-alive");
    if (x.method === "HEAD" || status === 204 || status === 304) {
      x.mode = "length";
      x.left = 0;
      this.#finish(x, consumed < end - i);
      return end;
    }
    if ((headers["transfer-encoding"] ?? "").toLowerCase().includes("chunked")) {
      x.mode = "chunked";
      x.chunkState = "size";
    } else if (headers["content-length"] !== undefined) {
      const length = Number(headers["content-length"]);
      if (!Number.isSafeInteger(length) || length < 0) throw networkError(`bad Content-Length ${headers["content-length"]}`, "ECONNRESET");
      x.mode = "length";
      x.left = length;
      if (length === 0) {
        this.#finish(x, consumed < end - i);
        return end;
      }
    } else {
      x.mode = "close";
      x.keepAlive = false;
    }
    return i + consumed;
  }

  #chunked(x: Exchange, buf: Buffer, i: number, end: number): number {
    if (x.chunkState === "data") {
      const take = Math.min(x.left, end - i);
      this.#body(x, buf, i, take);
      x.left -= take;
      if (x.left === 0) x.chunkState = "data-crlf";
      return i + take;
    }
    // A line: the chunk size, the CRLF after a chunk's data, or a trailer line.
    const nl = buf.indexOf(10, i);
    if (nl < 0 || nl >= end) {
      x.chunkLine += buf.toString("latin1", i, end);
      if (x.chunkLine.length > 4096) throw networkError("chunk line too long", "ECONNRESET");
      return end;
    }
    const line = (x.chunkLine + buf.toString("latin1", i, nl)).replace(/\r$/, "");
    x.chunkLine = "";
    const next = nl + 1;
    if (x.chunkState === "data-crlf") {
      if (line !== "") throw networkError("chunk data longer than its size", "ECONNRESET");
      x.chunkState = "size";
    } else if (x.chunkState === "size") {
      const size = parseInt(line.split(";")[0]!, 16);
      if (!Number.isSafeInteger(size) || size < 0) throw networkError(`bad chunk size ${JSON.stringify(line.slice(0, 20))}`, "ECONNRESET");
      if (size === 0) x.chunkState = "trailer";
      else {
        x.chunkState = "data";
        x.left = size;
      }
    } else if (line === "") {
      this.#finish(x, next < end);
      return end;
    }
    return next;
  }

  #body(x: Exchange, buf: Buffer, i: number, n: number): void {
    if (n === 0) return;
    if (x.status >= 300) {
      if (x.errorBytes < MAX_ERROR_BODY) x.errorBody.push(Buffer.from(buf.subarray(i, i + Math.min(n, MAX_ERROR_BODY - x.errorBytes))));
      x.errorBytes += n;
      return;
    }
    if (x.stream) {
      if (!x.stream.push(buf, i, n)) this.#pause = true;
    } else if (x.into) {
      if (x.bodyBytes + n > x.into.length) throw networkError(`answer body longer than the ${x.into.length} bytes asked for`, "ECONNRESET");
      buf.copy(x.into, x.bodyBytes, i, i + n);
    }
    x.bodyBytes += n;
  }

  #finish(x: Exchange, extraBytes: boolean): void {
    x.mode = "done";
    this.exchange = undefined;
    // The answer is whole: the socket reads on (for the next request) whatever its reader does.
    this.#pause = false;
    // An error answer may come before the request's body was all sent: that connection is not reused.
    if (extraBytes || !x.keepAlive || x.status >= 300) this.socket.destroy();
    if (x.status >= 300) x.reject(x.fail(x.status, Buffer.concat(x.errorBody).toString("utf8"), x.headers));
    else if (x.stream) {
      x.stream.end();
      x.onDone?.();
    } else x.resolve({ status: x.status, headers: x.headers, bodyBytes: x.bodyBytes });
  }
}

const isIp = (host: string) => /^[\d.]+$/.test(host) || host.includes(":");

/** A pool of keep-alive connections to one endpoint, at most `maxSockets` at once. */
export class Http1Client {
  readonly #endpoint: URL;
  readonly #maxSockets: number;
  readonly #idle: Connection[] = [];
  readonly #waiting: Array<() => void> = [];
  #open = 0;
  #destroyed = false;

  constructor(endpoint: URL, maxSockets: number) {
    this.#endpoint = endpoint;
    this.#maxSockets = Math.max(1, maxSockets);
  }

  /**
   * Sends one request and reads its whole answer. A status under 300 resolves
   * with the answer, its body copied into `into` (never more than its length;
   * the caller checks `bodyBytes`) or dropped; any other status rejects with
   * `fail(status, body, headers)`.
   */
  async send(r: Http1Request, fail: FailAnswer, into?: Buffer): Promise<Http1Answer> {
    return (await this.#run(r, fail, into, false)).answer;
  }

  /**
   * Sends one request and resolves at the head of a success, its body to be
   * read in pieces (BodyReader): the socket reads only while a piece is asked
   * for, so a body as large as a whole blob costs one read buffer. Any other
   * status rejects with `fail(status, body, headers)`. The abort signal counts
   * until the head; a body that stalls while a piece is awaited fails after
   * the idle timeout.
   */
  async open(r: Http1Request, fail: FailAnswer): Promise<BodyReader> {
    return (await this.#run(r, fail, undefined, true)).stream!;
  }

  async #run(r: Http1Request, fail: FailAnswer, into: Buffer | undefined, streamed: boolean): Promise<{ answer: Http1Answer; stream?: BodyStream }> {
    const head = this.#head(r);
    if (r.signal?.aborted) throw abortError();
    for (let attempt = 0; ; attempt++) {
      const conn = await this.#acquire(r.signal);
      const reused = conn.used;
      conn.used = true;
      const stream = streamed ? new BodyStream(conn.socket) : undefined;
      try {
        const answer = await this.#exchange(conn, r, head, fail, into, stream);
        if (stream) {
          stream.status = answer.status;
          stream.headers = answer.headers;
        } else this.#release(conn);
        return { answer, stream };
      } catch (err) {
        const resend = reused && attempt === 0 && (err as { received?: number }).received === 0 && !r.signal?.aborted;
        this.#discard(conn);
        if (!resend) throw stripReceived(err as Error);
      }
    }
  }

  destroy(): void {
    this.#destroyed = true;
    for (const c of this.#idle.splice(0)) c.socket.destroy();
  }

  #head(r: Http1Request): Buffer {
    let text = `${r.method} ${r.path} HTTP/1.1\r\nhost: ${r.host ?? this.#endpoint.host}\r\n`;
    for (const [name, value] of Object.entries(r.headers)) {
      if (!HEADER_NAME_VALID.test(name)) throw Object.assign(new TypeError(`Header name must be a valid HTTP token ["${name}"]`), { code: "ERR_INVALID_HTTP_TOKEN" });
      if (HEADER_VALUE_INVALID.test(value)) throw Object.assign(new TypeError(`Invalid character in header content ["${name}"]`), { code: "ERR_INVALID_CHAR" });
      if (name === "host" || name === "content-length" || name === "connection") continue;
      text += `${name}: ${value}\r\n`;
    }
    if (r.body || r.method === "PUT" || r.method === "POST") text += `content-length: ${r.body?.length ?? 0}\r\n`;
    text += "\r\n";
    return Buffer.from(text, "latin1");
  }

  #exchange(conn: Connection, r: Http1Request, head: Buffer, fail: FailAnswer, into: Buffer | undefined, stream: BodyStream | undefined): Promise<Http1Answer> {
    return new Promise<Http1Answer>((resolve, reject) => {
      let headed = false;
      const onAbort = () => conn.socket.destroy(abortError());
      const done = () => {
        r.signal?.removeEventListener("abort", onAbort);
        conn.socket.setTimeout(0);
      };
      const x: Exchange = {
        method: r.method,
        into,
        fail,
        resolve: (a) => {
          done();
          headed = true;
          resolve(a);
        },
        reject: (e) => {
          // A streamed body that fails after its head fails its reader.
          if (headed && stream) return stream.fail(stripReceived(e));
          done();
          // bodyCut: the answer's head (a success) had arrived, its body had not all come.
          reject(Object.assign(e, { received: x.received }, x.status > 0 && x.status < 300 && x.mode !== "done" ? { bodyCut: true } : {}));
        },
        received: 0,
        head: [],
        headBytes: 0,
        status: 0,
        headers: {},
        mode: "head",
        left: 0,
        chunkState: "size",
        chunkLine: "",
        bodyBytes: 0,
        errorBody: [],
        errorBytes: 0,
        keepAlive: true,
        stream,
        onDone: () => this.#release(conn),
      };
      conn.exchange = x;
      r.signal?.addEventListener("abort", onAbort, { once: true });
      conn.socket.setTimeout(IDLE_TIMEOUT_MS);
      conn.socket.cork();
      conn.socket.write(head);
      if (r.body && r.body.length > 0) conn.socket.write(r.body);
      conn.socket.uncork();
    });
  }

  async #acquire(signal: AbortSignal | undefined): Promise<Connection> {
    for (;;) {
      if (this.#destroyed) throw networkError("client destroyed", "ECONNRESET");
      const idle = this.#idle.pop();
      if (idle) {
        clearTimeout(idle.idleTimer);
        if (!idle.closed && !idle.socket.destroyed) {
          idle.socket.ref();
          return idle;
        }
        continue;
      }
      if (this.#open < this.#maxSockets) return this.#connect(signal);
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          const k = this.#waiting.indexOf(wake);
          if (k >= 0) this.#waiting.splice(k, 1);
          reject(abortError());
        };
        const wake = () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        this.#waiting.push(wake);
      });
    }
  }

  #connect(signal: AbortSignal | undefined): Promise<Connection> {
    this.#open++;
    const conn = new Connection(this.#endpoint, (c) => this.#closed(c));
    return new Promise<Connection>((resolve, reject) => {
      const ready = this.#endpoint.protocol === "https:" ? "secureConnect" : "connect";
      const onAbort = () => conn.socket.destroy(abortError());
      const settle = (err?: Error) => {
        conn.socket.setTimeout(0);
        conn.socket.off(ready, onReady);
        conn.socket.off("error", onError);
        signal?.removeEventListener("abort", onAbort);
        if (err) reject(Object.assign(err, { received: 0 }));
        else resolve(conn);
      };
      const onReady = () => settle();
      const onError = (err: Error) => settle(err);
      conn.socket.setTimeout(CONNECT_TIMEOUT_MS);
      conn.socket.once(ready, onReady);
      conn.socket.once("error", onError);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  #release(conn: Connection): void {
    if (conn.closed || conn.socket.destroyed || this.#destroyed) return this.#discard(conn);
    conn.socket.resume();
    conn.idleTimer = setTimeout(() => conn.socket.destroy(), KEEP_IDLE_MS);
    conn.idleTimer.unref();
    // A kept socket does not keep the process alive (node:http's agent does the same).
    conn.socket.unref();
    this.#idle.push(conn);
    this.#waiting.shift()?.();
  }

  #discard(conn: Connection): void {
    conn.socket.destroy();
  }

  #closed(conn: Connection): void {
    clearTimeout(conn.idleTimer);
    this.#open--;
    const k = this.#idle.indexOf(conn);
    if (k >= 0) this.#idle.splice(k, 1);
    this.#waiting.shift()?.();
  }
}

function stripReceived(err: Error): Error {
  delete (err as { received?: number }).received;
  return err;
}
