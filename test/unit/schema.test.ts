/**
 * The schema checks behind the message contract: every kind of field, the
 * first problem named with its path, unknown keys dropped, output keys in the
 * schema's order (start requests are compared by their JSON), defaults never
 * shared between parses; and the message contract on top of them.
 */
import { describe, it, expect } from "vitest";
import { ISO_DATE_TIME, s } from "../../shared/schema.ts";
import { BadMessageError } from "../../shared/errors.ts";
import { ControlMessage, parseMessage, sameStartRequest, StartRequest, WorkerMessage } from "../../shared/messages.ts";

const problem = (schema: { safeParse(v: unknown): { success: boolean; error?: { issues: Array<{ path: ReadonlyArray<string | number>; message: string }> } } }, value: unknown) => {
  const r = schema.safeParse(value);
  if (r.success) return "ok";
  const i = r.error!.issues[0]!;
  return `${i.path.join(".")}: ${i.message}`;
};

describe("schema", () => {
  it("strings: type, length, pattern", () => {
    const name = s.string().min(1).max(5).regex(/^[a-z]+$/, "lowercase letters");
    expect(name.parse("abc")).toBe("abc");
    expect(problem(name, 3)).toBe(": expected a string, got number");
    expect(problem(name, "")).toBe(": must not be empty");
    expect(problem(name, "abcdef")).toBe(": must be at most 5 characters (got 6)");
    expect(problem(name, "ab1")).toBe(": lowercase letters");
    expect(problem(name, undefined)).toBe(": required");
    expect(problem(s.string().min(3), "ab")).toBe(": must be at least 3 characters (got 2)");
  });

  it("numbers: finite, whole, bounds", () => {
    const n = s.number().int().min(1).max(256);
    expect(n.parse(1)).toBe(1);
    expect(n.parse(256)).toBe(256);
    expect(problem(n, 0)).toBe(": must be at least 1 (got 0)");
    expect(problem(n, 257)).toBe(": must be at most 256 (got 257)");
    expect(problem(n, 1.5)).toBe(": expected a whole number, got 1.5");
    expect(problem(n, "3")).toBe(": expected a number, got string");
    expect(problem(s.number(), Number.NaN)).toBe(": expected a number, got NaN");
    expect(problem(s.number(), Infinity)).toBe(": expected a number, got Infinity");
    expect(s.number().min(0).parse(0.25)).toBe(0.25);
  });

  it("booleans, literals, enums", () => {
    expect(s.boolean().parse(false)).toBe(false);
    expect(problem(s.boolean(), "true")).toBe(": expected true or false, got string");
    expect(problem(s.literal(1), 2)).toBe(": expected 1");
    expect(problem(s.literal("start"), "stop")).toBe(': expected "start"');
    const e = s.enum(["a", "b"]);
    expect(e.parse("b")).toBe("b");
    expect(problem(e, "c")).toBe(': expected one of "a", "b"');
  });

  it("ISO date-times: seconds, Z or an offset, real calendar days", () => {
    for (const ok of ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00.123Z", "2026-12-31T23:59:59+02:00", "2024-02-29T12:00:00-05:30"]) expect(ISO_DATE_TIME.test(ok)).toBe(true);
    for (const bad of ["2026-01-01", "2026-01-01T00:00Z", "2026-01-01T00:00:00", "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:00:00+0200"]) {
      expect(ISO_DATE_TIME.test(bad), bad).toBe(false);
    }
    expect(problem(s.isoDateTime(), "yesterday")).toMatch(/^: expected an ISO 8601 date-time/);
  });

  it("arrays and records check every item, with its index or key in the path", () => {
    const a = s.array(s.string().min(1)).max(2);
    expect(a.parse(["x", "y"])).toEqual(["x", "y"]);
    expect(problem(a, ["x", ""])).toBe("1: must not be empty");
    expect(problem(a, ["x", "y", "z"])).toBe(": must have at most 2 items (got 3)");
    expect(problem(a, "x")).toBe(": expected an array, got string");
    const r = s.record(s.string().max(4), s.number().min(0));
    expect(r.parse({ Hot: 1, Cool: 0 })).toEqual({ Hot: 1, Cool: 0 });
    expect(problem(r, { Hot: -1 })).toBe("Hot: must be at least 0 (got -1)");
    expect(problem(r, { Archive: 1 })).toBe("Archive: must be at most 4 characters (got 7)");
    expect(problem(r, [1])).toBe(": expected an object, got array");
    const odd = s.record(s.string().max(20), s.number()).parse(JSON.parse('{"__proto__": 5, "Hot": 1}'));
    expect(Object.getPrototypeOf(odd)).toBe(Object.prototype);
    expect(Object.keys(odd)).toEqual(["__proto__", "Hot"]);
    expect(JSON.stringify(odd)).toBe('{"__proto__":5,"Hot":1}');
  });

  it("objects: nested paths, unknown keys dropped, keys in the schema's order, optional keys left out", () => {
    const o = s.object({ b: s.number(), a: s.object({ x: s.string() }), c: s.boolean().optional(), d: s.string().default("dflt") });
    const out = o.parse({ a: { x: "1", extra: 2 }, junk: true, b: 2 });
    expect(JSON.stringify(out)).toBe('{"b":2,"a":{"x":"1"},"d":"dflt"}');
    expect("c" in out).toBe(false);
    expect(problem(o, { b: 2, a: { x: 3 } })).toBe("a.x: expected a string, got number");
    expect(problem(o, { b: 2 })).toBe("a: required");
    expect(problem(o, null)).toBe(": expected an object, got null");
  });

  it("a default is a copy: a caller that changes one parse's value changes no other", () => {
    const o = s.object({ list: s.array(s.string()).default([]) });
    const first = o.parse({});
    first.list.push("changed");
    expect(o.parse({}).list).toEqual([]);
  });

  it("unions pick their member by the literal key, and name the key when none has it", () => {
    const u = s.union("type", [s.object({ type: s.literal("a"), n: s.number() }), s.object({ type: s.literal("b"), t: s.string() })]);
    expect(u.parse({ type: "b", t: "x", n: 1 })).toEqual({ type: "b", t: "x" });
    expect(problem(u, { type: "a", n: "x" })).toBe("n: expected a number, got string");
    expect(problem(u, { type: "c" })).toBe('type: expected one of "a", "b"');
    expect(problem(u, 7)).toBe(": expected an object, got number");
  });

  it("parse throws with the path; safeParse never throws on bad input", () => {
    expect(() => s.object({ a: s.number() }).parse({ a: "x" })).toThrow("a: expected a number, got string");
    expect(() => s.object({ a: s.number() }).safeParse(undefined)).not.toThrow();
  });
});

describe("message contract", () => {
  const start = { v: 1, type: "start", runId: "r1", source: { container: "src" }, destination: { bucket: "dst" } };

  it("fills a start request's defaults in a fixed order, so that the same request parses to the same JSON", () => {
    const a = parseMessage(StartRequest, start);
    expect(a.options.dryRun).toBe(false);
    expect(a.options.include).toEqual([]);
    expect(a.source.prefix).toBe("");
    const b = parseMessage(StartRequest, JSON.stringify({ destination: { prefix: "", bucket: "dst" }, options: { sourceMd5: "verify" }, source: { container: "src" }, runId: "r1", type: "start", v: 1 }));
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(sameStartRequest(a, b)).toBe(true);
    expect(sameStartRequest(a, parseMessage(StartRequest, { ...start, options: { concurrency: 4 } }))).toBe(false);
  });

  it("names the problem of a malformed message with its path", () => {
    const bad = (schema: Parameters<typeof parseMessage>[0], raw: unknown) => {
      try {
        parseMessage(schema, raw);
      } catch (err) {
        expect(err).toBeInstanceOf(BadMessageError);
        return (err as Error).message;
      }
      return "accepted";
    };
    expect(bad(StartRequest, { ...start, options: { concurrency: 300 } })).toBe("invalid message: options.concurrency: must be at most 256 (got 300)");
    expect(bad(StartRequest, { ...start, source: { container: "a--b" } })).toBe("invalid message: source.container: Azure container name");
    expect(bad(StartRequest, { ...start, options: { modifiedSince: "2026-02-30T00:00:00Z" } })).toMatch(/^invalid message: options\.modifiedSince: expected an ISO 8601 date-time/);
    expect(bad(ControlMessage, { v: 1, type: "stop" })).toMatch(/^invalid message: type: expected one of "start", /);
    expect(bad(WorkerMessage, { v: 1, type: "range", runId: "r", stateBucket: "st-b", shardId: "s-1", object: 0, range: -1 })).toBe("invalid message: range: must be at least 0 (got -1)");
    expect(bad(WorkerMessage, "[1,2")).toBe("message body is not JSON");
    expect(bad(WorkerMessage, { v: 2, type: "shard" })).toMatch(/^unknown message version 2/);
  });
});
