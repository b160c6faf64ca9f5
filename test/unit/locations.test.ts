import { describe, it, expect } from "vitest";
import { mapKey, parseAzureUrl, parseS3Url } from "../../shared/locations.ts";
import { ConfigError } from "../../shared/errors.ts";

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("parseAzureUrl", () => {
  it("reads a container alone, with and without a trailing slash", () => {
    expect(parseAzureUrl("azure://photos", "--from")).toEqual({ container: "photos", prefix: "" });
    expect(parseAzureUrl("azure://photos/", "--from")).toEqual({ container: "photos", prefix: "" });
  });

  it("treats a prefix as a folder whether or not it ends with a slash", () => {
    expect(parseAzureUrl("azure://photos/2024", "--from")).toEqual({ container: "photos", prefix: "2024/" });
    expect(parseAzureUrl("azure://photos/2024/", "--from")).toEqual({ container: "photos", prefix: "2024/" });
    expect(parseAzureUrl("azure://photos/a/b/c", "--from").prefix).toBe("a/b/c/");
  });

  it("keeps %, #, ?, +, spaces, unicode and // literally", () => {
    expect(parseAzureUrl("azure://c01/100%25 done/", "--from").prefix).toBe("100%25 done/");
    expect(parseAzureUrl("azure://c01/a#b?c=d+e/", "--from").prefix).toBe("a#b?c=d+e/");
    expect(parseAzureUrl("azure://c01/données/été 2024/", "--from").prefix).toBe("données/été 2024/");
    expect(parseAzureUrl("azure://c01/日本/😀", "--from").prefix).toBe("日本/😀/");
    expect(parseAzureUrl("azure://c01/a//b/", "--from").prefix).toBe("a//b/");
    expect(parseAzureUrl("azure://c01//lead", "--from").prefix).toBe("/lead/");
  });

  it("accepts the scheme in any case and $root", () => {
    expect(parseAzureUrl("AZURE://abc/x", "--from")).toEqual({ container: "abc", prefix: "x/" });
    expect(parseAzureUrl("azure://$root", "--from")).toEqual({ container: "$root", prefix: "" });
  });

  it("accepts container names at the length limits", () => {
    expect(parseAzureUrl("azure://abc", "--from").container).toBe("abc");
    expect(parseAzureUrl(`azure://${"a".repeat(63)}`, "--from").container).toHaveLength(63);
    expect(parseAzureUrl("azure://a-b-1", "--from").container).toBe("a-b-1");
  });

  it.each([
    ["s3://bucket/x", "must look like azure://"],
    ["https://acct.blob.core.windows.net/c", "must look like azure://"],
    ["photos", "must look like azure://"],
    ["azure://", "not an Azure container name"],
    ["azure:///prefix", "not an Azure container name"],
    ["azure://ab", "not an Azure container name"],
    [`azure://${"a".repeat(64)}`, "not an Azure container name"],
    ["azure://Photos", "not an Azure container name"],
    ["azure://my_container", "not an Azure container name"],
    ["azure://a--b", "not an Azure container name"],
    ["azure://-abc", "not an Azure container name"],
    ["azure://abc-", "not an Azure container name"],
    ["azure://my.container", "not an Azure container name"],
    ["azure://c01/a\nb", "control character"],
    [`azure://c01/${"x".repeat(1024)}`, "longer than 1024 characters"],
  ])("refuses %j naming the flag", (raw, why) => {
    const err = configError(() => parseAzureUrl(raw, "--from"));
    expect(err.message.startsWith("--from")).toBe(true);
    expect(err.message).toContain(why);
  });

  it("counts the prefix limit in characters (Azure) including the added slash", () => {
    expect(parseAzureUrl(`azure://c01/${"é".repeat(1023)}`, "--from").prefix).toHaveLength(1024);
    configError(() => parseAzureUrl(`azure://c01/${"é".repeat(1024)}`, "--from"));
  });
});

