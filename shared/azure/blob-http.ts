/**
 * Reads of block-blob ranges (Get Blob with x-ms-range and If-Match) as plain
 * HTTP requests, without the Azure SDK's per-request pipeline and the client
 * object it builds per blob. A profile of a copy of 2,000 small blobs put the
 * SDK's request machinery at about a sixth of the process's CPU. List Blobs
 * goes the same way, its answer read by list-xml.ts; Get Blob Properties,
 * tags and page blobs stay on the SDK.
 *
 * Authentication is read from the source's configuration as the SDK client
 * reads it: a SAS (added to the query), an account key (a Shared Key
 * signature, HMAC-SHA256 of the canonical request), or an Entra ID service
 * principal (a bearer token, renewed before it expires). Errors are
 * shaped as the SDK's RestError (statusCode, code from x-ms-error-code), so
 * blob-source.ts maps them as before, and the retry policy of shared/retry.ts
 * tries again what the classifier calls retryable.
 */
import { Readable } from "node:stream";
import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { createHmac } from "node:crypto";
import type { AzureConfig } from "../config.ts";
import { createAzureCredential } from "./credential.ts";
import { classify, withRetry, type RetryPolicy } from "../retry.ts";
import { BODY_PIECE, Http1Client, isBodyCut, readAll, type BodyReader } from "../http1-client.ts";
import { parseListBlobs, type ListedPage } from "./list-xml.ts";

/** A version every Azure region and Azurite 3.x serve; Get Blob's answer is the same across recent versions. */
const VERSION = "2021-12-02";
const SCOPE = "https://storage.azure.com/.default";

/** An error answer, shaped as @azure/core-rest-pipeline's RestError. */
export class BlobHttpError extends Error {
  readonly statusCode: number;
  readonly code: string | undefined;
  readonly details: { errorCode?: string };
  constructor(status: number, code: string | undefined, message: string) {
    super(message || `HTTP ${status}${code ? ` ${code}` : ""}`);
    this.name = "RestError";
    this.statusCode = status;
    this.code = code;
    this.details = { errorCode: code };
  }
}

function errorOf(status: number, body: string, answer: Record<string, string | string[] | undefined>): BlobHttpError {
  const message = /<Message>([^<]*)<\/Message>/.exec(body)?.[1]?.split("\n")[0] ?? "";
  const code = answer["x-ms-error-code"];
  return new BlobHttpError(status, (typeof code === "string" ? code : undefined) ?? /<Code>([^<]*)<\/Code>/.exec(body)?.[1], message);
}

/** encodeURIComponent per path segment, as the SDK escapes blob names. */
const escapeName = (name: string) => name.split("/").map(encodeURIComponent).join("/");

type Auth = { kind: "sas"; query: string } | { kind: "key"; accountName: string; key: Buffer } | { kind: "token"; credential: TokenCredential };

export class BlobHttp {
  readonly #base: URL;
  readonly #auth: Auth;
  readonly #client: Http1Client;
  readonly #retry: RetryPolicy | undefined;
  #token?: Promise<AccessToken>;

  /**
   * Endpoint and authentication from the source's configuration, as the SDK
   * client reads them. Returns undefined for a connection string it does not
   * read (the development-storage shorthand, or one without an account key or
   * a SAS): the source then goes through the SDK.
   */
  static fromConfig(config: AzureConfig, retry: RetryPolicy | undefined, maxSockets = 64): BlobHttp | undefined {
    let endpoint: string | undefined;
    let auth: Auth | undefined;
    switch (config.kind) {
      case "connection-string": {
        const parts = new Map<string, string>();
        for (const part of config.connectionString.split(";")) {
          const at = part.indexOf("=");
          if (at > 0) parts.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
        }
        const account = parts.get("accountname");
        endpoint = parts.get("blobendpoint") ?? (account && `${parts.get("defaultendpointsprotocol") ?? "https"}://${account}.blob.${parts.get("endpointsuffix") ?? "core.windows.net"}`);
        const sas = parts.get("sharedaccesssignature");
        const key = parts.get("accountkey");
        if (sas) auth = { kind: "sas", query: sas.replace(/^\?/, "") };
        else if (account && key) auth = { kind: "key", accountName: account, key: Buffer.from(key, "base64") };
        break;
      }
      case "shared-key":
        endpoint = config.endpoint;
        auth = { kind: "key", accountName: config.accountName, key: Buffer.from(config.accountKey, "base64") };
        break;
      case "sas":
        endpoint = config.endpoint;
        auth = { kind: "sas", query: config.sasToken.replace(/^\?/, "") };
        break;
      case "service-principal":
        endpoint = config.endpoint;
        auth = { kind: "token", credential: createAzureCredential(config) };
        break;
    }
    if (!endpoint || !auth) return undefined;
    const url = new URL(endpoint);
    if (auth.kind === "sas" && url.search) auth = { kind: "sas", query: [url.search.replace(/^\?/, ""), auth.query].filter(Boolean).join("&") };
    url.search = "";
    return new BlobHttp(url, auth, retry, maxSockets);
  }

