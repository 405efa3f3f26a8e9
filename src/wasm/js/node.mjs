// lightprompt for Node as an ES module: the wasm is read from the package on the first
// `LightPrompt.open()` or `init()` (synchronously; no fetch). `init(source)` takes bytes or a
// compiled module instead. IndexedDB is missing in Node, so tuners live in memory.
import { readFileSync } from "node:fs";
import initWasm, * as glue from "./glue_web.js";
import { bind } from "./core.js";

const api = bind(glue, (source) => {
  if (source === undefined) {
    glue.initSync({ module: readFileSync(new URL("./lightprompt_bg.wasm", import.meta.url)) });
    return undefined;
  }
  return initWasm({ module_or_path: source });
});

export const { init, LightPrompt, LightPromptError, isLightPromptError, calculateReward, supportedModels, version } = api;
export default init;
