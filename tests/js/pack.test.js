// The packages as another project gets them: `npm pack` each one, install the tarballs into a
// scratch project, import them at run time and type-check an app against their .d.ts files.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";

const CLIENTS = fileURLToPath(new URL("../../clients/", import.meta.url));
const TSC = join(CLIENTS, "node_modules", ".bin", "tsc");
let scratch;

const npm = (args, cwd) => execFileSync("npm", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

before(() => {
  scratch = mkdtempSync(join(tmpdir(), "voicewire-pack-"));
  const tarballs = join(scratch, "tarballs");
  mkdirSync(tarballs);
  for (const ws of ["@voicewire/client", "@voicewire/react"]) {
    npm(["pack", "--silent", "--workspace", ws, "--pack-destination", tarballs], CLIENTS);
  }
  const files = readdirSync(tarballs);
  const tgz = (prefix) => `file:tarballs/${files.find((f) => f.startsWith(prefix))}`;
  const app = join(scratch, "app");
  mkdirSync(app);
  writeFileSync(
    join(scratch, "package.json"),
    JSON.stringify({
      name: "scratch-app",
      private: true,
      type: "module",
      dependencies: {
        "@voicewire/client": tgz("voicewire-client-"),
        "@voicewire/react": tgz("voicewire-react-"),
        react: "19.3.1",
        "@types/react": "19.3.2",
      },
    }),
  );
  // React comes from the npm cache the workspace install filled.
  npm(["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], scratch);
  writeFileSync(
    join(scratch, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "ESNext",
        moduleResolution: "Bundler",
        lib: ["ES2022", "DOM"],
        strict: true,
        noEmit: true,
        checkJs: true,
        allowJs: true,
        skipLibCheck: false,
      },
      include: ["app/*.ts"],
    }),
  );
});

after(() => rmSync(scratch, { recursive: true, force: true }));

function typeCheck(name, source) {
  writeFileSync(join(scratch, "app", name), source);
  const run = spawnSync(TSC, ["-p", scratch], { encoding: "utf8" });
  rmSync(join(scratch, "app", name));
  return run;
}

test("the installed client package imports in node and decodes a frame", () => {
  const out = execFileSync(
    "node",
    ["--input-type=module", "-e", `
      import { decodeFrame, encodeFrame, RESUMABLE_CLOSE_CODES, VoicewireClient } from "@voicewire/client";
      import { decodeFrame as fromSubpath } from "@voicewire/client/frames";
      const f = decodeFrame(encodeFrame({ seq: 7, turnId: 2 }));
      console.log(JSON.stringify([f.seq, f.turnId, RESUMABLE_CLOSE_CODES.has(1006), typeof VoicewireClient, typeof fromSubpath]));
    `],
    { cwd: scratch, encoding: "utf8" },
  );
  assert.deepEqual(JSON.parse(out), [7, 2, true, "function", "function"]);
});

test("an app type-checks against the installed packages' .d.ts files", () => {
  const run = typeCheck(
    "ok.ts",
    `import { VoicewireClient, type WordEvent } from "@voicewire/client";
import { useVoicewire, type VoicewireMessage } from "@voicewire/react";
const client = new VoicewireClient("ws://localhost:8000/ws", { codec: "opus", voice: true });
client.on("word", (w: WordEvent) => console.log(w.text, w.start16, w.time));
client.on("turnEnd", (e) => console.log(e.status.toUpperCase()));
const id: string | null = client.send("Hello");
export function App(): string {
  const vw = useVoicewire("ws://localhost:8000/ws", { voice: true });
  const last: VoicewireMessage | undefined = vw.messages.at(-1);
  vw.send("hi");
  return vw.status + (last?.word?.text ?? "") + String(vw.speaking) + String(id);
}
`,
  );
  assert.equal(run.status, 0, run.stdout + run.stderr);
});

test("the .d.ts files are real types: a misuse is a type error", () => {
  const run = typeCheck(
    "bad.ts",
    `import { VoicewireClient } from "@voicewire/client";
const client = new VoicewireClient("ws://x/ws", { codec: "flac" });
client.on("word", (w) => w.nope);
`,
  );
  assert.notEqual(run.status, 0);
  assert.match(run.stdout, /flac/);
  assert.match(run.stdout, /nope/);
});
