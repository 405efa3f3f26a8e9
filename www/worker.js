// The engine's home: a module Web Worker that loads the WebAssembly build once, opens one
// LightPrompt on IndexedDB and answers the page's calls.
//
// Protocol: the page posts {id, method, args}; the worker answers {id, ok: true, value} or
// {id, ok: false, error: {message, code, field}}. Errors are flattened to plain objects
// because structured cloning keeps only an Error's name and message. A long call posted with
// `progress: true` also gets {id, progress: [done, total]} messages, and {cancel: id} from
// the page aborts it (functions and AbortSignals cannot cross postMessage).

import init, { LightPrompt, calculateReward, supportedModels, version } from "./pkg/lightprompt.js";

let engine = null;

const ready = (async () => {
  try {
    await init();
  } catch (error) {
    throw Object.assign(new Error(`could not load the engine: ${error?.message ?? error}`), { code: "Unavailable", field: null });
  }
  engine = await LightPrompt.open();
  return engine;
})();
// Keep the rejection observed; every call reports it through `await ready`.
ready.catch(() => {});

/** The latest reward of each span, newest first per span. */
async function latestRewards(spans) {
  const out = {};
  await Promise.all(
    spans.map(async (span) => {
      const rewards = await engine.rewards({ spanId: span.spanId, limit: 1 });
      if (rewards.length > 0) out[span.spanId] = rewards[0];
    }),
  );
  return out;
}

/** Methods the page may call. Every one runs after the engine opened. */
const methods = {
  hello: () => ({ version: version(), catalog: supportedModels(), storage: engine.storage }),
  optimize: (request) => engine.optimize(request),
  optimizeBatch: (requests, options) => engine.optimizeBatch(requests, options),
  feedback: (request) => engine.feedback(request),
  trainingStatus: () => engine.trainingStatus(),
  train: (options) => engine.train(options),
  learnedOptimizations: (category, model) => engine.learnedOptimizations(category, model ?? null),
  evaluate: (options) => engine.evaluate(options),
  spans: (query) => engine.spans(query ?? {}),
  rewards: (query) => engine.rewards(query ?? {}),
  exportData: () => engine.exportData(),
  importData: (document, options) => engine.importData(document, options ?? {}),
  exportOtlp: () => engine.exportOtlp(),
  /** One send at a time (the page disables its button): progress goes out as events. */
  sendToAgentLightning: (storeUrl) =>
    engine.sendToAgentLightning({ storeUrl, onProgress: (progress) => self.postMessage({ event: "agl-progress", progress }) }),
  clear: () => engine.clear(),
  calculateReward: (signals) => calculateReward(signals),
  /** The export as a file: streamed a page of spans at a time into a Blob (which the
   * browser keeps on disk when large), so no history is too long to export. */
  exportFile: () => new Response(engine.exportStream()).blob(),
  exportOtlpJson: async () => JSON.stringify(await engine.exportOtlp(), null, 2),
  /** One page of history joined with each span's latest reward; asks for one more span to know whether a next page exists. */
  history: async ({ category, limit = 10, offset = 0 } = {}) => {
    const query = { limit: limit + 1, offset };
    if (category) query.category = category;
    const spans = await engine.spans(query);
    const page = spans.slice(0, limit);
    return { spans: page, hasMore: spans.length > limit, rewards: await latestRewards(page) };
  },
};

/** The long calls, with the position of their options argument. */
const LONG_CALLS = { train: 0, evaluate: 0, optimizeBatch: 1, importData: 1 };
/** AbortControllers of the long calls in flight, by call id. */
const running = new Map();

/** `args` with onProgress and signal added to the options of long call `id`. */
function withProgress(id, method, args) {
  const at = LONG_CALLS[method];
  const controller = new AbortController();
  running.set(id, controller);
  const out = args.slice();
  out[at] = { ...(out[at] ?? {}), signal: controller.signal, onProgress: (done, total) => self.postMessage({ id, progress: [done, total] }) };
  return out;
}

function flatten(error) {
  if (error && typeof error === "object") {
    return {
      message: String(error.message ?? error),
      code: typeof error.code === "string" ? error.code : "Internal",
      field: typeof error.field === "string" ? error.field : null,
    };
  }
  return { message: String(error), code: "Internal", field: null };
}

// Another tab upgraded the database and this connection closed: tell the page.
self.addEventListener("lightprompt-versionchange", () => self.postMessage({ event: "versionchange" }));

self.addEventListener("message", async (event) => {
  const { id, method, args, progress, cancel } = event.data ?? {};
  if (cancel !== undefined) {
    running.get(cancel)?.abort(new Error("cancelled on the page"));
    return;
  }
  try {
    if (typeof method !== "string" || !Object.hasOwn(methods, method)) {
      throw Object.assign(new Error(`unknown method: ${String(method)}`), { code: "InvalidInput", field: "method" });
    }
    await ready;
    const list = Array.isArray(args) ? args : [];
    const long = progress === true && Object.hasOwn(LONG_CALLS, method);
    const value = await methods[method](...(long ? withProgress(id, method, list) : list));
    self.postMessage({ id, ok: true, value });
  } catch (error) {
    self.postMessage({ id, ok: false, error: flatten(error) });
  } finally {
    running.delete(id);
  }
});