  private constructor(base: URL, auth: Auth, retry: RetryPolicy | undefined, maxSockets: number) {
    this.#base = base;
    this.#auth = auth;
    this.#retry = retry;
    this.#client = new Http1Client(base, maxSockets);
  }

  destroy(): void {
    this.#client.destroy();
  }

  /**
   * Bytes [offset, offset + count) of a blob, only while its ETag is `etag`;
   * count >= 1, as a stream (openRange read in chunks): for readers that want
   * one, such as the verifier. A body that ends short ends the stream short.
   */
  async readRange(container: string, name: string, offset: number, count: number, etag: string, signal?: AbortSignal): Promise<Readable> {
    const reader = await this.openRange(container, name, offset, count, etag, signal);
    let left = count;
    return new Readable({
      read() {
        const size = Math.min(left, BODY_PIECE);
        if (size === 0) return void this.push(null);
        const buf = Buffer.allocUnsafe(size);
        reader.read(buf).then(
          (n) => {
            left -= n;
            if (n > 0) this.push(n === size ? buf : buf.subarray(0, n));
            if (n < size) this.push(null);
          },
          (err: Error) => this.destroy(err),
        );
      },
      destroy(err, callback) {
        reader.close();
        callback(err);
      },
    });
  }

  /**
   * The same bytes copied straight into `into` (exactly `count` bytes) by the
   * small client of shared/http1-client.ts: no stream, no chunk per socket
   * read. A body shorter or longer than asked rejects (premature close).
   */
  readRangeInto(container: string, name: string, offset: number, count: number, etag: string, into: Buffer, signal?: AbortSignal): Promise<void> {
    const once = async () => {
      const { path, headers } = await this.#request(container, name, offset, count, etag);
      const answer = await this.#client.send({ method: "GET", path, headers, signal }, errorOf, into);
      if (answer.bodyBytes !== count) throw Object.assign(new Error(`range read returned ${answer.bodyBytes} bytes, expected ${count} (premature close)`), { code: "ERR_STREAM_PREMATURE_CLOSE" });
    };
    // A body cut off after a success's head is not retried here but by the caller's step, as with
    // the streamed read (whose body is read after this returns), so it is counted in the object's retries.
    return this.#retry ? withRetry(once, { policy: this.#retry, signal, classify: (err) => (isBodyCut(err) ? "permanent" : classify(err)) }) : once();
  }

  /**
   * The same range as one answer read in pieces (BodyReader): a whole blob read
   * by one request whose socket only reads while a part buffer waits for bytes.
   * Opening is tried again under the retry policy; a body cut later fails the
   * read that waits for it, for the caller to reopen at its offset.
   */
  openRange(container: string, name: string, offset: number, count: number, etag: string, signal?: AbortSignal): Promise<BodyReader> {
    const once = async () => {
      const { path, headers } = await this.#request(container, name, offset, count, etag);
      return this.#client.open({ method: "GET", path, headers, signal }, errorOf);
    };
    return this.#retry ? withRetry(once, { policy: this.#retry, signal }) : once();
  }

