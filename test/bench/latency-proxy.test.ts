/** The WAN profile's latency proxy: bytes pass unchanged both ways, on kept-alive and new connections, and ends and errors pass through. */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { createServer, request, Agent, type Server } from "node:http";
import { connect, createServer as createTcpServer } from "node:net";
import { createHash, randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { startLatencyProxy, type LatencyProxy } from "../../bench/latency-proxy.ts";

const big = randomBytes(24 * 1024 * 1024 + 17);
const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");

function fetchVia(agent: Agent, url: string, method = "GET", body?: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (d: Buffer) => chunks.push(d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("bench latency proxy", () => {
  let server: Server;
  let proxy: LatencyProxy;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === "/big") return void res.end(big);
      const chunks: Buffer[] = [];
      req.on("data", (d: Buffer) => chunks.push(d));
      req.on("end", () => res.end(md5(Buffer.concat(chunks))));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    proxy = await startLatencyProxy({ host: "127.0.0.1", port: (server.address() as AddressInfo).port }, 15);
  });
  afterAll(async () => {
    await proxy.stop();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("returns a large answer byte for byte and carries a large upload, several on one kept-alive connection", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 2; i++) {
        const got = await fetchVia(agent, `${proxy.endpoint}/big`);
        expect(got.status).toBe(200);
        expect(got.body.length).toBe(big.length);
        expect(md5(got.body)).toBe(md5(big));
      }
      const up = await fetchVia(agent, `${proxy.endpoint}/echo`, "PUT", big);
      expect(up.body.toString()).toBe(md5(big));
    } finally {
      agent.destroy();
    }
  });

  it("serves many connections at once", async () => {
    const agent = new Agent({ keepAlive: false });
    try {
      const bodies = Array.from({ length: 20 }, () => randomBytes(5000));
      const answers = await Promise.all(bodies.map((b) => fetchVia(agent, `${proxy.endpoint}/echo`, "POST", b)));
      expect(answers.map((a) => a.body.toString())).toEqual(bodies.map(md5));
    } finally {
      agent.destroy();
    }
  });

  it("ends the client's connection when the server closes it, and fails a connection to a closed port", async () => {
    const tcp = createTcpServer((s) => s.end("bye"));
    await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", r));
    const port = (tcp.address() as AddressInfo).port;
    const p = await startLatencyProxy({ host: "127.0.0.1", port }, 5);
    try {
      const got = await new Promise<string>((resolve, reject) => {
        const c = connect(p.port, "127.0.0.1");
        let s = "";
        c.on("data", (d) => (s += String(d)));
        c.on("end", () => resolve(s));
        c.on("error", reject);
      });
      expect(got).toBe("bye");
    } finally {
      await p.stop();
      await new Promise<void>((r) => tcp.close(() => r()));
    }
    // The server is closed now: its port refuses connections.
    const dead = await startLatencyProxy({ host: "127.0.0.1", port }, 5);
    try {
      await expect(fetchVia(new Agent(), `${dead.endpoint}/x`)).rejects.toThrow();
    } finally {
      await dead.stop();
    }
  });
});
