import { LightPrompt } from "lightprompt";

// IndexedDB works in workers too: the page stays responsive while the tuner runs here.
const ready = LightPrompt.open();
self.onmessage = async ({ data }) => {
  const lp = await ready;
  self.postMessage(await lp.optimize(data));
};
