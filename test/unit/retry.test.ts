import { describe, it, expect } from "vitest";
import { classify, withRetry } from "../../shared/retry.ts";
import { BlobArchivedError, SourceChangedError, PreconditionFailedError } from "../../shared/errors.ts";
import { FakeAzureError, FakeS3Error } from "../fakes/s3-error.ts";

const net = (code: string, message = code) => Object.assign(new Error(message), { code });

describe("classify", () => {
  it.each([
    ["Azure 503 ServerBusy", new FakeAzureError("ServerBusy", 503, "busy"), "retryable"],
    ["Azure 500 OperationTimedOut", new FakeAzureError("OperationTimedOut", 500, "slow"), "retryable"],
    ["Azure 429", new FakeAzureError("TooManyRequests", 429, "slow down"), "retryable"],
    ["Azure 412 ConditionNotMet", new FakeAzureError("ConditionNotMet", 412, "changed"), "source-changed"],
    ["Azure 412 without code (HEAD)", Object.assign(new Error("x"), { statusCode: 412 }), "source-changed"],
    ["Azure 409 BlobArchived", new FakeAzureError("BlobArchived", 409, "archived"), "archived"],
    ["Azure 404 BlobNotFound", new FakeAzureError("BlobNotFound", 404, "nope"), "gone"],
    ["Azure 403", new FakeAzureError("AuthorizationFailure", 403, "no"), "permanent"],
    ["S3 503 SlowDown", new FakeS3Error("SlowDown", 503, "slow"), "retryable"],
    ["S3 500 InternalError", new FakeS3Error("InternalError", 500, "oops"), "retryable"],
    ["S3 RequestTimeout", new FakeS3Error("RequestTimeout", 400, "timeout"), "retryable"],
    ["S3 InvalidPart", new FakeS3Error("InvalidPart", 400, "bad"), "permanent"],
    ["S3 EntityTooSmall", new FakeS3Error("EntityTooSmall", 400, "small"), "permanent"],
    ["S3 NoSuchUpload", new FakeS3Error("NoSuchUpload", 404, "gone"), "gone"],
    ["RGW NoSuchKey for an aborted upload", new FakeS3Error("NoSuchKey", 404, "gone"), "gone"],
    ["S3 403 AccessDenied", new FakeS3Error("AccessDenied", 403, "denied"), "permanent"],
    ["S3 404 NoSuchBucket", new FakeS3Error("NoSuchBucket", 404, "no bucket"), "permanent"],
    ["S3 bare 404 (HEAD)", new FakeS3Error("NotFound", 404, ""), "gone"],
    ["ECONNRESET", net("ECONNRESET"), "retryable"],
    ["ETIMEDOUT", net("ETIMEDOUT"), "retryable"],
    ["EPIPE", net("EPIPE"), "retryable"],
    ["socket hang up", new Error("socket hang up"), "retryable"],
    ["premature close", net("ERR_STREAM_PREMATURE_CLOSE", "Premature close"), "retryable"],
    ["wrapped reset", new Error("request failed", { cause: net("ECONNRESET") }), "retryable"],
    ["SourceChangedError", new SourceChangedError("changed"), "source-changed"],
    ["BlobArchivedError", new BlobArchivedError(), "archived"],
    ["our own lost conditional write", new PreconditionFailedError("lost"), "permanent"],
    ["a programming error", new TypeError("x is undefined"), "permanent"],
  ])("%s -> %s", (_label, err, expected) => {
    expect(classify(err)).toBe(expected);
  });
});

describe("withRetry", () => {
  it("retries retryable errors with backoff and returns the first success", async () => {
    // Prepare
    let calls = 0;
    const retries: number[] = [];
    // Act
    const value = await withRetry(
      async () => {
        calls++;
        if (calls < 3) throw new FakeS3Error("SlowDown", 503, "slow down");
        return "ok";
      },
      { attempts: 5, baseMs: 1, onRetry: ({ attempt }) => retries.push(attempt) },
    );
    // Assess
    expect(value).toBe("ok");
    expect(calls).toBe(3);
    expect(retries).toEqual([2, 3]);
  });

  it("does not retry permanent errors", async () => {
    let calls = 0;
    const err = new FakeS3Error("AccessDenied", 403, "denied");
    await expect(
      withRetry(async () => {
        calls++;
        throw err;
      }, { attempts: 5, baseMs: 1 }),
    ).rejects.toBe(err);
    expect(calls).toBe(1);
  });

  it("gives up after the given number of attempts with the last error", async () => {
    let calls = 0;
    await expect(
      withRetry(async () => {
        calls++;
        throw new FakeAzureError("ServerBusy", 503, `busy ${calls}`);
      }, { attempts: 4, baseMs: 1 }),
    ).rejects.toThrow("busy 4");
    expect(calls).toBe(4);
  });

  it("stops waiting as soon as the signal aborts", async () => {
    const ac = new AbortController();
    let calls = 0;
    const started = Date.now();
    setTimeout(() => ac.abort(), 30);
    await expect(
      withRetry(async () => {
        calls++;
        throw new FakeS3Error("SlowDown", 503, "slow");
      }, { attempts: 10, baseMs: 5_000, maxMs: 5_000, signal: ac.signal, onRetry: () => undefined }),
    ).rejects.toThrow("slow");
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(calls).toBeLessThanOrEqual(2);
  });

  it("keeps every wait within the exponential ceiling (full jitter)", async () => {
    const delays: number[] = [];
    await expect(
      withRetry(async () => {
        throw new FakeS3Error("SlowDown", 503, "slow");
      }, { attempts: 6, baseMs: 2, maxMs: 10, onRetry: ({ delayMs }) => delays.push(delayMs) }),
    ).rejects.toThrow();
    expect(delays).toHaveLength(5);
    delays.forEach((d, i) => {
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(Math.min(10, 2 * 2 ** i));
    });
  });
});

describe("cut Azure downloads", () => {
  it("retries the SDK's short-read error, which carries no code", async () => {
    const { classify } = await import("../../shared/retry.ts");
    const err = new Error("Data corruption failure: received less data than required and reached maxRetires limitation. Received data offset: 1023, data needed offset: 4095");
    expect(classify(err)).toBe("retryable");
  });
});
