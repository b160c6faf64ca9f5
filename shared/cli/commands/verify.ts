import { InvalidArgumentError, type Command } from "commander";
import { loadConfig } from "../../config.ts";
import { createS3Http } from "../../clients.ts";
import { parseAzureUrl, parseS3Url } from "../../locations.ts";
import { verifyMigration, type Finding } from "../../verify/compare.ts";
import { AzureBlobSource } from "../../azure/blob-source.ts";
import { S3ObjectSink } from "../../s3/object-sink.ts";

const HELP = `
Compares every blob under the source prefix with its object under the
destination prefix (blob PREFIX/x is expected at DEST_PREFIX/x): the object
exists, sizes are equal, MD5 matches (the source Content-MD5 when set, else the
destination's md5chksum metadata), Content-Type/Encoding/Language/Disposition and
Cache-Control are equal, user metadata and tags are equal. By default the bytes of
both sides are read and hashed; --no-content skips that and compares only sizes and
recorded MD5s.

Not differences, reported on their own:
  extra      destination objects under the prefix with no source blob
             (the run state under .migrate-state/ is never compared)
  archived   blobs in the Archive tier: their bytes can not be read, so they are
             neither checked nor counted as differences, present on the
             destination or not; rehydrate them and verify again

A metadata name changed by the server (Ceph RGW stores a_b as a-b) is a difference,
labelled "metadata name rewritten by server". Problems name metadata and tag keys,
never their values.

Output: one line per difference, extra and archived blob, then a summary line.
--json prints one object instead:
  { checked, matched, missing, differences: [{ key, problem }], extra: [key], archived: [key] }
(plus sizeOnly: the SSE-C objects compared by size and tags only, when there are any)
where checked counts compared blobs (archived excluded), matched those without a
difference, missing those absent from the destination (each also a difference);
difference and archived keys are blob names, extra keys are destination keys.

With S3_SSE_C_KEY (or S3_SSE_C_KEY_FILE) set, every HEAD and GET of a destination
object sends the SSE-C key, so encrypted objects are compared in full. Without the
key an encrypted object can not be read: --no-content then compares its size (from
the listing) and its tags, and the summary counts those objects; without
--no-content each is a difference naming the missing key.

Exit status: 0 no difference, 1 at least one difference (or a comparison that
could not be made), 2 usage or configuration error.
`;

function concurrency(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 256) throw new InvalidArgumentError("must be an integer between 1 and 256");
  return n;
}

/** Names are printed as JSON strings: spaces, quotes and control characters stay unambiguous. */
function line(f: Finding): string {
  switch (f.kind) {
    case "difference":
      return `difference ${JSON.stringify(f.key)}: ${f.problem}`;
    case "extra":
      return `extra ${JSON.stringify(f.key)}: on the destination only`;
    case "archived":
      return `archived ${JSON.stringify(f.key)}: not verifiable`;
  }
}

export function registerVerify(program: Command): void {
  program
    .command("verify")
    .description("compare a container (prefix) with its copy in a bucket (prefix): sizes, MD5, bytes, headers, metadata, tags")
    .requiredOption("--from <url>", "source, azure://CONTAINER[/PREFIX]")
    .requiredOption("--to <url>", "destination, s3://BUCKET[/PREFIX]")
    .option("--json", "print one JSON object instead of lines")
    .option("--concurrency <n>", "objects compared at once (1-256)", concurrency, 8)
    .option("--no-content", "do not read and hash the bytes")
    .addHelpText("after", HELP)
    .action(async (opts: { from: string; to: string; json?: boolean; concurrency: number; content: boolean }) => {
      // Usage first, then configuration: both exit 2 before any request is made.
      const source = parseAzureUrl(opts.from, "--from");
      const destination = parseS3Url(opts.to, "--to");
      const config = loadConfig();
      const [{ createBlobServiceClient }, { createS3Client }] = await Promise.all([import("../../azure-sdk-client.ts"), import("../../sdk-clients.ts")]);
      const s3 = createS3Client(config.s3, config.retry);
      const ports = { source: new AzureBlobSource(createBlobServiceClient(config.azure, config.retry)), sink: new S3ObjectSink(async () => s3, { sseCustomerKey: config.s3.sseCustomerKey, http: createS3Http(config.s3, config.retry) }) };

      const differences: Array<{ key: string; problem: string }> = [];
      const extra: string[] = [];
      const archived: string[] = [];
      const onFinding = (f: Finding) => {
        if (!opts.json) process.stdout.write(`${line(f)}\n`);
        else if (f.kind === "difference") differences.push({ key: f.key, problem: f.problem });
        else if (f.kind === "extra") extra.push(f.key);
        else archived.push(f.key);
      };
      try {
        const summary = await verifyMigration(ports, { source, destination, concurrency: opts.concurrency, content: opts.content, onFinding });
        if (opts.json) {
          const out = {
            checked: summary.checked,
            matched: summary.matched,
            missing: summary.missing,
            differences,
            extra,
            archived,
            ...(summary.sizeOnly ? { sizeOnly: summary.sizeOnly } : {}),
            ...(summary.directories ? { directories: summary.directories } : {}),
            ...(summary.tagsNotCompared ? { tagsNotCompared: summary.tagsNotCompared } : {}),
          };
          process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        } else {
          process.stdout.write(
            `verify: ${summary.checked} checked, ${summary.matched} matched, ${summary.differing} with differences ` +
              `(${summary.differences} differences, ${summary.missing} missing), ${summary.extra} extra, ${summary.archived} archived` +
              `${summary.directories ? `, ${summary.directories} directories (not compared)` : ""}` +
              `${opts.content ? "" : " (bytes not read: --no-content)"}` +
              `${summary.sizeOnly ? `; ${summary.sizeOnly} SSE-C objects checked by size and tags only (no S3_SSE_C_KEY)` : ""}\n` +
              `${summary.tagsNotCompared ? `verify: tags not compared: ${summary.tagsNotCompared}\n` : ""}`,
          );
        }
        // Operator contract: 1 when anything differs.
        process.exitCode = summary.differences > 0 ? 1 : 0;
      } finally {
        s3.destroy();
      }
    });
}
