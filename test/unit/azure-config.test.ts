/** The Azure part of the one configuration loader: exactly one way to authenticate, and what is missing named. */
import { describe, it, expect } from "vitest";
import { loadAzureConfig } from "../../shared/config.ts";
import { redact } from "../../shared/redact.ts";

const SP = { AZURE_STORAGE_ACCOUNT: "acct1", AZURE_TENANT_ID: "t-1", AZURE_CLIENT_ID: "c-1" };

describe("Azure credentials", () => {
  it("a service principal with a client secret, a certificate path, or a PEM", () => {
    expect(loadAzureConfig({ ...SP, AZURE_CLIENT_SECRET: "shh-secret-1" })).toMatchObject({ kind: "service-principal", tenantId: "t-1", clientId: "c-1", clientSecret: "shh-secret-1", endpoint: "https://acct1.blob.core.windows.net" });
    expect(loadAzureConfig({ ...SP, AZURE_CLIENT_CERTIFICATE_PATH: "/run/sp.pem" })).toMatchObject({ kind: "service-principal", certificatePath: "/run/sp.pem" });
    const pem = "-----BEGIN CERTIFICATE-----\\nMIIBcert\\n-----END CERTIFICATE-----\\n-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ\\n-----END PRIVATE KEY-----";
    const c = loadAzureConfig({ ...SP, AZURE_CLIENT_CERTIFICATE_PEM: pem });
    // A PEM whose line breaks were flattened to "\n" by the platform gets them back.
    expect(c).toMatchObject({ kind: "service-principal", certificatePem: pem.replace(/\\n/g, "\n") });
    expect(redact("key line MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ leaked")).not.toContain("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ");
    expect(redact("oops shh-secret-1")).not.toContain("shh-secret-1");
    expect(loadAzureConfig({ ...SP, AZURE_CLIENT_SECRET: "x-secret", AZURE_AUTHORITY_HOST: "https://login.example.test/" })).toMatchObject({ authorityHost: "https://login.example.test" });
  });

  it("names what an incomplete service principal lacks", () => {
    expect(() => loadAzureConfig({ AZURE_STORAGE_ACCOUNT: "acct1", AZURE_CLIENT_ID: "c-1", AZURE_CLIENT_SECRET: "s-secret" })).toThrow(/AZURE_TENANT_ID/);
    expect(() => loadAzureConfig({ ...SP, AZURE_CLIENT_ID: "" , AZURE_CLIENT_SECRET: "s-secret" })).toThrow(/AZURE_CLIENT_ID/);
    expect(() => loadAzureConfig({ ...SP })).toThrow(/AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH or AZURE_CLIENT_CERTIFICATE_PEM/);
    expect(() => loadAzureConfig({ AZURE_TENANT_ID: "t-1", AZURE_CLIENT_ID: "c-1", AZURE_CLIENT_SECRET: "s-secret" })).toThrow(/AZURE_STORAGE_ACCOUNT/);
    expect(() => loadAzureConfig({ ...SP, AZURE_CLIENT_SECRET: "s-secret", AZURE_CLIENT_CERTIFICATE_PATH: "/p.pem" })).toThrow(/only one of AZURE_CLIENT_SECRET and AZURE_CLIENT_CERTIFICATE_PATH/);
    expect(() => loadAzureConfig({ ...SP, AZURE_CLIENT_CERTIFICATE_PEM: "not a pem" })).toThrow(/PRIVATE KEY|PEM/);
    expect(() => loadAzureConfig({ ...SP, AZURE_CLIENT_SECRET: "s-secret", AZURE_AUTHORITY_HOST: "http://plain" })).toThrow(/AZURE_AUTHORITY_HOST/);
  });

  it("refuses two ways at once, naming both, and never their values", () => {
    const both = { ...SP, AZURE_CLIENT_SECRET: "sp-secret-value", AZURE_STORAGE_KEY: "a2V5a2V5" };
    expect(() => loadAzureConfig(both)).toThrow(/exactly one way.*account key \(AZURE_STORAGE_KEY\).*Entra ID service principal \(AZURE_CLIENT_ID, AZURE_CLIENT_SECRET\)/);
    try {
      loadAzureConfig(both);
    } catch (err) {
      expect(String(err)).not.toContain("sp-secret-value");
    }
    expect(() => loadAzureConfig({ AZURE_STORAGE_CONNECTION_STRING: "AccountName=a;AccountKey=k", AZURE_STORAGE_SAS_TOKEN: "sv=1&sig=abc" })).toThrow(/connection string.*SAS token/);
  });

  it("the other ways are unchanged", () => {
    expect(loadAzureConfig({ AZURE_STORAGE_CONNECTION_STRING: "AccountName=a;AccountKey=k" }).kind).toBe("connection-string");
    expect(loadAzureConfig({ AZURE_STORAGE_ACCOUNT: "acct1", AZURE_STORAGE_KEY: "a2V5" }).kind).toBe("shared-key");
    expect(loadAzureConfig({ AZURE_STORAGE_ACCOUNT: "acct1", AZURE_STORAGE_SAS_TOKEN: "?sv=1&sig=x" })).toMatchObject({ kind: "sas", sasToken: "sv=1&sig=x" });
    expect(() => loadAzureConfig({ AZURE_STORAGE_ACCOUNT: "acct1" })).toThrow(/AZURE_STORAGE_KEY/);
    expect(() => loadAzureConfig({})).toThrow(/AZURE_STORAGE_CONNECTION_STRING/);
  });
});
