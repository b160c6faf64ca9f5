// Local Serverless plugin: the deploy and remove steps of
// serverless-scaleway-functions 0.5.0, in the order and with the checks a
// migration needs. It takes over the plugin's `deploy:deploy` and
// `before:remove:remove` hooks and reuses its API client (the same base URL,
// SCW_FUNCTION_URL included, and the same credentials).
//
// What 0.5.0 does and this file does instead (each has a test in
// test/deploy/serverless-deploy.test.ts, run against a recording stand-in of
// the Functions API):
// - Empty values ('' fallbacks in serverless.yml, e.g. AZURE_STORAGE_KEY when a
//   SAS is used) were sent as variables and secrets: they are left out, and a
//   secret that became empty is removed from the platform.
// - Namespace variables and secrets were updated after the functions were
//   deployed, so running functions could keep old queue URLs or secrets: the
//   namespace is updated (and seen ready) first, then the functions deploy.
// - Trigger deletions and creations were not awaited: a refused trigger still
//   printed "Deployed a new trigger" and then crashed the process, and a
//   trigger's DELETE and the POST of its replacement left together. Here every
//   request is awaited, a deletion until the trigger is gone, a creation until
//   it is ready; a refusal fails the deploy with a message naming the trigger.
//   Triggers whose configuration did not change are kept (no gap, no churn).
// - `serverless remove` checked that the handler files exist: it needs no bundle.
// - Nothing checked the environment against what is deployed: before packaging,
//   scripts/check-deploy-env.ts runs with the resolved plan (queues of the
//   triggers as --param or variables set them, timeouts, region, project).
//
// Why a plugin rather than a patch of node_modules: it survives `npm ci`
// without an install step, it is reviewed with the project, and it refuses to
// run beside any other plugin version than the one it was written against.
"use strict";

const path = require("path");

const SUPPORTED_PLUGIN_VERSION = "0.5.0";
const POLL_MS = 500;
const SETTLE_TIMEOUT_MS = 10 * 60 * 1000;

