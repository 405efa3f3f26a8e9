// The npm package as a user gets it: packed with `npm pack`, installed into a fresh folder,
// loaded in Node (where IndexedDB is missing, so the memory store is used).
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "../..");
const consumer = path.join(root, "build", "consumer");
let lp;

before(() => {
  rmSync(consumer, { recursive: true, force: true });
  mkdirSync(consumer, { recursive: true });
  const tgz = execFileSync("npm", ["pack", "--silent", "--pack-destination", consumer, path.join(root, "pkg")], { encoding: "utf8" }).trim().split("\n").pop();
  writeFileSync(path.join(consumer, "package.json"), JSON.stringify({ name: "consumer", private: true }));
  execFileSync("npm", ["install", "--silent", "--no-audit", "--no-fund", path.join(consumer, tgz)], { cwd: consumer });
  lp = createRequire(path.join(consumer, "index.js"))("lightprompt");
});

async function rejects(promise, code, field) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof Error, "an Error");
    assert.equal(e.code, code, e.message);
    if (field !== undefined) assert.equal(e.field, field, e.message);
    return e;
  }
  assert.fail(`expected ${code}`);
}

test("opens in memory where IndexedDB is missing and optimizes", async () => {
  const t = await lp.LightPrompt.open({ seed: 1 });
  assert.equal(t.storage, "memory");
  const r = await t.optimize({ prompt: "a beautiful sunset", category: "image", model: "Midjourney v7" });
  assert.equal(r.model, "midjourney-v7");
  assert.ok(r.optimizedPrompt.startsWith("a beautiful sunset"));
  assert.match(r.optimizedPrompt, /--v 7$/);
  assert.ok(r.qualityScore >= r.originalQualityScore);
  assert.equal(r.spanId.length, 16);
  const status = await t.trainingStatus();
  assert.equal(status.storage, "memory");
  assert.equal(status.totalSpans, 1);
  assert.equal(status.targetReward, 0.7);
});

test("feedback with the seed's snake_case names and the seed formula", async () => {
  const t = await lp.LightPrompt.open({ seed: 2 });
  const r = await t.optimize({ prompt: "explain recursion to a beginner", category: "text", model: "claude" });
  const fb = await t.feedback({ span_id: r.spanId, task_id: r.taskId, feedback_text: "great", metadata: { rating: 5, satisfied: true, used_result: true } });
  assert.equal(fb.source, "computed");
  assert.ok(fb.reward > 0.5 && fb.reward <= 1);
  assert.equal(lp.calculateReward({ qualityScore: 85, rating: 5, satisfied: true, usedResult: true }), 1);
  assert.ok(Math.abs(lp.calculateReward({ quality_score: 85, rating: 5 }) - 0.88) < 1e-12);
  const rewards = await t.rewards({ spanId: r.spanId });
  assert.equal(rewards.length, 1);
  assert.equal(rewards[0].feedbackText, "great");
});

test("bad input rejects with a code and a field, and stores nothing", async () => {
  const t = await lp.LightPrompt.open({ seed: 3 });
  await rejects(t.optimize({ prompt: "", category: "image" }), "InvalidInput", "prompt");
  await rejects(t.optimize({ prompt: "a fox", category: "sound" }), "InvalidInput", "category");
  await rejects(t.optimize({ promt: "a fox", category: "image" }), "InvalidInput", "promt");
  await rejects(t.optimize({ prompt: "a fox", category: "image", colour: "red" }), "InvalidInput", "colour");
  await rejects(t.optimize({ prompt: "a \ud800 fox", category: "image" }), "InvalidInput", "prompt");
  await rejects(t.optimize({ prompt: 42, category: "image" }), "InvalidInput");
  await rejects(t.optimizeBatch([{ prompt: "ok", category: "image" }, { prompt: " ", category: "image" }]), "InvalidInput", "requests[1].prompt");
  await rejects(t.feedback({ spanId: "0000000000000000", reward: 0.5 }), "NotFound", "spanId");
  const r = await t.optimize({ prompt: "a fox", category: "image" });
  await rejects(t.feedback({ spanId: r.spanId, reward: NaN }), "InvalidInput", "reward");
  await rejects(t.feedback({ spanId: r.spanId, reward: 2 }), "InvalidInput", "reward");
  await rejects(lp.LightPrompt.open({ exploration: -1 }), "InvalidInput", "exploration");
  const s = await t.trainingStatus();
  assert.equal(s.totalSpans, 1);
  assert.equal(s.totalRewards, 0);
});

