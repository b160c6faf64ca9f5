/** The few lines a person reads at the end of a run (`migrate run`, `migrate report`). */
import type { RunReport } from "../state/layout.ts";

export function printSummary(report: RunReport, write: (s: string) => void): void {
  const o = report.objects;
  write(
    `run ${report.runId}: ${report.status}${report.dryRun ? " (dry run)" : ""}\n` +
      `  objects: ${o.planned} planned, ${o.copied} copied, ${o.skipped} skipped, ${o.failed} failed` +
      (o.archived ? `, ${o.archived} archived` : "") +
      (o.filteredOut ? `, ${o.filteredOut} filtered out` : "") +
      (o.directories ? `, ${o.directories} directories` : "") +
      (o.olderVersions ? `, ${o.olderVersions} older versions not copied` : "") +
      `\n  bytes: ${report.bytes.copied} copied of ${report.bytes.planned} planned in ${report.durationSeconds.toFixed(1)} s` +
      ` (${(report.throughputBytesPerSecond / 1e6).toFixed(1)} MB/s)\n` +
      (report.uploadsAborted ? `  open multipart uploads left by interrupted copies: ${report.uploadsAborted} aborted\n` : "") +
      report.warnings
        .filter((w) => w.key === report.source)
        .map((w) => `  warning: ${w.warning}\n`)
        .join("") +
      (report.failures.length ? `  failures:\n${report.failures.slice(0, 20).map((f) => `    ${f.key}: ${f.reason}`).join("\n")}\n` : "") +
      (report.failures.length > 20 ? `    ... ${report.failures.length - 20} more in the report\n` : "") +
      estimateLines(report) +
      deletionLines(report) +
      `  ledger: ${report.ledger}\n`,
  );
}

/** The dry run's cost estimate, said to be one. */
function estimateLines(report: RunReport): string {
  const e = report.estimate;
  if (!e) return "";
  const classes = Object.entries(e.scaleway.monthlyCostByClass).map(([c, v]) => `${c} ${e.scaleway.storageGiBByClass[c]} GiB ${v.toFixed(2)}`).join(", ");
  return (
    `  estimate (not a quote): Azure read-out ${e.azure.egressGiB.toFixed(2)} GiB, ${e.azure.readOperations} reads, ${e.azure.listOperations} lists: about ${e.azure.total.toFixed(2)} USD\n` +
    `    Scaleway storage about ${e.scaleway.monthlyTotal.toFixed(2)} EUR a month (${classes || "nothing"}); prices and caveats in the JSON report\n`
  );
}

/** The cutover pass (--delete-extraneous): counts, and in a dry run every key a real run would delete. */
function deletionLines(report: RunReport): string {
  const d = report.deletions;
  if (!d) return "";
  let out = report.dryRun
    ? `  delete-extraneous (dry run): ${d.wouldDelete?.length ?? 0} would be deleted` + (d.unmanagedKept ? `, ${d.unmanagedKept} without markers kept` : "") + "\n"
    : `  delete-extraneous: ${d.deleted} deleted, ${d.failed} failed` + (d.unmanagedKept ? `, ${d.unmanagedKept} without markers kept` : "") + "\n";
  if (d.skipped) out += `    ${d.skipped}\n`;
  for (const key of d.wouldDelete ?? []) out += `    would delete ${JSON.stringify(key)}\n`;
  return out;
}
