/**
 * The schedule (CRON) triggers of serverless.yml, fired locally by `migrate
 * serve` the way Scaleway fires them: at each minute the cron expression
 * matches (UTC), a POST of the trigger's `input` as a JSON body to the
 * function. `everySeconds` replaces the expression with a fixed period (tests,
 * or a faster sweep on a local run).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { ConfigError } from "../errors.ts";
import { parseCron, type CronSchedule } from "./cron.ts";

const require = createRequire(import.meta.url);
/** js-yaml, loaded when first needed: every start of the CLI imports this module, few read serverless.yml (about 20 ms of CPU). */
let yaml: { load(text: string): unknown } | undefined;

export interface ScheduleEvent {
  functionName: string;
  rate: string;
  input: unknown;
}

/** serverless.yml as written (variables unresolved). */
export function readServerlessYml(serverlessYml: string): unknown {
  try {
    yaml ??= require("js-yaml") as { load(text: string): unknown };
    return yaml.load(readFileSync(serverlessYml, "utf8"));
  } catch (err) {
    throw new ConfigError(`cannot read ${serverlessYml}`, { cause: err });
  }
}

/** The names of the secrets serverless.yml gives the namespace (provider) and each function. */
export function secretNames(serverlessYml: string): { namespace: string[]; functions: Record<string, string[]> } {
  const doc = readServerlessYml(serverlessYml) as { provider?: { secret?: object }; functions?: Record<string, { secret?: object }> } | undefined;
  const functions: Record<string, string[]> = {};
  for (const [name, fn] of Object.entries(doc?.functions ?? {})) functions[name] = Object.keys(fn?.secret ?? {});
  return { namespace: Object.keys(doc?.provider?.secret ?? {}), functions };
}

/** The schedule events of every function in a serverless.yml. */
export function scheduleEvents(serverlessYml: string): ScheduleEvent[] {
  const doc = readServerlessYml(serverlessYml);
  const functions = (doc as { functions?: Record<string, { events?: unknown }> } | undefined)?.functions ?? {};
  const out: ScheduleEvent[] = [];
  for (const [functionName, fn] of Object.entries(functions)) {
    if (!Array.isArray(fn?.events)) continue;
    for (const e of fn.events as Array<{ schedule?: { rate?: unknown; input?: unknown } }>) {
      if (!e?.schedule) continue;
      if (typeof e.schedule.rate !== "string") throw new ConfigError(`${serverlessYml}: the schedule trigger of ${functionName} has no literal rate`);
      out.push({ functionName, rate: e.schedule.rate, input: e.schedule.input ?? {} });
    }
  }
  return out;
}

export interface ScheduleTrigger {
  stop(): void;
  describe(): string;
}

/** Fires `fire` on the schedule (or every `everySeconds`); a failed call is reported and the next one still fires. */
export function startScheduleTrigger(event: ScheduleEvent, fire: (body: string) => Promise<number>, options: { everySeconds?: number; onError?: (err: unknown) => void } = {}): ScheduleTrigger {
  const body = JSON.stringify(event.input);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const call = () => fire(body).catch((err) => options.onError?.(err));
  if (options.everySeconds !== undefined) {
    timer = setInterval(call, options.everySeconds * 1000);
    return { stop: () => clearInterval(timer), describe: () => `${event.functionName} every ${options.everySeconds} s (--sweep-every)` };
  }
  const cron: CronSchedule = parseCron(event.rate);
  const arm = () => {
    if (stopped) return;
    const at = cron.next(new Date());
    timer = setTimeout(() => {
      void call();
      arm();
    }, Math.max(0, at.getTime() - Date.now()));
  };
  arm();
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
    describe: () => `${event.functionName} at "${event.rate}" UTC`,
  };
}
