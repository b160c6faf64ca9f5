import type { TestProject } from "vitest/node";
import { startAzurite, startFauxqs, startRgw, type RunningServer } from "../../shared/servers/launch.ts";

declare module "vitest" {
  export interface ProvidedContext {
    azurite: { endpoint: string; account: string; key: string; connectionString: string };
    rgw: { endpoint: string; accessKeyId: string; secretAccessKey: string; region: string };
    sqs: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string };
  }
}

/** Starts every real server the suite uses, once, and stops them all at the end. */
export default async function setup(project: TestProject) {
  const started: RunningServer[] = [];
  const stopAll = async () => {
    await Promise.allSettled(started.reverse().map((s) => s.stop()));
  };
  const results = await Promise.allSettled([startAzurite(), startRgw(), startFauxqs()]);
  for (const r of results) if (r.status === "fulfilled") started.push(r.value);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed.length > 0) {
    await stopAll();
    throw new Error(`test servers failed to start:\n${failed.map((f) => String(f.reason?.message ?? f.reason)).join("\n")}`);
  }
  const [azurite, rgw, sqs] = results.map((r) => (r as PromiseFulfilledResult<RunningServer>).value) as [
    Awaited<ReturnType<typeof startAzurite>>,
    Awaited<ReturnType<typeof startRgw>>,
    Awaited<ReturnType<typeof startFauxqs>>,
  ];
  try {
    project.provide("azurite", { endpoint: azurite.endpoint, account: azurite.account, key: azurite.key, connectionString: azurite.connectionString });
    project.provide("rgw", { endpoint: rgw.endpoint, accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey, region: rgw.region });
    project.provide("sqs", { endpoint: sqs.endpoint, region: sqs.region, accessKeyId: sqs.accessKeyId, secretAccessKey: sqs.secretAccessKey });
  } catch (err) {
    await stopAll();
    throw err;
  }
  return stopAll;
}