  /**
   * One page of List Blobs (a flat listing), read by parseListBlobs: the
   * SDK's listing without its validate-parse-map passes over the document.
   * `include` is List Blobs' include list (metadata, tags, versions...). The
   * whole exchange, body included, is tried again under the retry policy: a
   * listing read half-way is worth nothing.
   */
  listBlobs(container: string, options: { prefix?: string; marker?: string; maxResults: number; include: readonly string[] }): Promise<ListedPage> {
    const params: Array<[string, string | undefined]> = [
      ["restype", "container"],
      ["comp", "list"],
      ["prefix", options.prefix],
      ["marker", options.marker],
      ["maxresults", String(options.maxResults)],
      ["include", options.include.join(",")],
    ];
    // Parameters without a value are left out.
    const query = params.filter((p): p is [string, string] => !!p[1]);
    const once = async () => {
      const { path, headers } = await this.#signed(`${this.#root()}/${encodeURIComponent(container)}`, query, { "x-ms-version": VERSION, "x-ms-date": new Date().toUTCString() });
      const reader = await this.#client.open({ method: "GET", path, headers }, errorOf);
      let body: Buffer;
      try {
        body = await readAll(reader);
      } finally {
        reader.close();
      }
      return parseListBlobs(body.toString("utf8"));
    };
    return this.#retry ? withRetry(once, { policy: this.#retry }) : once();
  }

  /** The endpoint's path without its trailing slash: "" for an account's own host, "/account" for Azurite's path-style endpoint. */
  #root(): string {
    return this.#base.pathname.replace(/\/+$/, "");
  }

  /** Path (with the SAS, if that is the authentication) and signed headers of Get Blob for one range. */
  #request(container: string, name: string, offset: number, count: number, etag: string): Promise<{ path: string; headers: Record<string, string> }> {
    const path = `${this.#root()}/${encodeURIComponent(container)}/${escapeName(name)}`;
    const headers: Record<string, string> = {
      "x-ms-version": VERSION,
      "x-ms-date": new Date().toUTCString(),
      "x-ms-range": `bytes=${offset}-${offset + count - 1}`,
      "if-match": etag,
    };
    return this.#signed(path, [], headers, etag);
  }

  /**
   * A GET of `path` (already escaped) with `query` (raw values), authenticated:
   * the SAS appended to the query, a Shared Key signature, or a bearer token.
   */
  async #signed(path: string, query: Array<[string, string]>, headers: Record<string, string>, ifMatch = ""): Promise<{ path: string; headers: Record<string, string> }> {
    const auth = this.#auth;
    if (auth.kind === "key") {
      const canonicalHeaders = Object.keys(headers)
        .filter((h) => h.startsWith("x-ms-"))
        .sort()
        .map((h) => `${h}:${headers[h]}\n`)
        .join("");
      // Query parameters by lower-case name, each on its own line, values not escaped.
      const canonicalQuery = query
        .map(([k, v]) => `\n${k.toLowerCase()}:${v}`)
        .sort()
        .join("");
      // Verb, then Content-Encoding, -Language, -Length, -MD5, -Type, Date, If-Modified-Since, If-Match, If-None-Match, If-Unmodified-Since, Range.
      const stringToSign = `GET\n\n\n\n\n\n\n\n${ifMatch}\n\n\n\n${canonicalHeaders}/${auth.accountName}${path}${canonicalQuery}`;
      headers.authorization = `SharedKey ${auth.accountName}:${createHmac("sha256", auth.key).update(stringToSign, "utf8").digest("base64")}`;
    } else if (auth.kind === "token") {
      headers.authorization = `Bearer ${(await this.#bearer(auth.credential)).token}`;
    }
    const parts = query.map(([k, v]) => `${k}=${encodeURIComponent(v)}`);
    if (auth.kind === "sas" && auth.query) parts.push(auth.query);
    return { path: parts.length > 0 ? `${path}?${parts.join("&")}` : path, headers };
  }

  /** A token valid for at least two more minutes; one request for a new one at a time. */
  async #bearer(credential: TokenCredential): Promise<AccessToken> {
    const pending = this.#token;
    const current = pending && (await pending.catch(() => undefined));
    if (current && current.expiresOnTimestamp - Date.now() > 120_000) return current;
    if (this.#token === pending) {
      this.#token = credential.getToken(SCOPE).then((t) => {
        if (!t) throw new Error("the Entra ID credential returned no token for Azure Storage");
        return t;
      });
    }
    return this.#token!;
  }
}
