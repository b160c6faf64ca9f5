/**
 * The SQS SDK commands the runtime sends, imported by name so that bundles keep
 * only these. Loaded with the SDK by the first send (`import("./sdk-commands.ts")`).
 */
export { SendMessageBatchCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
