import type { Command } from "commander";
import { ConfigError } from "../../errors.ts";
import { readJson } from "../../state/json.ts";
import type { LedgerEntry, RunReport } from "../../state/layout.ts";
import { openState } from "../state-access.ts";
import { printSummary } from "../summary.ts";
import { EXIT } from "../exit-codes.ts";

function csvField(v: unknown): string {
  const s = v === undefined || v === null ? "" : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function registerReport(program: Command): void {
  program
    .command("report")
    .description("The report of a finished run and where its ledger is; --csv prints the per-object ledger")
    .argument("<runId>", "run id")
    .option("--state-bucket <bucket>", "bucket holding the run's state (default STATE_BUCKET)")
    .option("--json", "print the report as JSON", false)
    .option("--csv", "print the ledger as CSV (key, source, size, outcome, code, reason, md5)", false)
    .action(async (runId: string, opts) => {
      const state = openState(runId, opts.stateBucket);
      try {
        const keys = state.layout.run(runId);
        const report = (await readJson<RunReport>(state.store, keys.report))?.value;
        if (!report) throw new ConfigError(`run ${runId} has no report in bucket ${state.bucket} (not finished, or unknown): see migrate status`);
        if (opts.csv) {
          const ledger = (await state.store.get(keys.ledger))?.body ?? "";
          const cols = ["key", "source", "size", "outcome", "code", "reason", "md5"] as const;
          process.stdout.write(cols.join(",") + "\n");
          for (const l of ledger.split("\n")) {
            if (!l) continue;
            const e = JSON.parse(l) as LedgerEntry;
            process.stdout.write(cols.map((c) => csvField(e[c])).join(",") + "\n");
          }
        } else if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
        else printSummary(report, (s) => process.stdout.write(s));
        process.exitCode = report.status === "succeeded" ? EXIT.ok : EXIT.failed;
      } finally {
        state.close();
      }
    });
}
