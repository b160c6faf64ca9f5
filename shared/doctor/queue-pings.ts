/**
 * Are the queue triggers wired? A signed ping goes into each worker queue and
 * the control queue; the function its trigger calls answers by writing a
 * small object under the state bucket's doctor/ prefix, naming itself. Doctor
 * waits for every answer (bounded), reports each queue on its own line, then
 * deletes the answers. The ping touches no run.
 */
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { StateStore } from "../ports.ts";
import { describeError } from "../redact.ts";
import type { FunctionName, PingAnswer } from "../runtime/ping.ts";
import type { StateLayout } from "../state/layout.ts";
import type { Check } from "./deployment.ts";
import { signedPing } from "./function-pings.ts";

export interface QueueTarget {
  /** Queue name (the last segment of its URL): what the trigger names. */
  queue: string;
  url: string;
  /** The function its trigger must call. */
  function: FunctionName;
}

export interface QueuePingOptions {
  id: string;
  secret: string;
  sqs: SQSClient;
  stateBucket: string;
  state: StateStore;
  layout: StateLayout;
  waitMs: number;
  pollMs?: number;
  /** Functions whose own ping said they can not load their configuration: their silence is explained by it. */
  configErrors: Partial<Record<FunctionName, string>>;
}

export async function pingThroughQueues(targets: QueueTarget[], options: QueuePingOptions): Promise<Check[]> {
  const startedAt = Date.now();
  const results = new Map<string, Check>();
  const pending = new Map<string, { target: QueueTarget; key: string }>();
  for (const target of targets) {
    const key = options.layout.doctor(options.id).queueAnswer(target.queue);
    const ping = signedPing({ id: options.id, at: new Date().toISOString(), reply: "state", stateBucket: options.stateBucket, queue: target.queue }, options.secret);
    try {
      const { SendMessageCommand } = await import("../queue/sdk-commands.ts");
      await options.sqs.send(new SendMessageCommand({ QueueUrl: target.url, MessageBody: JSON.stringify(ping) }));
      pending.set(target.queue, { target, key });
    } catch (err) {
      results.set(target.queue, {
        ok: false,
        what: `could not send the ping to queue ${target.queue} with your queue credential (${describeError(err)})`,
        fix: "check SQS_ENDPOINT, SQS_ACCESS_KEY_ID and SQS_SECRET_ACCESS_KEY (publish rights)",
      });
    }
  }
  const waited = () => Math.round((Date.now() - startedAt) / 1000);
  while (pending.size > 0 && Date.now() - startedAt < options.waitMs) {
    await new Promise((r) => setTimeout(r, options.pollMs ?? 1000));
    for (const [queue, { target, key }] of pending) {
      const got = await options.state.get(key).catch(() => undefined);
      if (!got) continue;
      pending.delete(queue);
      const answer = JSON.parse(got.body) as PingAnswer;
      results.set(
        queue,
        answer.function === target.function
          ? { ok: true, what: `a ping through queue ${queue} reached the ${target.function} (${waited()} s)` }
          : { ok: false, what: `the ping sent to queue ${queue} was consumed by the ${answer.function}, not the ${target.function}`, fix: `the trigger of queue ${queue} calls the wrong function: run npm run deploy` },
      );
    }
  }
  for (const [queue, { target }] of pending) {
    const configError = options.configErrors[target.function];
    results.set(
      queue,
      configError
        ? { ok: false, what: `the ping sent to queue ${queue} got no answer within ${waited()} s: the ${target.function} can not load its configuration (above)`, fix: "fix its configuration first" }
        : {
            ok: false,
            what: `no function consumed the ping sent to queue ${queue} within ${waited()} s: is its trigger wired?`,
            fix: `check the trigger of queue ${queue} on the ${target.function} (\`npx serverless info\`, the console's Triggers tab), and run npm run deploy to recreate it`,
          },
    );
  }
  for (const target of targets) await options.state.delete(options.layout.doctor(options.id).queueAnswer(target.queue)).catch(() => undefined);
  return targets.map((t) => results.get(t.queue)!);
}
