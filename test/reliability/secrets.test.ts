/**
 * No secret leaves the process: the Azure account key, the S3 secret and a SAS
 * token (and its signature) never appear in a log line, stdout, the report,
 * the ledger or any state object, on successful runs and on failing ones.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { inject } from "vitest";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  BlobServiceClient,
  StorageSharedKeyCredential,
  generateAccountSASQueryParameters,
  type ContainerClient,
} from "@azure/storage-blob";
import { startAzurite, type AzuriteServer } from "../../shared/servers/launch.ts";
import { runCli, type CliResult } from "../support/cli.ts";
import { newBucket, uniqueName } from "../support/env.ts";
import { MiB, SMALL_PARTS, stateObjects } from "./support.ts";

const ACCOUNT = "secretsacct";
// Account keys are base64: the marker is readable once decoded, and unique to this test.
const ACCOUNT_KEY = Buffer.concat([Buffer.from("AZUREKEYMARKER-"), randomBytes(49)]).toString("base64");

interface Marker {
  label: string;
  value: string;
}

/** The forms a secret could leak in: raw, URL-encoded (once and twice), base64url and hex of a base64 key. */
function forms(m: Marker): Marker[] {
  const out = new Map<string, string>([
    [m.value, "raw"],
    [encodeURIComponent(m.value), "encodeURIComponent"],
    [encodeURIComponent(encodeURIComponent(m.value)), "encodeURIComponent twice"],
  ]);
  if (/^[A-Za-z0-9+/]+=*$/.test(m.value) && m.value.length % 4 === 0) {
    const bytes = Buffer.from(m.value, "base64");
    out.set(bytes.toString("base64url"), "base64url");
    out.set(bytes.toString("hex"), "hex of the decoded bytes");
  }
  return [...out].filter(([v]) => v.length >= 8).map(([value, form]) => ({ label: `${m.label} (${form})`, value }));
}

/** Where each marker appears, without ever printing it. */
function leaks(places: Map<string, string>, markers: Marker[]): string[] {
  const found: string[] = [];
  for (const m of markers.flatMap(forms)) {
    for (const [where, text] of places) {
      const at = text.indexOf(m.value);
      if (at >= 0) {
        const around = text.slice(Math.max(0, at - 60), at + m.value.length + 20).split(m.value).join("<MARKER>");
        found.push(`${m.label} in ${where}: ...${around}...`);
      }
    }
  }
  return found;
}

function outputs(name: string, res: CliResult, reportFile?: string): Map<string, string> {
  const m = new Map([
    [`${name} stdout`, res.stdout],
    [`${name} stderr`, res.stderr],
  ]);
  if (reportFile && existsSync(reportFile)) m.set(`${name} --report file`, readFileSync(reportFile, "utf8"));
  return m;
}

