import { describe, it, expect } from "vitest";
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  ListMultipartUploadsCommand,
} from "@aws-sdk/client-s3";
import {
  CreateQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
} from "@aws-sdk/client-sqs";
import { clients, newBucket, newContainer, uniqueName } from "../support/env.ts";

const MiB = 1024 * 1024;
const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");

describe("Azurite through the blob client factory", () => {
  it("round-trips a blob with content headers, metadata and index tags", async () => {
    // Prepare
    const container = await newContainer();
    const body = randomBytes(4096);
    const blob = container.getBlockBlobClient("dir/with space/é.bin");
    // Act
    await blob.upload(body, body.length, {
      blobHTTPHeaders: { blobContentType: "application/x-test", blobCacheControl: "max-age=60", blobContentLanguage: "fr" },
      metadata: { project: "hdh", owner: "ops" },
      tags: { tier: "gold", "data-class": "health" },
    });
    // Assess
    const listed = [];
    for await (const item of container.listBlobsFlat({ includeMetadata: true, includeTags: true })) listed.push(item);
    expect(listed).toHaveLength(1);
    expect(listed[0]!.name).toBe("dir/with space/é.bin");
    expect(listed[0]!.metadata).toEqual({ project: "hdh", owner: "ops" });
    expect(listed[0]!.tags).toEqual({ tier: "gold", "data-class": "health" });
    const props = await blob.getProperties();
    expect(props.contentType).toBe("application/x-test");
    expect(props.cacheControl).toBe("max-age=60");
    const back = await blob.downloadToBuffer();
    expect(md5(back)).toBe(md5(body));
  });
});

describe("Ceph RGW through the S3 client factory", () => {
  it("stores a stream body byte-exact (default SDK checksums would break this)", async () => {
    const s3 = clients.s3();
    const bucket = await newBucket();
    const body = randomBytes(300 * 1024);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "stream.bin", Body: Readable.from([body.subarray(0, 1000), body.subarray(1000)]), ContentLength: body.length }));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "stream.bin" }));
    const back = Buffer.from(await got.Body!.transformToByteArray());
    expect(back.length).toBe(body.length);
    expect(md5(back)).toBe(md5(body));
  });

  it("uploads parts from streams, lists them, completes, and aborts another upload", async () => {
    const s3 = clients.s3();
    const bucket = await newBucket();
    const part1 = randomBytes(5 * MiB);
    const part2 = randomBytes(1234);
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: "big.bin" }));
    const etags: string[] = [];
    for (const [i, part] of [part1, part2].entries()) {
      const r = await s3.send(
        new UploadPartCommand({ Bucket: bucket, Key: "big.bin", UploadId, PartNumber: i + 1, Body: Readable.from([part]), ContentLength: part.length, ContentMD5: createHash("md5").update(part).digest("base64") }),
      );
      etags.push(r.ETag!);
      expect(r.ETag!.replace(/"/g, "")).toBe(md5(part));
    }
    const listed = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: "big.bin", UploadId }));
    expect(listed.Parts?.map((p) => [p.PartNumber, p.Size])).toEqual([[1, part1.length], [2, part2.length]]);
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: "big.bin", UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "big.bin" }));
    expect(md5(Buffer.from(await got.Body!.transformToByteArray()))).toBe(md5(Buffer.concat([part1, part2])));

    const other = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: "aborted.bin" }));
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: "aborted.bin", UploadId: other.UploadId }));
    const open = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    expect(open.Uploads ?? []).toHaveLength(0);
    // RGW answers NoSuchKey (not NoSuchUpload) for ListParts of an aborted upload: both mean "gone".
    const gone = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: "aborted.bin", UploadId: other.UploadId })).catch((e: Error) => e);
    expect(gone).toBeInstanceOf(Error);
    expect(["NoSuchUpload", "NoSuchKey"]).toContain((gone as Error).name);
  });
});

describe("fauxqs through the SQS client factory", () => {
  it("sends, receives, redelivers after the visibility timeout, and redrives to a dead-letter queue", async () => {
    const sqs = clients.sqs();
    const dlq = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName("dlq") }));
    const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ["QueueArn"] }))).Attributes!.QueueArn!;
    const q = await sqs.send(
      new CreateQueueCommand({
        QueueName: uniqueName("work"),
        Attributes: { VisibilityTimeout: "1", RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 2 }) },
      }),
    );
    await sqs.send(new SendMessageCommand({ QueueUrl: q.QueueUrl, MessageBody: '{"hello":1}' }));
    const first = await sqs.send(new ReceiveMessageCommand({ QueueUrl: q.QueueUrl, WaitTimeSeconds: 1 }));
    expect(first.Messages?.[0]?.Body).toBe('{"hello":1}');
    const hidden = await sqs.send(new ReceiveMessageCommand({ QueueUrl: q.QueueUrl, WaitTimeSeconds: 0 }));
    expect(hidden.Messages ?? []).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 1200));
    const second = await sqs.send(new ReceiveMessageCommand({ QueueUrl: q.QueueUrl, WaitTimeSeconds: 2 }));
    expect(second.Messages?.[0]?.Body).toBe('{"hello":1}');
    await new Promise((r) => setTimeout(r, 1200));
    // A third receive exceeds maxReceiveCount: the message moves to the DLQ.
    const third = await sqs.send(new ReceiveMessageCommand({ QueueUrl: q.QueueUrl, WaitTimeSeconds: 1 }));
    expect(third.Messages ?? []).toHaveLength(0);
    const dead = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlq.QueueUrl, WaitTimeSeconds: 2 }));
    expect(dead.Messages?.[0]?.Body).toBe('{"hello":1}');
    await sqs.send(new DeleteMessageCommand({ QueueUrl: dlq.QueueUrl, ReceiptHandle: dead.Messages![0]!.ReceiptHandle }));
  });
});
