/**
 * A container of N zero-byte blobs for the planning measurement, served as
 * Azure Blob's List Blobs pages (the real wire format, 5000 per page).
 *
 * Why not Azurite: its in-memory store slows down with every blob inserted
 * (about 28,000 zero-byte blobs in 15 minutes at 64 uploads in flight on 2
 * cores), so seeding 100,000 blobs there does not fit in a benchmark. A dry
 * run only lists, so a listing endpoint is all the planner needs. Requests it
 * does not know are answered 404 and counted in `unknown`.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface ListServer {
  endpoint: string;
  connectionString: string;
  requests: number;
  unknown: string[];
  stop(): Promise<void>;
}

const LAST_MODIFIED = "Mon, 01 Jan 2024 00:00:00 GMT";

function name(prefix: string, i: number): string {
  return `${prefix}${String(i).padStart(7, "0")}.bin`;
}

function page(account: string, port: number, container: string, prefix: string, count: number, marker: number, max: number): string {
  const end = Math.min(count, marker + max);
  const blobs: string[] = [];
  for (let i = marker; i < end; i++) {
    blobs.push(
      `<Blob><Name>${name(prefix, i)}</Name><Properties><Creation-Time>${LAST_MODIFIED}</Creation-Time><Last-Modified>${LAST_MODIFIED}</Last-Modified>` +
        `<Etag>0x8DC0000${String(i).padStart(9, "0")}</Etag><Content-Length>0</Content-Length><Content-Type>application/octet-stream</Content-Type>` +
        `<Content-MD5>1B2M2Y8AsgTpgAmY7PhCfg==</Content-MD5><BlobType>BlockBlob</BlobType><AccessTier>Hot</AccessTier><AccessTierInferred>true</AccessTierInferred>` +
        `<LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState><ServerEncrypted>true</ServerEncrypted></Properties><Metadata /></Blob>`,
    );
  }
  return (
    `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="http://127.0.0.1:${port}/${account}" ContainerName="${container}">` +
    `<Prefix>${prefix}</Prefix>${marker > 0 ? `<Marker>${marker}</Marker>` : ""}<MaxResults>${max}</MaxResults><Blobs>${blobs.join("")}</Blobs>` +
    `<NextMarker>${end < count ? String(end) : ""}</NextMarker></EnumerationResults>`
  );
}

export async function startListServer(options: { container: string; prefix: string; count: number }): Promise<ListServer> {
  const account = "devstoreaccount1";
  const state = { requests: 0, unknown: [] as string[] };
  const server = createServer((req, res) => {
    state.requests++;
    const url = new URL(req.url ?? "/", "http://x");
    const parts = url.pathname.split("/").filter(Boolean);
    const headers = { "x-ms-version": "2021-12-02", "x-ms-request-id": String(state.requests), date: new Date().toUTCString() };
    if (parts[0] === account && parts[1] === options.container && parts.length === 2 && url.searchParams.get("restype") === "container") {
      if (url.searchParams.get("comp") === "list") {
        const prefix = url.searchParams.get("prefix") ?? "";
        const count = prefix === "" || options.prefix.startsWith(prefix) ? options.count : 0;
        const max = Math.min(5000, Number(url.searchParams.get("maxresults") ?? 5000));
        const marker = Number(url.searchParams.get("marker") || 0);
        const body = page(account, (server.address() as AddressInfo).port, options.container, options.prefix, count, marker, max);
        res.writeHead(200, { ...headers, "content-type": "application/xml" });
        res.end(body);
        return;
      }
      if (!url.searchParams.get("comp")) {
        res.writeHead(200, { ...headers, "last-modified": LAST_MODIFIED, etag: '"0x8DC000000000000"' });
        res.end();
        return;
      }
    }
    state.unknown.push(`${req.method} ${req.url}`);
    res.writeHead(404, { ...headers, "content-type": "application/xml", "x-ms-error-code": "ResourceNotFound" });
    res.end(`<?xml version="1.0" encoding="utf-8"?><Error><Code>ResourceNotFound</Code><Message>not served by the benchmark's listing server</Message></Error>`);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const endpoint = `http://127.0.0.1:${port}/${account}`;
  return {
    endpoint,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${account};AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=${endpoint};`,
    get requests() {
      return state.requests;
    },
    get unknown() {
      return state.unknown;
    },
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
