/**
 * Entra ID sign-in for real: Azurite over HTTPS with `--oauth basic` (it checks
 * a bearer token's audience, issuer and lifetime), and a local HTTPS token
 * endpoint standing in for Entra ID, reached by @azure/identity through its
 * `authorityHost`. The CLI runs in a child process that trusts the test's
 * self-signed certificate (NODE_EXTRA_CA_CERTS). A client secret and a client
 * certificate each sign a run; the token endpoint checks what it is sent
 * (the secret, or an assertion signed by the certificate's key).
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execFileSync, spawn } from "node:child_process";
import { createServer, type Server } from "node:https";
import { constants, randomBytes, randomUUID, verify } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { startAzurite, type AzuriteServer } from "../../shared/servers/launch.ts";
import { clients, newBucket, serverEnv, uniqueName } from "../support/env.ts";
import { runCli } from "../support/cli.ts";
import { getBytes, md5 } from "../reliability/support.ts";

const TENANT = "11111111-2222-3333-4444-555555555555";
const CLIENT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
const SECRET = `s3cr3t~${randomBytes(12).toString("hex")}`;

const b64url = (v: object | Buffer) => (Buffer.isBuffer(v) ? v : Buffer.from(JSON.stringify(v))).toString("base64url");

function openssl(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: "ignore" });
  return { cert, key };
}

interface TokenRequest {
  path: string;
  form: URLSearchParams;
}

/** The parts of Entra ID that @azure/identity talks to: OpenID metadata and the v2.0 token endpoint. */
async function startTokenEndpoint(tls: { cert: string; key: string }, clientCertPem: string) {
  const requests: TokenRequest[] = [];
  let base = "";
  const server: Server = createServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, (req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const send = (status: number, value: object) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
      const path = (req.url ?? "").split("?")[0]!;
      if (req.method === "GET" && path === `/${TENANT}/v2.0/.well-known/openid-configuration`) {
        return send(200, {
          issuer: `${base}/${TENANT}/v2.0`,
          authorization_endpoint: `${base}/${TENANT}/oauth2/v2.0/authorize`,
          token_endpoint: `${base}/${TENANT}/oauth2/v2.0/token`,
          end_session_endpoint: `${base}/${TENANT}/oauth2/v2.0/logout`,
          jwks_uri: `${base}/${TENANT}/discovery/v2.0/keys`,
          response_types_supported: ["code", "id_token", "token"],
        });
      }
      if (req.method === "POST" && path === `/${TENANT}/oauth2/v2.0/token`) {
        const form = new URLSearchParams(body);
        requests.push({ path, form });
        const bySecret = form.get("client_secret") === SECRET;
        const assertion = form.get("client_assertion");
        let byCertificate = false;
        if (assertion) {
          const [h, p, sig] = assertion.split(".");
          const alg = JSON.parse(Buffer.from(h!, "base64url").toString()).alg;
          // MSAL signs with PS256 (RSA-PSS), older versions with RS256.
          const key = alg === "PS256" ? { key: clientCertPem, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : clientCertPem;
          const signed = verify("sha256", Buffer.from(`${h}.${p}`), key, Buffer.from(sig!, "base64url"));
          byCertificate = signed && JSON.parse(Buffer.from(p!, "base64url").toString()).sub === CLIENT;
        }
        if (form.get("client_id") !== CLIENT || !(bySecret || byCertificate)) {
          return send(401, { error: "invalid_client", error_description: "AADSTS7000215: Invalid client secret provided." });
        }
        const now = Math.floor(Date.now() / 1000);
        const token = [
          b64url({ alg: "RS256", typ: "JWT" }),
          b64url({ aud: "https://storage.azure.com", iss: `https://sts.windows.net/${TENANT}/`, iat: now - 60, nbf: now - 60, exp: now + 3600, appid: CLIENT, oid: randomUUID(), tid: TENANT }),
          b64url(randomBytes(32)),
        ].join(".");
        return send(200, { token_type: "Bearer", expires_in: 3600, ext_expires_in: 3600, access_token: token });
      }
      send(404, { error: "not_found", path });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, requests, stop: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Seeds the HTTPS Azurite from a child process that trusts the certificate (this one does not). */
function seed(connectionString: string, ca: string, container: string, blobs: Record<string, string>): Promise<void> {
  const script = `
    import { BlobServiceClient } from "@azure/storage-blob";
    const [cs, container, blobs] = [process.env.CS, process.env.CONTAINER, JSON.parse(process.env.BLOBS)];
    const c = BlobServiceClient.fromConnectionString(cs).getContainerClient(container);
    await c.create();
    for (const [name, b64] of Object.entries(blobs)) { const body = Buffer.from(b64, "base64"); await c.getBlockBlobClient(name).upload(body, body.length, { tags: { via: "entra" } }); }
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      cwd: process.cwd(),
      env: { PATH: process.env.PATH ?? "", NODE_EXTRA_CA_CERTS: ca, CS: connectionString, CONTAINER: container, BLOBS: JSON.stringify(blobs) },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`seeding failed: ${err}`))));
  });
}

describe("Entra ID service principal against Azurite --oauth basic", () => {
  let dir: string;
  let azurite: AzuriteServer;
  let entra: Awaited<ReturnType<typeof startTokenEndpoint>>;
  let serverCert: { cert: string; key: string };
  let clientPemPath: string;
  const container = uniqueName("entra");
  const bodies: Record<string, Buffer> = { "a.txt": randomBytes(1500), "dir/b.bin": randomBytes(70_000) };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "entra-"));
    serverCert = openssl(dir, "server");
    const client = openssl(dir, "client");
    clientPemPath = join(dir, "client.pem");
    writeFileSync(clientPemPath, readFileSync(client.cert, "utf8") + readFileSync(client.key, "utf8"));
    entra = await startTokenEndpoint(serverCert, readFileSync(client.cert, "utf8"));
    azurite = await startAzurite({ tls: serverCert, oauth: true });
    await seed(azurite.connectionString, serverCert.cert, container, Object.fromEntries(Object.entries(bodies).map(([k, v]) => [k, v.toString("base64")])));
  });
  afterAll(async () => {
    await azurite?.stop();
    await entra?.stop();
  });

  /** Azure side given only as a service principal: no key, SAS or connection string. */
  function spEnv(credential: Record<string, string>): Record<string, string> {
    const env: Record<string, string> = {
      ...serverEnv(),
      NODE_EXTRA_CA_CERTS: serverCert.cert,
      AZURE_STORAGE_ACCOUNT: azurite.account,
      AZURE_STORAGE_BLOB_ENDPOINT: azurite.endpoint,
      AZURE_TENANT_ID: TENANT,
      AZURE_CLIENT_ID: CLIENT,
      AZURE_AUTHORITY_HOST: entra.base,
      ...credential,
    };
    delete env.AZURE_STORAGE_CONNECTION_STRING;
    return env;
  }

  it("a client secret signs a whole run: token requested for storage, every blob copied byte-exact with its tags, the secret nowhere in the output", async () => {
    const bucket = await newBucket("entra");
    const before = entra.requests.length;
    const res = await runCli(["run", "--from", `azure://${container}`, "--to", `s3://${bucket}`, "--json", "--verbose"], spEnv({ AZURE_CLIENT_SECRET: SECRET }));
    expect(res.code, res.stderr.slice(-2000)).toBe(0);
    const report = JSON.parse(res.stdout);
    expect(report.objects).toMatchObject({ planned: 2, copied: 2, failed: 0 });
    expect(report.warnings.filter((w: { warning: string }) => /tags/.test(w.warning))).toEqual([]);
    for (const [name, body] of Object.entries(bodies)) expect(md5(await getBytes(clients.s3(), bucket, name))).toBe(md5(body));
    const mine = entra.requests.slice(before);
    expect(mine.length).toBeGreaterThanOrEqual(1);
    expect(mine[0]!.form.get("grant_type")).toBe("client_credentials");
    expect(mine[0]!.form.get("scope")).toBe("https://storage.azure.com/.default");
    expect(res.stdout + res.stderr).not.toContain(SECRET);
  });

  it("a client certificate (PEM file with its key) signs a run; the endpoint verified the assertion against the certificate", async () => {
    const bucket = await newBucket("entrac");
    const before = entra.requests.length;
    const res = await runCli(["run", "--from", `azure://${container}`, "--to", `s3://${bucket}`, "--json"], spEnv({ AZURE_CLIENT_CERTIFICATE_PATH: clientPemPath }));
    expect(res.code, res.stderr.slice(-2000)).toBe(0);
    expect(JSON.parse(res.stdout).objects).toMatchObject({ planned: 2, copied: 2 });
    const mine = entra.requests.slice(before);
    expect(mine.some((r) => r.form.get("client_assertion_type") === "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")).toBe(true);
  });

  it("the same certificate given as PEM text in a variable (how the functions get it) signs a run", async () => {
    const bucket = await newBucket("entrap");
    const pem = readFileSync(clientPemPath, "utf8");
    const res = await runCli(["run", "--from", `azure://${container}`, "--to", `s3://${bucket}`, "--json"], spEnv({ AZURE_CLIENT_CERTIFICATE_PEM: pem }));
    expect(res.code, res.stderr.slice(-2000)).toBe(0);
    expect(JSON.parse(res.stdout).objects).toMatchObject({ copied: 2 });
    const keyLine = pem.split("\n").find((l) => l.length > 40 && !l.startsWith("-----") && pem.indexOf(l) > pem.indexOf("PRIVATE KEY"))!;
    expect(res.stdout + res.stderr).not.toContain(keyLine);
  });

  it("a wrong secret is refused: exit 2, a message naming the cause, and neither secret in it", async () => {
    const fresh = uniqueName("never");
    const wrong = `wrong~${randomBytes(8).toString("hex")}`;
    const res = await runCli(["run", "--from", `azure://${container}`, "--to", `s3://${fresh}`], spEnv({ AZURE_CLIENT_SECRET: wrong }));
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/Azure|Entra|credential|authenticat/i);
    expect(res.stderr).not.toContain(wrong);
    expect(res.stderr).not.toContain(SECRET);
  });
});
