/**
 * Five-field cron expressions (minute hour day-of-month month day-of-week,
 * UTC), as Scaleway's CRON triggers take them: `*`, numbers, ranges `a-b`,
 * steps `a/n`, `a-b/n`, `* /n` (without the space) and comma lists. Used by
 * `migrate serve` to fire the schedule trigger of serverless.yml locally.
 */
import { ConfigError } from "../errors.ts";

const FIELDS = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12 },
  { name: "day of week", min: 0, max: 7 },
] as const;

export interface CronSchedule {
  expression: string;
  matches(date: Date): boolean;
  /** The first matching minute strictly after `after`. */
  next(after: Date): Date;
}

function parseField(text: string, field: (typeof FIELDS)[number], expression: string): Set<number> {
  const out = new Set<number>();
  const bad = () => new ConfigError(`cron "${expression}": bad ${field.name} "${text}"`);
  for (const part of text.split(",")) {
    const m = /^(\*|\d+(?:-\d+)?)(?:\/(\d+))?$/.exec(part);
    if (!m) throw bad();
    let lo: number = field.min;
    let hi: number = field.max;
    if (m[1] !== "*") {
      const [a, b] = m[1]!.split("-").map(Number);
      lo = a!;
      // `a/n` runs from a to the end of the range, as cron does.
      hi = b ?? (m[2] ? field.max : a!);
    }
    const step = m[2] ? Number(m[2]) : 1;
    if (lo < field.min || hi > field.max || lo > hi || step < 1) throw bad();
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

export function parseCron(expression: string): CronSchedule {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5) throw new ConfigError(`cron "${expression}": 5 fields expected (minute hour day-of-month month day-of-week)`);
  const [minute, hour, dom, month, dow] = parts.map((p, i) => parseField(p, FIELDS[i]!, expression)) as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  if (dow.has(7)) dow.add(0);
  const domAny = parts[2] === "*";
  const dowAny = parts[4] === "*";
  const matches = (d: Date): boolean => {
    if (!minute.has(d.getUTCMinutes()) || !hour.has(d.getUTCHours()) || !month.has(d.getUTCMonth() + 1)) return false;
    const byDom = dom.has(d.getUTCDate());
    const byDow = dow.has(d.getUTCDay());
    // As in cron: when both day fields are restricted, either one matching is enough.
    return domAny || dowAny ? byDom && byDow : byDom || byDow;
  };
  return {
    expression,
    matches,
    next(after) {
      const t = new Date(Math.floor(after.getTime() / 60_000) * 60_000 + 60_000);
      for (let i = 0; i < 366 * 24 * 60; i++, t.setTime(t.getTime() + 60_000)) if (matches(t)) return new Date(t);
      throw new ConfigError(`cron "${expression}" never fires`);
    },
  };
}
