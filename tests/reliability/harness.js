// Loads the web package and exposes it to the Playwright tests.
import init, * as lib from "./pkg/lightprompt.js";
import { runMatrix } from "./bad-inputs.mjs";
window.lib = lib;
window.runMatrix = runMatrix;
window.ready = init().then(() => true);
