/**
 * Child processes for the benchmark: run a command under /usr/bin/time (wall
 * time, CPU seconds, peak RSS), and CPU ticks of every process on the machine
 * grouped by role, to see who works during a measurement.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

export interface Timed {
  code: number;
  seconds: number;
  stdout: string;
  stderr: string;
  /** Peak RSS of the child in MiB (NaN when not measured). */
  maxRssMiB: number;
  userSeconds: number;
  sysSeconds: number;
}

const TIME = "/usr/bin/time";
export const haveGnuTime = existsSync(TIME);

/** Children still running, stopped by `killChildren` when the benchmark fails. */
const running = new Set<ChildProcess>();

export function killChildren(): void {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
}

/**
 * Runs `cmd args` with `env` (the whole environment: nothing is inherited). Peak
 * RSS and CPU come from GNU time when installed, else from /proc polling (VmHWM).
 */
export function runTimed(cmd: string, args: string[], env: NodeJS.ProcessEnv, options: { cwd?: string; timeoutMs?: number } = {}): Promise<Timed> {
  const out = join(tmpdir(), `bench-time-${randomBytes(4).toString("hex")}`);
  const argv = haveGnuTime ? [TIME, "-o", out, "-f", "%M %U %S", cmd, ...args] : [cmd, ...args];
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(argv[0]!, argv.slice(1), { env, cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] });
    running.add(child);
    let stdout = "";
    let stderr = "";
    let hwmKiB = 0;
    const poll = haveGnuTime
      ? undefined
      : setInterval(() => {
          try {
            const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
            if (m) hwmKiB = Math.max(hwmKiB, Number(m[1]));
          } catch {
            // exited
          }
        }, 20);
    const timer = options.timeoutMs ? setTimeout(() => child.kill("SIGKILL"), options.timeoutMs) : undefined;
    child.stdout!.on("data", (d) => (stdout += String(d)));
    child.stderr!.on("data", (d) => (stderr += String(d).slice(-20000)));
    child.on("error", (e) => {
      running.delete(child);
      reject(e);
    });
    child.on("close", (code) => {
      running.delete(child);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (poll) clearInterval(poll);
      if (timer) clearTimeout(timer);
      let maxRssMiB = hwmKiB ? hwmKiB / 1024 : NaN;
      let userSeconds = NaN;
      let sysSeconds = NaN;
      if (haveGnuTime) {
        try {
          const line = readFileSync(out, "utf8").trim().split("\n").at(-1)!.split(" ");
          maxRssMiB = Number(line[0]) / 1024;
          userSeconds = Number(line[1]);
          sysSeconds = Number(line[2]);
        } catch {
          // no report (killed)
        }
        rmSync(out, { force: true });
      }
      resolve({ code: code ?? 1, seconds, stdout, stderr, maxRssMiB, userSeconds, sysSeconds });
    });
  });
}

export type CpuSnapshot = Map<number, { role: string; ticks: number }>;

/** The roles `role` gives this benchmark's own servers. */
export const SERVER_ROLES = ["azurite", "radosgw", "ceph-osd", "ceph-mon"] as const;

/** Marks in the command lines of this benchmark's own servers (others may run theirs on the machine). */
const serverMarks: { azurite?: string; ceph?: string } = {};
export function markServers(marks: { azuritePort?: number; cephDir?: string }): void {
  if (marks.azuritePort) serverMarks.azurite = `--blobPort\0${marks.azuritePort}\0`;
  if (marks.cephDir) serverMarks.ceph = marks.cephDir;
}

function role(pid: number, comm: string): string {
  if (pid === process.pid) return "bench";
  const ceph = comm.startsWith("radosgw") || comm.startsWith("ceph-");
  if (ceph || comm === "node") {
    let cmd = "";
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      return "other";
    }
    if (ceph && !(serverMarks.ceph && cmd.includes(serverMarks.ceph))) return "other ceph";
    if (comm === "node") return serverMarks.azurite && cmd.includes(serverMarks.azurite) ? "azurite" : cmd.includes("bench-cold") ? "migrate" : "node (other)";
  }
  if (comm === "time") return "time";
  if (comm.startsWith("radosgw")) return "radosgw";
  if (comm.startsWith("ceph-osd")) return "ceph-osd";
  if (comm.startsWith("ceph-mon")) return "ceph-mon";
  if (comm === "rclone") return "rclone";
  return "other";
}

/** CPU ticks (user + system, 100 per second) of every live process. */
export function cpuSnapshot(): CpuSnapshot {
  const out: CpuSnapshot = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ticks = Number(fields[11]) + Number(fields[12]);
      out.set(Number(entry), { role: role(Number(entry), comm), ticks });
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

/**
 * CPU seconds per role between two snapshots. Processes that ended in between
 * (the measured child) are missing from `after`: their CPU comes from GNU time.
 */
export function cpuDiff(before: CpuSnapshot, after: CpuSnapshot = cpuSnapshot()): Record<string, number> {
  const byRole: Record<string, number> = {};
  for (const [pid, a] of after) {
    const d = a.ticks - (before.get(pid)?.ticks ?? 0);
    if (d > 0) byRole[a.role] = (byRole[a.role] ?? 0) + d / 100;
  }
  return byRole;
}

export function formatCpu(cpu: Record<string, number>, seconds: number): string {
  return Object.entries(cpu)
    .filter(([, s]) => s >= 0.05)
    .sort((a, b) => b[1] - a[1])
    .map(([r, s]) => `${r} ${s.toFixed(1)}s (${((100 * s) / seconds).toFixed(0)}%)`)
    .join(", ");
}

export function loadAverage(): string {
  try {
    return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  } catch {
    return "?";
  }
}
