/** What every section of the benchmark works with: the servers, clients, buckets and corpora. */
import { createS3Client } from "../shared/sdk-clients.ts";
import { createBlobServiceClient } from "../shared/azure-sdk-client.ts";
import { type AzuriteServer, type S3Server } from "../shared/servers/launch.ts";
import { type Endpoints } from "./tools.ts";

export interface Ctx {
  azurite: AzuriteServer;
  rgw: S3Server;
  s3: ReturnType<typeof createS3Client>;
  blob: ReturnType<typeof createBlobServiceClient>;
  container: string;
  bucket: string;
  stateBucket: string;
  sas: string;
  rcloneConf: string;
  dir: string;
  endpoints: Endpoints;
}

export interface Corpus {
  name: string;
  prefix: string;
  objects: number;
  bytes: number;
  largeBytes: number;
  smallObjects: number;
}
