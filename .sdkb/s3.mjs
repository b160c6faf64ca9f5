import { S3Client, ListObjectsV2Command } from "@aws-sdk/client-s3"; import { NodeHttpHandler } from "@smithy/node-http-handler"; globalThis.x=[S3Client,ListObjectsV2Command,NodeHttpHandler];
