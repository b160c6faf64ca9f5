/**
 * `migrate verify` on the in-memory fakes: the comparison reads only the ports,
 * so a copy made by the pipeline on fakes can be verified, and every kind of
 * finding provoked, without servers.
 */
import { describe, it, expect } from "vitest";
import { createHash, randomBytes } from "node:crypto";
import { memoryWorld, runPipeline, startRequest } from "../support/memory-pipeline.ts";
import { verifyMigration, type Finding } from "../../shared/verify/compare.ts";
import { ODD_NAMES } from "../support/odd-names.ts";

const md5b64 = (b: Buffer) => createHash("md5").update(b).digest("base64");

describe("verify on the in-memory ports", () => {
  it("matches a faithful copy, then names each kind of difference", async () => {
    // Prepare: a copy made by the pipeline, odd names and a multipart object included
    const world = memoryWorld();
    for (const [i, name] of ODD_NAMES.entries()) world.source.putBlob("src", `p1/${name}`, randomBytes(50 + i), { metadata: { i: String(i) }, tags: { t: String(i) } });
    world.source.putBlob("src", "p1/big.bin", randomBytes(11 * 1024 * 1024), { withMd5: false });
    const { report } = await runPipeline(world, startRequest({ sourcePrefix: "p1/", destPrefix: "p2/" }));
    expect(report.objects.failed).toBe(0);
    const locations = { source: { container: "src", prefix: "p1/" }, destination: { bucket: "dst", prefix: "p2/" } };
    const findings: Finding[] = [];

    // Act: the faithful copy
    const clean = await verifyMigration({ source: world.source, sink: world.sink }, { ...locations, concurrency: 4, pageSize: 3, onFinding: (f) => findings.push(f) });
    // Assess
    expect(findings).toEqual([]);
    expect(clean).toMatchObject({ checked: ODD_NAMES.length + 1, matched: ODD_NAMES.length + 1, differences: 0, extra: 0 });

    // Prepare: bytes replaced (same size), an extra object, an archived blob, a missing object
    const victim = `p2/${ODD_NAMES[1]}`;
    const old = world.sink.getObject("dst", victim)!;
    const swapped = randomBytes(old.body.length);
    await world.sink.put("dst", victim, swapped, md5b64(swapped), old.head, old.tags);
    await world.sink.put("dst", "p2/extra.bin", Buffer.from("x"), md5b64(Buffer.from("x")), { metadata: {} });
    world.source.putBlob("src", "p1/cold.bin", randomBytes(10));
    world.source.setTier("src", "p1/cold.bin", "Archive");
    world.source.putBlob("src", "p1/never-copied.bin", randomBytes(10));
    findings.length = 0;

    // Act
    const dirty = await verifyMigration({ source: world.source, sink: world.sink }, { ...locations, concurrency: 4, pageSize: 3, onFinding: (f) => findings.push(f) });

    // Assess
    expect(dirty).toMatchObject({ checked: ODD_NAMES.length + 2, missing: 1, extra: 1, archived: 1, differing: 2 });
    expect(findings).toContainEqual({ kind: "extra", key: "p2/extra.bin" });
    expect(findings).toContainEqual({ kind: "archived", key: "p1/cold.bin" });
    expect(findings).toContainEqual({ kind: "difference", key: "p1/never-copied.bin", problem: "missing on destination" });
    expect(findings.some((f) => f.kind === "difference" && f.key === `p1/${ODD_NAMES[1]}` && /content differs/.test(f.problem))).toBe(true);
  });
});
