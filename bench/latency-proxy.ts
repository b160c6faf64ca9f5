/**
 * A TCP latency proxy for the WAN profile: bytes are forwarded unchanged (TLS,
 * signatures and Host headers untouched), and
 * - every chunk from the server to the client is held `delayMs` before it is
 *   written (a delay line: chunks keep their order and spacing, so a stream's
 *   throughput is kept and only its latency grows), so every answer comes
 *   `delayMs` later;
 * - a new connection is opened to the server `delayMs` after the client
 *   connected, the client's first bytes waiting meanwhile (the round trip of
 *   a TCP handshake).
 * Together: one round trip per request on a kept-alive connection, two on a new one.
 * Both legs have Nagle's algorithm off, so no chunk waits for an ACK on top of the delay.
 */
import { connect, createServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

export interface LatencyProxy {
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

/** Bytes held in one connection's delay line before the server side is paused. */
const HIGH_WATER = 8 * 1024 * 1024;

export async function startLatencyProxy(target: { host: string; port: number }, delayMs: number): Promise<LatencyProxy> {
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  };
  const server = createServer((client) => {
    track(client);
    client.pause();
    // Both legs forward at once: with Nagle's algorithm on the client's leg, an answer written in two
    // chunks (head, then body) had its second chunk wait for the ACK of the first, which the client
    // delays up to 40 ms; every 404 and many small answers came 40 ms later than the delay asked,
    // penalising whichever tool makes more small requests.
    client.setNoDelay(true);
    let upstream: Socket | undefined;
    const fail = () => {
      client.destroy();
      upstream?.destroy();
    };
    client.on("error", fail);
    const opened = setTimeout(() => {
      if (client.destroyed) return;
      const up = connect(target.port, target.host);
      upstream = up;
      track(up);
      up.setNoDelay(true);
      up.on("error", fail);
      up.on("connect", () => {
        client.pipe(up);
        client.resume();
      });
      delayLine(up, client, delayMs);
    }, delayMs);
    client.on("close", () => clearTimeout(opened));
  });
  server.on("error", () => undefined);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Writes what `from` sends to `to`, each chunk `delayMs` after it arrived; `from` ending ends `to` once the line is empty. */
function delayLine(from: Socket, to: Socket, delayMs: number): void {
  const line: Array<{ at: number; chunk: Buffer }> = [];
  let held = 0;
  let ended = false;
  let blocked = false;
  let timer: NodeJS.Timeout | undefined;
  const adjust = () => {
    if (held > HIGH_WATER || blocked) from.pause();
    else if (from.isPaused()) from.resume();
  };
  const flush = () => {
    timer = undefined;
    const now = performance.now();
    while (line.length > 0 && line[0]!.at <= now + 0.5) {
      const { chunk } = line.shift()!;
      held -= chunk.length;
      if (!to.write(chunk)) blocked = true;
    }
    if (line.length > 0) timer = setTimeout(flush, Math.max(0, line[0]!.at - performance.now()));
    else if (ended) to.end();
    adjust();
  };
  to.on("drain", () => {
    blocked = false;
    adjust();
  });
  from.on("data", (chunk: Buffer) => {
    line.push({ at: performance.now() + delayMs, chunk });
    held += chunk.length;
    if (!timer) timer = setTimeout(flush, delayMs);
    adjust();
  });
  from.on("end", () => {
    ended = true;
    if (line.length === 0 && !timer) to.end();
  });
  from.on("close", () => {
    if (!ended) {
      if (timer) clearTimeout(timer);
      to.destroy();
    }
  });
  to.on("close", () => {
    if (timer) clearTimeout(timer);
    from.destroy();
  });
}