test("a custom reward function is used; a throw stores nothing", async () => {
  const t = await lp.LightPrompt.open({ seed: 4 });
  const r = await t.optimize({ prompt: "a red fox in the snow", category: "image", model: "sdxl" });
  t.setRewardFunction((input) => (input.rating - 3) / 2 + (input.span.model === "sdxl" ? 0.1 : 0));
  const fb = await t.feedback({ spanId: r.spanId, metadata: { rating: 4 } });
  assert.equal(fb.source, "custom");
  assert.ok(Math.abs(fb.reward - 0.6) < 1e-12);
  t.setRewardFunction(() => { throw new Error("nope"); });
  const e = await rejects(t.feedback({ spanId: r.spanId, metadata: { rating: 4 } }), "Callback");
  assert.match(e.message, /nope/);
  t.setRewardFunction(() => Infinity);
  await rejects(t.feedback({ spanId: r.spanId }), "Callback");
  t.setRewardFunction(null);
  assert.equal((await t.trainingStatus()).totalRewards, 1);
});

test("export, clear, import round trip; OTLP export; catalog", async () => {
  const t = await lp.LightPrompt.open({ seed: 5 });
  for (const p of ["a lighthouse", "a castle at dusk", "portrait of a violinist"]) {
    const r = await t.optimize({ prompt: p, category: "image", model: "flux" });
    await t.feedback({ spanId: r.spanId, metadata: { rating: 4 } });
  }
  await t.train();
  const doc = await t.exportData();
  assert.equal(doc.format, "lightprompt");
  const text = JSON.stringify(doc);
  await t.clear();
  assert.equal((await t.trainingStatus()).totalSpans, 0);
  await rejects(t.importData("{not json"), "InvalidInput", "document");
  const report = await t.importData(text);
  assert.equal(report.spansAdded, 3);
  const again = await t.exportData();
  assert.deepEqual(again.spans, doc.spans);
  assert.deepEqual(again.rewards, doc.rewards);
  const otlp = await t.exportOtlp();
  const spans = otlp.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
  assert.equal(spans.filter((s) => s.name === "agentlightning.annotation").length, 3);
  assert.equal(spans.filter((s) => s.name.startsWith("lightprompt.optimize.")).length, 3);
  const catalog = lp.supportedModels();
  const ids = catalog.categories.flatMap((c) => c.models.map((m) => m.id));
  assert.ok(ids.length >= 12 && ids.includes("midjourney-v6") && ids.includes("veo"));
  t.close();
  await rejects(t.optimize({ prompt: "a fox", category: "image" }), "Closed");
});

test("concurrent calls do not trip over each other", async () => {
  const t = await lp.LightPrompt.open({ seed: 6, autoTrainEvery: 3 });
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => t.optimize({ prompt: `a ship number ${i}`, category: "image", model: "sdxl" })));
  await Promise.all([
    ...results.map((r, i) => t.feedback({ spanId: r.spanId, metadata: { rating: 1 + (i % 5) } })),
    t.train(),
    t.trainingStatus(),
    t.evaluate(),
  ]);
  const s = await t.trainingStatus();
  assert.equal(s.totalSpans, 20);
  assert.equal(s.totalRewards, 20);
});

