// lightprompt for Node as CommonJS (`require("lightprompt")`). wasm-bindgen's Node glue
// instantiates the package's wasm when it is required; `init()` is there for code shared
// with the browser and resolves at once.
"use strict";
const glue = require("./glue_node.cjs");
const { bind } = require("./core.cjs");

const api = bind(glue, () => undefined);

// `default` plus the __esModule mark is what TypeScript's and bundlers' CommonJS interop
// read for `import init from "lightprompt"` (the .d.cts declares that default export).
Object.defineProperty(exports, "__esModule", { value: true });
Object.assign(exports, {
  init: api.init,
  default: api.init,
  LightPrompt: api.LightPrompt,
  LightPromptError: api.LightPromptError,
  isLightPromptError: api.isLightPromptError,
  calculateReward: api.calculateReward,
  supportedModels: api.supportedModels,
  version: api.version,
});
