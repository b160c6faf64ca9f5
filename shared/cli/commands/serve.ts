import type { Command } from "commander";
import { loadConfig, loadConfigValues } from "../../config.ts";
import { ConfigError } from "../../errors.ts";
import { buildDeps } from "../../runtime/composition-root.ts";
import { createCoordinatorHandler } from "../../coordinator/handler.ts";
import { createWorkerHandler } from "../../worker/handler.ts";
import type { FunctionHandler } from "../../runtime/http.ts";
import { describeError } from "../../redact.ts";
import { scheduleEvents, startScheduleTrigger } from "../../local/schedule-trigger.ts";

/** A local stand-in for a queue trigger: POSTs the message body to the function's URL. */
function postTo(url: string): FunctionHandler {
  return async (event) => {
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: event.body });
    await res.arrayBuffer();
    return { statusCode: res.status };
  };
}

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("Serve the coordinator and worker handlers over HTTP as Scaleway does, with every trigger of serverless.yml: the queues polled, the sweep on its schedule")
    .option("--port <port>", "coordinator port; the worker listens on the next one", "8080")
    .option("--sweep-every <seconds>", "fire the coordinator's schedule trigger (the sweep) every N seconds instead of at its rate in serverless.yml")
    .option("--serverless-yml <file>", "where the schedule trigger is read from", "serverless.yml")
    .action(async (opts) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 1 || port > 65534) throw new ConfigError(`--port must be a port number (got "${opts.port}")`);
      const sweepEvery = opts.sweepEvery === undefined ? undefined : Number(opts.sweepEvery);
      if (sweepEvery !== undefined && !(Number.isFinite(sweepEvery) && sweepEvery >= 1)) throw new ConfigError(`--sweep-every must be a number of seconds, at least 1 (got "${opts.sweepEvery}")`);
      const schedules = scheduleEvents(opts.serverlessYml).filter((e) => e.functionName === "coordinator");
      if (schedules.length === 0) throw new ConfigError(`${opts.serverlessYml} declares no schedule trigger for the coordinator: the sweep would never run`);
      const config = loadConfig(process.env);
      const { sqs, controlQueueUrl, workerQueueUrls } = config.queue;
      if (!sqs || !controlQueueUrl || workerQueueUrls.length === 0) {
        throw new ConfigError("serve needs CONTROL_QUEUE_URL, WORKER_QUEUE_URLS, SQS_ENDPOINT, SQS_ACCESS_KEY_ID and SQS_SECRET_ACCESS_KEY");
      }
      const deps = buildDeps(config);
      // Both answer migrate doctor's ping with this environment's configuration, as the deployed functions do.
      const configValues = loadConfigValues(process.env);
      // The functions framework (fastify and its schema compilers) is loaded by this command only.
      // A CommonJS package: its exports are those of `default` once bundled.
      const framework = (await import("@scaleway/serverless-functions")) as typeof import("@scaleway/serverless-functions") & { default?: typeof import("@scaleway/serverless-functions") };
      const serveHandler = framework.serveHandler ?? framework.default!.serveHandler;
      const coordinator = serveHandler(createCoordinatorHandler(() => deps, { configValues: () => configValues }) as never, port);
      const worker = serveHandler(createWorkerHandler(() => deps, { configValues: () => configValues }) as never, port + 1);
      // The queue pollers and the SQS SDK they use, loaded by this command only.
      const [{ createSqsClient }, { QueuePoller }] = await Promise.all([import("../../sdk-clients.ts"), import("../../local/queue-poller.ts")]);
      const client = createSqsClient(sqs, config.retry);
      const pollers = [
        new QueuePoller(client, controlQueueUrl, postTo(`http://127.0.0.1:${port}/`)),
        ...workerQueueUrls.map((u) => new QueuePoller(client, u, postTo(`http://127.0.0.1:${port + 1}/`))),
      ];
      for (const p of pollers) p.start();
      // The CRON trigger: POSTs its input to the coordinator, as the platform does.
      const crons = schedules.map((e) =>
        startScheduleTrigger(e, async (body) => (await postTo(`http://127.0.0.1:${port}/`)({ httpMethod: "POST", path: "/", headers: {}, body, isBase64Encoded: false }, {})).statusCode, {
          everySeconds: sweepEvery,
          onError: (err) => deps.log.error("schedule-trigger-failed", { error: describeError(err) }),
        }),
      );
      process.stderr.write(
        `coordinator on http://127.0.0.1:${port}/, worker on http://127.0.0.1:${port + 1}/, polling ${pollers.length} queue(s), schedule ${crons.map((c) => c.describe()).join(", ")}; Ctrl-C stops\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      for (const c of crons) c.stop();
      await Promise.all(pollers.map((p) => p.stop()));
      await Promise.all([coordinator.close(), worker.close()]);
    });
}
