// lightprompt → a real Agent Lightning 0.3.0 store (`agl store` on 127.0.0.1), read back
// with Agent Lightning's own Python client and helpers (check.py): one rollout per task,
// every optimization and reward once after repeated and interrupted sends, final rewards,
// one triplet per optimization with its latest rating, rollouts succeeded. Also the
// command line (`lightprompt send-agl`), typed errors, and the protobuf export parsed with
// the official OTLP definitions (otlp_check.py).
//
// Run: ./scripts/agl-venv.sh && node --test tests/agl/   (needs pkg/ from build-pkg.sh)

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import http from "node:http";
import path from "node:path";
import { env, freePort, python, readBack as readBackFrom, remember as rememberRecords, root, startStore, work } from "./helpers.mjs";

const cli = path.join(root, "pkg", "bin", "lightprompt.mjs");
const lp = createRequire(import.meta.url)(path.join(root, "pkg", "node.cjs"));

let store = null;
let storeUrl = "";
const expected = new Map(); // taskId -> what check.py expects, over every instance sent

before(async () => {
  store = await startStore();
  storeUrl = store.url;
});
after(() => store?.stop());

async function remember(t) {
  rememberRecords(expected, await t.spans({ limit: 10000 }), await t.rewards({ limit: 10000 }));
}

const readBack = () => readBackFrom(storeUrl, expected);

test("one browser: send, send again, add, interrupt, resend — Agent Lightning reads it all once", async () => {
  const t = await lp.LightPrompt.open({ seed: 13, autoTrainEvery: 0 });
  // A task with two optimizations; the first rated three times in a row (the same
  // millisecond, mostly) and only after the second exists.
  const a = await t.optimize({ prompt: "a red fox in fresh snow", category: "image", model: "sdxl" });
  const b = await t.optimize({ prompt: "a red fox in fresh snow at dusk", category: "image", model: "sdxl", taskId: a.taskId });
  for (const v of [0.5, 0.2248, 0.2]) await t.feedback({ spanId: a.spanId, reward: v });
  await t.feedback({ spanId: b.spanId, metadata: { rating: 4, satisfied: true } });
  // A task whose first optimization is never rated.
  const c = await t.optimize({ prompt: "explain recursion to a beginner", category: "text", model: "claude" });
  const d = await t.optimize({ prompt: "explain recursion to a beginner with an example", category: "text", model: "claude", taskId: c.taskId });
  await t.feedback({ spanId: d.spanId, reward: 0.9 });
  // Many one-optimization tasks, some rated.
  const many = await t.optimizeBatch(
    Array.from({ length: 30 }, (_, i) => ({ prompt: `a drone shot of a coastline, take ${i}`, category: "video", model: "sora" })),
  );
  for (const [i, r] of many.entries()) if (i % 3 === 0) await t.feedback({ spanId: r.spanId, reward: (i % 7) / 7 - 0.4 });

  const phases = [];
  const first = await t.sendToAgentLightning({ storeUrl, onProgress: (p) => phases.push(p.phase) });
  assert.deepEqual(first, { rollouts: 32, spans: 34, rewards: 15, tasks: 32, upToDate: 0 });
  assert.ok(phases.includes("sending") && phases.at(-1) === "done", phases.join());
  await remember(t);
  assert.deepEqual(readBack(), { rollouts: 32, succeeded: 32, spans: 34, rewards: 15, triplets: 34, rewarded_triplets: 13 });

  const again = await t.sendToAgentLightning({ storeUrl });
  assert.deepEqual(again, { rollouts: 0, spans: 0, rewards: 0, tasks: 32, upToDate: 32 });

  // New work in an old task and in a new one.
  const e = await t.optimize({ prompt: "a red fox in fresh snow, close-up", category: "image", model: "sdxl", taskId: a.taskId });
  await t.feedback({ spanId: e.spanId, reward: -0.25 });
  await t.feedback({ spanId: a.spanId, reward: 0.75 }); // a fourth rating of the first span
  const f = await t.optimize({ prompt: "write a haiku about autumn", category: "text", model: "gpt-4o" });
  await t.feedback({ spanId: f.spanId, reward: 1 });

  // Interrupted after the spans went in, before the rollouts were marked: repeat is safe.
  const controller = new AbortController();
  await assert.rejects(
    t.sendToAgentLightning({ storeUrl, signal: controller.signal, onProgress: (p) => p.phase === "finishing" && controller.abort() }),
    (err) => err.code === "Aborted",
  );
  const resumed = await t.sendToAgentLightning({ storeUrl });
  assert.deepEqual(resumed, { rollouts: 0, spans: 0, rewards: 0, tasks: 33, upToDate: 31 });
  await remember(t);
  const counts = readBack();
  assert.deepEqual(counts, { rollouts: 33, succeeded: 33, spans: 36, rewards: 18, triplets: 36, rewarded_triplets: 15 });
  console.log(`# Agent Lightning read back (one browser): ${JSON.stringify(counts)}`);
  t.close();
});