/** Keys with a non-empty value: an empty string is "not set" in serverless.yml. */
function nonEmpty(map) {
  const out = {};
  for (const [k, v] of Object.entries(map || {})) {
    if (v === undefined || v === null) continue;
    if (typeof v === "string" && v.trim() === "") continue;
    out[k] = typeof v === "string" ? v : String(v);
  }
  return out;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The status and message of an API error, from the Scaleway plugin's CustomError or axios. */
function apiError(err) {
  const response = err && err.response;
  const status = response && response.status;
  const data = response && response.data;
  const message = (data && (data.message || data.error_message)) || (err && err.message) || String(err);
  return status ? `${status} ${message}` : message;
}

/** Stable JSON for comparing cron arguments. */
function stable(value) {
  if (Array.isArray(value)) return `[${value.map(stable).join(",")}]`;
  if (value && typeof value === "object") return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${stable(value[k])}`).join(",")}}`;
  return JSON.stringify(value);
}

class ScalewayDeploySteps {
  constructor(serverless) {
    this.serverless = serverless;
    const installed = require(require.resolve("serverless-scaleway-functions/package.json", { paths: [serverless.serviceDir || process.cwd(), __dirname] })).version;
    if (installed !== SUPPORTED_PLUGIN_VERSION) {
      throw new Error(`${path.basename(__filename)} was written for serverless-scaleway-functions ${SUPPORTED_PLUGIN_VERSION}, found ${installed}: review it against the new version`);
    }
    this.secrets = require(require.resolve("serverless-scaleway-functions/shared/secrets", { paths: [serverless.serviceDir || process.cwd(), __dirname] }));
    const manager = serverless.pluginManager;
    this.deployer = manager.plugins.find((p) => p.hooks && p.hooks["deploy:deploy"] && typeof p.createServerlessNamespace === "function");
    this.remover = manager.plugins.find((p) => p.hooks && p.hooks["remove:remove"] && typeof p.removeNamespace === "function");
    if (!this.deployer || !this.remover) throw new Error("serverless-scaleway-functions must be listed before this plugin in serverless.yml");

    // A user-facing error (ServerlessError) is printed as its message, without a stack trace.
    const userError = (err) => new serverless.classes.Error(err && err.message ? err.message : String(err));
    this.replaceHook("deploy:deploy", this.deployer, () => this.deploy().catch((err) => Promise.reject(userError(err))));
    this.replaceHook("before:remove:remove", this.remover, () => this.beforeRemove());
    // The pre-deploy check runs first, before packaging: `serverless deploy` and
    // `npm run deploy` both refuse a deployment that could not work.
    const before = (manager.hooks["before:deploy:deploy"] = manager.hooks["before:deploy:deploy"] || []);
    before.unshift({ pluginName: "ScalewayDeploySteps", hook: () => this.checkEnvironment() });
    this.hooks = {};
  }

  /** What serverless.yml will deploy, resolved (variables and --param values included). */
  plan() {
    const d = this.deployer;
    const { functions } = d.provider.serverless.service;
    const sqsEvents = (name) => ((functions[name] && functions[name].events) || []).filter((e) => e.sqs).map((e) => e.sqs);
    const seconds = (t) => Number(String(t || "").replace(/s$/, ""));
    const all = [...sqsEvents("worker"), ...sqsEvents("coordinator")];
    return {
      region: d.provider.getScwRegion(),
      project: d.provider.getScwProject(),
      workerQueues: sqsEvents("worker").map((e) => e.queue),
      controlQueue: (sqsEvents("coordinator")[0] || {}).queue,
      triggerProjects: all.map((e) => e.projectId || d.provider.getScwProject()),
      triggerRegions: all.map((e) => e.region || d.provider.getScwRegion()),
      workerTimeoutSeconds: seconds(functions.worker && functions.worker.timeout),
      coordinatorTimeoutSeconds: seconds(functions.coordinator && functions.coordinator.timeout),
      coordinatorPrivacy: (functions.coordinator && functions.coordinator.privacy) || "public",
    };
  }

  checkEnvironment() {
    const { spawnSync } = require("child_process");
    const dir = this.serverless.serviceDir || process.cwd();
    const r = spawnSync(process.execPath, ["--import", "tsx", path.join(dir, "scripts", "check-deploy-env.ts"), "--plan", JSON.stringify(this.plan())], {
      cwd: dir,
      stdio: ["ignore", "inherit", "inherit"],
    });
    if (r.status !== 0) throw new this.serverless.classes.Error("the pre-deploy check refused this deployment (reasons above; docs/deploy.md)");
  }

  replaceHook(event, owner, hook) {
    const hooks = this.serverless.pluginManager.hooks[event] || [];
    const i = hooks.findIndex((h) => h.hook === owner.hooks[event]);
    if (i < 0) throw new Error(`hook ${event} of serverless-scaleway-functions not found`);
    hooks[i] = { pluginName: "ScalewayDeploySteps", hook };
  }

  log(message) {
    this.serverless.cli.log(message);
  }

  /** `serverless remove` needs credentials and a region, not the bundles. */
  async beforeRemove() {
    const r = this.remover;
    r.setUpDeployment();
    r.validateCredentials();
    r.validateRegion();
  }

  async deploy() {
    const d = this.deployer;
    const namespaceVariables = nonEmpty(d.namespaceVariables);
    const namespaceSecrets = nonEmpty(d.namespaceSecretVariables);
    const namespace = await this.configureNamespace(namespaceVariables, namespaceSecrets);
    d.namespace = namespace;
    d.functions = await this.createOrUpdateFunctions(namespace);
    await d.uploadCode();
    for (const fn of d.functions) await this.deployFunction(fn);
    await this.deployTriggers(d.functions);
  }

  async configureNamespace(variables, secrets) {
    const d = this.deployer;
    const project = d.provider.getScwProject();
    let namespace = await d.getNamespaceFromList(d.namespaceName, project);
    if (!namespace) {
      this.log(`Creating namespace ${d.namespaceName}...`);
      namespace = await d.createNamespace({
        name: d.namespaceName,
        project_id: project,
        environment_variables: variables,
        secret_environment_variables: Object.entries(secrets).map(([key, value]) => ({ key, value })),
      });
      return this.waitReady("namespace", d.namespaceName, () => d.getNamespace(namespace.id));
    }
    namespace = await this.waitReady("namespace", d.namespaceName, () => d.getNamespace(namespace.id));
    // Before any function deploys, so that every function starts with these values.
    this.log(`Updating the variables and secrets of namespace ${d.namespaceName}...`);
    const secretChanges = await this.secrets.mergeSecretEnvVars(namespace.secret_environment_variables || [], Object.entries(secrets).map(([key, value]) => ({ key, value })), this.serverless.cli);
    await d.updateNamespace(namespace.id, { environment_variables: variables, secret_environment_variables: secretChanges });
    return this.waitReady("namespace", d.namespaceName, () => d.getNamespace(namespace.id));
  }

  async createOrUpdateFunctions(namespace) {
    const d = this.deployer;
    const found = await d.listFunctions(namespace.id);
    const out = [];
    for (const [name, declared] of Object.entries(d.provider.serverless.service.functions)) {
      const func = { ...declared, name, env: nonEmpty(declared.env), secret: nonEmpty(declared.secret) };
      const existing = found.find((f) => f.name === name);
      out.push(existing ? await d.updateSingleFunction(func, existing) : await d.createSingleFunction(func));
    }
    return out;
  }

  async deployFunction(fn) {
    const d = this.deployer;
    this.log(`Deploying ${fn.name}...`);
    await d.deployFunction(fn.id, {});
    const ready = await this.waitReady("function", fn.name, () => d.getFunction(fn.id));
    this.log(`Function ${fn.name} has been deployed to: https://${ready.domain_name}`);
  }

  /** Polls until the resource is ready; an error status fails with its message. */
  async waitReady(kind, name, get) {
    const until = Date.now() + SETTLE_TIMEOUT_MS;
    for (;;) {
      const r = await get();
      if (r.status === "ready") return r;
      if (r.status === "error") throw new Error(`${kind} ${name} is in error: ${r.error_message || "no message"}`);
      if (Date.now() > until) throw new Error(`${kind} ${name} is still ${r.status} after ${SETTLE_TIMEOUT_MS / 60000} minutes`);
      await sleep(POLL_MS);
    }
  }

  /** Polls until GET answers 404. */
  async waitGone(kind, name, get) {
    const until = Date.now() + SETTLE_TIMEOUT_MS;
    for (;;) {
      try {
        const r = await get();
        if (r && r.status === "error") throw new Error(`${kind} ${name} failed to delete: ${r.error_message || "no message"}`);
      } catch (err) {
        if (err && err.response && err.response.status === 404) return;
        throw err;
      }
      if (Date.now() > until) throw new Error(`${kind} ${name} is still being deleted after ${SETTLE_TIMEOUT_MS / 60000} minutes`);
      await sleep(POLL_MS);
    }
  }

  /** What serverless.yml declares for a function, in the API's terms. */
  desiredTriggers(fn) {
    const d = this.deployer;
    const declared = d.provider.serverless.service.functions[fn.name] || {};
    return (declared.events || []).map((event) => {
      if (event.schedule) return { kind: "cron", name: `schedule ${event.schedule.rate}`, schedule: event.schedule.rate, args: event.schedule.input || {} };
      if (event.sqs) {
        return {
          kind: "trigger",
          name: event.sqs.name,
          queue: event.sqs.queue,
          body: { name: event.sqs.name, scw_sqs_config: { queue: event.sqs.queue, mnq_project_id: event.sqs.projectId || d.provider.getScwProject(), mnq_region: event.sqs.region || d.provider.getScwRegion() } },
        };
      }
      if (event.nats) return { kind: "trigger", name: event.nats.name, body: { name: event.nats.name, scw_nats_config: event.nats.scw_nats_config } };
      throw new Error(`function ${fn.name}: unsupported event ${Object.keys(event).join(", ")}`);
    });
  }

  same(current, desired) {
    if (current.status === "error") return false;
    if (desired.kind === "cron") return "schedule" in current && current.schedule === desired.schedule && stable(current.args || {}) === stable(desired.args);
    if ("schedule" in current || current.name !== desired.name) return false;
    const want = desired.body.scw_sqs_config;
    const have = current.scw_sqs_config;
    if (want) return !!have && have.queue === want.queue && have.mnq_project_id === want.mnq_project_id && have.mnq_region === want.mnq_region;
    return stable(current.scw_nats_config || {}) === stable(desired.body.scw_nats_config || {});
  }

  async deployTriggers(functions) {
    const d = this.deployer;
    const api = d.apiManager;
    let ready = 0;
    for (const fn of functions) {
      const desired = this.desiredTriggers(fn);
      const current = await d.listTriggersForApplication(fn.id, true);
      const keep = new Set();
      const toCreate = [];
      for (const want of desired) {
        const match = current.find((c) => !keep.has(c) && this.same(c, want));
        if (match) keep.add(match);
        else toCreate.push(want);
      }
      // Deletions first, each awaited until the trigger is gone: a replacement may carry the same name.
      for (const c of current.filter((c) => !keep.has(c))) {
        const isCron = "schedule" in c;
        const label = isCron ? `schedule ${c.schedule}` : c.name;
        const url = `${isCron ? "crons" : "triggers"}/${c.id}`;
        try {
          await api.delete(url);
          await this.waitGone("trigger", label, () => api.get(url).then((r) => r.data));
        } catch (err) {
          throw new Error(`trigger ${label} of function ${fn.name} could not be deleted: ${apiError(err)}`);
        }
        this.log(`Trigger ${label} of ${fn.name}: deleted`);
      }
      for (const c of keep) this.log(`Trigger ${"schedule" in c ? `schedule ${c.schedule}` : c.name} of ${fn.name}: unchanged`);
      for (const want of toCreate) {
        const where = want.queue ? ` (queue ${want.queue})` : "";
        try {
          const created =
            want.kind === "cron"
              ? (await api.post("crons", { function_id: fn.id, schedule: want.schedule, args: want.args })).data
              : (await api.post("triggers", { ...want.body, function_id: fn.id })).data;
          await this.waitReady("trigger", want.name, () => api.get(`${want.kind === "cron" ? "crons" : "triggers"}/${created.id}`).then((r) => r.data));
        } catch (err) {
          throw new Error(`trigger ${want.name} of function ${fn.name}${where} was refused: ${apiError(err)}`);
        }
        this.log(`Trigger ${want.name} of ${fn.name}${where}: created`);
      }
      ready += desired.length;
    }
    this.log(`Triggers: ${ready} ready`);
  }
}

module.exports = ScalewayDeploySteps;
