import { createHash } from "node:crypto";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import type { S3Client } from "@aws-sdk/client-s3";
import { PreconditionFailedError } from "../errors.ts";
import type { RedactedBytes, StateObject, StateStore } from "../ports.ts";
import { redact } from "../redact.ts";
import { partBytes } from "../state/ledger-text.ts";
import { withRetry } from "../retry.ts";
import { sseHeaders, sseParams, type SseCustomerKey } from "./sse-c.ts";
import type { S3Http } from "./signed-http.ts";
import { sdkSend } from "./sdk-send.ts";


function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function isPreconditionFailure(err: unknown): boolean {
  const name = (err as Error)?.name;
  const status = statusOf(err);
  // 409 ConditionalRequestConflict: a concurrent conditional write won the race.
  return status === 412 || name === "PreconditionFailed" || status === 409 && name === "ConditionalRequestConflict";
}

/**
 * Run state as small JSON objects in a bucket. Conditional writes (If-None-Match: *,
 * If-Match: etag) are enforced by the server: Scaleway documents them, Ceph RGW
 * implements them.
 *
 * State objects are not encrypted with the SSE-C key of the data unless asked
 * (`encryptState`): they hold names, sizes and digests, never object bytes, and
 * stay readable by `migrate status` and `migrate report` without the key.
 */
export class S3StateStore implements StateStore {
  /**
   * `http`: plain signed requests (signed-http.ts) for the reads, writes and
   * deletes of single objects, the requests a run makes in a row; the SDK's
   * middleware cost about 2.8 ms of CPU per GetObject against 0.3. Listings
   * and the ledger's multipart upload stay on the SDK.
   */
  constructor(
    /** The SDK's client, built on first use (a run's own requests go through `http`). */
    private readonly s3: () => Promise<S3Client>,
    private readonly bucket: string,
    private readonly attempts = 6,
    private readonly sseCustomerKey?: SseCustomerKey,
    private readonly http?: S3Http,
  ) {}

  async get(key: string): Promise<StateObject | undefined> {
    return withRetry(
      async () => {
        try {
          if (this.http) {
            const res = await this.http.request("GET", this.bucket, key, { headers: sseHeaders(this.sseCustomerKey) });
            return { body: res.body.toString("utf8"), etag: res.headers.etag ?? "" };
          }
          const res = await sdkSend(this.s3, (s3, sdk) => s3.send(new sdk.GetObjectCommand({ Bucket: this.bucket, Key: key, ...sseParams(this.sseCustomerKey) })));
          const body = await res.Body!.transformToString("utf8");
          return { body, etag: res.ETag ?? "" };
        } catch (err) {
          if ((err as Error).name === "NoSuchKey" || statusOf(err) === 404) return undefined;
          throw err;
        }
      },
      { attempts: this.attempts },
    );
  }

