/**
 * An in-process queue with Scaleway's trigger semantics, for `migrate run`:
 * each queue POSTs one message per invocation to its handler, at most
 * `maxInFlight` (10) at once; a status >= 300 or a throw is retried up to
 * `retries` (3) times, then the message is dead-lettered.
 */
import type { MessageBus, QueueTarget } from "../ports.ts";
import { QUEUE_LIMITS } from "../limits.ts";
import { queueEvent, type FunctionHandler } from "../runtime/http.ts";

interface Pending {
  body: string;
  attempts: number;
}

class LocalQueue {
  private readonly pending: Pending[] = [];
  inFlight = 0;
  delivered = 0;
  readonly deadLetters: Array<{ body: string; lastStatus: string }> = [];

  constructor(
    private readonly owner: InProcessBus,
    readonly name: string,
    private readonly maxInFlight: number,
    private readonly retries: number,
  ) {}

  handler?: FunctionHandler;

  push(body: string): void {
    this.pending.push({ body, attempts: 0 });
    this.pump();
  }

  get size(): number {
    return this.pending.length + this.inFlight;
  }

  pump(): void {
    if (!this.handler || this.owner.stopped) return;
    while (this.inFlight < this.maxInFlight && this.pending.length > 0) {
      const msg = this.pending.shift()!;
      this.inFlight++;
      void this.invoke(msg);
    }
  }

  private async invoke(msg: Pending): Promise<void> {
    let status: string;
    try {
      const res = await this.handler!(queueEvent(msg.body), { queue: this.name });
      status = String(res.statusCode);
      this.delivered++;
      if (res.statusCode < 300) status = "";
    } catch (err) {
      status = `threw ${(err as Error).name}`;
    }
    this.inFlight--;
    if (status) {
      msg.attempts++;
      if (msg.attempts <= this.retries && !this.owner.stopped) this.pending.push(msg);
      else this.deadLetters.push({ body: msg.body, lastStatus: status });
    }
    this.pump();
    this.owner.notify();
  }
}

export class InProcessBus implements MessageBus {
  readonly workerQueues: number;
  private readonly control: LocalQueue;
  private readonly workers: LocalQueue[];
  private waiters: Array<() => void> = [];
  stopped = false;
  /** Every message sent, for tests that duplicate or inspect traffic: kept only with `recordSent` (memory grows with the run). */
  readonly sent: Array<{ target: QueueTarget; body: string }> = [];
  /** Optional hook to transform delivery (duplicate, reorder) in tests. */
  deliveryFilter?: (target: QueueTarget, bodies: string[]) => string[];

  private readonly recordSent: boolean;

  constructor(options: { workerQueues?: number; maxInFlight?: number; retries?: number; recordSent?: boolean } = {}) {
    this.recordSent = options.recordSent ?? false;
    const maxInFlight = options.maxInFlight ?? QUEUE_LIMITS.maxInFlightPerTrigger;
    const retries = options.retries ?? QUEUE_LIMITS.triggerRetries;
    this.workerQueues = Math.max(1, options.workerQueues ?? 1);
    this.control = new LocalQueue(this, "control", maxInFlight, retries);
    this.workers = Array.from({ length: this.workerQueues }, (_, i) => new LocalQueue(this, `worker-${i}`, maxInFlight, retries));
  }

  attach(handlers: { coordinator: FunctionHandler; worker: FunctionHandler }): void {
    this.control.handler = handlers.coordinator;
    for (const w of this.workers) w.handler = handlers.worker;
    this.control.pump();
    for (const w of this.workers) w.pump();
  }

  async send(target: QueueTarget, bodies: string[]): Promise<void> {
    const out = this.deliveryFilter ? this.deliveryFilter(target, bodies) : bodies;
    const queue = target.kind === "control" ? this.control : this.workers[target.index % this.workerQueues]!;
    for (const body of out) {
      if (this.recordSent) this.sent.push({ target, body });
      queue.push(body);
    }
  }

  get idle(): boolean {
    return [this.control, ...this.workers].every((q) => q.size === 0);
  }

  get deadLetters(): Array<{ queue: string; body: string; lastStatus: string }> {
    return [this.control, ...this.workers].flatMap((q) => q.deadLetters.map((d) => ({ queue: q.name, ...d })));
  }

  notify(): void {
    if (!this.idle) return;
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }

  /** Resolves when every queue is empty and nothing is in flight. */
  async drained(): Promise<void> {
    if (this.idle) return;
    await new Promise<void>((r) => this.waiters.push(r));
  }

  stop(): void {
    this.stopped = true;
  }
}