test("the TypeScript types cover the API without any", () => {
  const dts = readFileSync(path.join(consumer, "node_modules/lightprompt/lightprompt.d.ts"), "utf8");
  for (const name of ["open(options?: LightPromptOptions)", "optimize(request: OptimizeRequest): Promise<OptimizeResult>", "interface TrainingStatus", "feedback(request: FeedbackRequest): Promise<FeedbackResult>"]) {
    assert.ok(dts.includes(name) || dts.replace(/\s+/g, " ").includes(name), `${name} missing`);
  }
  // The raw wasm exports (InitOutput) are internal; the public surface comes before them.
  const publicPart = dts.split("export type InitInput")[0];
  const publicLines = publicPart.split("\n").filter((l) => /^\s*(export|[a-zA-Z]+\(|readonly|[a-zA-Z]+\??:)/.test(l));
  const anyLines = publicLines.filter((l) => /\bany\b/.test(l) && !l.includes("InitInput") && !l.includes("__wbg") && !l.includes("memory"));
  assert.deepEqual(anyLines, []);
});

test("the README's quick start runs as written", () => {
  const readme = readFileSync(path.join(root, "README.md"), "utf8");
  const example = readFileSync(path.join(root, "examples/quickstart.mjs"), "utf8");
  assert.ok(readme.includes(example.trim()), "README must show examples/quickstart.mjs verbatim");
  const file = path.join(consumer, "quickstart.mjs");
  writeFileSync(file, example);
  const out = execFileSync("node", [file], { cwd: consumer, encoding: "utf8" });
  assert.match(out, /^a beautiful sunset/m);
  assert.match(out, /reward (\S+) = \1$/m);
  assert.match(out, /1 spans, 1 rewards/);
  assert.match(out, /InvalidInput prompt/);
});

test("a TypeScript consumer type-checks against the package's types", () => {
  const ts = `import init, { LightPrompt, calculateReward, supportedModels, type OptimizeResult, type LightPromptError } from "lightprompt";
async function main(): Promise<void> {
  await init();
  const lp = await LightPrompt.open({ dbName: "x", exploration: 0.5 });
  const r: OptimizeResult = await lp.optimize({ prompt: "a fox", category: "image", model: "sdxl", options: { aspectRatio: "16:9" } });
  const edits: string[] = r.edits.map((e) => e.id + (e.learned ? "*" : ""));
  const fb = await lp.feedback({ spanId: r.spanId, metadata: { rating: 5, usedResult: true } });
  const n: number = fb.reward + calculateReward({ qualityScore: r.qualityScore });
  const s = await lp.trainingStatus();
  const avg: number = s.byCategory.image.averageReward;
  const learned = await lp.learnedOptimizations("image", "sdxl");
  const top: string | undefined = learned.learnedKeywords[0]?.term;
  const models = supportedModels().categories.flatMap((c) => c.models.map((m) => m.id));
  const ev = await lp.evaluate();
  const ips: number = ev.values[2].ips;
  await lp.spans({ category: "image", limit: 10 });
  const doc = await lp.exportData();
  await lp.importData(doc, { replace: true });
  const stream: ReadableStream<Uint8Array> = lp.exportStream();
  await lp.importData(await new Response(stream).blob(), { onProgress: (done: number, total: number) => void (done / total) });
  lp.setRewardFunction((input) => (input.rating ?? 3) / 5);
  try { await lp.optimize({ prompt: "", category: "image" }); } catch (e) { const code: string = (e as LightPromptError).code; void code; }
  // @ts-expect-error: category must be one of the three
  await lp.optimize({ prompt: "a fox", category: "audio" });
  lp.close();
  void [edits, n, avg, top, models, ips];
}
void main;
`;
  writeFileSync(path.join(consumer, "consumer.ts"), ts);
  writeFileSync(path.join(consumer, "tsconfig.json"), JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, target: "es2022", module: "es2022", moduleResolution: "bundler", lib: ["es2022", "dom"], skipLibCheck: false },
    files: ["consumer.ts"],
  }));
  execFileSync(path.join(root, "node_modules/.bin/tsc"), ["-p", consumer], { encoding: "utf8", stdio: "pipe" });
});

test("the bad-input matrix rejects every case by code and field, storing nothing (Node)", async () => {
  const { runMatrix } = await import(path.join(root, "tests/reliability/bad-inputs.mjs"));
  const t = await lp.LightPrompt.open({ seed: 9 });
  const { tried, failures } = await runMatrix(lp, t);
  assert.ok(tried >= 40, `${tried}`);
  assert.deepEqual(failures, []);
});

