/** Queues activated for the project and its queue credentials, on the Scaleway control plane. */
import { ConfigError } from "../errors.ts";
import type { NewQueueCredential, QueueCredential, QueuePermissions, ScalewayQueuesApi } from "./scaleway-queues.ts";
import { credentialNames } from "./options.ts";
import type { ProvisionLog } from "./report.ts";

export interface SqsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export const FUNCTIONS_PERMISSIONS: QueuePermissions = { canPublish: true, canReceive: true, canManage: false };

export const PROVISION_PERMISSIONS: QueuePermissions = { canPublish: false, canReceive: false, canManage: true };

/** Retries `fn` while the SQS endpoint does not know a credential created seconds ago. */
export async function whileCredentialPropagates<T>(fn: () => Promise<T>, enabled: boolean, sleep: (ms: number) => Promise<void>): Promise<T> {
  const attempts = enabled ? 10 : 1;
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      const unauthorized = e?.$metadata?.httpStatusCode === 401 || e?.$metadata?.httpStatusCode === 403 || /InvalidClientTokenId|AccessDenied|SignatureDoesNotMatch|Unauthori/i.test(e?.name ?? "");
      if (!unauthorized || i >= attempts) throw err;
      await sleep(3000);
    }
  }
}

export interface CredentialPlan {
  functions?: QueueCredential;
  provision?: QueueCredential;
}

/**
 * Queues activated for the project and its two queue credentials (functions:
 * publish + receive; provisioning: manage), created when missing. Everything
 * that can fail is decided before anything is changed. Returns the SQS
 * endpoint, and the provisioning credential when this run created it.
 */
export async function ensureQueueCredentials(
  api: ScalewayQueuesApi,
  creds: ReturnType<typeof credentialNames>,
  admin: SqsCredentials | undefined,
  log: ProvisionLog,
): Promise<{ endpoint: string; newAdmin?: SqsCredentials }> {
  const { steps, notes, exports, adminExports } = log;
  let info = await api.getSqsInfo();
  const existing = info.status === "enabled" ? await api.listSqsCredentials() : [];
  const plan: CredentialPlan = {
    functions: existing.find((c) => c.name === creds.functions),
    provision: existing.find((c) => c.name === creds.provision),
  };
  if (plan.provision) {
    if (!admin) {
      throw new ConfigError(
        `queue credential "${creds.provision}" exists and its secret is shown only at creation: set SQS_ADMIN_ACCESS_KEY_ID and SQS_ADMIN_SECRET_ACCESS_KEY to the values printed when it was created, or delete that credential (console: Queues > Credentials) to have a new one created`,
      );
    }
    if (admin.accessKeyId !== plan.provision.accessKey) {
      throw new ConfigError(`SQS_ADMIN_ACCESS_KEY_ID is not the access key of queue credential "${creds.provision}"`);
    }
  }

  if (info.status !== "enabled") {
    info = await api.activateSqs();
    steps.push({ kind: "queues", name: `Queues (${info.region})`, action: "activated" });
  } else {
    steps.push({ kind: "queues", name: `Queues (${info.region})`, action: "unchanged", detail: "already active" });
  }

  const ensureCredential = async (name: string, found: QueueCredential | undefined, permissions: QueuePermissions): Promise<NewQueueCredential | undefined> => {
    if (found) {
      const p = found.permissions;
      const same = p.canPublish === permissions.canPublish && p.canReceive === permissions.canReceive && p.canManage === permissions.canManage;
      steps.push({ kind: "credential", name, action: "reused", detail: `access key ${found.accessKey}` });
      if (!same) notes.push(`queue credential "${name}" has permissions ${JSON.stringify(p)}; expected ${JSON.stringify(permissions)}: fix it in the console`);
      return undefined;
    }
    const created = await api.createSqsCredentials({ name, permissions });
    steps.push({ kind: "credential", name, action: "created", detail: `access key ${created.accessKey}` });
    return created;
  };

  const newFunctions = await ensureCredential(creds.functions, plan.functions, FUNCTIONS_PERMISSIONS);
  const newProvision = await ensureCredential(creds.provision, plan.provision, PROVISION_PERMISSIONS);
  if (newFunctions) {
    exports.push({ name: "SQS_ACCESS_KEY_ID", value: newFunctions.accessKey, secret: true });
    exports.push({ name: "SQS_SECRET_ACCESS_KEY", value: newFunctions.secretKey, secret: true });
  } else {
    notes.push(`SQS_ACCESS_KEY_ID / SQS_SECRET_ACCESS_KEY: use the values printed when queue credential "${creds.functions}" was created (a secret is shown once); to rotate, delete that credential and run provision again`);
  }
  if (!newProvision) return { endpoint: info.endpoint };
  adminExports.push({ name: "SQS_ADMIN_ACCESS_KEY_ID", value: newProvision.accessKey, secret: true });
  adminExports.push({ name: "SQS_ADMIN_SECRET_ACCESS_KEY", value: newProvision.secretKey, secret: true });
  return { endpoint: info.endpoint, newAdmin: { accessKeyId: newProvision.accessKey, secretAccessKey: newProvision.secretKey } };
}
