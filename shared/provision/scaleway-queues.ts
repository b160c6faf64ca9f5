/**
 * The few Scaleway Queues control-plane calls provisioning needs, behind a
 * small interface: the real one on `@scaleway/sdk` (Mnqv1beta1.SqsAPI), fakes
 * in tests. Queues themselves are created through the SQS API, not here.
 */
import { Mnqv1beta1 } from "@scaleway/sdk";
import { createScalewayClient } from "../sdk-clients.ts";
import { ConfigError } from "../errors.ts";
import { registerSecret } from "../redact.ts";

export interface QueuePermissions {
  canPublish: boolean;
  canReceive: boolean;
  canManage: boolean;
}

export interface QueuesInfo {
  /** "enabled" once Queues is activated for the project. */
  status: string;
  /** SQS API endpoint of the project and region, e.g. https://sqs.mnq.fr-par.scaleway.com. Empty until activated. */
  endpoint: string;
  projectId: string;
  region: string;
}

/** A queue credential as listed: never its secret. */
export interface QueueCredential {
  id: string;
  name: string;
  accessKey: string;
  permissions: QueuePermissions;
}

/** A credential just created: the only time its secret is known. */
export interface NewQueueCredential extends QueueCredential {
  secretKey: string;
}

export interface ScalewayQueuesApi {
  /** Activation status and endpoint of Queues for the project. */
  getSqsInfo(): Promise<QueuesInfo>;
  /** Activates Queues for the project; call only when getSqsInfo says it is not enabled. */
  activateSqs(): Promise<QueuesInfo>;
  /** Creates a credential; the secret is in the answer and never again. */
  createSqsCredentials(request: { name: string; permissions: QueuePermissions }): Promise<NewQueueCredential>;
  /** Every credential of the project (all pages), without secrets. */
  listSqsCredentials(): Promise<QueueCredential[]>;
}

export interface ScalewayApiOptions {
  /** IAM API key (SCW_ACCESS_KEY / SCW_SECRET_KEY) with MessagingAndQueuingFullAccess on the project. */
  accessKey: string;
  secretKey: string;
  projectId: string;
  /** fr-par or nl-ams: the regions with Queues and queue triggers. */
  region: string;
  /** Default https://api.scaleway.com. */
  apiUrl?: string;
  /** A fetch-compatible client; tests give one that answers from fixtures. */
  fetch?: typeof fetch;
}

const ACCESS_KEY = /^SCW[A-Z0-9]{17}$/i;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const QUEUES_REGIONS = ["fr-par", "nl-ams"] as const;

/**
 * Checks the options before they reach the SDK: its own errors quote the
 * invalid value, which for a secret key is the secret.
 */
function validate(options: ScalewayApiOptions): void {
  registerSecret(options.secretKey);
  if (!ACCESS_KEY.test(options.accessKey)) throw new ConfigError("SCW_ACCESS_KEY must be a Scaleway access key (SCW followed by 17 letters or digits)");
  if (!UUID.test(options.secretKey)) throw new ConfigError("SCW_SECRET_KEY must be a Scaleway secret key (a UUID)");
  if (!UUID.test(options.projectId)) throw new ConfigError("the project id (--project-id or SCW_DEFAULT_PROJECT_ID) must be a UUID");
  if (!(QUEUES_REGIONS as readonly string[]).includes(options.region)) {
    throw new ConfigError(`region must be one of ${QUEUES_REGIONS.join(", ")} (Queues and queue triggers exist only there; got "${options.region.slice(0, 20)}")`);
  }
}

function toInfo(info: Mnqv1beta1.SqsInfo): QueuesInfo {
  return { status: info.status, endpoint: info.sqsEndpointUrl ?? "", projectId: info.projectId, region: info.region };
}

function toCredential(c: Mnqv1beta1.SqsCredentials): QueueCredential {
  return {
    id: c.id,
    name: c.name,
    accessKey: c.accessKey,
    permissions: {
      canPublish: c.permissions?.canPublish ?? false,
      canReceive: c.permissions?.canReceive ?? false,
      canManage: c.permissions?.canManage ?? false,
    },
  };
}

/** The Scaleway Queues API on `@scaleway/sdk`. */
export function createScalewayQueuesApi(options: ScalewayApiOptions): ScalewayQueuesApi {
  validate(options);
  const region = options.region as Mnqv1beta1.SqsApiGetSqsInfoRequest["region"];
  const client = createScalewayClient(options);
  const api = new Mnqv1beta1.SqsAPI(client);
  const scope = { region, projectId: options.projectId };
  return {
    async getSqsInfo() {
      return toInfo(await api.getSqsInfo(scope));
    },
    async activateSqs() {
      return toInfo(await api.activateSqs(scope));
    },
    async createSqsCredentials({ name, permissions }) {
      const c = await api.createSqsCredentials({ ...scope, name, permissions });
      registerSecret(c.secretKey);
      return { ...toCredential(c), secretKey: c.secretKey };
    },
    async listSqsCredentials() {
      const all = await api.listSqsCredentials({ ...scope, orderBy: "created_at_asc" }).all();
      return all.map(toCredential);
    },
  };
}
