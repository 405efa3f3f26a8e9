const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
worker.onmessage = ({ data }) => {
  document.querySelector("#out").textContent = data.optimizedPrompt;
};
worker.postMessage({ prompt: "a fox in the snow", category: "image", model: "sdxl" });
