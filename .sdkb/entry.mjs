import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { S3Client, ListObjectsV2Command, CreateMultipartUploadCommand } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { createAdvancedClient } from "@scaleway/sdk-client";
import { NodeHttpHandler } from "@smithy/node-http-handler";
globalThis.x = [BlobServiceClient, StorageSharedKeyCredential, S3Client, ListObjectsV2Command, CreateMultipartUploadCommand, SQSClient, createAdvancedClient, NodeHttpHandler];