describe("parseS3Url", () => {
  it("reads a bucket alone and with prefixes, with and without a trailing slash", () => {
    expect(parseS3Url("s3://backup", "--to")).toEqual({ bucket: "backup", prefix: "" });
    expect(parseS3Url("s3://backup/", "--to")).toEqual({ bucket: "backup", prefix: "" });
    expect(parseS3Url("s3://backup/p2", "--to")).toEqual({ bucket: "backup", prefix: "p2/" });
    expect(parseS3Url("s3://backup/p2/", "--to")).toEqual({ bucket: "backup", prefix: "p2/" });
    expect(parseS3Url("S3://my.bucket-1/x", "--to")).toEqual({ bucket: "my.bucket-1", prefix: "x/" });
  });

  it("keeps %, #, ?, +, unicode and // literally", () => {
    expect(parseS3Url("s3://bkt/a%2Fb#c?d+e//f", "--to").prefix).toBe("a%2Fb#c?d+e//f/");
    expect(parseS3Url("s3://bkt/ünï/😀", "--to").prefix).toBe("ünï/😀/");
  });

  it("counts the prefix limit in UTF-8 bytes (S3)", () => {
    expect(parseS3Url(`s3://bkt/${"a".repeat(1023)}`, "--to").prefix).toHaveLength(1024);
    const err = configError(() => parseS3Url(`s3://bkt/${"é".repeat(600)}`, "--to"));
    expect(err.message).toContain("1024 bytes");
  });

  it.each([
    ["azure://c01/x", "must look like s3://"],
    ["bucket/x", "must look like s3://"],
    ["s3://", "not a bucket name"],
    ["s3://ab", "not a bucket name"],
    [`s3://${"b".repeat(64)}`, "not a bucket name"],
    ["s3://Bucket", "not a bucket name"],
    ["s3://my_bucket", "not a bucket name"],
    ["s3://a..b", "not a bucket name"],
    ["s3://a.-b", "not a bucket name"],
    ["s3://.abc", "not a bucket name"],
    ["s3://abc-", "not a bucket name"],
    ["s3://192.168.1.10", "not a bucket name"],
    ["s3://bkt/.migrate-state", "reserved for run state"],
    ["s3://bkt/.migrate-state/runs", "reserved for run state"],
  ])("refuses %j naming the flag", (raw, why) => {
    const err = configError(() => parseS3Url(raw, "--to"));
    expect(err.message.startsWith("--to")).toBe(true);
    expect(err.message).toContain(why);
  });

  it("allows prefixes that only look like the state prefix", () => {
    expect(parseS3Url("s3://bkt/.migrate-states/", "--to").prefix).toBe(".migrate-states/");
    expect(parseS3Url("s3://bkt/x/.migrate-state/", "--to").prefix).toBe("x/.migrate-state/");
  });
});

describe("mapKey", () => {
  it("replaces the source prefix with the destination prefix", () => {
    const from = parseAzureUrl("azure://c01/p1/", "--from");
    const to = parseS3Url("s3://bkt/p2/", "--to");
    expect(mapKey("p1/x", from.prefix, to.prefix)).toBe("p2/x");
    expect(mapKey("p1/d/e/f.txt", from.prefix, to.prefix)).toBe("p2/d/e/f.txt");
  });

  it("maps the same whatever trailing slashes the operator typed", () => {
    for (const [f, t] of [["azure://c01/p1", "s3://bkt/p2"], ["azure://c01/p1/", "s3://bkt/p2"], ["azure://c01/p1", "s3://bkt/p2/"]] as const) {
      expect(mapKey("p1/x", parseAzureUrl(f, "--from").prefix, parseS3Url(t, "--to").prefix)).toBe("p2/x");
    }
  });

  it("maps to and from the root", () => {
    expect(mapKey("p1/x", "p1/", "")).toBe("x");
    expect(mapKey("x/y", "", "p2/")).toBe("p2/x/y");
    expect(mapKey("x", "", "")).toBe("x");
  });

  it("keeps odd characters of the rest of the name unchanged", () => {
    expect(mapKey("p1/a b/100%/#1?+//é😀", "p1/", "dst/")).toBe("dst/a b/100%/#1?+//é😀");
    expect(mapKey("a//b/c", "a//b/", "z/")).toBe("z/c");
  });

  it("refuses a blob outside the source prefix", () => {
    expect(() => mapKey("p10/x", "p1/", "p2/")).toThrow(/not under the prefix/);
  });
});
