import { LightPrompt } from "lightprompt";

// The first open() loads the wasm; the tuner keeps its data in IndexedDB ("lightprompt").
const lp = await LightPrompt.open();
const r = await lp.optimize({ prompt: "a fox in the snow", category: "image", model: "sdxl" });
const { totalSpans, storage } = await lp.trainingStatus();
document.querySelector("#out").textContent = `${r.optimizedPrompt} (${totalSpans} in ${storage})`;
