// Builds the one-file /voicewire.js the server serves to pages without a build step, from the
// package's modules (esbuild, ESM, not minified so it stays readable).
//
//   node js/scripts/bundle.mjs           write src/voicewire/web/voicewire.js
//   node js/scripts/bundle.mjs --check   fail when the committed file is not what the modules build
//
// The built file is committed: the Python package serves it as a static file, so `pip install`
// and `make run` need no Node; `make test` runs --check so it never drifts from the modules.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const entry = fileURLToPath(new URL("../src/index.js", import.meta.url));
const out = fileURLToPath(new URL("../../../src/voicewire/web/voicewire.js", import.meta.url));
const banner = `// voicewire.js — the browser client of voicewire.v1, in one file for pages without a build
// step: import { VoicewireClient } from "/voicewire.js". BUILT from clients/js/src (edit those
// modules, then run \`make js\`); the same code is the npm package @voicewire/client.`;

const result = await build({
  entryPoints: [entry],
  absWorkingDir: fileURLToPath(new URL("..", import.meta.url)), // same comments from any cwd
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  write: false,
  legalComments: "none",
  banner: { js: banner },
});
const code = result.outputFiles[0].text;
if (process.argv.includes("--check")) {
  let current = "";
  try {
    current = readFileSync(out, "utf8");
  } catch {
    // missing: stale
  }
  if (current !== code) {
    console.error("src/voicewire/web/voicewire.js is not built from clients/js/src: run `make js`");
    process.exit(1);
  }
} else {
  writeFileSync(out, code);
}
