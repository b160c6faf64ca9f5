/** The rows of the benchmark: logged as they come, printed as a table at the end, kept for the JSON file. */


export const log = (s: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);
export const mb = (bps: number) => `${(bps / 1e6).toFixed(1)} MB/s`;
export const pct = (x: number) => `${(100 * x).toFixed(0)}%`;

export interface Row {
  section: string;
  what: string;
  value: string;
  goal?: string;
  met?: boolean;
}
export const rows: Row[] = [];
export const results: Record<string, unknown> = {};
export function row(r: Row) {
  rows.push(r);
  log(`${r.section} | ${r.what}: ${r.value}${r.goal ? ` (goal ${r.goal}: ${r.met ? "met" : "MISSED"})` : ""}`);
}

export function best<T>(xs: T[], key: (x: T) => number): T {
  return xs.reduce((a, b) => (key(b) < key(a) ? b : a));
}

export function printTable(): string {
  const lines: string[] = [];
  let section = "";
  for (const r of rows) {
    if (r.section !== section) {
      section = r.section;
      lines.push(`\n== ${section}`);
    }
    const goal = r.goal ? `   [goal ${r.goal}: ${r.met ? "met" : "MISSED"}]` : "";
    lines.push(`  ${r.what}\n      ${r.value}${goal}`);
  }
  return lines.join("\n");
}

/** Runs one section; a failure is reported as a row and the benchmark goes on with the next. */
export async function section<T>(name: string, body: () => Promise<T>): Promise<T | undefined> {
  try {
    return await body();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    row({ section: name, what: "FAILED", value: message.slice(0, 500) });
    ((results.errors ??= []) as unknown[]).push({ section: name, error: err instanceof Error ? err.stack : message });
    return undefined;
  }
}
