/** How `migrate run` carries messages between its handlers: an in-process queue, or real SQS queues polled. */
import type { InProcessBus } from "./in-process-bus.ts";
import type { SqsMessageBus } from "../queue/sqs.ts";
import type { FunctionHandler } from "../runtime/http.ts";

export interface Transport {
  bus: InProcessBus | SqsMessageBus;
  attach(handlers: { coordinator: FunctionHandler; worker: FunctionHandler }): void;
  drained(): Promise<void>;
  deadLetters(): string[];
  close(): Promise<void>;
}
