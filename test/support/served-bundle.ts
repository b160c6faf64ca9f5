/**
 * A built bundle's handler served in its own Node process, the way the
 * platform calls it (@scaleway/serverless-functions), with exactly the
 * environment given: nothing of the test process leaks in.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { freePort } from "../../shared/servers/launch.ts";
import { ROOT } from "./fresh-clone.ts";

export interface ServedBundle {
  url: string;
  child: ChildProcess;
  logs(): string;
  stop(): Promise<void>;
}

export async function serveBundle(bundle: string, env: Record<string, string>): Promise<ServedBundle> {
  const port = await freePort();
  const script = [
    'import { createRequire } from "node:module";',
    `const { serveHandler } = createRequire(${JSON.stringify(join(ROOT, "package.json"))})("@scaleway/serverless-functions");`,
    `const { handle } = await import(${JSON.stringify(pathToFileURL(bundle).href)});`,
    "serveHandler(handle, Number(process.env.PORT));",
  ].join("\n");
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", ...env, PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const until = Date.now() + 20_000;
  while (!out.includes("Server listening")) {
    if (child.exitCode !== null) throw new Error(`${bundle} exited: ${out}`);
    if (Date.now() > until) throw new Error(`${bundle} did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  };
  return { url: `http://127.0.0.1:${port}/`, child, logs: () => out, stop };
}
