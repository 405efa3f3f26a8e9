// Writes the hand-made parts of the npm package into the folder given as argv[2], next to
// wasm-bindgen's output (glue_web.js, glue_node.cjs, and the web target's .d.ts given as
// argv[3]): the entries and their shared core (ESM and a CommonJS copy), the public types
// for ESM (.d.ts) and CommonJS (.d.cts), and package.json. Called by build-pkg.sh.
import { readFileSync, writeFileSync, copyFileSync } from "node:fs";
import path from "node:path";

const [out, generatedDts, version] = process.argv.slice(2);
const js = path.join(import.meta.dirname, "..", "src", "wasm", "js");
const fail = (message) => {
  console.error(`pkg-files: ${message}`);
  process.exit(1);
};

for (const f of ["lightprompt.js", "node.mjs", "node.cjs", "core.js"]) copyFileSync(path.join(js, f), path.join(out, f));

// core.cjs: the same code as CommonJS, so `require` needs no ES module.
const core = readFileSync(path.join(js, "core.js"), "utf8");
const exported = [...core.matchAll(/^export (?:class|function) (\w+)/gm)].map((m) => m[1]);
if (exported.length !== 3) fail(`core.js exports ${exported.join(", ")}; expected LightPromptError, isLightPromptError, bind`);
writeFileSync(
  path.join(out, "core.cjs"),
  `"use strict";\n${core.replace(/^export (class|function) /gm, "$1 ")}\nmodule.exports = { ${exported.join(", ")} };\n`,
);

// Public types: wasm-bindgen's declarations of the API, without its loader (typed with DOM
// types, replaced by the entries' init) and the internal exports; with the entries' own.
let dts = readFileSync(generatedDts, "utf8");
const loader = dts.indexOf("export type InitInput");
if (loader < 0) fail("no InitInput in the generated types");
dts = dts.slice(0, loader);
const before = dts.length;
// A declaration with its doc comment: internal ones go.
dts = dts.replace(/(?:\/\*\*(?:[^*]|\*(?!\/))*\*\/\s*)?export function (?:start|__setErrorClass)\([^)]*\): void;\n/g, "");
if (before - dts.length < 20) fail("the internal exports start and __setErrorClass were not found");
// wasm-bindgen types an `Option<JsValue>` argument as required; these are optional.
dts = dts
  .replace(/\((options|query): (LightPromptOptions|ProgressOptions|QueryRequest|OtlpExportOptions)\)/g, "($1?: $2)")
  .replace(/, options: (ImportOptions|ProgressOptions)\)/g, ", options?: $1)")
  .replace("(category: string, model?: string | null)", "(category: Category, model?: string | null)");
// `using` / `await using`: the entry makes both close and free.
if (!dts.includes("[Symbol.dispose](): void;")) fail("no [Symbol.dispose] in the generated class");
dts = dts.replace(
  /(\n(\s*)\[Symbol\.dispose\]\(\): void;)/,
  "\n$2/** Closes the database: `using lp = await LightPrompt.open()` closes it at the end of the block. */$1\n$2/** The same, for `await using`. */\n$2[Symbol.asyncDispose](): Promise<void>;",
);
const header = `// Types of lightprompt ${version}: the same API for browsers, bundlers, workers and Node.
// They need no DOM library; \`Symbol.dispose\` is declared here for libs older than esnext.
declare global {
  interface SymbolConstructor {
    readonly dispose: unique symbol;
    readonly asyncDispose: unique symbol;
  }
}
`;
dts = header + dts.replace(/^\/\* tslint:disable \*\/\n\/\* eslint-disable \*\/\n/, "") + readFileSync(path.join(js, "entry.d.ts"), "utf8");
const code = dts.replace(/\/\*(?:[^*]|\*(?!\/))*\*\//g, "").replace(/\/\/.*$/gm, "");
for (const dom of ["RequestInfo", "BufferSource", "WebAssembly.", "Response", "HTMLElement", "Window"]) {
  if (code.includes(dom)) fail(`the public types mention ${dom}, which Node consumers without the DOM lib lack`);
}
writeFileSync(path.join(out, "lightprompt.d.ts"), dts);
writeFileSync(path.join(out, "lightprompt.d.cts"), dts);

const files = ["bin/lightprompt.mjs", "lightprompt.js", "lightprompt.d.ts", "lightprompt.d.cts", "node.mjs", "node.cjs", "core.js", "core.cjs", "glue_web.js", "glue_node.cjs", "lightprompt_bg.wasm", "README.md", "CHANGELOG.md", "LICENSE"];
const pkg = {
  name: "lightprompt",
  version,
  description: "Offline, in-browser personal prompt tuner: rewrites prompts for image, video and text models and learns from your feedback (Rust + WebAssembly, IndexedDB).",
  license: "MIT",
  type: "module",
  main: "./node.cjs",
  module: "./lightprompt.js",
  browser: "./lightprompt.js",
  types: "./lightprompt.d.ts",
  unpkg: "./lightprompt.js",
  jsdelivr: "./lightprompt.js",
  exports: {
    ".": {
      node: {
        import: { types: "./lightprompt.d.ts", default: "./node.mjs" },
        require: { types: "./lightprompt.d.cts", default: "./node.cjs" },
      },
      types: "./lightprompt.d.ts",
      default: "./lightprompt.js",
    },
    "./lightprompt_bg.wasm": "./lightprompt_bg.wasm",
    "./package.json": "./package.json",
  },
  bin: { lightprompt: "./bin/lightprompt.mjs" },
  files: files.filter((f) => !["README.md", "LICENSE"].includes(f)),
  sideEffects: ["./lightprompt.js", "./node.mjs", "./node.cjs"],
  keywords: ["prompt", "prompt-engineering", "wasm", "indexeddb", "reinforcement-learning", "midjourney", "stable-diffusion"],
};
writeFileSync(path.join(out, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
