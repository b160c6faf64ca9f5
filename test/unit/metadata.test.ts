import { describe, it, expect } from "vitest";
import { compareCarried, mapBlobToObject, MARKERS } from "../../shared/copy/metadata.ts";
import type { BlobEntry, ObjectHead } from "../../shared/ports.ts";

function blob(overrides: Partial<BlobEntry> = {}): BlobEntry {
  return {
    name: "a/b.bin",
    size: 10,
    etag: '"0x8DABC"',
    lastModified: "2024-05-01T10:00:00.000Z",
    metadata: {},
    tags: {},
    ...overrides,
  };
}

describe("mapBlobToObject", () => {
  it("carries content headers, user metadata lowercased, and the markers", () => {
    const mapped = mapBlobToObject(
      blob({
        contentType: "text/csv",
        contentEncoding: "gzip",
        contentLanguage: "fr",
        contentDisposition: "attachment; filename=x.csv",
        cacheControl: "no-cache",
        contentMd5: "d41d8cd98f00b204e9800998ecf8427e",
        metadata: { Project: "hdh", owner_team: "ops" },
      }),
    );
    expect(mapped.headers).toEqual({
      contentType: "text/csv",
      contentEncoding: "gzip",
      contentLanguage: "fr",
      contentDisposition: "attachment; filename=x.csv",
      cacheControl: "no-cache",
      metadata: {
        [MARKERS.sourceEtag]: '"0x8DABC"',
        [MARKERS.sourceLastModified]: "2024-05-01T10:00:00.000Z",
        [MARKERS.md5]: "1B2M2Y8AsgTpgAmY7PhCfg==",
        project: "hdh",
        owner_team: "ops",
      },
    });
    expect(mapped.warnings).toEqual([]);
  });

  it("prefers a given MD5 to the source's and omits md5chksum when none is known", () => {
    expect(mapBlobToObject(blob(), { md5Base64: "AAAA" }).headers.metadata[MARKERS.md5]).toBe("AAAA");
    expect(MARKERS.md5 in mapBlobToObject(blob()).headers.metadata).toBe(false);
  });

  it("keeps tags that fit and warns for each one that does not", () => {
    const tags: Record<string, string> = {};
    for (let i = 0; i < 11; i++) tags[`t${String(i).padStart(2, "0")}`] = `v${i}`;
    tags["k".repeat(129)] = "long key";
    tags["long-value"] = "v".repeat(257);
    tags["bad#chars"] = "x";
    const mapped = mapBlobToObject(blob({ tags }));
    expect(Object.keys(mapped.tags)).toHaveLength(10);
    expect(mapped.tags.t00).toBe("v0");
    expect(mapped.tags.t10).toBeUndefined();
    expect(mapped.warnings).toHaveLength(4);
    expect(mapped.warnings.join("\n")).toMatch(/"t10" not carried: more than 10 tags/);
    expect(mapped.warnings.join("\n")).toMatch(/key longer than 128/);
    expect(mapped.warnings.join("\n")).toMatch(/"long-value" not carried: value longer than 256/);
    expect(mapped.warnings.join("\n")).toMatch(/"bad#chars" not carried: characters S3 refuses/);
  });

  it("keeps user metadata within 2 KB, markers first, and warns for what is left out", () => {
    const metadata = { a: "x".repeat(1000), b: "y".repeat(1000), c: "small" };
    const mapped = mapBlobToObject(blob({ metadata }));
    expect(mapped.headers.metadata.a).toBe("x".repeat(1000));
    expect(mapped.headers.metadata.b).toBeUndefined();
    expect(mapped.headers.metadata.c).toBe("small");
    expect(mapped.headers.metadata[MARKERS.sourceEtag]).toBe('"0x8DABC"');
    expect(mapped.warnings).toEqual([`metadata "b" not carried: user metadata over 2048 bytes`]);
  });

  it("warns for metadata S3 refuses and for names that clash with the markers", () => {
    const mapped = mapBlobToObject(blob({ metadata: { "bad name": "1", uni: "caf\u00e9", "azure-etag": "spoof" } }));
    expect(mapped.headers.metadata["bad name"]).toBeUndefined();
    expect(mapped.headers.metadata.uni).toBeUndefined();
    expect(mapped.headers.metadata["azure-etag"]).toBe('"0x8DABC"');
    expect(mapped.warnings).toHaveLength(3);
  });

  it("maps the access tier through the storage class map only", () => {
    expect(mapBlobToObject(blob({ accessTier: "Cool" })).headers.storageClass).toBeUndefined();
    expect(mapBlobToObject(blob({ accessTier: "Cool" }), { storageClassMap: { Cool: "ONEZONE_IA" } }).headers.storageClass).toBe("ONEZONE_IA");
    expect(mapBlobToObject(blob({ accessTier: "Hot" }), { storageClassMap: { Cool: "ONEZONE_IA" } }).headers.storageClass).toBeUndefined();
  });
});

describe("compareCarried", () => {
  const expected = mapBlobToObject(blob({ contentType: "text/plain", metadata: { owner_team: "ops", plain: "1" }, tags: { env: "prod" } }));

  function head(overrides: Partial<ObjectHead> = {}): ObjectHead {
    return { size: 10, etag: "x", contentType: "text/plain", metadata: { ...expected.headers.metadata }, ...overrides };
  }

  it("finds nothing to report when the server kept everything", () => {
    expect(compareCarried(expected, head(), { env: "prod" })).toEqual([]);
  });

  it("reports a metadata name rewritten from _ to - as a warning naming the key", () => {
    const { owner_team, ...rest } = expected.headers.metadata;
    const warnings = compareCarried(expected, head({ metadata: { ...rest, "owner-team": owner_team! } }));
    expect(warnings).toEqual([`metadata "owner_team" stored as "owner-team" by the server`]);
  });

  it("reports missing metadata, a changed header and a missing tag", () => {
    const { plain, ...rest } = expected.headers.metadata;
    void plain;
    const warnings = compareCarried(expected, head({ contentType: "binary/octet-stream", metadata: rest }), {});
    expect(warnings).toHaveLength(3);
    expect(warnings.join("\n")).toMatch(/Content-Type stored as "binary\/octet-stream"/);
    expect(warnings.join("\n")).toMatch(/metadata "plain" missing/);
    expect(warnings.join("\n")).toMatch(/tag "env" missing/);
  });
});
