import type { Command } from "commander";
import { serveHandler } from "@scaleway/serverless-functions";
import { loadConfig } from "../../config.ts";
import { createSqsClient } from "../../clients.ts";
import { ConfigError } from "../../errors.ts";
import { buildDeps } from "../../runtime/composition-root.ts";
import { createCoordinatorHandler } from "../../coordinator/handler.ts";
import { createWorkerHandler } from "../../worker/handler.ts";
import { QueuePoller } from "../../local/queue-poller.ts";
import type { FunctionHandler } from "../../runtime/http.ts";

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
    .description("Serve the coordinator and worker handlers over HTTP as Scaleway does, with local triggers polling the SQS queues")
    .option("--port <port>", "coordinator port; the worker listens on the next one", "8080")
    .action(async (opts) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 1 || port > 65534) throw new ConfigError(`--port must be a port number (got "${opts.port}")`);
      const config = loadConfig(process.env);
      const { sqs, controlQueueUrl, workerQueueUrls } = config.queue;
      if (!sqs || !controlQueueUrl || workerQueueUrls.length === 0) {
        throw new ConfigError("serve needs CONTROL_QUEUE_URL, WORKER_QUEUE_URLS, SQS_ENDPOINT, SQS_ACCESS_KEY_ID and SQS_SECRET_ACCESS_KEY");
      }
      const deps = buildDeps(config);
      const coordinator = serveHandler(createCoordinatorHandler(() => deps) as never, port);
      const worker = serveHandler(createWorkerHandler(() => deps) as never, port + 1);
      const client = createSqsClient(sqs, config.retry);
      const pollers = [
        new QueuePoller(client, controlQueueUrl, postTo(`http://127.0.0.1:${port}/`)),
        ...workerQueueUrls.map((u) => new QueuePoller(client, u, postTo(`http://127.0.0.1:${port + 1}/`))),
      ];
      for (const p of pollers) p.start();
      process.stderr.write(`coordinator on http://127.0.0.1:${port}/, worker on http://127.0.0.1:${port + 1}/, polling ${pollers.length} queue(s); Ctrl-C stops\n`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      await Promise.all(pollers.map((p) => p.stop()));
      await Promise.all([coordinator.close(), worker.close()]);
    });
}
