import { describe, it, expect } from "vitest";
import { redact, registerSecret } from "../../shared/redact.ts";

describe("redact", () => {
  it.each([
    ["an account key", "DefaultEndpointsProtocol=http;AccountName=a;accountkey=c2VjcmV0a2V5;BlobEndpoint=x", "c2VjcmV0a2V5"],
    ["a connection string's SAS", "BlobEndpoint=http://h/a;SharedAccessSignature=sv=2024&sig=abcd1234", "abcd1234"],
    ["a SAS signature in a URL", "GET http://h/c/b?sv=2024&se=2026&SIG=zzzzAAAA%2F", "zzzzAAAA"],
    ["a presigned URL's signature", "https://s3/b/k?X-Amz-Date=1&X-Amz-Signature=0123456789abcdef0123", "0123456789abcdef0123"],
    ["a presigned URL's credential", "https://s3/b/k?x-amz-credential=AKIDEXAMPLE%2F20261203", "AKIDEXAMPLE"],
    ["a SigV4 signature", "Authorization: AWS4-HMAC-SHA256 Credential=x, SignedHeaders=host, Signature=fedcba9876543210fedc", "fedcba9876543210fedc"],
    ["a Shared Key authorization", 'Authorization: SharedKey devstoreaccount1:Zm9vYmFyYmF6+/= next', "Zm9vYmFyYmF6"],
  ])("removes %s, whatever its case", (_what, text, secret) => {
    // Act
    const out = redact(text);
    // Assess
    expect(out).not.toContain(secret);
    expect(out).toContain("[REDACTED]");
  });

  it("leaves text without secrets as it is", () => {
    const text = JSON.stringify({ blobs: [{ name: "signature/of-a-doc.pdf", etag: "0x8D", key: "a=b&c" }] });
    expect(redact(text)).toBe(text);
  });

  it("removes registered secrets, a longer one before one it contains, and their encoded forms", () => {
    // Arrange
    registerSecret("short-secret-value");
    registerSecret("short-secret-value-and-more/+=");
    // Act
    const out = redact(`a short-secret-value-and-more/+= b short-secret-value-and-more%2F%2B%3D c short-secret-value d`);
    // Assess
    expect(out).toBe("a [REDACTED] b [REDACTED] c [REDACTED] d");
  });
});
