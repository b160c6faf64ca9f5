import { SQSClient } from "@aws-sdk/client-sqs"; globalThis.x=[SQSClient];
