/**
 * Checks of untrusted JSON (queue messages, start requests) against a schema
 * that also gives the checked value its type. Only what the message contract
 * uses: strings (length, pattern, ISO date-time), numbers (whole, bounds),
 * booleans, literals, enums, arrays, records, objects (unknown keys dropped,
 * keys in the schema's order) and unions told apart by one literal key.
 * The first problem found ends the check and names its path
 * ("options.concurrency: must be at most 256 (got 300)").
 *
 * Why not a validation library: the one used before (zod 4) was 40% of the
 * CLI's start-up bundle and a quarter of its start-up CPU (58 ms of 277 for
 * `migrate --help`), paid at every start of the CLI and at every cold start
 * of a function, for some twenty fields.
 */

export type Path = ReadonlyArray<string | number>;

export interface Issue {
  path: Path;
  message: string;
}

export type SafeParse<T> = { success: true; data: T } | { success: false; error: { issues: Issue[] } };

/** A problem at a path; caught by safeParse. */
class SchemaIssue extends Error {
  constructor(readonly path: Path, message: string) {
    super(message);
  }
}

const fail = (path: Path, message: string): never => {
  throw new SchemaIssue(path, message);
};

const kind = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

const clone = <T>(v: T): T => (Array.isArray(v) ? ([...v] as T) : v !== null && typeof v === "object" ? { ...v } : v);

export abstract class Schema<T> {
  /** The value checked, or a SchemaIssue. `value` is never undefined here unless the schema allows it. */
  abstract check(value: unknown, path: Path): T;

  safeParse(value: unknown): SafeParse<T> {
    try {
      return { success: true, data: this.check(value, []) };
    } catch (err) {
      if (err instanceof SchemaIssue) return { success: false, error: { issues: [{ path: err.path, message: err.message }] } };
      throw err;
    }
  }

