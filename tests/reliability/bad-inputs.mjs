// The bad-input matrix, shared by the Node run (tests/js) and the Chromium run
// (tests/reliability): each case calls the API wrongly and names the error code (and field)
// it must reject with. After every case the store's counts must be unchanged.
const LONG = "word ".repeat(2001);
const sid = "0123456789abcdef";

/** @param {any} ctx  { lp, spanId, taskId, lib } */
export const cases = [
  ["optimize: no argument", (c) => c.lp.optimize(), "InvalidInput", "request"],
  ["optimize: null", (c) => c.lp.optimize(null), "InvalidInput", "request"],
  ["optimize: a string", (c) => c.lp.optimize("a fox"), "InvalidInput", "request"],
  ["optimize: an array", (c) => c.lp.optimize(["a fox"]), "InvalidInput", "request"],
  ["optimize: missing prompt", (c) => c.lp.optimize({ category: "image" }), "InvalidInput", "prompt"],
  ["optimize: missing category", (c) => c.lp.optimize({ prompt: "a fox" }), "InvalidInput", "category"],
  ["optimize: extra field", (c) => c.lp.optimize({ prompt: "a fox", category: "image", temperature: 1 }), "InvalidInput", "temperature"],
  ["optimize: prompt is a number", (c) => c.lp.optimize({ prompt: 5, category: "image" }), "InvalidInput", "prompt", /expected a string, got a number/],
  ["optimize: prompt is an object", (c) => c.lp.optimize({ prompt: { text: "a" }, category: "image" }), "InvalidInput", "prompt", /expected a string, got an object/],
  ["optimize: empty prompt", (c) => c.lp.optimize({ prompt: "", category: "image" }), "InvalidInput", "prompt"],
  ["optimize: whitespace prompt", (c) => c.lp.optimize({ prompt: " \n\t ", category: "image" }), "InvalidInput", "prompt"],
  ["optimize: huge prompt", (c) => c.lp.optimize({ prompt: LONG, category: "image" }), "InvalidInput", "prompt"],
  ["optimize: control character", (c) => c.lp.optimize({ prompt: "a\u0000fox", category: "image" }), "InvalidInput", "prompt"],
  ["optimize: escape character", (c) => c.lp.optimize({ prompt: "a\u001bfox", category: "image" }), "InvalidInput", "prompt"],
  ["optimize: lone high surrogate", (c) => c.lp.optimize({ prompt: "a \ud83d fox", category: "image" }), "InvalidInput", "prompt"],
  ["optimize: lone low surrogate", (c) => c.lp.optimize({ prompt: "a \udc00 fox", category: "image" }), "InvalidInput", "prompt"],
  ["optimize: unknown category", (c) => c.lp.optimize({ prompt: "a fox", category: "audio" }), "InvalidInput", "category"],
  ["optimize: category of the wrong type", (c) => c.lp.optimize({ prompt: "a fox", category: 1 }), "InvalidInput", "category"],
  ["optimize: a text model for an image", (c) => c.lp.optimize({ prompt: "a fox", category: "image", model: "claude" }), "InvalidInput", "model"],
  ["optimize: options not an object", (c) => c.lp.optimize({ prompt: "a fox", category: "image", options: 3 }), "InvalidInput", "options"],
  ["optimize: unknown option", (c) => c.lp.optimize({ prompt: "a fox", category: "image", model: "midjourney", options: { wings: 2 } }), "InvalidInput", "options.wings"],
  ["optimize: bad aspect ratio", (c) => c.lp.optimize({ prompt: "a fox", category: "image", model: "sdxl", options: { aspectRatio: "wide" } }), "InvalidInput", "options.aspectRatio"],
  ["optimize: stylize out of range", (c) => c.lp.optimize({ prompt: "a fox", category: "image", model: "midjourney", options: { stylize: 99999 } }), "InvalidInput", "options.stylize"],
  ["optimize: stylize NaN", (c) => c.lp.optimize({ prompt: "a fox", category: "image", model: "midjourney", options: { stylize: NaN } }), "InvalidInput", "options.stylize"],
  ["optimize: negative terms on Runway", (c) => c.lp.optimize({ prompt: "a fox", category: "video", model: "runway", options: { negative: ["blur"] } }), "InvalidInput", "options.negative"],
  ["optimize: bad task id", (c) => c.lp.optimize({ prompt: "a fox", category: "image", taskId: "xyz" }), "InvalidInput", "taskId"],
  ["batch: not an array", (c) => c.lp.optimizeBatch({ prompt: "a fox", category: "image" }), "InvalidInput", "requests"],
  ["batch: one bad request among good ones", (c) => c.lp.optimizeBatch([{ prompt: "a fox", category: "image" }, { prompt: "", category: "image" }]), "InvalidInput", "requests[1].prompt"],
  ["batch: a wrong-typed option in the fourth", (c) => c.lp.optimizeBatch([0, 1, 2].map(() => ({ prompt: "a", category: "image" })).concat([{ prompt: "b", category: "image", model: "midjourney", options: { stylize: { much: true } } }])), "InvalidInput", "requests[3].options.stylize"],
  ["batch: a number among the requests", (c) => c.lp.optimizeBatch([{ prompt: "a", category: "image" }, 7]), "InvalidInput", "requests[1]"],
  ["batch: onProgress not a function", (c) => c.lp.optimizeBatch([{ prompt: "a", category: "image" }], { onProgress: 5 }), "InvalidInput", "options.onProgress"],
  ["batch: signal not a signal", (c) => c.lp.optimizeBatch([{ prompt: "a", category: "image" }], { signal: {} }), "InvalidInput", "options.signal"],
  ["batch: unknown option", (c) => c.lp.optimizeBatch([{ prompt: "a", category: "image" }], { chunk: 5 }), "InvalidInput", "options.chunk"],
  ["batch: already aborted", (c) => c.lp.optimizeBatch([{ prompt: "a", category: "image" }], { signal: AbortSignal.abort() }), "Aborted"],
  ["batch: aborted on the way", (c) => { const a = new AbortController(); return c.lp.optimizeBatch(Array.from({ length: 300 }, (_, i) => ({ prompt: `a ship ${i}`, category: "image" })), { signal: a.signal, onProgress: (done) => done > 0 && a.abort() }); }, "Aborted"],
  ["batch: onProgress throws", (c) => c.lp.optimizeBatch([{ prompt: "a", category: "image" }], { onProgress: () => { throw new Error("no"); } }), "Callback"],
  ["train: already aborted", (c) => c.lp.train({ signal: AbortSignal.abort() }), "Aborted"],
  ["evaluate: options not an object", (c) => c.lp.evaluate(5), "InvalidInput", "options"],
  ["batch: a lone surrogate in the third", (c) => c.lp.optimizeBatch([{ prompt: "a", category: "image" }, { prompt: "b", category: "image" }, { prompt: "\ud800", category: "image" }]), "InvalidInput", "requests[2].prompt"],
  ["feedback: no argument", (c) => c.lp.feedback(), "InvalidInput", "request"],
  ["feedback: missing spanId", (c) => c.lp.feedback({ reward: 0.5 }), "InvalidInput", "spanId"],
  ["feedback: malformed spanId", (c) => c.lp.feedback({ spanId: "nothex", reward: 0.5 }), "InvalidInput", "spanId"],
  ["feedback: unknown span", (c) => c.lp.feedback({ spanId: sid, reward: 0.5 }), "NotFound", "spanId"],
  ["feedback: foreign task id", (c) => c.lp.feedback({ spanId: c.spanId, taskId: "f".repeat(32), reward: 0.5 }), "InvalidInput", "taskId"],
  ["feedback: NaN reward", (c) => c.lp.feedback({ spanId: c.spanId, reward: NaN }), "InvalidInput", "reward"],
  ["feedback: Infinity reward", (c) => c.lp.feedback({ spanId: c.spanId, reward: Infinity }), "InvalidInput", "reward"],
  ["feedback: reward above 1", (c) => c.lp.feedback({ spanId: c.spanId, reward: 1.5 }), "InvalidInput", "reward"],
  ["feedback: reward below -1", (c) => c.lp.feedback({ spanId: c.spanId, reward: -2 }), "InvalidInput", "reward"],
  ["feedback: reward as text", (c) => c.lp.feedback({ spanId: c.spanId, reward: "0.5" }), "InvalidInput", "reward", /expected a number, got a string/],
  ["feedback: rating 0", (c) => c.lp.feedback({ spanId: c.spanId, metadata: { rating: 0 } }), "InvalidInput", "metadata.rating"],
  ["feedback: rating 6", (c) => c.lp.feedback({ spanId: c.spanId, metadata: { rating: 6 } }), "InvalidInput", "metadata.rating"],
  ["feedback: rating NaN", (c) => c.lp.feedback({ spanId: c.spanId, metadata: { rating: NaN } }), "InvalidInput", "metadata.rating"],
  ["feedback: satisfied as text", (c) => c.lp.feedback({ spanId: c.spanId, metadata: { satisfied: "yes" } }), "InvalidInput", "metadata.satisfied"],
  ["feedback: huge comment", (c) => c.lp.feedback({ spanId: c.spanId, feedbackText: "x".repeat(10001) }), "InvalidInput", "feedbackText"],
  ["feedback: comment with a lone surrogate", (c) => c.lp.feedback({ spanId: c.spanId, feedbackText: "ok \udfff" }), "InvalidInput", "feedbackText"],
  ["feedback: extra field", (c) => c.lp.feedback({ spanId: c.spanId, reward: 0.1, stars: 5 }), "InvalidInput", "stars"],
  ["spans: negative limit", (c) => c.lp.spans({ limit: -1 }), "InvalidInput", "limit"],
  ["spans: fractional offset", (c) => c.lp.spans({ offset: 1.5 }), "InvalidInput", "offset"],
  ["spans: unknown category", (c) => c.lp.spans({ category: "smell" }), "InvalidInput", "category"],
  ["rewards: malformed span id", (c) => c.lp.rewards({ spanId: "zz" }), "InvalidInput", "spanId"],
  ["learnedOptimizations: unknown category", (c) => c.lp.learnedOptimizations("smell", null), "InvalidInput", "category"],
  ["importData: not JSON", (c) => c.lp.importData("{not json"), "InvalidInput", "document"],
  ["importData: a number", (c) => c.lp.importData(42), "InvalidInput", "document"],
  ["importData: wrong format", (c) => c.lp.importData({ format: "other", version: 1, exportedAt: 0, spans: [], rewards: [], policies: [] }), "InvalidInput", "format"],
  ["importData: future version", (c) => c.lp.importData({ format: "lightprompt", version: 9, exportedAt: 0, spans: [], rewards: [], policies: [] }), "VersionError"],
  ["importData: spans not an array", (c) => c.lp.importData({ format: "lightprompt", version: 1, exportedAt: 0, spans: 5, rewards: [], policies: [] }), "InvalidInput", "spans"],
  ["importData: reward to a missing span", (c) => c.lp.importData({ format: "lightprompt", version: 1, exportedAt: 0, spans: [], rewards: [{ rewardId: sid, spanId: "00000000000000aa", taskId: "0".repeat(32), category: "image", model: "sdxl", value: 0.1, source: "explicit", qualityScore: 50, metadata: {}, createdAt: 1 }], policies: [] }), "InvalidInput", "rewards[0].spanId"],
  ["importData: a wrong-typed field deep inside", async (c) => { const doc = await c.lp.exportData(); doc.spans[0].qualityScore = "high"; return c.lp.importData(doc, { replace: true }); }, "InvalidInput", "spans[0].qualityScore"],
  ["importData: replace not a boolean", async (c) => c.lp.importData(await c.lp.exportData(), { replace: "yes" }), "InvalidInput", "options.replace"],
  ["importData: already aborted", async (c) => c.lp.importData(await c.lp.exportData(), { replace: true, signal: AbortSignal.abort() }), "Aborted"],
  ["open: seed of the wrong type", (c) => c.lib.LightPrompt.open({ inMemory: true, seed: "x" }), "InvalidInput", "seed"],
  ["open: unknown option", (c) => c.lib.LightPrompt.open({ inMemory: true, colour: "red" }), "InvalidInput", "colour"],
  ["open: exploration NaN", (c) => c.lib.LightPrompt.open({ inMemory: true, exploration: NaN }), "InvalidInput", "exploration"],
  ["open: half-life 0", (c) => c.lib.LightPrompt.open({ inMemory: true, halfLifeDays: 0 }), "InvalidInput", "halfLifeDays"],
  ["setRewardFunction: not a function", async (c) => c.lp.setRewardFunction(42), "InvalidInput", "rewardFunction"],
  ["calculateReward: quality 101", async (c) => c.lib.calculateReward({ qualityScore: 101 }), "InvalidInput", "qualityScore"],
  ["calculateReward: rating 9", async (c) => c.lib.calculateReward({ qualityScore: 50, rating: 9 }), "InvalidInput", "rating"],
];

