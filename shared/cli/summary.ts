/** The few lines a person reads at the end of a run (`migrate run`, `migrate report`). */
import type { RunReport } from "../state/layout.ts";

export function printSummary(report: RunReport, write: (s: string) => void): void {
  const o = report.objects;
  write(
    `run ${report.runId}: ${report.status}${report.dryRun ? " (dry run)" : ""}\n` +
      `  objects: ${o.planned} planned, ${o.copied} copied, ${o.skipped} skipped, ${o.failed} failed` +
      (o.archived ? `, ${o.archived} archived` : "") +
      (o.filteredOut ? `, ${o.filteredOut} filtered out` : "") +
      `\n  bytes: ${report.bytes.copied} copied of ${report.bytes.planned} planned in ${report.durationSeconds.toFixed(1)} s` +
      ` (${(report.throughputBytesPerSecond / 1e6).toFixed(1)} MB/s)\n` +
      (report.uploadsAborted ? `  open multipart uploads left by interrupted copies: ${report.uploadsAborted} aborted\n` : "") +
      (report.warnings.some((w) => w.key === "") ? report.warnings.filter((w) => w.key === "").map((w) => `  warning: ${w.warning}\n`).join("") : "") +
      (report.failures.length ? `  failures:\n${report.failures.slice(0, 20).map((f) => `    ${f.key}: ${f.reason}`).join("\n")}\n` : "") +
      (report.failures.length > 20 ? `    ... ${report.failures.length - 20} more in the report\n` : "") +
      `  ledger: ${report.ledger}\n`,
  );
}

