import { describe, it, expect } from "vitest";
import { checkDeployEnv, type DeployPlan } from "../../shared/provision/deploy-env.ts";

const complete = {
  SCW_SECRET_KEY: "99999999-8888-4777-8666-555555555555",
  SCW_DEFAULT_PROJECT_ID: "11111111-2222-4333-8444-555555555555",
  AZURE_STORAGE_ACCOUNT: "srcaccount",
  AZURE_STORAGE_SAS_TOKEN: "sv=2024-01-01&sp=rl&sig=very-secret-signature",
  S3_ACCESS_KEY_ID: "SCWXXXXXXXXXXXXXXXXX",
  S3_SECRET_ACCESS_KEY: "s3-secret-value",
  SQS_ENDPOINT: "https://sqs.mnq.fr-par.scaleway.com",
  SQS_ACCESS_KEY_ID: "queue-access",
  SQS_SECRET_ACCESS_KEY: "queue-secret-value",
  WORKER_QUEUE_URLS: "https://sqs.mnq.fr-par.scaleway.com/project-11111111-2222-4333-8444-555555555555/migrate-worker-0,https://sqs.mnq.fr-par.scaleway.com/project-11111111-2222-4333-8444-555555555555/migrate-worker-1",
  CONTROL_QUEUE_URL: "https://sqs.mnq.fr-par.scaleway.com/project-11111111-2222-4333-8444-555555555555/migrate-control",
  START_TOKEN: "start-token-value",
  STATE_BUCKET: "migration-state",
};

describe("checkDeployEnv", () => {
  it("accepts a complete environment", () => {
    expect(checkDeployEnv(complete)).toEqual({ errors: [], warnings: [] });
  });

  it("names every missing piece at once, never a value", () => {
    const { errors } = checkDeployEnv({ ...complete, SCW_SECRET_KEY: "", AZURE_STORAGE_SAS_TOKEN: "", S3_SECRET_ACCESS_KEY: "", CONTROL_QUEUE_URL: "" });
    expect(errors.join("\n")).toMatch(/SCW_SECRET_KEY/);
    expect(errors.join("\n")).toMatch(/AZURE_STORAGE_SAS_TOKEN/);
    expect(errors.join("\n")).toMatch(/S3_SECRET_ACCESS_KEY/);
    expect(errors.join("\n")).toMatch(/CONTROL_QUEUE_URL/);
    for (const v of ["very-secret-signature", "s3-secret-value", "queue-secret-value", "start-token-value"]) expect(errors.join("\n")).not.toContain(v);
  });

  it("refuses queues that do not match the triggers serverless.yml will create", () => {
    expect(checkDeployEnv({ ...complete, WORKER_QUEUE_COUNT: "3" }).errors.join()).toMatch(/lists 2 queues but WORKER_QUEUE_COUNT is 3/);
    expect(checkDeployEnv({ ...complete, QUEUE_PREFIX: "other" }).errors.join()).toMatch(/other-worker-0/);
    expect(checkDeployEnv({ ...complete, SCW_REGION: "pl-waw" }).errors.join()).toMatch(/SCW_REGION/);
  });

  it("warns when no start token is set, and requires the state bucket the scheduled sweep reads", () => {
    const noToken = checkDeployEnv({ ...complete, START_TOKEN: "" });
    expect(noToken.errors).toEqual([]);
    expect(noToken.warnings.join("\n")).toMatch(/START_TOKEN/);
    expect(checkDeployEnv({ ...complete, STATE_BUCKET: "" }).errors.join("\n")).toMatch(/STATE_BUCKET must be set/);
  });

  describe("with the plan serverless.yml resolved", () => {
    const project = "11111111-2222-4333-8444-555555555555";
    const plan: DeployPlan = {
      region: "fr-par", project, workerQueues: ["migrate-worker-0", "migrate-worker-1"], controlQueue: "migrate-control",
      triggerProjects: [project, project, project], triggerRegions: ["fr-par", "fr-par", "fr-par"],
      workerTimeoutSeconds: 900, coordinatorTimeoutSeconds: 900, coordinatorPrivacy: "private",
    };

    it("accepts a complete environment that matches it", () => {
      expect(checkDeployEnv(complete, { plan })).toEqual({ errors: [], warnings: [] });
    });

    it("counts the triggers of the plan (--param workerQueues), not WORKER_QUEUE_COUNT", () => {
      const three = { ...plan, workerQueues: [...plan.workerQueues, "migrate-worker-2"] };
      expect(checkDeployEnv({ ...complete, WORKER_QUEUE_COUNT: "2" }, { plan: three }).errors.join("\n")).toMatch(/lists 2 queues but serverless.yml's 3 worker triggers/);
    });

    it("refuses a region, an endpoint, a project or queue URLs that disagree", () => {
      const errorsOf = (env: Record<string, string>, p: DeployPlan = plan) => checkDeployEnv({ ...complete, ...env }, { plan: p }).errors.join("\n");
      expect(errorsOf({ SQS_ENDPOINT: "https://sqs.mnq.nl-ams.scaleway.com" })).toMatch(/SQS_ENDPOINT is in nl-ams but the functions deploy in fr-par/);
      expect(errorsOf({ SQS_REGION: "nl-ams" })).toMatch(/SQS_REGION \(nl-ams\) does not match SQS_ENDPOINT's region \(fr-par\)/);
      expect(errorsOf({}, { ...plan, project: "22222222-2222-4333-8444-555555555555" })).toMatch(/WORKER_QUEUE_URLS entry 1 belongs to project 11111111-2222-4333-8444-555555555555, not to the deploy project 22222222/);
      expect(errorsOf({ CONTROL_QUEUE_URL: `https://sqs.mnq.nl-ams.scaleway.com/project-${project}/migrate-control` })).toMatch(/CONTROL_QUEUE_URL is not on SQS_ENDPOINT/);
      expect(errorsOf({}, { ...plan, triggerRegions: ["nl-ams", "fr-par", "fr-par"] })).toMatch(/a queue trigger reads queues in nl-ams but the functions deploy in fr-par/);
    });

    it("requires START_TOKEN for a coordinator that is not private; only warns for a private one", () => {
      expect(checkDeployEnv({ ...complete, START_TOKEN: "" }, { plan: { ...plan, coordinatorPrivacy: "public" } }).errors.join()).toMatch(/START_TOKEN must be set: the coordinator is public/);
      const priv = checkDeployEnv({ ...complete, START_TOKEN: "" }, { plan });
      expect(priv.errors).toEqual([]);
      expect(priv.warnings.join()).toMatch(/START_TOKEN/);
    });
  });
});
