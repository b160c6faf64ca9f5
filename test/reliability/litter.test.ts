/**
 * No litter: a run ends with none of its multipart uploads open, including
 * uploads no checkpoint knows (a CreateMultipartUpload whose answer was lost),
 * and it never touches uploads that are not its own.
 */
import { describe, it, expect } from "vitest";
import { AbortMultipartUploadCommand, CreateMultipartUploadCommand, ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import { runCli } from "../support/cli.ts";
import { clients, newBucket, newContainer, serverEnv } from "../support/env.ts";
import { seedCorpus } from "./support.ts";
import type { RunReport } from "../../shared/state/layout.ts";

describe("open multipart uploads at the end of a run", () => {
  it("aborts the run's own leftovers, by key and initiation time, and leaves the others", { timeout: 120_000 }, async () => {
    const container = await newContainer("litter");
    const bodies = await seedCorpus(container, 12, 0);
    const bucket = await newBucket("litter");
    const s3 = clients.s3();
    const names = [...bodies.keys()];
    // As a lost CreateMultipartUpload answer leaves it: open on one of the run's keys, known to no checkpoint.
    const create = async (key: string) => (await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))).UploadId!;
    const lost = await create(`dst/${names[3]}`);
    const otherPrefix = await create(`elsewhere/${names[3]}`);
    const excluded = await create(`dst/${names[4]}.tmp`);

    const res = await runCli(["run", "--from", `azure://${container.containerName}`, "--to", `s3://${bucket}/dst/`, "--exclude", "*.tmp", "--json", "--run-id", "litter"], serverEnv());
    const report = JSON.parse(res.stdout || "{}") as RunReport;
    expect(res.code, res.stderr.slice(-600)).toBe(0);
    expect(report.objects.copied).toBe(bodies.size);
    expect(report.uploadsAborted).toBe(1);

    const open = (await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];
    const ids = open.map((u) => u.UploadId);
    expect(ids).not.toContain(lost);
    expect(ids).toContain(otherPrefix);
    expect(ids).toContain(excluded);
    for (const u of open) await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key!, UploadId: u.UploadId! }));
  });
});