describe("secrets never leak into logs, reports, ledgers or state", () => {
  it("the detector finds a marker raw, URL-encoded and as base64url", () => {
    const m = { label: "k", value: ACCOUNT_KEY };
    for (const text of [ACCOUNT_KEY, `x=${encodeURIComponent(ACCOUNT_KEY)}&`, Buffer.from(ACCOUNT_KEY, "base64").toString("base64url")]) {
      expect(leaks(new Map([["place", text]]), [m]).length).toBeGreaterThanOrEqual(1);
    }
  });

  let azurite: AzuriteServer;
  let blobEndpoint: string;
  let container: ContainerClient;
  let sas: string;
  let sig: string;
  let dir: string;
  const rgw = () => inject("rgw");
  const s3Env = () => ({ S3_ENDPOINT: rgw().endpoint, S3_REGION: rgw().region, S3_ACCESS_KEY_ID: rgw().accessKeyId, S3_SECRET_ACCESS_KEY: rgw().secretAccessKey, S3_FORCE_PATH_STYLE: "true" });
  const connectionString = (key: string) => `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${key};BlobEndpoint=${blobEndpoint};`;

  beforeAll(async () => {
    azurite = await startAzurite({ accounts: `${ACCOUNT}:${ACCOUNT_KEY}` });
    blobEndpoint = azurite.endpoint.replace(/\/devstoreaccount1$/, `/${ACCOUNT}`);
    const credential = new StorageSharedKeyCredential(ACCOUNT, ACCOUNT_KEY);
    const service = new BlobServiceClient(blobEndpoint, credential);
    container = service.getContainerClient(uniqueName("sec"));
    await container.create();
    for (let i = 0; i < 6; i++) {
      const body = randomBytes(i === 0 ? 6 * MiB + 11 : 300 + i);
      await container.getBlockBlobClient(`s/${i}.bin`).upload(body, body.length, { metadata: { n: String(i) } });
    }
    sas = generateAccountSASQueryParameters(
      {
        permissions: AccountSASPermissions.parse("rl"),
        services: AccountSASServices.parse("b").toString(),
        resourceTypes: AccountSASResourceTypes.parse("sco").toString(),
        expiresOn: new Date(Date.now() + 3600_000),
      },
      credential,
    ).toString();
    sig = new URLSearchParams(sas).get("sig")!;
    dir = mkdtempSync(join(tmpdir(), "secrets-"));
  });
  afterAll(async () => {
    await azurite?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("a run with the account key and one with a SAS token leak neither, nor the S3 secret", { timeout: 120_000 }, async () => {
    const markers: Marker[] = [
      { label: "Azure account key", value: ACCOUNT_KEY },
      { label: "S3 secret", value: rgw().secretAccessKey },
      { label: "SAS token", value: sas },
      { label: "SAS sig", value: sig },
    ];
    const places = new Map<string, string>();

    const bucketA = await newBucket("seca");
    const reportA = join(dir, "a.json");
    const a = await runCli(["run", "--from", `azure://${container.containerName}`, "--to", `s3://${bucketA}`, "--verbose", "--json", "--report", reportA, "--run-id", "sec-key"], {
      AZURE_STORAGE_CONNECTION_STRING: connectionString(ACCOUNT_KEY),
      ...s3Env(),
      ...SMALL_PARTS,
    });
    expect(a.code, a.stderr.slice(-500)).toBe(0);
    for (const [k, v] of outputs("key run", a, reportA)) places.set(k, v);
    for (const [k, v] of await stateObjects(bucketA)) places.set(`key run state ${k}`, v);

    const bucketB = await newBucket("secb");
    const b = await runCli(["run", "--from", `azure://${container.containerName}`, "--to", `s3://${bucketB}`, "--verbose", "--json", "--run-id", "sec-sas"], {
      AZURE_STORAGE_ACCOUNT: ACCOUNT,
      AZURE_STORAGE_SAS_TOKEN: `?${sas}`,
      AZURE_STORAGE_BLOB_ENDPOINT: blobEndpoint,
      ...s3Env(),
      ...SMALL_PARTS,
    });
    expect(b.code, b.stderr.slice(-500)).toBe(0);
    for (const [k, v] of outputs("sas run", b)) places.set(k, v);
    for (const [k, v] of await stateObjects(bucketB)) places.set(`sas run state ${k}`, v);

    // The capture is real: verbose logs, a report, a ledger with every object.
    expect(a.stderr.split("\n").filter((l) => l.startsWith("{")).length).toBeGreaterThan(5);
    expect(JSON.parse(a.stdout).objects).toMatchObject({ planned: 6, copied: 6 });
    expect(JSON.parse(b.stdout).objects).toMatchObject({ planned: 6, copied: 6 });
    expect([...places.keys()].some((k) => k.endsWith("ledger.jsonl"))).toBe(true);
    expect(leaks(places, markers)).toEqual([]);
  });

  it("failing runs (SAS without read, tampered SAS signature, wrong account key, wrong S3 secret) leak nothing either", { timeout: 120_000 }, async () => {
    const wrongKey = Buffer.concat([Buffer.from("WRONGKEYMARKER-"), randomBytes(49)]).toString("base64");
    const s3Marker = `S3SECRETMARKER${randomBytes(12).toString("hex")}/+=`;
    const listOnly = generateAccountSASQueryParameters(
      {
        permissions: AccountSASPermissions.parse("l"),
        services: "b",
        resourceTypes: "sco",
        expiresOn: new Date(Date.now() + 3600_000),
      },
      new StorageSharedKeyCredential(ACCOUNT, ACCOUNT_KEY),
    ).toString();
    const listOnlySig = new URLSearchParams(listOnly).get("sig")!;
    const forgedSig = randomBytes(32).toString("base64");
    const forged = new URLSearchParams(sas);
    forged.set("sig", forgedSig);
    const markers: Marker[] = [
      { label: "Azure account key", value: ACCOUNT_KEY },
      { label: "wrong account key", value: wrongKey },
      { label: "S3 secret", value: rgw().secretAccessKey },
      { label: "wrong S3 secret", value: s3Marker },
      { label: "list-only SAS sig", value: listOnlySig },
      { label: "forged SAS sig", value: forgedSig },
      { label: "SAS sig", value: sig },
    ];
    const places = new Map<string, string>();
    const from = `azure://${container.containerName}`;
    const sasEnv = (token: string) => ({ AZURE_STORAGE_ACCOUNT: ACCOUNT, AZURE_STORAGE_SAS_TOKEN: token, AZURE_STORAGE_BLOB_ENDPOINT: blobEndpoint });

    // Listing allowed, reading refused: every object fails, with its reason in the ledger and the report.
    const bucketC = await newBucket("secc");
    const reportC = join(dir, "c.json");
    const c = await runCli(["run", "--from", from, "--to", `s3://${bucketC}`, "--verbose", "--report", reportC, "--run-id", "sec-list-only"], {
      ...sasEnv(listOnly),
      ...s3Env(),
      ...SMALL_PARTS,
      MAX_ATTEMPTS: "2",
    }, { timeoutMs: 60_000 });
    expect(c.code, c.stderr.slice(-500)).toBe(1);
    const reportBody = JSON.parse(readFileSync(reportC, "utf8"));
    expect(reportBody.objects.failed).toBe(6);
    for (const [k, v] of outputs("list-only run", c, reportC)) places.set(k, v);
    for (const [k, v] of await stateObjects(bucketC)) places.set(`list-only run state ${k}`, v);

    const runs: Array<[string, Record<string, string>]> = [
      ["forged SAS", { ...sasEnv(forged.toString()), ...s3Env() }],
      ["wrong account key", { AZURE_STORAGE_CONNECTION_STRING: connectionString(wrongKey), ...s3Env() }],
      ["wrong S3 secret", { AZURE_STORAGE_CONNECTION_STRING: connectionString(ACCOUNT_KEY), ...s3Env(), S3_SECRET_ACCESS_KEY: s3Marker }],
    ];
    await Promise.all(
      runs.map(async ([name, env]) => {
        const bucket = await newBucket("secf");
        const res = await runCli(["run", "--from", from, "--to", `s3://${bucket}`, "--verbose", "--run-id", "sec-fail", "--json"], { ...env, MAX_ATTEMPTS: "2" }, { timeoutMs: 60_000 });
        expect(res.code, `${name}: ${res.stderr.slice(-300)}`).not.toBe(0);
        expect(res.signal, name).toBeNull();
        expect(res.stderr, name).toMatch(/migrate: |"level":"error"/);
        for (const [k, v] of outputs(name, res)) places.set(k, v);
        for (const [k, v] of await stateObjects(bucket)) places.set(`${name} state ${k}`, v);
      }),
    );
    expect(leaks(places, markers)).toEqual([]);
  });
});
