import type { Command } from "commander";
import { loadQueueConfig, loadRetryPolicy, loadStartEnv } from "../../config.ts";
import { ConfigError, MigrationError } from "../../errors.ts";
import { encode } from "../../messages.ts";
import { requestFromOptions, withRequestOptions } from "../request-options.ts";

/**
 * Starts a migration on the deployed functions: an authenticated HTTP call to the
 * coordinator (its URL and the function's token), or a message on its control queue.
 */
export function registerStart(program: Command): void {
  withRequestOptions(program.command("start").description("Start a migration on the deployed coordinator (HTTP with the function token, or the control queue)"))
    .option("--url <url>", "coordinator URL (default COORDINATOR_URL); its token comes from COORDINATOR_TOKEN")
    .option("--via-queue", "send the start request to CONTROL_QUEUE_URL instead of HTTP", false)
    .action(async (opts) => {
      const request = requestFromOptions(opts);
      const body = encode(request);
      if (opts.viaQueue) {
        // Queue deliveries carry no headers: with START_TOKEN deployed, starts go over HTTP.
        const q = loadQueueConfig(process.env, undefined);
        if (!q.sqs || !q.controlQueueUrl) throw new ConfigError("--via-queue needs CONTROL_QUEUE_URL, SQS_ACCESS_KEY_ID and SQS_SECRET_ACCESS_KEY");
        const [{ createSqsClient }, { SendMessageCommand }] = await Promise.all([import("../../sdk-clients.ts"), import("../../queue/sdk-commands.ts")]);
        const sqs = createSqsClient(q.sqs, loadRetryPolicy(process.env));
        await sqs.send(new SendMessageCommand({ QueueUrl: q.controlQueueUrl, MessageBody: body }));
        sqs.destroy();
      } else {
        const { coordinatorUrl, coordinatorToken: token, startToken } = loadStartEnv(process.env);
        const url = opts.url ?? coordinatorUrl;
        if (!url) throw new ConfigError("--url (or COORDINATOR_URL) is required, or use --via-queue");
        // X-Migrate-Client marks an HTTP call: refusals come back as 400/401/409, not recorded as a queue delivery's.
        const headers: Record<string, string> = { "content-type": "application/json", "X-Migrate-Client": "migrate-start" };
        if (token) headers["X-Auth-Token"] = token;
        if (startToken) headers["X-Migrate-Token"] = startToken;
        const res = await fetch(url, { method: "POST", headers, body });
        const text = await res.text();
        if (res.status === 400 || res.status === 409) throw new ConfigError(`the coordinator refused the request: ${text.slice(0, 500)}`);
        if (res.status === 401 || res.status === 403) {
          throw new ConfigError("the coordinator refused the credentials: set COORDINATOR_TOKEN to a token of the function, and START_TOKEN to the one deployed");
        }
        if (res.status >= 300) throw new MigrationError("start-failed", `the coordinator answered ${res.status}: ${text.slice(0, 300)}`);
      }
      process.stdout.write(`${request.runId}\n`);
      process.stderr.write(`started run ${request.runId}; follow it with: migrate status ${request.runId} --state-bucket ${request.destination.bucket} --watch\n`);
    });
}