/** Runs every case; returns a list of failures (empty when all pass). */
export async function runMatrix(lib, lp) {
  const first = await lp.optimize({ prompt: "a red fox in the snow", category: "image", model: "sdxl" });
  const ctx = { lib, lp, spanId: first.spanId, taskId: first.taskId };
  const before = await lp.trainingStatus();
  const failures = [];
  for (const [name, call, code, field, message] of cases) {
    let error = null;
    try {
      await call(ctx);
    } catch (e) {
      error = e;
    }
    if (!error) failures.push(`${name}: did not throw`);
    else if (!(error instanceof Error)) failures.push(`${name}: threw a non-Error ${String(error)}`);
    else if (error.code !== code) failures.push(`${name}: code ${error.code}, wanted ${code} (${error.message})`);
    else if (field !== undefined && error.field !== field) failures.push(`${name}: field ${error.field}, wanted ${field} (${error.message})`);
    else if (message !== undefined && !message.test(error.message)) failures.push(`${name}: message "${error.message}" does not match ${message}`);
    else if (lib.LightPromptError && !(error instanceof lib.LightPromptError)) failures.push(`${name}: not a LightPromptError`);
    const now = await lp.trainingStatus();
    if (now.totalSpans !== before.totalSpans || now.totalRewards !== before.totalRewards) failures.push(`${name}: stored something`);
  }
  return { tried: cases.length, failures };
}