test("progress and cancellation: a batch reports progress, an aborted one stores nothing", async () => {
  const t = await lp.LightPrompt.open({ seed: 10 });
  const requests = Array.from({ length: 2000 }, (_, i) => ({ prompt: `a lighthouse number ${i}`, category: "image", model: "sdxl" }));
  const seen = [];
  const out = await t.optimizeBatch(requests, { onProgress: (done, total) => seen.push([done, total]) });
  assert.equal(out.length, 2000);
  assert.deepEqual(seen[0], [0, 2000]);
  assert.deepEqual(seen.at(-1), [2000, 2000]);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i][0] >= seen[i - 1][0], "progress never goes back");
  const controller = new AbortController();
  const e = await rejects(t.optimizeBatch(requests, { signal: controller.signal, onProgress: (done) => done > 0 && controller.abort(new Error("user pressed Cancel")) }), "Aborted");
  assert.ok(e instanceof lp.LightPromptError && lp.isLightPromptError(e));
  assert.match(e.message, /user pressed Cancel/);
  assert.equal((await t.trainingStatus()).totalSpans, 2000);
  // Stages for train, evaluate and import; a cancelled import writes nothing.
  for (const call of [(o) => t.train(o), (o) => t.evaluate(o)]) {
    const stages = [];
    await call({ onProgress: (done, total) => stages.push(`${done}/${total}`) });
    assert.ok(stages.length >= 2 && stages[0].startsWith("0/") && stages.at(-1).split("/")[0] === stages.at(-1).split("/")[1], stages.join(" "));
  }
  const doc = await t.exportData();
  const other = await lp.LightPrompt.open({ seed: 11 });
  await rejects(other.importData(doc, { signal: AbortSignal.abort() }), "Aborted");
  assert.equal((await other.trainingStatus()).totalSpans, 0);
  const report = await other.importData(doc, { onProgress: () => {} });
  assert.equal(report.spansAdded, 2000);
});

test("exportStream is exportData's document as text, and it imports back from text and from a Blob (Node)", async () => {
  const t = await lp.LightPrompt.open({ seed: 12, autoTrainEvery: 0 });
  const requests = Array.from({ length: 2300 }, (_, i) => ({ prompt: `a harbour at dawn number ${i}`, category: ["image", "video", "text"][i % 3] }));
  const results = await t.optimizeBatch(requests);
  for (const r of results.slice(0, 40)) await t.feedback({ spanId: r.spanId, metadata: { rating: 4 } });
  await t.train();
  const doc = await t.exportData();
  const text = await new Response(t.exportStream()).text();
  assert.deepEqual({ ...JSON.parse(text), exportedAt: 0 }, { ...doc, exportedAt: 0 });
  assert.equal(doc.spans.length, 2300);
  for (const input of [text, new Blob([text])]) {
    const other = await lp.LightPrompt.open({ seed: 13, autoTrainEvery: 0 });
    const seen = [];
    const report = await other.importData(input, { onProgress: (done, total) => seen.push([done, total]) });
    assert.deepEqual([report.spansAdded, report.rewardsAdded, report.policiesAdded], [2300, 40, 1]);
    const back = await other.exportData();
    assert.deepEqual(back.spans, doc.spans);
    assert.deepEqual(back.rewards, doc.rewards);
    // Bytes (or UTF-16 units) read, rising, ending full.
    assert.ok(seen.length > 2);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i][0] >= seen[i - 1][0]);
    assert.equal(seen.at(-1)[0], seen.at(-1)[1]);
    other.close();
  }
  // A record broken deep in the text is named, and nothing is stored.
  const broken = JSON.parse(text);
  broken.rewards[39].value = 7;
  const other = await lp.LightPrompt.open({ seed: 14 });
  await rejects(other.importData(new Blob([JSON.stringify(broken)])), "InvalidInput", "rewards[39].value");
  await rejects(other.importData(text.slice(0, -40)), "InvalidInput", "document");
  assert.equal((await other.trainingStatus()).totalSpans, 0);
  t.close();
});

test("helpers before the first open() throw NotInitialized; dispose closes", async () => {
  // A fresh copy of the CJS entry, so nothing has loaded it yet.
  const entry = path.join(consumer, "node_modules/lightprompt/node.cjs");
  const script = `const lp = require(${JSON.stringify(entry)});
try { lp.supportedModels(); console.log("no error"); } catch (e) { console.log(e.code, e instanceof lp.LightPromptError); }
lp.LightPrompt.open().then(async (t) => {
  console.log(lp.version(), typeof lp.calculateReward({ qualityScore: 50 }));
  t[Symbol.dispose]();
  try { await t.optimize({ prompt: "a fox", category: "image" }); } catch (e) { console.log(e.code); }
});`;
  const out = execFileSync("node", ["-e", script], { encoding: "utf8" });
  assert.equal(out.trim(), `NotInitialized true\n${lp.version()} number\nClosed`);
});
