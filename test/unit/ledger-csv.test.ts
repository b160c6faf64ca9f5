/**
 * `migrate report --csv` writes the ledger in pieces, not a write per row:
 * the same text as row by row, quoted where a field needs it, in pieces of
 * bounded size.
 */
import { describe, it, expect } from "vitest";
import { ledgerCsv } from "../../shared/cli/commands/report.ts";

async function* linesOf(n: number) {
  for (let i = 0; i < n; i++) yield JSON.stringify({ key: `k/${i}`, size: i, outcome: i % 7 === 0 ? "failed" : "copied", reason: i % 7 === 0 ? 'a "quoted", reason' : undefined });
}

describe("ledgerCsv", () => {
  it("yields the header and every row, in pieces of about 64 KiB", async () => {
    const pieces: string[] = [];
    for await (const p of ledgerCsv(linesOf(5000), ["key", "size", "outcome", "reason"])) pieces.push(p);
    const rows = pieces.join("").split("\n");
    expect(rows[0]).toBe("key,size,outcome,reason");
    expect(rows).toHaveLength(5002); // header, 5,000 rows, the empty string after the last newline
    expect(rows[1]).toBe('k/0,0,failed,"a ""quoted"", reason"');
    expect(rows[2]).toBe("k/1,1,copied,");
    expect(rows[5000]).toBe("k/4999,4999,copied,");
    expect(pieces.length).toBeGreaterThan(1);
    for (const p of pieces.slice(0, -1)) {
      expect(p.length).toBeGreaterThanOrEqual(64 * 1024);
      expect(p.length).toBeLessThan(64 * 1024 + 200);
      expect(p.endsWith("\n")).toBe(true);
    }
  });

  it("an empty ledger is the header alone", async () => {
    const pieces: string[] = [];
    for await (const p of ledgerCsv(linesOf(0), ["key"])) pieces.push(p);
    expect(pieces).toEqual(["key\n"]);
  });
});
