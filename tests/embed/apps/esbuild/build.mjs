import * as esbuild from "esbuild";
import { copyFileSync } from "node:fs";
import { createRequire } from "node:module";

await esbuild.build({ entryPoints: ["src/main.js"], bundle: true, format: "esm", outdir: "dist" });
// esbuild leaves `new URL("./lightprompt_bg.wasm", import.meta.url)` alone: put the wasm
// next to the bundle, where that URL points.
copyFileSync(createRequire(import.meta.url).resolve("lightprompt/lightprompt_bg.wasm"), "dist/lightprompt_bg.wasm");
