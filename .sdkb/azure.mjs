import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob"; globalThis.x=[BlobServiceClient,StorageSharedKeyCredential];
