/**
 * SSE-C, the only server-side encryption Scaleway Object Storage offers: a
 * 256-bit key sent with every request that writes or reads an object, with its
 * MD5 and the algorithm AES256. The server keeps only a salted hash of the key;
 * without it the object can not be read, headed or copied. Lose the key, lose
 * the data.
 *
 * The key itself is a secret (registered for redaction by the loader). Its MD5
 * is what the S3 protocol sends in clear next to it: that digest is the only
 * thing about the key this project records (run record, destination marker),
 * to notice a different key on a destination written under another one.
 */
import { createHash } from "node:crypto";

export interface SseCustomerKey {
  /** Base64 of the 32 key bytes. Secret: never logged, stored or reported. */
  readonly keyBase64: string;
  /** Base64 MD5 of the 32 key bytes (x-amz-server-side-encryption-customer-key-MD5). */
  readonly keyMd5: string;
}

export const SSE_C_ALGORITHM = "AES256";
export const SSE_C_KEY_BYTES = 32;

/**
 * Parses a base64 key; the error names where the key came from, never its value.
 * Returns a message instead of throwing so the configuration loader words it.
 */
export function parseSseCustomerKey(raw: string): SseCustomerKey | { problem: string } {
  const text = raw.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) return { problem: "is not base64" };
  const bytes = Buffer.from(text, "base64");
  if (bytes.length !== SSE_C_KEY_BYTES) return { problem: `decodes to ${bytes.length} bytes, an SSE-C key is ${SSE_C_KEY_BYTES} bytes (256 bits)` };
  return { keyBase64: bytes.toString("base64"), keyMd5: createHash("md5").update(bytes).digest("base64") };
}

/** The request parameters of @aws-sdk/client-s3 that carry the key (Put, CreateMultipartUpload, UploadPart, ListParts, Complete, Head, Get). */
export function sseParams(key: SseCustomerKey | undefined): { SSECustomerAlgorithm?: string; SSECustomerKey?: string; SSECustomerKeyMD5?: string } {
  if (!key) return {};
  return { SSECustomerAlgorithm: SSE_C_ALGORITHM, SSECustomerKey: key.keyBase64, SSECustomerKeyMD5: key.keyMd5 };
}

/** The same as request headers, for the plain signed requests of signed-http.ts. */
export function sseHeaders(key: SseCustomerKey | undefined): Record<string, string> {
  if (!key) return {};
  return {
    "x-amz-server-side-encryption-customer-algorithm": SSE_C_ALGORITHM,
    "x-amz-server-side-encryption-customer-key": key.keyBase64,
    "x-amz-server-side-encryption-customer-key-md5": key.keyMd5,
  };
}
