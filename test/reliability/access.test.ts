/**
 * Starting a run over HTTP needs the start token when one is configured: without
 * it, or with a wrong one, the coordinator answers 401 and writes nothing; the
 * token never appears in its logs or answers.
 */
import { describe, it, expect } from "vitest";
import { randomBytes } from "node:crypto";
import { loadConfig } from "../../shared/config.ts";
import { buildDeps } from "../../shared/runtime/composition-root.ts";
import { jsonLogger } from "../../shared/logger.ts";
import { InProcessBus } from "../../shared/local/in-process-bus.ts";
import type { FunctionEvent } from "../../shared/runtime/http.ts";
import { createCoordinatorHandler } from "../../shared/coordinator/handler.ts";
import { clients, newBucket, newContainer, serverEnv } from "../support/env.ts";
import { listKeys, upload } from "./support.ts";

describe("HTTP starts on the coordinator", () => {
  it("refuse a missing or wrong X-Migrate-Token with 401 and nothing written; accept the right one", async () => {
    const token = `start-${randomBytes(16).toString("hex")}`;
    const lines: string[] = [];
    const config = loadConfig({ ...serverEnv(), START_TOKEN: token });
    const deps = buildDeps(config, { bus: new InProcessBus(), log: jsonLogger((l) => lines.push(l)) });
    const coordinator = createCoordinatorHandler(() => deps);
    const container = await newContainer("acc");
    await upload(container, "a.txt", "a");
    const bucket = await newBucket("acc");
    const body = JSON.stringify({ v: 1, type: "start", runId: "acc", source: { container: container.containerName, prefix: "" }, destination: { bucket, prefix: "" } });
    // An HTTP caller of the private function always sends its function token.
    const http = (headers: Record<string, string>): FunctionEvent => ({ httpMethod: "POST", path: "/", headers: { "content-type": "application/json", "X-Auth-Token": "function-jwt", ...headers }, body, isBase64Encoded: false });

    const answers = [];
    const tries: Array<Record<string, string>> = [{}, { "X-Migrate-Token": "" }, { "X-Migrate-Token": token.slice(0, -1) + "x" }, { "X-Migrate-Token": token + "x" }, { Authorization: `Bearer ${token}` }];
    for (const headers of tries) {
      const res = await coordinator(http(headers), {});
      answers.push(res.body ?? "");
      expect(res.statusCode, JSON.stringify(Object.keys(headers))).toBe(401);
    }
    expect(await listKeys(clients.s3(), bucket)).toEqual([]);

    const ok = await coordinator(http({ "x-migrate-token": token }), {});
    expect(ok.statusCode).toBe(202);
    expect(await listKeys(clients.s3(), bucket, ".migrate-state/runs/acc/run.json")).toHaveLength(1);
    expect(lines.some((l) => l.includes("start-refused"))).toBe(true);
    for (const text of [...lines, ...answers, ok.body ?? ""]) expect(text.includes(token), "the start token leaked").toBe(false);
  });
});
