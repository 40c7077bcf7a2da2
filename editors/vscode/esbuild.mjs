// Bundles the extension (dist/extension.js) and, with --tests, the unit tests (out/test/).
import * as esbuild from "esbuild";
import { readdirSync } from "node:fs";

const production = process.argv.includes("--production");
const watch = process.argv.includes("--watch");
const tests = process.argv.includes("--tests");

const common = { bundle: true, platform: "node", target: "node20", format: "cjs", logLevel: "warning" };

const options = tests
  ? {
      ...common,
      entryPoints: readdirSync("test/unit")
        .filter((f) => f.endsWith(".test.ts"))
        .map((f) => `test/unit/${f}`),
      outdir: "out/test",
      // The unit tests cover the modules that never import vscode; make that a build error.
      external: [],
    }
  : {
      ...common,
      entryPoints: ["src/extension.ts"],
      outfile: "dist/extension.js",
      external: ["vscode"],
      minify: production,
      sourcemap: !production,
    };

if (watch) {
  const context = await esbuild.context(options);
  await context.watch();
} else {
  await esbuild.build(options);
}
