/**
 * The listing read by shared/azure/list-xml.ts must say exactly what the
 * Azure SDK's listing says: the same containers are listed both ways (an
 * AzureBlobSource with the plain-request client and one without) and the pages
 * compared whole. On Azurite, with odd names, metadata, tags, content headers
 * and blob types; and on a document in the wire format of Azure
 * itself (encoded names, versions, soft-deleted blobs, archive, customer keys,
 * legal holds, immutability), served by a small local endpoint to both.
 */
import { describe, it, expect, inject, afterAll, beforeAll } from "vitest";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { ContainerSASPermissions, StorageSharedKeyCredential, generateBlobSASQueryParameters } from "@azure/storage-blob";
import { AzureBlobSource } from "../../shared/azure/blob-source.ts";
import { parseListBlobs, ListXmlError } from "../../shared/azure/list-xml.ts";
import { createBlobHttp } from "../../shared/clients.ts";
import { createBlobServiceClient } from "../../shared/azure-sdk-client.ts";
import type { BlobSource, ListPage } from "../../shared/ports.ts";
import { classify } from "../../shared/retry.ts";
import { DEFAULT_RETRY_POLICY } from "../../shared/retry.ts";
import { azureConfig, clients, newContainer } from "../support/env.ts";
import { startFaultProxy } from "../support/fault-proxy.ts";
import { ODD_NAMES } from "../support/odd-names.ts";

async function allPages(source: BlobSource, container: string, prefix: string | undefined, pageSize: number): Promise<ListPage[]> {
  const pages: ListPage[] = [];
  let marker: string | undefined;
  do {
    const page = await source.listPage(container, { prefix, marker, pageSize });
    pages.push(page);
    marker = page.nextMarker;
  } while (marker);
  return pages;
}

