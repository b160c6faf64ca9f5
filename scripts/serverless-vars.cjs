// Typed, validated values for serverless.yml, computed from its `params`.
// The Serverless Framework resolves `${env:X, 1024}` to a number but `${env:X}`
// to a string, and Scaleway wants numbers for memory and scale, strings for
// environment variables: this file gives each key the type it needs, and
// refuses values the platform would reject, before anything is deployed.
// It also builds the worker's triggers: one SQS trigger per worker queue, so
// the triggers always match the queues `migrate provision` created (a queue
// without a trigger is never drained).
//
// Used as ${file(./scripts/serverless-vars.cjs):worker.memoryLimit} etc.
// Loaded by the Serverless Framework (CommonJS), hence .cjs.
"use strict";

/** Memory tiers of Scaleway Functions, MB. */
const MEMORY_TIERS = [128, 256, 512, 1024, 2048, 3072, 4096];
/** Request duration bounds of Scaleway Functions, seconds. */
const MIN_TIMEOUT = 10;
const MAX_TIMEOUT = 3600;
/** Instances per function. */
const MAX_SCALE = 50;
/** Trigger names must match ^[a-zA-Z0-9-]{2,100}$ (plugin check); queue names are built from the prefix. */
const QUEUE_PREFIX = /^[a-z0-9][a-z0-9-]{0,40}$/;
/** 50 queues per project; the control queue and the dead-letter queue take two. */
const MAX_WORKER_QUEUES = 40;

function integer(name, raw, min, max) {
  const n = typeof raw === "number" ? raw : Number(String(raw).trim());
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`param ${name} must be an integer from ${min} to ${max} (got "${String(raw).slice(0, 20)}")`);
  }
  return n;
}

function memory(name, raw) {
  const n = integer(name, raw, MEMORY_TIERS[0], MEMORY_TIERS[MEMORY_TIERS.length - 1]);
  if (!MEMORY_TIERS.includes(n)) throw new Error(`param ${name} must be one of ${MEMORY_TIERS.join(", ")} MB (got ${n})`);
  return n;
}

function queuePrefix(raw) {
  const prefix = String(raw);
  if (!QUEUE_PREFIX.test(prefix)) {
    throw new Error(`param queuePrefix must be 1-41 lowercase letters, digits or '-', starting with a letter or digit (got "${prefix.slice(0, 50)}")`);
  }
  return prefix;
}

function workerTriggers(rawPrefix, workerQueues) {
  const prefix = queuePrefix(rawPrefix);
  const count = integer("workerQueues", workerQueues, 1, MAX_WORKER_QUEUES);
  return Array.from({ length: count }, (_, i) => {
    const name = `${prefix}-worker-${i}`;
    return { sqs: { name, queue: name } };
  });
}

function sizing(role, memoryMb, timeoutSeconds, maxScale, marginSeconds) {
  const timeout = integer(`${role}TimeoutSeconds`, timeoutSeconds, MIN_TIMEOUT, MAX_TIMEOUT);
  if (marginSeconds >= timeout) throw new Error(`param deadlineMarginSeconds (${marginSeconds}) must be below ${role}TimeoutSeconds (${timeout})`);
  return {
    memoryLimit: memory(`${role}MemoryMb`, memoryMb),
    timeout: `${timeout}s`,
    timeoutSeconds: String(timeout),
    maxScale: integer(`${role}MaxScale`, maxScale, 1, MAX_SCALE),
  };
}

async function resolve({ resolveVariable }) {
  const p = (name) => resolveVariable(`param:${name}`);
  const margin = integer("deadlineMarginSeconds", await p("deadlineMarginSeconds"), 0, 1800);
  const prefix = queuePrefix(await p("queuePrefix"));
  return {
    controlQueue: `${prefix}-control`,
    deadlineMarginSeconds: String(margin),
    workerTriggers: workerTriggers(prefix, await p("workerQueues")),
    worker: sizing("worker", await p("workerMemoryMb"), await p("workerTimeoutSeconds"), await p("workerMaxScale"), margin),
    coordinator: sizing("coordinator", await p("coordinatorMemoryMb"), await p("coordinatorTimeoutSeconds"), await p("coordinatorMaxScale"), margin),
  };
}

module.exports = resolve;
module.exports.workerTriggers = workerTriggers;
module.exports.MEMORY_TIERS = MEMORY_TIERS;
