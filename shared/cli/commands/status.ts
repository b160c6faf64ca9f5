import type { Command } from "commander";
import cliProgress from "cli-progress";
import { ConfigError } from "../../errors.ts";
import { runStatus, type RunStatus } from "../../state/run-status.ts";
import { openState } from "../state-access.ts";
import { EXIT } from "../exit-codes.ts";

function line(s: RunStatus): string {
  const mb = (n: number) => (n / 1e6).toFixed(1);
  return (
    `${s.runId}: ${s.state}, shards ${s.shards.done}/${s.shards.planned}${s.shards.listingDone ? "" : "+"}, ` +
    `objects ${s.objects.copied} copied ${s.objects.skipped} skipped ${s.objects.failed} failed of ${s.objects.planned}, ` +
    `${mb(s.bytes.copied)}/${mb(s.bytes.planned)} MB, ${mb(s.bytesPerSecond)} MB/s` +
    (s.etaSeconds !== undefined ? `, ETA ${Math.ceil(s.etaSeconds)} s` : "")
  );
}

export function registerStatus(program: Command): void {
  program
    .command("status")
    .description("Progress of a run (local or deployed), read from the state store")
    .argument("<runId>", "run id")
    .option("--state-bucket <bucket>", "bucket holding the run's state (default STATE_BUCKET)")
    .option("--watch", "refresh until the run finishes (a progress bar on a terminal)", false)
    .option("--json", "print the status as JSON", false)
    .action(async (runId: string, opts) => {
      const state = openState(runId, opts.stateBucket);
      try {
        let status = await runStatus(state.store, state.layout, runId);
        // Right after `migrate start` the coordinator may not have created the run yet.
        for (let waited = 0; !status && opts.watch && waited < 60_000; waited += 1000) {
          await new Promise((r) => setTimeout(r, 1000));
          status = await runStatus(state.store, state.layout, runId);
        }
        if (!status) throw new ConfigError(`run ${runId} not found in bucket ${state.bucket}`);
        if (opts.watch && status.state !== "finished") {
          const tty = process.stderr.isTTY && !opts.json;
          const bar = tty ? new cliProgress.SingleBar({ format: "{bar} {percentage}% | {line}", stream: process.stderr }, cliProgress.Presets.shades_classic) : undefined;
          bar?.start(Math.max(1, status.bytes.planned), status.bytes.copied, { line: line(status) });
          while (status.state !== "finished") {
            await new Promise((r) => setTimeout(r, 2000));
            status = (await runStatus(state.store, state.layout, runId))!;
            if (bar) {
              bar.setTotal(Math.max(1, status.bytes.planned));
              bar.update(status.bytes.copied, { line: line(status) });
            } else if (!opts.json) process.stderr.write(line(status) + "\n");
          }
          bar?.stop();
        }
        const { report: _omit, ...summary } = status;
        process.stdout.write(opts.json ? JSON.stringify(summary, null, 2) + "\n" : line(status) + "\n");
        process.exitCode = status.state === "finished" && status.report?.status === "failed" ? EXIT.failed : EXIT.ok;
      } finally {
        state.close();
      }
    });
}