describe("List Blobs read without the SDK: the same pages as the SDK's, on Azurite", () => {
  let container: string;
  beforeAll(async () => {
    const c = await newContainer("listxml");
    container = c.containerName;
    const headers = { blobContentType: "text/plain; charset=utf-8", blobCacheControl: "no-cache", blobContentLanguage: "fr", blobContentDisposition: 'attachment; filename="a&b.txt"', blobContentEncoding: "identity" };
    for (const [i, name] of ODD_NAMES.entries()) {
      await c.getBlockBlobClient(name).upload(randomBytes(10 + i), 10 + i, {
        blobHTTPHeaders: i % 2 === 0 ? headers : undefined,
        metadata: { Mixed_Case: `v${i}`, amp: `a & b < c > d "q" 'a'`, spaced: `  ${i}  ` },
        tags: i % 3 === 0 ? { team: "x y", "k.-_:/=+": `v${i}` } : undefined,
      });
    }
    await c.getBlockBlobClient("empty").upload(Buffer.alloc(0), 0);
    await c.getBlockBlobClient("snap/base.bin").upload(Buffer.from("one"), 3);
    await c.getBlockBlobClient("snap/base.bin").createSnapshot();
    await c.getPageBlobClient("types/page.vhd").create(1024);
    await c.getAppendBlobClient("types/append.log").create();
  });

  it("lists every page identically, markers included, with the account key", async () => {
    // Prepare
    const service = clients.blob();
    const bySdk = new AzureBlobSource(service);
    const direct = new AzureBlobSource(service, createBlobHttp(azureConfig(), undefined));
    // Act
    const expected = await allPages(bySdk, container, undefined, 3);
    const actual = await allPages(direct, container, undefined, 3);
    // Assess
    // Azurite lists no snapshot beside versions; the wire-format test below has one.
    expect(expected.flatMap((p) => p.entries.map((e) => e.name)).sort()).toEqual([...ODD_NAMES, "empty", "snap/base.bin", "types/page.vhd", "types/append.log"].sort());
    expect(expected.length).toBeGreaterThan(4);
    expect(actual).toEqual(expected);
  });

  it("lists identically under prefixes with reserved, percent, plus and non-ASCII characters", async () => {
    // Prepare: each odd name's first characters as a prefix (signed with the account key, so the query's canonical form counts).
    const service = clients.blob();
    const bySdk = new AzureBlobSource(service);
    const direct = new AzureBlobSource(service, createBlobHttp(azureConfig(), undefined));
    for (const name of ODD_NAMES) {
      const prefix = [...name].slice(0, 7).join("");
      // Act
      const expected = await allPages(bySdk, container, prefix, 5000);
      const actual = await allPages(direct, container, prefix, 5000);
      // Assess
      expect(expected[0]!.entries.map((e) => e.name), prefix).toContain(name);
      expect(actual, prefix).toEqual(expected);
    }
  });

  it("lists every page whole through a cut answer, a 503 and a throttling answer, under the retry policy", async () => {
    // Prepare: each of the first pages' answers fails once, in a different way; the body cut half-way.
    const a = inject("azurite");
    const proxy = await startFaultProxy({
      target: new URL(a.endpoint).origin,
      flavour: "azure",
      rules: [
        { fault: { kind: "reset-response" }, methods: ["GET"], path: /comp=list/, count: 1 },
        { fault: { kind: "internal-error" }, methods: ["GET"], path: /comp=list/, count: 1 },
        { fault: { kind: "slow-down" }, methods: ["GET"], path: /comp=list/, count: 1 },
      ],
    });
    try {
      const policy = { ...DEFAULT_RETRY_POLICY, baseMs: 10 };
      const config = { kind: "shared-key", accountName: a.account, accountKey: a.key, endpoint: `${proxy.endpoint}/${a.account}` } as const;
      const direct = new AzureBlobSource(createBlobServiceClient(config, policy), createBlobHttp(config, policy));
      const bySdk = new AzureBlobSource(clients.blob());
      // Act
      const actual = await allPages(direct, container, undefined, 4);
      // Assess
      expect(proxy.stats.faults["reset-response"]).toBe(1);
      expect(proxy.stats.faults["internal-error"]).toBe(1);
      expect(proxy.stats.faults["slow-down"]).toBe(1);
      expect(actual).toEqual(await allPages(bySdk, container, undefined, 4));
    } finally {
      await proxy.stop();
    }
  });

  it("lists identically with a container SAS, under a prefix, in one page", async () => {
    // Prepare
    const a = inject("azurite");
    const sas = generateBlobSASQueryParameters(
      { containerName: container, permissions: ContainerSASPermissions.parse("rlt"), expiresOn: new Date(Date.now() + 3600_000) },
      new StorageSharedKeyCredential(a.account, a.key),
    ).toString();
    const config = { kind: "sas", accountName: a.account, sasToken: sas, endpoint: a.endpoint } as const;
    const service = createBlobServiceClient(config, undefined);
    const bySdk = new AzureBlobSource(service);
    const direct = new AzureBlobSource(service, createBlobHttp(config, undefined));
    // Act
    const expected = await allPages(bySdk, container, "z/", 5000);
    const actual = await allPages(direct, container, "z/", 5000);
    // Assess
    expect(expected[0]!.entries.map((e) => e.name)).toEqual(ODD_NAMES.filter((n) => n.startsWith("z/")).sort());
    expect(actual).toEqual(expected);
  });
});

