// Local Serverless plugin: builds the deployment zip from `package.patterns`
// without walking the whole project.
//
// Why: the framework's packager globs every file under the service directory
// with symlinks followed, then filters by the patterns: every file of
// node_modules is visited for a zip that holds two bundles (tens of seconds,
// minutes when a symlink loops). Here only the patterns' own paths are globbed, symlinks are not followed, and the framework's own
// zipFiles writes .serverless/<service>.zip, the file the Scaleway plugin
// uploads. Setting package.artifact makes the framework skip its packager.
//
// Supported patterns: a leading "!**", then files or globs to include (and
// optional "!" exclusions after them), applied in order, last match wins, like
// the framework does.
"use strict";

const path = require("path");
const fs = require("fs");

class PackageBundles {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      "before:package:createDeploymentArtifacts": () => this.packageBundles(),
    };
  }

  async packageBundles() {
    const { service } = this.serverless;
    const serviceDir = this.serverless.serviceDir;
    const patterns = (service.package && service.package.patterns) || [];
    if (patterns[0] !== "!**") {
      throw new Error('package.patterns must start with "!**" (ship only what is listed)');
    }
    const packager = this.serverless.pluginManager.plugins.find(
      (p) => typeof p.zipFiles === "function" && typeof p.resolveFilePathsFromPatterns === "function",
    );
    if (!packager) throw new Error("the framework's Package plugin was not found");

    const globby = requireFromFramework(this.serverless, "globby");
    const micromatch = requireFromFramework(this.serverless, "micromatch");
    const includes = patterns.slice(1).filter((p) => !p.startsWith("!"));
    const candidates = await globby(includes, { cwd: serviceDir, dot: true, onlyFiles: true, followSymbolicLinks: false });
    const state = new Map(candidates.map((f) => [f, false]));
    for (const p of patterns.slice(1)) {
      const exclude = p.startsWith("!");
      for (const f of micromatch(candidates, [exclude ? p.slice(1) : p], { dot: true })) state.set(f, !exclude);
    }
    const files = [...state].filter(([, keep]) => keep).map(([f]) => f).sort();

    // A literal path listed in the patterns must exist: a missing bundle means `npm run build` was not run.
    const missing = includes.filter((p) => !/[*?[\]{}]/.test(p) && !fs.existsSync(path.join(serviceDir, p)));
    if (missing.length > 0) {
      throw new Error(`missing ${missing.join(", ")}: run \`npm run build\` first`);
    }

    const artifact = await packager.zipFiles(files, `${service.service}.zip`);
    service.package.artifact = path.relative(serviceDir, artifact);
    this.serverless.cli.log(`Packaged ${files.length} files into ${service.package.artifact}: ${files.join(", ")}`);
  }
}

/** The framework's own dependencies (globby, micromatch), resolved from where the framework is installed. */
function requireFromFramework(serverless, name) {
  const frameworkDir = path.dirname(require.resolve("serverless/package.json", { paths: [serverless.serviceDir, __dirname] }));
  return require(require.resolve(name, { paths: [frameworkDir] }));
}

module.exports = PackageBundles;
