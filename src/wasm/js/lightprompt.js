// lightprompt for browsers, bundlers (Vite, webpack, esbuild), module workers and CDNs: an
// ES module with no bare imports. The wasm is fetched from next to this file on the first
// `LightPrompt.open()` or `init()`; `init(source)` loads it from elsewhere instead.
import initWasm, * as glue from "./glue_web.js";
import { bind } from "./core.js";

const api = bind(glue, (source) =>
  // Written out literally so that bundlers see the asset and emit it.
  initWasm({ module_or_path: source ?? new URL("./lightprompt_bg.wasm", import.meta.url) }),
);

export const { init, LightPrompt, LightPromptError, isLightPromptError, calculateReward, supportedModels, version } = api;
export default init;
