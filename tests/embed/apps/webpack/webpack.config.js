import { fileURLToPath } from "node:url";

// webpack 5 turns lightprompt's `new URL("./lightprompt_bg.wasm", import.meta.url)` into an
// asset by itself, and top-level await is on by default (5.83 and later).
export default {
  mode: "production",
  entry: "./src/main.js",
  output: { path: fileURLToPath(new URL("./dist/", import.meta.url)), clean: true },
};