/** Azure's wire format with what Azurite does not produce. Entities, a comment, CDATA and CR LF are legal XML any server may send. */
const AZURE_PAGE = (nextMarker: string) =>
  [
    '<?xml version="1.0" encoding="utf-8"?>\r\n<EnumerationResults ServiceEndpoint="https://acct.blob.core.windows.net/" ContainerName="c">',
    "<Prefix>p/</Prefix><MaxResults>5000</MaxResults><Blobs>",
    // A name with a character XML can not carry: percent-encoded, flagged.
    '<Blob><Name Encoded="true">p%2F%EF%BF%BE%01ctl.bin</Name><Properties><Creation-Time>Mon, 01 Jan 2024 00:00:00 GMT</Creation-Time><Last-Modified>Tue, 02 Jan 2024 03:04:05 GMT</Last-Modified>',
    "<Etag>0x8DC0000000000A1</Etag><Content-Length>12345</Content-Length><Content-Type>application/octet-stream</Content-Type><Content-Encoding /><Content-Language />",
    "<Content-CRC64 /><Content-MD5>1B2M2Y8AsgTpgAmY7PhCfg==</Content-MD5><Cache-Control /><Content-Disposition /><BlobType>BlockBlob</BlobType>",
    "<AccessTier>Archive</AccessTier><ArchiveStatus>rehydrate-pending-to-hot</ArchiveStatus><LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState><ServerEncrypted>true</ServerEncrypted></Properties>",
    "<Metadata><Origin> x &amp; y &lt;z&gt; </Origin><hdi_isfolder>false</hdi_isfolder></Metadata><OrMetadata /></Blob>",
    // The current version, with tags, a legal hold and an unlocked immutability policy.
    '<Blob><Name Encoded="false">p/a &amp; b.txt</Name><VersionId>2024-01-02T03:04:05.0000000Z</VersionId><IsCurrentVersion>true</IsCurrentVersion><Properties>',
    "<Last-Modified>Tue, 02 Jan 2024 03:04:05 GMT</Last-Modified><Etag>0x8DC0000000000A2</Etag><Content-Length>7</Content-Length><Content-Type><![CDATA[text/plain; a=<b>]]></Content-Type>",
    "<Cache-Control>max-age=60</Cache-Control><Content-Disposition>inline</Content-Disposition><BlobType>BlockBlob</BlobType><AccessTier>Cool</AccessTier>",
    "<CustomerProvidedKeySha256>3QFFFpRA5+XANHqwwbT4yXDmrT/2JaLt/FKHjzhOdoE=</CustomerProvidedKeySha256><LegalHold>true</LegalHold>",
    "<ImmutabilityPolicyUntilDate>Wed, 01 Jan 2031 00:00:00 GMT</ImmutabilityPolicyUntilDate><ImmutabilityPolicyMode>Unlocked</ImmutabilityPolicyMode></Properties>",
    "<Metadata /><Tags><TagSet><Tag><Key>project</Key><Value>hds &amp; co</Value></Tag><Tag><Key>empty</Key><Value /></Tag></TagSet></Tags></Blob>",
    "<!-- an older version, a snapshot, a soft-deleted blob and a blob with versions only -->",
    "<Blob><Name>p/a &amp; b.txt</Name><VersionId>2023-01-01T00:00:00.0000000Z</VersionId><Properties><Last-Modified>Sun, 01 Jan 2023 00:00:00 GMT</Last-Modified><Etag>0x1</Etag><Content-Length>3</Content-Length><BlobType>BlockBlob</BlobType></Properties></Blob>",
    "<Blob><Name>p/s.bin</Name><Snapshot>2024-01-01T00:00:00.0000000Z</Snapshot><Properties><Last-Modified>Sun, 01 Jan 2023 00:00:00 GMT</Last-Modified><Etag>0x2</Etag><Content-Length>3</Content-Length><BlobType>PageBlob</BlobType></Properties></Blob>",
    "<Blob><Name>p/gone.bin</Name><Deleted>true</Deleted><Properties><Last-Modified>Sun, 01 Jan 2023 00:00:00 GMT</Last-Modified><Etag>0x3</Etag><Content-Length>3</Content-Length><BlobType>AppendBlob</BlobType></Properties></Blob>",
    "<Blob><Name>p/only-versions</Name><HasVersionsOnly>true</HasVersionsOnly><Properties><Last-Modified>Sun, 01 Jan 2023 00:00:00 GMT</Last-Modified><Etag>0x4</Etag><Content-Length>0</Content-Length></Properties></Blob>",
    `</Blobs><NextMarker>${nextMarker}</NextMarker></EnumerationResults>\r\n`,
  ].join("");