  parse(value: unknown): T {
    const r = this.safeParse(value);
    if (r.success) return r.data;
    const issue = r.error.issues[0]!;
    throw new Error(`${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }

  optional(): Optional<T> {
    return new Optional(this);
  }

  /** Undefined becomes (a copy of) `value`. */
  default(value: T): Schema<T> {
    return new Default(this, value);
  }
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

class Optional<T> extends Schema<T | undefined> {
  constructor(readonly inner: Schema<T>) {
    super();
  }
  check(value: unknown, path: Path): T | undefined {
    return value === undefined ? undefined : this.inner.check(value, path);
  }
}

class Default<T> extends Schema<T> {
  constructor(readonly inner: Schema<T>, readonly value: T) {
    super();
  }
  check(value: unknown, path: Path): T {
    return value === undefined ? clone(this.value) : this.inner.check(value, path);
  }
}

/** A value required to be present: undefined is "required". */
const present = (value: unknown, path: Path) => value === undefined && fail(path, "required");

type StringCheck = (s: string, path: Path) => void;

export class StringSchema extends Schema<string> {
  constructor(private readonly checks: readonly StringCheck[] = []) {
    super();
  }
  check(value: unknown, path: Path): string {
    present(value, path);
    if (typeof value !== "string") return fail(path, `expected a string, got ${kind(value)}`);
    for (const c of this.checks) c(value, path);
    return value;
  }
  private with(c: StringCheck): StringSchema {
    return new StringSchema([...this.checks, c]);
  }
  min(n: number): StringSchema {
    return this.with((s, p) => s.length < n && fail(p, n === 1 ? "must not be empty" : `must be at least ${n} characters (got ${s.length})`));
  }
  max(n: number): StringSchema {
    return this.with((s, p) => s.length > n && fail(p, `must be at most ${n} characters (got ${s.length})`));
  }
  /** `what`: the message when the pattern does not match ("bucket name"). */
  regex(pattern: RegExp, what: string): StringSchema {
    return this.with((s, p) => !pattern.test(s) && fail(p, what));
  }
}

/** RFC 3339 (ISO 8601) date-time with seconds and Z or a ±hh:mm offset; February 29 only in leap years. */
const DATE = String.raw`(?:(?:\d\d[2468][048]|\d\d[13579][26]|\d\d0[48]|[02468][048]00|[13579][26]00)-02-29|\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|02-(?:0[1-9]|1\d|2[0-8])))`;
export const ISO_DATE_TIME = new RegExp(String.raw`^${DATE}T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$`);

export class NumberSchema extends Schema<number> {
  constructor(private readonly whole = false, private readonly lo = -Infinity, private readonly hi = Infinity) {
    super();
  }
  check(value: unknown, path: Path): number {
    present(value, path);
    if (typeof value !== "number" || !Number.isFinite(value)) return fail(path, `expected a number, got ${typeof value === "number" ? String(value) : kind(value)}`);
    if (this.whole && !Number.isInteger(value)) fail(path, `expected a whole number, got ${value}`);
    if (value < this.lo) fail(path, `must be at least ${this.lo} (got ${value})`);
    if (value > this.hi) fail(path, `must be at most ${this.hi} (got ${value})`);
    return value;
  }
  int(): NumberSchema {
    return new NumberSchema(true, this.lo, this.hi);
  }
  min(n: number): NumberSchema {
    return new NumberSchema(this.whole, n, this.hi);
  }
  max(n: number): NumberSchema {
    return new NumberSchema(this.whole, this.lo, n);
  }
}

class BooleanSchema extends Schema<boolean> {
  check(value: unknown, path: Path): boolean {
    present(value, path);
    return typeof value === "boolean" ? value : fail(path, `expected true or false, got ${kind(value)}`);
  }
}

class LiteralSchema<T extends string | number | boolean> extends Schema<T> {
  constructor(readonly value: T) {
    super();
  }
  check(value: unknown, path: Path): T {
    present(value, path);
    return value === this.value ? this.value : fail(path, `expected ${JSON.stringify(this.value)}`);
  }
}

class EnumSchema<T extends string> extends Schema<T> {
  constructor(readonly values: readonly T[]) {
    super();
  }
  check(value: unknown, path: Path): T {
    present(value, path);
    return this.values.includes(value as T) ? (value as T) : fail(path, `expected one of ${this.values.map((v) => JSON.stringify(v)).join(", ")}`);
  }
}

class ArraySchema<T> extends Schema<T[]> {
  constructor(readonly item: Schema<T>, private readonly most = Infinity) {
    super();
  }
  check(value: unknown, path: Path): T[] {
    present(value, path);
    if (!Array.isArray(value)) return fail(path, `expected an array, got ${kind(value)}`);
    if (value.length > this.most) fail(path, `must have at most ${this.most} items (got ${value.length})`);
    return value.map((v, i) => this.item.check(v, [...path, i]));
  }
  max(n: number): ArraySchema<T> {
    return new ArraySchema(this.item, n);
  }
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

class RecordSchema<V> extends Schema<Record<string, V>> {
  constructor(readonly key: Schema<string>, readonly item: Schema<V>) {
    super();
  }
  check(value: unknown, path: Path): Record<string, V> {
    present(value, path);
    if (!isPlainObject(value)) return fail(path, `expected an object, got ${kind(value)}`);
    const out: Record<string, V> = {};
    for (const [k, v] of Object.entries(value)) {
      this.key.check(k, [...path, k]);
      // Defined, not assigned: a key "__proto__" (JSON.parse makes it an own key) stays a key.
      Object.defineProperty(out, k, { value: this.item.check(v, [...path, k]), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
}

type Shape = Record<string, Schema<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends Optional<unknown> ? K : never }[keyof S];
type Flat<T> = { [K in keyof T]: T[K] };
export type ObjectOf<S extends Shape> = Flat<{ [K in Exclude<keyof S, OptionalKeys<S>>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Infer<S[K]> }>;

export class ObjectSchema<S extends Shape> extends Schema<ObjectOf<S>> {
  constructor(readonly shape: S) {
    super();
  }
  check(value: unknown, path: Path): ObjectOf<S> {
    present(value, path);
    if (!isPlainObject(value)) return fail(path, `expected an object, got ${kind(value)}`);
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(this.shape)) {
      const v = this.shape[key]!.check(value[key], [...path, key]);
      if (v !== undefined) out[key] = v;
    }
    return out as ObjectOf<S>;
  }
}

type Tagged<K extends string> = ObjectSchema<Shape & { [P in K]: LiteralSchema<string> }>;

class UnionSchema<K extends string, O extends readonly Tagged<K>[]> extends Schema<Infer<O[number]>> {
  private readonly byTag = new Map<unknown, Tagged<K>>();
  constructor(readonly key: K, options: O) {
    super();
    for (const o of options) this.byTag.set((o.shape[key] as LiteralSchema<string>).value, o);
  }
  check(value: unknown, path: Path): Infer<O[number]> {
    present(value, path);
    if (!isPlainObject(value)) return fail(path, `expected an object, got ${kind(value)}`);
    const option = this.byTag.get(value[this.key]);
    if (!option) return fail([...path, this.key], `expected one of ${[...this.byTag.keys()].map((t) => JSON.stringify(t)).join(", ")}`);
    return option.check(value, path) as Infer<O[number]>;
  }
}

export const s = {
  string: () => new StringSchema(),
  isoDateTime: () => new StringSchema().regex(ISO_DATE_TIME, "expected an ISO 8601 date-time with seconds and Z or an offset"),
  number: () => new NumberSchema(),
  boolean: () => new BooleanSchema(),
  literal: <T extends string | number | boolean>(value: T) => new LiteralSchema(value),
  enum: <const T extends string>(values: readonly T[]) => new EnumSchema<T>(values),
  array: <T>(item: Schema<T>) => new ArraySchema(item),
  record: <V>(key: Schema<string>, item: Schema<V>) => new RecordSchema(key, item),
  object: <S extends Shape>(shape: S) => new ObjectSchema(shape),
  union: <K extends string, const O extends readonly Tagged<K>[]>(key: K, options: O) => new UnionSchema(key, options),
};
