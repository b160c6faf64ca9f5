/**
 * Has the schedule trigger fired? The scheduled sweep leaves its time in the
 * state bucket (SweepHeartbeat); it must be younger than two periods of the
 * schedule, plus a minute of slack.
 */
import { parseCron } from "../local/cron.ts";
import type { SweepHeartbeat } from "../coordinator/sweep.ts";
import type { Check } from "./deployment.ts";

export function checkSweep(heartbeat: string | undefined, rate: string, now: Date): Check {
  const cron = parseCron(rate);
  const first = cron.next(now);
  const periodMs = cron.next(first).getTime() - first.getTime();
  const minutes = (ms: number) => `${Math.round(ms / 60_000)} min`;
  if (heartbeat === undefined) {
    return { ok: false, what: `the sweep has never run (schedule "${rate}")`, fix: `the schedule trigger does not fire or the coordinator can not write STATE_BUCKET: check \`npx serverless logs --function coordinator\`, or wait ${minutes(periodMs)} after a first deploy` };
  }
  const at = Date.parse((JSON.parse(heartbeat) as SweepHeartbeat).at);
  const age = now.getTime() - at;
  if (!Number.isFinite(at) || age > 2 * periodMs + 60_000) {
    return { ok: false, what: `the sweep last ran ${minutes(age)} ago, expected every ${minutes(periodMs)} (schedule "${rate}")`, fix: "check the schedule trigger (npx serverless info) and the coordinator's logs" };
  }
  return { ok: true, what: `the sweep ran ${Math.round(age / 1000)} s ago (schedule "${rate}")` };
}
