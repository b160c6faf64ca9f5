/**
 * Real local servers for tests, benchmarks and the demo: Azurite (Azure Blob),
 * Ceph RGW and s3rver (S3), fauxqs (SQS). Each starts on a free port and stops
 * by its own PID, leaving no process behind.
 */
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface RunningServer {
  endpoint: string;
  stop(): Promise<void>;
}

export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface AzuriteServer extends RunningServer {
  account: string;
  key: string;
  connectionString: string;
}

export interface S3Server extends RunningServer {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  kind: "rgw" | "s3rver";
  /** RGW only: an outage of the S3 front end (killed, down `seconds`, back on its port with its data). */
  bounce?: (seconds: number) => Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Listens on `port` of 127.0.0.1 and resolves with the server, or with undefined when the port is taken. */
function holdPort(port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(undefined));
    srv.listen(port, "127.0.0.1", () => resolve(srv));
  });
}

/** A port whose next one is free too (`migrate serve --port P` listens on P and P + 1). */
export async function freePortPair(): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const first = (await holdPort(0))!;
    const addr = first.address();
    const port = typeof addr === "object" && addr ? addr.port : 0;
    const second = port > 0 && port < 65535 ? await holdPort(port + 1) : undefined;
    await new Promise((r) => first.close(r));
    if (second) {
      await new Promise((r) => second.close(r));
      return port;
    }
    if (attempt >= 50) throw new Error("no two free neighbouring ports on 127.0.0.1 after 50 tries");
  }
}

async function waitForHttp(url: string, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    if (child && child.exitCode !== null) throw new Error(`server exited with code ${child.exitCode} before answering on ${url}`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(1000) });
      return;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no answer from ${url} within ${timeoutMs} ms: ${String(last)}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

function resolveBin(pkg: string, rel: string): string {
  const pkgJson = require.resolve(`${pkg}/package.json`, { paths: [ROOT] });
  return join(dirname(pkgJson), rel);
}

/** Accepts a TCP connection: a TLS server with a certificate the caller does not trust yet is up. */
async function waitForPort(port: number, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const { connect } = await import("node:net");
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child && child.exitCode !== null) throw new Error(`server exited with code ${child.exitCode} before listening on ${port}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1", () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listening on port ${port} within ${timeoutMs} ms`);
}

/**
 * Azurite's blob service. In memory by default; with `location`, its data lives
 * on disk there, so a restart on the same port and location finds it again.
 * `tls` serves HTTPS with that certificate and key (PEM files); `oauth` makes
 * Azurite accept Entra ID bearer tokens (`--oauth basic`: shape, audience,
 * issuer and lifetime are checked, not the signature), which needs HTTPS.
 */
export async function startAzurite(options: { port?: number; accounts?: string; location?: string; tls?: { cert: string; key: string }; oauth?: boolean } = {}): Promise<AzuriteServer> {
  const port = options.port ?? (await freePort());
  let main: string;
  try {
    main = resolveBin("azurite", "dist/src/blob/main.js");
  } catch {
    throw new Error("Azurite is not installed: run `npm ci` (devDependency azurite@3.35.0)");
  }
  const child = spawn(
    process.execPath,
    [
      main,
      ...(options.location ? ["--location", options.location] : ["--inMemoryPersistence"]),
      "--blobHost",
      "127.0.0.1",
      "--blobPort",
      String(port),
      "--skipApiVersionCheck",
      "--loose",
      "--disableTelemetry",
      "--silent",
      ...(options.tls ? ["--cert", options.tls.cert, "--key", options.tls.key] : []),
      ...(options.oauth ? ["--oauth", "basic"] : []),
    ],
    { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...(options.accounts ? { AZURITE_ACCOUNTS: options.accounts } : {}) } },
  );
  let stderr = "";
  child.stderr?.on("data", (d) => (stderr += String(d)).slice(-2000));
  const scheme = options.tls ? "https" : "http";
  const endpoint = `${scheme}://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  try {
    if (options.tls) await waitForPort(port, 30_000, child);
    else await waitForHttp(`http://127.0.0.1:${port}/`, 30_000, child);
  } catch (err) {
    await stopChild(child);
    throw new Error(`Azurite failed to start: ${(err as Error).message} ${stderr}`);
  }
  return {
    endpoint,
    account: AZURITE_ACCOUNT,
    key: AZURITE_KEY,
    connectionString: `DefaultEndpointsProtocol=${scheme};AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${endpoint};`,
    stop: () => stopChild(child),
  };
}

