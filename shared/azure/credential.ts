import type { TokenCredential } from "@azure/identity";
import type { AzureConfig } from "../config.ts";

/**
 * The Entra ID credential of a service principal. @azure/identity fetches and
 * caches the token and renews it before it expires, so a long run keeps going.
 * A custom authority host (sovereign cloud, local stand-in) is used as given:
 * instance discovery only knows Microsoft's public authorities.
 *
 * @azure/identity (with MSAL) is loaded on the first token request, not when
 * the function starts: deployments signing with a key or SAS never pay its
 * start-up cost.
 */
export function createAzureCredential(config: Extract<AzureConfig, { kind: "service-principal" }>): TokenCredential {
  let credential: Promise<TokenCredential> | undefined;
  const load = async (): Promise<TokenCredential> => {
    const { ClientCertificateCredential, ClientSecretCredential } = await import("@azure/identity");
    const options = config.authorityHost ? { authorityHost: config.authorityHost, disableInstanceDiscovery: true } : {};
    if (config.clientSecret) return new ClientSecretCredential(config.tenantId, config.clientId, config.clientSecret, options);
    if (config.certificatePem) return new ClientCertificateCredential(config.tenantId, config.clientId, { certificate: config.certificatePem }, options);
    return new ClientCertificateCredential(config.tenantId, config.clientId, { certificatePath: config.certificatePath! }, options);
  };
  return {
    getToken: async (scopes, options) => (await (credential ??= load())).getToken(scopes, options),
  };
}
