import { DEFAULT_STATE_PREFIX, loadRetryPolicy, loadS3Config, loadStateBucket } from "../config.ts";
import { createS3Http, lazyS3Client } from "../clients.ts";
import { ConfigError } from "../errors.ts";
import { S3StateStore } from "../s3/state-store.ts";
import { StateLayout } from "../state/layout.ts";
import { RUN_ID } from "../messages.ts";

/** The state store of a run for the read-only commands (status, report). */
export function openState(runId: string, stateBucket: string | undefined, env: Record<string, string | undefined> = process.env) {
  if (!RUN_ID.safeParse(runId).success) throw new ConfigError(`RUN_ID "${runId.slice(0, 60)}" is not a run id (letters, digits, . _ -)`);
  const bucket = loadStateBucket(env, stateBucket);
  const config = loadS3Config(env);
  const retry = loadRetryPolicy(env);
  const s3 = lazyS3Client(config, retry);
  const http = createS3Http(config, retry);
  const store = new S3StateStore(s3, bucket, undefined, config.encryptState ? config.sseCustomerKey : undefined, http);
  return { store, layout: new StateLayout(DEFAULT_STATE_PREFIX), bucket, close: () => (s3.destroy(), http.destroy()) };
}