test("many browsers: `lightprompt send-agl FILE… --store URL` sends exports, once", async () => {
  const files = [];
  for (const seed of [101, 102, 103]) {
    const t = await lp.LightPrompt.open({ seed, autoTrainEvery: 0 });
    for (let i = 0; i < 4; i++) {
      const r = await t.optimize({ prompt: `portrait of a lighthouse keeper, variant ${seed}-${i}`, category: "image", model: "midjourney" });
      if (i % 2 === 0) await t.feedback({ spanId: r.spanId, metadata: { rating: 5 } });
    }
    await remember(t);
    const file = path.join(work, `export-${seed}.json`);
    const doc = await t.exportData();
    if (seed === 103) {
      // Data recorded before lightprompt stored sequence numbers: ordered by time instead.
      for (const record of [...doc.spans, ...doc.rewards]) delete record.sequence;
    }
    writeFileSync(file, JSON.stringify(doc));
    files.push(file);
    t.close();
  }
  const run = () => execFileSync("node", [cli, "send-agl", ...files, "--store", storeUrl], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const out = run();
  assert.deepEqual(JSON.parse(out.trim().split("\n").pop()), { files: 3, rollouts: 12, spans: 12, rewards: 6, tasks: 12, upToDate: 0 });
  const twice = run();
  assert.deepEqual(JSON.parse(twice.trim().split("\n").pop()), { files: 3, rollouts: 0, spans: 0, rewards: 0, tasks: 12, upToDate: 12 });
  const counts = readBack();
  assert.equal(counts.rollouts, expected.size);
  console.log(`# Agent Lightning read back (all): ${JSON.stringify(counts)}`);

  // Usage errors and a bad file exit non-zero with a message.
  assert.throws(() => execFileSync("node", [cli, "send-agl", files[0]], { stdio: "pipe" }), (e) => e.status === 2);
  const bad = path.join(work, "not-an-export.json");
  writeFileSync(bad, JSON.stringify({ format: "something else" }));
  assert.throws(
    () => execFileSync("node", [cli, "send-agl", bad, "--store", storeUrl], { stdio: "pipe", encoding: "utf8" }),
    (e) => e.status === 1 && /InvalidInput/.test(e.stderr),
  );
});

test("typed errors: bad input, unreachable store, refused request, unsupported version", async () => {
  const t = await lp.LightPrompt.open({ seed: 7 });
  await t.optimize({ prompt: "a quiet harbor at dawn", category: "image", model: "flux" });
  for (const [options, field] of [
    [undefined, "options"],
    [{}, "storeUrl"],
    [{ storeUrl: "127.0.0.1:4747" }, "storeUrl"],
    [{ storeUrl, signal: 3 }, "signal"],
    [{ storeUrl, onProgress: "x" }, "onProgress"],
    [{ storeUrl, storUrl: "x" }, "storUrl"],
  ]) {
    await assert.rejects(t.sendToAgentLightning(options), (e) => e.code === "InvalidInput" && e.field === field, JSON.stringify(options));
  }
  const closed = await freePort();
  await assert.rejects(t.sendToAgentLightning({ storeUrl: `http://127.0.0.1:${closed}` }), (e) => e.code === "Unreachable" && /agl store/.test(e.message));

  // A server that is not an Agent Lightning 0.3 store.
  let mode = "old";
  const server = http.createServer((req, res) => {
    if (req.url === "/health") return res.end('{"status":"ok"}'); // 0.2.x's path
    if (req.url.startsWith("/v1/agl/health")) {
      res.statusCode = mode === "refuse" ? 503 : 404;
      return res.end(mode === "refuse" ? "store is read-only today" : "not found");
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${server.address().port}`;
  try {
    await assert.rejects(t.sendToAgentLightning({ storeUrl: url }), (e) => e.code === "UnsupportedVersion" && /older than 0\.3/.test(e.message));
    mode = "refuse";
    await assert.rejects(
      t.sendToAgentLightning({ storeUrl: url }),
      (e) => e.code === "Refused" && e.status === 503 && e.body === "store is read-only today" && /HTTP 503/.test(e.message),
    );
  } finally {
    server.close();
  }
  t.close();
});

test("exportOtlp: protobuf bytes parse with the official OTLP definitions and match the JSON", async () => {
  const t = await lp.LightPrompt.open({ seed: 3 });
  const r = await t.optimize({ prompt: "a lighthouse in a storm", category: "image", model: "sdxl" });
  await t.feedback({ spanId: r.spanId, reward: 0.4 });
  await t.feedback({ spanId: r.spanId, reward: -1 });
  await t.optimize({ prompt: "summarize this report", category: "text", model: "claude" });
  const bytes = await t.exportOtlp({ encoding: "protobuf" });
  assert.ok(bytes instanceof Uint8Array && bytes.length > 0);
  const json = await t.exportOtlp();
  assert.deepEqual(await t.exportOtlp({ encoding: "json" }), json);
  await assert.rejects(t.exportOtlp({ encoding: "xml" }), (e) => e.code === "InvalidInput" && e.field === "encoding");
  writeFileSync(path.join(work, "traces.pb"), bytes);
  writeFileSync(path.join(work, "traces.json"), JSON.stringify(json));
  const out = execFileSync(python, [path.join(import.meta.dirname, "otlp_check.py"), path.join(work, "traces.pb"), path.join(work, "traces.json")], { env, encoding: "utf8" });
  assert.deepEqual(JSON.parse(out), { resources: 2, spans: 4 });
  t.close();
});
