import { defineConfig } from "vite";

export default defineConfig({
  // Only for workers with top-level await: Vite's default worker format, "iife", rejects it.
  worker: { format: "es" },
  // Vite 7 and older, dev server only: serve lightprompt as it is, so its wasm URL resolves.
  optimizeDeps: { exclude: ["lightprompt"] },
});
