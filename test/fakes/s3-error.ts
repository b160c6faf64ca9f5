/**
 * Errors shaped like the AWS SDK's service exceptions (name = S3 error code,
 * `$metadata.httpStatusCode`), so in-memory fakes and the real sink go through
 * the same classifier.
 */
export class FakeS3Error extends Error {
  readonly $metadata: { httpStatusCode: number };
  readonly $fault: "client" | "server";
  constructor(code: string, status: number, message: string) {
    super(message);
    this.name = code;
    this.$metadata = { httpStatusCode: status };
    this.$fault = status >= 500 ? "server" : "client";
  }
}

/** Errors shaped like Azure's RestError (statusCode + code). */
export class FakeAzureError extends Error {
  readonly statusCode: number;
  readonly code: string;
  constructor(code: string, status: number, message: string) {
    super(message);
    this.name = "RestError";
    this.code = code;
    this.statusCode = status;
  }
}
