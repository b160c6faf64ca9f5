/**
 * The small HTTP/1.1 client of the hot requests, against a real TCP server
 * that answers with exact bytes: framing (Content-Length, chunked, end of
 * connection, interim 1xx), keep-alive reuse and its failure modes, error
 * answers, bounds and cancellation. The same client also runs under every
 * contract, fault and end-to-end test that reads from Azurite or writes to RGW.
 */
import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Http1Client, isBodyCut, readAll } from "../../shared/http1-client.ts";

type Script = (request: string, socket: Socket) => void;

/** A server whose answer to each request is written by `script`, keyed by the request's path. */
async function rawServer(scripts: Record<string, Script>): Promise<{ url: URL; server: Server; connections: () => number; requests: string[] }> {
  let connections = 0;
  const requests: string[] = [];
  const server = createServer((socket) => {
    connections++;
    let pending = "";
    socket.on("data", (d) => {
      pending += d.toString("latin1");
      for (;;) {
        const end = pending.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = pending.slice(0, end);
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (pending.length < end + 4 + length) return;
        const request = pending.slice(0, end + 4 + length);
        pending = pending.slice(end + 4 + length);
        requests.push(request);
        const path = request.split(" ")[1]!;
        (scripts[path] ?? ((_, s) => s.end("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")))(request, socket);
      }
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return { url: new URL(`http://127.0.0.1:${port}`), server, connections: () => connections, requests };
}

/** The body of a GET of `path`, `size` bytes, as text. */
async function text(client: Http1Client, path: string, size: number): Promise<string> {
  const into = Buffer.alloc(size);
  await client.send({ method: "GET", path, headers: {} }, fail, into);
  return into.toString();
}

const fail = (status: number, body: string, headers: Record<string, string>) => Object.assign(new Error(`HTTP ${status}: ${body}`), { status, headers });

describe("Http1Client", () => {
  let srv: Awaited<ReturnType<typeof rawServer>>;
  const answered = new WeakSet<Socket>();
  beforeAll(async () => {
    srv = await rawServer({
      "/length": (_, s) => s.write("HTTP/1.1 200 OK\r\ncontent-length: 5\r\netag: \"abc\"\r\nx-twice: a\r\nx-twice: b\r\n\r\nhello"),
      "/chunked": (_, s) => {
        // Chunks split across writes, with an extension and a trailer.
        s.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3;ext=1\r\nhel\r");
        setTimeout(() => s.write("\n2\r\nlo\r\n0\r\nx-trailer: 1\r\n\r\n"), 20);
      },
      "/until-close": (_, s) => s.end("HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nhello"),
      "/interim": (_, s) => s.write("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"),
      "/split-head": (_, s) => {
        s.write("HTTP/1.1 200 OK\r\ncontent-le");
        setTimeout(() => s.write("ngth: 3\r\n\r"), 10);
        setTimeout(() => s.write("\nabc"), 20);
      },
      "/error": (_, s) => s.write("HTTP/1.1 503 Slow Down\r\ncontent-length: 29\r\nx-ms-error-code: ServerBusy\r\n\r\n<Error><Code>X</Code></Error>"),
      "/too-long": (_, s) => s.write("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n0123456789"),
      "/cut": (_, s) => {
        s.write("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly-part");
        setTimeout(() => s.destroy(), 20);
      },
      "/silent": () => {},
      "/once-per-connection": (_, s) => {
        // A second request on a kept connection meets a server that closed it (its keep-alive timeout) as it arrived.
        if (answered.has(s)) return void s.destroy();
        answered.add(s);
        s.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
      },
      "/put": (request, s) => s.write(`HTTP/1.1 200 OK\r\ncontent-length: 0\r\nx-got: ${request.length - request.indexOf("\r\n\r\n") - 4}\r\n\r\n`),
      "/slow": (_, s) => setTimeout(() => s.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"), 50),
    });
  });
  afterAll(() => srv.server.close());

  it("reads a Content-Length body into the caller's buffer, with the answer's headers", async () => {
    const client = new Http1Client(srv.url, 4);
    const into = Buffer.alloc(5);
    const answer = await client.send({ method: "GET", path: "/length", headers: { "x-ms-range": "bytes=0-4" } }, fail, into);
    expect(answer).toMatchObject({ status: 200, bodyBytes: 5, headers: { etag: '"abc"', "x-twice": "a, b" } });
    expect(into.toString()).toBe("hello");
    expect(srv.requests.at(-1)).toMatch(/^GET \/length HTTP\/1\.1\r\nhost: 127\.0\.0\.1:\d+\r\nx-ms-range: bytes=0-4\r\n\r\n$/);
    client.destroy();
  });

  it("decodes chunked bodies, bodies ended by the connection, heads split across reads, and skips 1xx answers", async () => {
    const client = new Http1Client(srv.url, 4);
    for (const [path, text] of [["/chunked", "hello"], ["/until-close", "hello"], ["/split-head", "abc"], ["/interim", "ok"]] as const) {
      const into = Buffer.alloc(text.length);
      const answer = await client.send({ method: "GET", path, headers: {} }, fail, into);
      expect({ path, bytes: answer.bodyBytes, text: into.toString() }).toEqual({ path, bytes: text.length, text });
    }
    client.destroy();
  });

  it("reuses one connection for requests in sequence, and sends the body with its length", async () => {
    const client = new Http1Client(srv.url, 4);
    const before = srv.connections();
    for (let i = 0; i < 5; i++) {
      const answer = await client.send({ method: "PUT", path: "/put", headers: {}, body: Buffer.alloc(1000 + i, 1) }, fail);
      expect(answer.headers["x-got"]).toBe(String(1000 + i));
    }
    expect(srv.connections() - before).toBe(1);
    client.destroy();
  });

  it("never opens more than maxSockets connections", async () => {
    const client = new Http1Client(srv.url, 2);
    const before = srv.connections();
    await Promise.all(Array.from({ length: 8 }, () => client.send({ method: "GET", path: "/slow", headers: {} }, fail, Buffer.alloc(2))));
    expect(srv.connections() - before).toBe(2);
    client.destroy();
  });

  it("sends a request again on a new connection when the kept one was closed by the server", async () => {
    const client = new Http1Client(srv.url, 1);
    const before = srv.connections();
    for (let i = 0; i < 3; i++) {
      expect(await text(client, "/once-per-connection", 2)).toBe("ok");
    }
    expect(srv.connections() - before).toBe(3);
    client.destroy();
  });

  it("rejects an error answer through the caller's constructor, with its body and headers", async () => {
    const client = new Http1Client(srv.url, 1);
    const err = await client.send({ method: "GET", path: "/error", headers: {} }, fail, Buffer.alloc(10)).catch((e) => e);
    expect(err).toMatchObject({ status: 503, headers: { "x-ms-error-code": "ServerBusy" } });
    expect(err.message).toContain("<Code>X</Code>");
    client.destroy();
  });

  it("rejects a body longer than asked for, and a connection cut mid-body as a network error", async () => {
    const client = new Http1Client(srv.url, 2);
    await expect(client.send({ method: "GET", path: "/too-long", headers: {} }, fail, Buffer.alloc(4))).rejects.toMatchObject({ code: "ECONNRESET" });
    const silent = new AbortController();
    setTimeout(() => silent.abort(), 30);
    expect(isBodyCut(await client.send({ method: "GET", path: "/silent", headers: {}, signal: silent.signal }, fail).catch((e) => e))).toBe(false);
    // Cut after the head of a success: the error says so (the caller retries the read where it counts it).
    await expect(client.send({ method: "GET", path: "/cut", headers: {} }, fail, Buffer.alloc(100))).rejects.toMatchObject({ code: "ECONNRESET", bodyCut: true });
    client.destroy();
  });

  it("refuses a header value that would split the request, before sending anything", async () => {
    const client = new Http1Client(srv.url, 1);
    const count = srv.requests.length;
    await expect(client.send({ method: "PUT", path: "/put", headers: { "x-amz-meta-a": "x\r\nx-injected: 1" } }, fail)).rejects.toMatchObject({ code: "ERR_INVALID_CHAR" });
    expect(srv.requests.length).toBe(count);
    client.destroy();
  });

  it("stops waiting when the caller's signal aborts", async () => {
    const client = new Http1Client(srv.url, 1);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await expect(client.send({ method: "GET", path: "/silent", headers: {}, signal: controller.signal }, fail, Buffer.alloc(1))).rejects.toMatchObject({ name: "AbortError" });
    // The pool's slot is free again.
    expect(await text(client, "/length", 5)).toBe("hello");
    client.destroy();
  });

  it("fails to connect with the network's error code", async () => {
    const closed = await rawServer({});
    const url = closed.url;
    await new Promise((r) => closed.server.close(r));
    const client = new Http1Client(url, 1);
    await expect(client.send({ method: "GET", path: "/", headers: {} }, fail)).rejects.toMatchObject({ code: "ECONNREFUSED" });
    client.destroy();
  });
});

describe("Http1Client.open: a body read in pieces", () => {
  let srv: Awaited<ReturnType<typeof rawServer>>;
  const big = Buffer.alloc(3 * 1024 * 1024 + 17);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 11)) & 0xff;
  beforeAll(async () => {
    srv = await rawServer({
      "/big": (_, s) => {
        s.write(`HTTP/1.1 200 OK\r\ncontent-length: ${big.length}\r\n\r\n`);
        s.write(big);
      },
      "/length": (_, s) => s.write("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"),
      "/cut": (_, s) => {
        s.write("HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n");
        s.write(Buffer.alloc(5000, 1));
        setTimeout(() => s.destroy(), 20);
      },
      "/missing": (_, s) => s.write("HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\n\r\nnot there"),
      "/chunked-big": (_, s) => {
        s.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
        for (let i = 0; i < big.length; i += 300_000) {
          const piece = big.subarray(i, i + 300_000);
          s.write(`${piece.length.toString(16)}\r\n`);
          s.write(piece);
          s.write("\r\n");
        }
        s.write("0\r\n\r\n");
      },
    });
  });
  afterAll(() => srv.server.close());

  it("reads a body into successive buffers of any size, byte-exact, then reuses the connection", async () => {
    const client = new Http1Client(srv.url, 1);
    const before = srv.connections();
    const reader = await client.open({ method: "GET", path: "/big", headers: {} }, fail);
    const pieces: Buffer[] = [];
    for (const size of [1, 1000, 1024 * 1024, 2 * 1024 * 1024, 1024 * 1024]) {
      // A slow reader: the socket waits for it.
      await new Promise((r) => setTimeout(r, 10));
      const into = Buffer.alloc(size);
      const n = await reader.read(into);
      pieces.push(into.subarray(0, n));
      if (n < size) break;
    }
    expect(Buffer.concat(pieces).equals(big)).toBe(true);
    reader.close();
    expect(await text(client, "/length", 5)).toBe("hello");
    expect(srv.connections() - before).toBe(1);
    client.destroy();
  });

  it("a reader closed before the end closes its connection; the next request opens another", async () => {
    const client = new Http1Client(srv.url, 1);
    const before = srv.connections();
    const reader = await client.open({ method: "GET", path: "/big", headers: {} }, fail);
    await reader.read(Buffer.alloc(1000));
    reader.close();
    expect(await text(client, "/length", 5)).toBe("hello");
    expect(srv.connections() - before).toBe(2);
    client.destroy();
  });

  it("readAll: bodies of declared length (large and small) and a chunked one, byte-exact; a cut one is an error", async () => {
    const client = new Http1Client(srv.url, 1);
    for (const path of ["/big", "/chunked-big"]) {
      const reader = await client.open({ method: "GET", path, headers: {} }, fail);
      expect((await readAll(reader)).equals(big)).toBe(true);
      reader.close();
    }
    const small = await client.open({ method: "GET", path: "/length", headers: {} }, fail);
    expect((await readAll(small)).toString()).toBe("hello");
    small.close();
    const cut = await client.open({ method: "GET", path: "/cut", headers: {} }, fail);
    await expect(readAll(cut)).rejects.toMatchObject({ code: "ECONNRESET" });
    cut.close();
    client.destroy();
  });

  it("rejects an error answer at open, and a cut body at the read that waits for it", async () => {
    const client = new Http1Client(srv.url, 2);
    await expect(client.open({ method: "GET", path: "/missing", headers: {} }, fail)).rejects.toMatchObject({ status: 404 });
    const reader = await client.open({ method: "GET", path: "/cut", headers: {} }, fail);
    expect(await reader.read(Buffer.alloc(4000))).toBe(4000);
    await expect(reader.read(Buffer.alloc(10000))).rejects.toMatchObject({ code: "ECONNRESET" });
    client.destroy();
  });
});