export async function startS3rver(options: { port?: number } = {}): Promise<S3Server> {
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), "s3rver-"));
  const bin = resolveBin("s3rver", "bin/s3rver.js");
  const child = spawn(process.execPath, ["--openssl-legacy-provider", bin, "-d", dir, "-a", "127.0.0.1", "-p", String(port), "--silent"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(endpoint, 30_000, child);
  } catch (err) {
    await stopChild(child);
    throw new Error(`s3rver failed to start: ${(err as Error).message}`);
  }
  return {
    endpoint,
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER",
    region: "us-east-1",
    kind: "s3rver",
    stop: async () => {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stdout, stderr }));
      else resolve({ stdout, stderr });
    });
  });
}

/**
 * Ceph RGW through scripts/ceph-rgw.sh (installs the Debian packages as root when
 * they are missing). Fails with a message naming what to install.
 */
export async function startRgw(options: { dir?: string; port?: number } = {}): Promise<S3Server> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "ceph-rgw-"));
  const script = join(ROOT, "scripts", "ceph-rgw.sh");
  const port = options.port ?? (await freePort());
  let out: string;
  try {
    out = (await run("bash", [script, "start", dir, String(port)], 240_000)).stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    await run("bash", [script, "stop", dir], 60_000).catch(() => undefined);
    throw new Error(
      `Ceph RGW failed to start: ${e.stderr?.trim() || e.message}\n` +
        "It needs the Debian packages ceph-mon ceph-osd radosgw ceph-common uuid-runtime (scripts/ceph-rgw.sh installs them when run as root).",
    );
  }
  const vars = Object.fromEntries(out.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
  return {
    endpoint: vars.RGW_ENDPOINT!,
    accessKeyId: vars.RGW_ACCESS_KEY!,
    secretAccessKey: vars.RGW_SECRET_KEY!,
    region: "fr-par",
    kind: "rgw",
    bounce: async (seconds: number) => {
      await run("bash", [script, "bounce", dir, String(seconds)], 120_000 + seconds * 1000);
    },
    stop: async () => {
      await run("bash", [script, "stop", dir], 60_000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface SqsServer extends RunningServer {
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** An outage: the endpoint closes (connections refused), stays down `seconds`, and comes back with its queues. */
  bounce: (seconds: number) => Promise<void>;
}

/** fauxqs in this process, bound to 127.0.0.1 (its CLI binds 0.0.0.0). */
export async function startFauxqs(options: { port?: number } = {}): Promise<SqsServer> {
  const { buildApp } = await import("fauxqs");
  const base = join(ROOT, "node_modules", "fauxqs", "dist");
  const { SqsStore } = await import(join(base, "sqs", "sqsStore.js"));
  const { SnsStore } = await import(join(base, "sns", "snsStore.js"));
  const { S3Store } = await import(join(base, "s3", "s3Store.js"));
  const stores = { sqsStore: new SqsStore(), snsStore: new SnsStore(), s3Store: new S3Store() };
  let app = buildApp({ logger: false, stores });
  const port = options.port ?? (await freePort());
  await app.listen({ host: "127.0.0.1", port });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    region: "us-east-1",
    accessKeyId: "fauxqs",
    secretAccessKey: "fauxqs-secret",
    bounce: async (seconds: number) => {
      await app.close();
      await new Promise((r) => setTimeout(r, seconds * 1000));
      // Back on the same port with the same queues and messages, as a restarted service keeps them.
      app = buildApp({ logger: false, stores });
      await app.listen({ host: "127.0.0.1", port });
    },
    stop: async () => {
      await app.close();
    },
  };
}
