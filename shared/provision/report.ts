/** What provisioning did, step by step, and the variables to export: the report the operator reads. */
import type { EnsuredQueue } from "./queues.ts";

export type StepAction = "created" | "updated" | "unchanged" | "reused" | "activated";

export interface ProvisionStep {
  kind: "queues" | "credential" | "queue" | "bucket" | "lifecycle";
  name: string;
  action: StepAction;
  detail?: string;
}

export interface ExportLine {
  name: string;
  value: string;
  /** Shown once, at creation: printed only then. */
  secret?: boolean;
}

export interface ProvisionResult {
  steps: ProvisionStep[];
  /** False when the run found everything in place. */
  changed: boolean;
  sqsEndpoint: string;
  queues: { workers: EnsuredQueue[]; control: EnsuredQueue; deadLetter: EnsuredQueue };
  /** Variables for the functions, to export before `serverless deploy`. */
  exports: ExportLine[];
  /** The provisioning credential, when created by this run: for re-running provision, never for the functions. */
  adminExports: ExportLine[];
  notes: string[];
}

/** What provisioning reports, filled in step by step. */
export interface ProvisionLog {
  steps: ProvisionStep[];
  notes: string[];
  exports: ExportLine[];
  adminExports: ExportLine[];
}

export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:,@%+=-]*$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** What the operator reads: each step, then the exports. Secrets appear only for credentials created by this run. */
export function formatProvisionReport(result: ProvisionResult): string {
  const lines: string[] = [];
  const width = Math.max(...result.steps.map((s) => s.action.length));
  for (const s of result.steps) lines.push(`${s.action.padEnd(width)}  ${s.kind.padEnd(10)} ${s.name}${s.detail ? ` (${s.detail})` : ""}`);
  lines.push("");
  lines.push(result.changed ? "Provisioned." : "Nothing to change: everything was already in place.");
  for (const n of result.notes) lines.push(`note: ${n}`);
  lines.push("");
  lines.push("# Set these before `npm run deploy` (with the Azure and S3 variables of docs/deploy.md):");
  for (const e of result.exports) lines.push(`export ${e.name}=${shellQuote(e.value)}`);
  if (result.exports.some((e) => e.secret)) lines.push("# The queue secret above is shown only now: store it in your secret manager.");
  if (result.adminExports.length > 0) {
    lines.push("");
    lines.push("# Provisioning credential (manage queues): keep it to run provision again; never give it to the functions.");
    for (const e of result.adminExports) lines.push(`export ${e.name}=${shellQuote(e.value)}`);
  }
  return lines.join("\n") + "\n";
}
