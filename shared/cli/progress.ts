/**
 * Progress display of a local run: a bar on a terminal, plain lines otherwise,
 * nothing with --json. It subscribes to the engine's progress events.
 */
import cliProgress from "cli-progress";
import type { ProgressEvent } from "../copy/types.ts";

export interface ProgressTotals {
  objects: number;
  bytes: number;
  listingDone: boolean;
}

function fmtBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export class ProgressView {
  private bytes = 0;
  private objects = 0;
  private failed = 0;
  private retries = 0;
  private totals: ProgressTotals = { objects: 0, bytes: 0, listingDone: false };
  private readonly started = Date.now();
  private bar?: cliProgress.SingleBar;
  private timer?: NodeJS.Timeout;
  private lastLine = 0;

  constructor(private readonly mode: "bar" | "lines" | "none", private readonly write: (s: string) => void = (s) => process.stderr.write(s)) {}

  start(): void {
    if (this.mode === "bar") {
      this.bar = new cliProgress.SingleBar(
        { format: "{bar} {percentage}% | {objects} | {done} | {rate}/s | {failed} failed", hideCursor: true, stream: process.stderr },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(1, 0, this.payload());
    }
    if (this.mode !== "none") this.timer = setInterval(() => this.render(), this.mode === "bar" ? 500 : 1000);
  }

  onEvent = (e: ProgressEvent): void => {
    if (e.type === "bytes") this.bytes += e.bytes;
    else if (e.type === "retry") this.retries++;
    else if (e.type === "object-end") {
      this.objects++;
      if (e.outcome === "failed") this.failed++;
    }
  };

  setTotals(t: ProgressTotals): void {
    this.totals = t;
  }

  private payload() {
    const secs = Math.max(0.001, (Date.now() - this.started) / 1000);
    const n = (v: number) => v.toLocaleString("en-US");
    const t = this.totals;
    // While the listing goes on, totals are what is listed so far, and say so; never "0+" or "0 B" as a total.
    const objects = t.listingDone
      ? `${n(this.objects)} of ${n(t.objects)} objects`
      : t.objects > 0
        ? `${n(this.objects)} of ${n(t.objects)} objects listed so far`
        : `${n(this.objects)} objects, listing`;
    const done = t.listingDone || t.bytes > 0 ? `${fmtBytes(this.bytes)} of ${fmtBytes(t.bytes)}${t.listingDone ? "" : " so far"}` : fmtBytes(this.bytes);
    return {
      objects,
      done,
      rate: fmtBytes(this.bytes / secs),
      failed: this.failed,
    };
  }

  private render(): void {
    if (this.mode === "bar" && this.bar) {
      this.bar.setTotal(Math.max(1, this.totals.bytes));
      this.bar.update(Math.min(this.bytes, Math.max(1, this.totals.bytes)), this.payload());
    } else if (this.mode === "lines" && Date.now() - this.lastLine >= 5000 && (this.objects > 0 || this.bytes > 0)) {
      this.lastLine = Date.now();
      const p = this.payload();
      this.write(`progress: ${p.objects}, ${p.done}, ${p.rate}/s, ${p.failed} failed, ${this.retries} retries\n`);
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.bar) {
      this.render();
      this.bar.stop();
    }
  }
}
