import { describe, it, expect } from "vitest";
import { parseCron } from "../../shared/local/cron.ts";

describe("parseCron (the schedule trigger of serverless.yml, fired by migrate serve)", () => {
  it("fires 0/5 * * * * at every fifth minute, UTC", () => {
    const c = parseCron("0/5 * * * *");
    expect(c.next(new Date("2026-12-01T23:02:30Z")).toISOString()).toBe("2026-12-01T23:05:00.000Z");
    expect(c.next(new Date("2026-12-01T23:05:00Z")).toISOString()).toBe("2026-12-01T23:10:00.000Z");
    expect(c.next(new Date("2026-12-31T23:59:10Z")).toISOString()).toBe("2027-01-01T00:00:00.000Z");
  });

  it("takes ranges, lists, steps and either day field", () => {
    expect(parseCron("30 2 * * 1-5").next(new Date("2026-12-05T00:00:00Z")).toISOString()).toBe("2026-12-07T02:30:00.000Z"); // Saturday -> Monday
    expect(parseCron("*/15 8,20 * * *").next(new Date("2026-12-01T08:46:00Z")).toISOString()).toBe("2026-12-01T20:00:00.000Z");
    expect(parseCron("0 0 1 * 0").next(new Date("2026-12-01T00:00:00Z")).toISOString()).toBe("2026-12-06T00:00:00.000Z"); // a Sunday before the 1st
  });

  it("refuses what the platform would refuse, naming the field", () => {
    expect(() => parseCron("0/5 * * *")).toThrow(/5 fields/);
    expect(() => parseCron("61 * * * *")).toThrow(/bad minute "61"/);
    expect(() => parseCron("0 0 * 13 *")).toThrow(/bad month/);
    expect(() => parseCron("0 0 * * mon")).toThrow(/bad day of week/);
  });
});