describe("List Blobs read without the SDK: the same entries as the SDK's, on Azure's wire format", () => {
  let server: Server;
  let endpoint: string;
  const seen: string[] = [];
  beforeAll(async () => {
    // Page one names a marker; page two (asked with it) is the last.
    server = createServer((req, res) => {
      seen.push(req.url ?? "");
      const url = new URL(req.url ?? "/", "http://x");
      res.writeHead(200, { "content-type": "application/xml", "x-ms-version": "2021-12-02" });
      res.end(AZURE_PAGE(url.searchParams.get("marker") ? "" : "2!48!MDAwMDE0IXAvb25seS12ZXJzaW9ucyEwMDAwMjghOTk5OS0xMi0zMVQyMzo1OTo1OS45OTk5OTk5WiE-"));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/acct`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("reads every field the SDK reads, identically, page after page", async () => {
    // Prepare
    const config = { kind: "shared-key", accountName: "acct", accountKey: Buffer.from("key").toString("base64"), endpoint } as const;
    const service = createBlobServiceClient(config, undefined);
    const bySdk = new AzureBlobSource(service);
    const direct = new AzureBlobSource(service, createBlobHttp(config, undefined));
    // Act
    const expected = await allPages(bySdk, "c", "p/", 5000);
    const actual = await allPages(direct, "c", "p/", 5000);
    // Assess
    expect(expected).toHaveLength(2);
    const first = expected[0]!.entries;
    expect(first.map((e) => e.name)).toEqual(["p/\uFFFE\u0001ctl.bin", "p/a & b.txt", "p/a & b.txt", "p/s.bin", "p/gone.bin", "p/only-versions"]);
    expect(first.map((e) => e.history)).toEqual([undefined, undefined, "version", "snapshot", "deleted", "deleted"]);
    expect(first[1]).toMatchObject({ contentType: "text/plain; a=<b>", tags: { project: "hds & co", empty: "" }, legalHold: true, customerKey: true, immutability: { mode: "Unlocked" } });
    expect(first[0]).toMatchObject({ accessTier: "Archive", archiveStatus: "rehydrate-pending-to-hot", metadata: { Origin: " x & y <z> " }, contentMd5: "d41d8cd98f00b204e9800998ecf8427e" });
    expect(actual).toEqual(expected);
    // Both asked for the same listing: the same include list and marker.
    const asked = seen.map((u) => new URL(u, "http://x").searchParams);
    expect(asked.map((q) => [q.get("include"), q.get("marker"), q.get("prefix")])).toEqual([...asked.slice(0, 2), ...asked.slice(0, 2)].map((q) => [q.get("include"), q.get("marker"), q.get("prefix")]));
  });
});

describe("parseListBlobs: what the SDK's parser is not asked", () => {
  it("decodes numeric character references and normalises line ends", () => {
    // Act
    const page = parseListBlobs('<EnumerationResults><Blobs><Blob><Name>a&#x20;b&#233;\r\nc\rd</Name><Properties /></Blob></Blobs><NextMarker/></EnumerationResults>');
    // Assess
    expect(page).toEqual({ blobs: [{ name: "a bé\nc\nd", properties: {} }], nextMarker: "" });
  });

  it("joins text split by CDATA and references, reads end tags padded with white space, and keeps a self-closing element empty", () => {
    // Arrange
    const xml =
      "<EnumerationResults><Blobs><Blob><Name>dir/<![CDATA[a<b]]>&amp;c</Name >" +
      "<Properties><Content-Type>text/<![CDATA[plain]]></Content-Type><Etag>0x1</Etag><Content-Encoding/>" +
      "<LeaseState>available</LeaseState></Properties><Metadata><k>v&lt;</k></Metadata></Blob></Blobs><NextMarker>m&#49;</NextMarker></EnumerationResults>";
    // Act
    const page = parseListBlobs(xml);
    // Assess
    expect(page).toEqual({
      blobs: [{ name: "dir/a<b&c", properties: { contentType: "text/plain", etag: "0x1", contentEncoding: "" }, metadata: { k: "v<" } }],
      nextMarker: "m1",
    });
  });

  it.each([
    ["an unclosed tag", "<EnumerationResults><Blobs><Blob", /unclosed tag at offset 27/],
    ["a mismatched closing tag", "<EnumerationResults><Blobs></Blob></EnumerationResults>", /<\/Blob> closes <Blobs> at offset 27/],
    ["a truncated document", "<EnumerationResults><Blobs><Blob><Name>x</Name>", /ends inside <Blob>/],
    ["a bare ampersand", "<EnumerationResults><NextMarker>a & b</NextMarker></EnumerationResults>", /bare "&" near offset 32/],
    ["an unknown entity", "<EnumerationResults><NextMarker>&nbsp;</NextMarker></EnumerationResults>", /unknown entity &nbsp;/],
  ])("refuses %s and says where", (_what, xml, message) => {
    // Act
    let error: unknown;
    try {
      parseListBlobs(xml);
    } catch (err) {
      error = err;
    }
    // Assess
    expect(error).toBeInstanceOf(ListXmlError);
    expect((error as Error).message).toMatch(/List Blobs answer is not the XML expected/);
    expect((error as Error).message).toMatch(message);
    expect(classify(error)).toBe("permanent");
  });
});
