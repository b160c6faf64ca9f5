/**
 * A request through the S3 SDK, for what a copy seldom does: the client (built
 * on first use) and the commands of sdk-commands.ts are loaded by the first
 * such request, so a run that makes none never compiles the SDK.
 */
import type { S3Client } from "@aws-sdk/client-s3";

/** The S3 SDK commands the runtime sends, loaded on first use. */
export const s3Commands = () => import("./sdk-commands.ts");
export type S3Commands = Awaited<ReturnType<typeof s3Commands>>;

export async function sdkSend<T>(client: () => Promise<S3Client>, request: (s3: S3Client, sdk: S3Commands) => Promise<T>): Promise<T> {
  const [s3, sdk] = await Promise.all([client(), s3Commands()]);
  return request(s3, sdk);
}