  async put(key: string, body: string, condition: { ifNoneMatch?: true; ifMatch?: string } = {}): Promise<{ etag: string }> {
    const safe = redact(body);
    if (condition.ifMatch !== undefined) {
      // Ceph RGW only matches an unquoted ETag in If-Match on PUT, while others expect
      // the quoted form: try one, and on 412 the other when the stored ETag is the one we hold.
      const bare = condition.ifMatch.replace(/"/g, "");
      try {
        return await this.putOnce(key, safe, { ifMatch: bare });
      } catch (err) {
        if (!(err instanceof PreconditionFailedError)) throw err;
        const current = await this.get(key);
        if (current?.etag.replace(/"/g, "") !== bare) throw err;
        return this.putOnce(key, safe, { ifMatch: `"${bare}"` });
      }
    }
    return this.putOnce(key, safe, condition);
  }

  private async putOnce(key: string, safe: string, condition: { ifNoneMatch?: true; ifMatch?: string }): Promise<{ etag: string }> {
    return withRetry(
      async () => {
        try {
          if (this.http) {
            const headers: Record<string, string> = { "content-type": key.endsWith(".jsonl") ? "application/x-ndjson" : "application/json", ...sseHeaders(this.sseCustomerKey) };
            if (condition.ifNoneMatch) headers["if-none-match"] = "*";
            if (condition.ifMatch !== undefined) headers["if-match"] = condition.ifMatch;
            const res = await this.http.send("PUT", this.bucket, key, { headers, body: Buffer.from(safe, "utf8") });
            return { etag: res.headers.etag ?? "" };
          }
          const res = await sdkSend(this.s3, (s3, sdk) => s3.send(
            new sdk.PutObjectCommand({
              Bucket: this.bucket,
              Key: key,
              // A string body of a known length: the SDK's length check warns on stderr when it cannot see one.
              Body: Buffer.from(safe, "utf8"),
              ContentLength: Buffer.byteLength(safe, "utf8"),
              ContentType: key.endsWith(".jsonl") ? "application/x-ndjson" : "application/json",
              IfNoneMatch: condition.ifNoneMatch ? "*" : undefined,
              IfMatch: condition.ifMatch,
              ...sseParams(this.sseCustomerKey),
            }),
          ));
          return { etag: res.ETag ?? "" };
        } catch (err) {
          if (isPreconditionFailure(err)) {
            // A try whose answer was lost in transit (here or in the client's own retries) may have been
            // applied: the retry then meets our own write. The same body is ours, or as good as ours.
            const current = await this.get(key);
            if (current && current.body === safe) return { etag: current.etag };
            throw new PreconditionFailedError(`conditional write of ${key} lost`, { cause: err });
          }
          throw err;
        }
      },
      { attempts: this.attempts },
    );
  }

  async startMultipart(key: string): Promise<string> {
    const r = await withRetry(async () => sdkSend(this.s3, (s3, sdk) => s3.send(new sdk.CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: "application/x-ndjson", ...sseParams(this.sseCustomerKey) }))), { attempts: this.attempts });
    return r.UploadId!;
  }

  /** A string part is redacted here; the ledger's own parts come as RedactedBytes (ledger-text.ts), written as they are. */
  async putPart(key: string, uploadId: string, partNumber: number, body: string | RedactedBytes): Promise<{ etag: string }> {
    const bytes = partBytes(body);
    const md5 = createHash("md5").update(bytes).digest("base64");
    const r = await withRetry(async () => sdkSend(this.s3, (s3, sdk) => s3.send(new sdk.UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: bytes, ContentMD5: md5, ContentLength: bytes.length, ...sseParams(this.sseCustomerKey) }))), { attempts: this.attempts });
    return { etag: r.ETag ?? "" };
  }

  async completeMultipart(key: string, uploadId: string, parts: Array<{ partNumber: number; etag: string }>): Promise<void> {
    try {
      await withRetry(
        async () => sdkSend(this.s3, (s3, sdk) => s3.send(new sdk.CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) } }))),
        { attempts: this.attempts },
      );
    } catch (err) {
      // A completion whose answer was lost: the retry finds no upload, and the object is there.
      if ((err as Error).name === "NoSuchUpload" && (await sdkSend(this.s3, (s3, sdk) => s3.send(new sdk.HeadObjectCommand({ Bucket: this.bucket, Key: key, ...sseParams(this.sseCustomerKey) }))).then(() => true, () => false))) return;
      throw err;
    }
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    try {
      await withRetry(async () => sdkSend(this.s3, (s3, sdk) => s3.send(new sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }))), { attempts: this.attempts });
    } catch (err) {
      if ((err as Error).name !== "NoSuchUpload" && statusOf(err) !== 404) throw err;
    }
  }

  async *lines(key: string): AsyncIterable<string> {
    let body: Readable;
    try {
      const res = await withRetry(async () => sdkSend(this.s3, (s3, sdk) => s3.send(new sdk.GetObjectCommand({ Bucket: this.bucket, Key: key, ...sseParams(this.sseCustomerKey) }))), { attempts: this.attempts });
      body = res.Body as Readable;
    } catch (err) {
      if ((err as Error).name === "NoSuchKey" || statusOf(err) === 404) return;
      throw err;
    }
    for await (const line of createInterface({ input: body, crlfDelay: Infinity })) if (line) yield line;
  }

  async delete(key: string): Promise<void> {
    const http = this.http;
    await withRetry<unknown>(async () => (http ? http.send("DELETE", this.bucket, key, {}) : sdkSend(this.s3, (s3, sdk) => s3.send(new sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: key })))), { attempts: this.attempts });
  }

  async listPage(prefix: string, options: { startAfter?: string; maxKeys: number }): Promise<{ keys: string[]; truncated: boolean }> {
    const page = await withRetry(
      async () => sdkSend(this.s3, (s3, sdk) => s3.send(new sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, StartAfter: options.startAfter, MaxKeys: options.maxKeys }))),
      { attempts: this.attempts },
    );
    return { keys: (page.Contents ?? []).flatMap((o) => (o.Key ? [o.Key] : [])), truncated: !!page.IsTruncated };
  }

  async *list(prefix: string): AsyncIterable<string> {
    let token: string | undefined;
    do {
      const page = await withRetry(
        async () => sdkSend(this.s3, (s3, sdk) => s3.send(new sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: 1000 }))),
        { attempts: this.attempts },
      );
      for (const o of page.Contents ?? []) if (o.Key) yield o.Key;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }
}
