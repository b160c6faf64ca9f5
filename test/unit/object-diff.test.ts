import { describe, it, expect } from "vitest";
import { diffMetadata, diffObject, diffTags, type DestinationSide, type SourceSide } from "../../shared/verify/object-diff.ts";

const MD5 = "XrY7u+Ae7tCTyyK7j1rNww==";
const source = (over: Partial<SourceSide> = {}): SourceSide => ({ size: 12, contentMd5: MD5, contentType: "text/plain", metadata: { Owner: "ops" }, tags: { t: "1" }, ...over });
const dest = (over: Partial<DestinationSide> = {}): DestinationSide => ({
  size: 12,
  contentType: "text/plain",
  metadata: { owner: "ops", md5chksum: MD5, "azure-etag": '"0x1"', "azure-last-modified": "2024-01-01T00:00:00.000Z" },
  tags: { t: "1" },
  ...over,
});

describe("diffObject", () => {
  it("finds nothing on a faithful copy and expects the source Content-MD5", () => {
    expect(diffObject(source(), dest())).toEqual({ problems: [], expectedMd5: { base64: MD5, from: "source Content-MD5" } });
  });

  it("reports size, md5 claim and every content header", () => {
    const d = dest({ size: 13, contentType: "text/html", cacheControl: "no-cache", metadata: { ...dest().metadata, md5chksum: "AAAAAAAAAAAAAAAAAAAAAA==" } });
    expect(diffObject(source({ contentLanguage: "fr" }), d).problems).toEqual([
      "size differs: source 12, destination 13",
      `md5 differs: source Content-MD5 ${MD5}, destination md5chksum AAAAAAAAAAAAAAAAAAAAAA==`,
      'Content-Type differs: source "text/plain", destination "text/html"',
      'Content-Language differs: source "fr", destination none',
      'Cache-Control differs: source none, destination "no-cache"',
    ]);
  });

  it("requires md5chksum when the source has a Content-MD5, and falls back to it otherwise", () => {
    const { md5chksum, ...rest } = dest().metadata;
    expect(md5chksum).toBe(MD5);
    expect(diffObject(source(), dest({ metadata: rest })).problems).toEqual(["metadata md5chksum missing on destination"]);
    expect(diffObject(source({ contentMd5: undefined }), dest()).expectedMd5).toEqual({ base64: MD5, from: "destination md5chksum" });
    expect(diffObject(source({ contentMd5: undefined }), dest({ metadata: rest }))).toEqual({ problems: [], expectedMd5: undefined });
  });

  it("treats server default content types as no type", () => {
    expect(diffObject(source({ contentType: undefined }), dest({ contentType: "binary/octet-stream" })).problems).toEqual([]);
    expect(diffObject(source({ contentType: "application/octet-stream" }), dest({ contentType: "binary/octet-stream" })).problems).toEqual([]);
    expect(diffObject(source({ contentType: "text/csv" }), dest({ contentType: "binary/octet-stream" })).problems).toHaveLength(1);
  });
});

describe("diffMetadata", () => {
  it("compares names case-insensitively, ignores the migrator's markers and never prints values", () => {
    const problems = diffMetadata({ Owner: "secret-a", Team: "x", gone: "secret-b" }, { owner: "secret-c", team: "x", added: "secret-d", md5chksum: "m" });
    expect(problems).toEqual(["metadata owner differs", "metadata gone missing on destination", "metadata added not on source"]);
    expect(problems.join()).not.toMatch(/secret/);
  });

  it("labels the _ to - rewrite of Ceph RGW", () => {
    expect(diffMetadata({ my_key: "v" }, { "my-key": "v" })).toEqual(["metadata name rewritten by server: my_key stored as my-key"]);
    expect(diffMetadata({ my_key: "v" }, { "my-key": "w" })).toEqual(["metadata name rewritten by server: my_key stored as my-key, and its value differs"]);
  });
});

describe("diffTags", () => {
  it("reports changed, missing and unexpected tags by key", () => {
    expect(diffTags({ a: "1", b: "2", c: "3" }, { a: "1", b: "9", d: "4" })).toEqual(["tag b differs", "tag c missing on destination", "tag d not on source"]);
    expect(diffTags({}, {})).toEqual([]);
  });
});
