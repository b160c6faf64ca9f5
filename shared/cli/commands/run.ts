import { Command, Option } from "commander";
import { writeFileSync } from "node:fs";
import { loadConfig } from "../../config.ts";
import { ConfigError } from "../../errors.ts";
import { jsonLogger } from "../../logger.ts";
import { runLocal } from "../../local/run.ts";
import { readJson } from "../../state/json.ts";
import type { ListingCursor, RunReport } from "../../state/layout.ts";
import { ProgressView } from "../progress.ts";
import { EXIT } from "../exit-codes.ts";
import { positiveInt, requestFromOptions, withRequestOptions } from "../request-options.ts";
import { printSummary } from "../summary.ts";

export function registerRun(program: Command): void {
  withRequestOptions(program.command("run").description("Run a migration locally: the coordinator and the workers in this process, through the deployed handlers"))
    .option("--report <file>", "write the run report as JSON to this file")
    .addOption(new Option("--queue <kind>", "message transport").choices(["memory", "sqs"]).default("memory"))
    .option("--worker-queues <n>", "number of worker queues", positiveInt("--worker-queues"), 2)
    .option("--json", "print the report as JSON on stdout, no progress display", false)
    .option("--verbose", "structured JSON logs on stderr", false)
    .option("--encrypt-state", "encrypt the run's state objects with the SSE-C key too (every later status/report then needs the key)", false)
    .action(async (opts) => {
      const request = requestFromOptions(opts);
      const config = loadConfig(process.env);
      if (opts.encryptState) {
        if (!config.s3.sseCustomerKey) throw new ConfigError("--encrypt-state needs an SSE-C key: set S3_SSE_C_KEY or S3_SSE_C_KEY_FILE");
        config.s3.encryptState = true;
      }
      const from = request.source;
      const to = request.destination;
      const mode = opts.json ? "none" : process.stderr.isTTY ? "bar" : "lines";
      const view = new ProgressView(mode);
      let poll: NodeJS.Timeout | undefined;
      if (!opts.json) process.stderr.write(`run ${request.runId}: azure://${from.container}/${from.prefix} -> s3://${to.bucket}/${to.prefix}\n`);
      view.start();
      let report: RunReport;
      try {
        report = await runLocal({
          config,
          request,
          queue: opts.queue,
          workerQueues: opts.workerQueues,
          log: opts.verbose ? jsonLogger((l) => process.stderr.write(l + "\n")) : undefined,
          onProgress: view.onEvent,
          onStarted: (deps, stateBucket) => {
            // Totals feed the progress display only: with --json nothing shows them, so the listing
            // cursor is not read every second for nothing.
            if (mode === "none") return;
            const store = deps.state(stateBucket);
            const key = deps.layout.run(request.runId).listing;
            poll = setInterval(() => {
              void readJson<ListingCursor>(store, key)
                .then((c) => c && view.setTotals({ objects: c.value.planned.objects, bytes: c.value.planned.bytes, listingDone: c.value.done }))
                .catch(() => undefined);
            }, 1000);
          },
        });
      } finally {
        if (poll) clearInterval(poll);
        view.stop();
      }
      if (opts.report) writeFileSync(opts.report, JSON.stringify(report, null, 2) + "\n");
      if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
      else printSummary(report, (s) => process.stdout.write(s));
      process.exitCode = report.status === "succeeded" ? EXIT.ok : EXIT.failed;
    });
}
