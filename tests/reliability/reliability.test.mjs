// Faults in a real browser (Debian's Chromium, real IndexedDB): the bad-input matrix, a page
// killed in the middle of a batch, two tabs writing at once, a full quota, hostile imports.
// Each asserts that nothing acknowledged is lost and nothing half-written appears.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { chromium } from "playwright-core";

const root = path.resolve(import.meta.dirname, "../..");
const site = path.join(root, "build", "reliability-site");
const profile = path.join(root, "build", "reliability-profile");
let server, context, origin;

async function freePort() {
  return new Promise((resolve) => { const s = net.createServer(); s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); }); });
}

async function launch() {
  return chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

async function harness() {
  const page = await context.newPage();
  await page.goto(`${origin}/harness.html`);
  await page.waitForFunction(() => window.ready !== undefined);
  await page.evaluate(() => window.ready);
  return page;
}

/** Counts in database `db`, from a fresh page. */
async function counts(db) {
  const page = await harness();
  const s = await page.evaluate(async (db) => {
    const lp = await window.lib.LightPrompt.open({ dbName: db, autoTrainEvery: 0 });
    const s = await lp.trainingStatus();
    lp.close();
    return [s.totalSpans, s.totalRewards];
  }, db);
  await page.close();
  return s;
}

before(async () => {
  rmSync(site, { recursive: true, force: true });
  rmSync(profile, { recursive: true, force: true });
  mkdirSync(path.join(site, "pkg"), { recursive: true });
  cpSync(path.join(root, "www", "pkg"), path.join(site, "pkg"), { recursive: true });
  for (const f of ["harness.html", "harness.js", "bad-inputs.mjs"]) cpSync(path.join(root, "tests", "reliability", f), path.join(site, f));
  const port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  server = spawn("python3", ["-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", site], { stdio: "ignore" });
  await new Promise((r) => setTimeout(r, 400));
  context = await launch();
});

after(async () => {
  if (context) await context.close();
  if (server) server.kill();
});

test("the bad-input matrix on IndexedDB: typed errors, nothing stored", async () => {
  const page = await harness();
  const { tried, failures } = await page.evaluate(async () => {
    const lp = await window.lib.LightPrompt.open({ dbName: "matrix", seed: 1 });
    const out = await window.runMatrix(window.lib, lp);
    lp.close();
    return out;
  });
  await page.close();
  assert.ok(tried >= 40);
  assert.deepEqual(failures, []);
});

test("feedback after close is refused", async () => {
  const page = await harness();
  const code = await page.evaluate(async () => {
    const lp = await window.lib.LightPrompt.open({ dbName: "closed" });
    const r = await lp.optimize({ prompt: "a fox", category: "image" });
    lp.close();
    try { await lp.feedback({ spanId: r.spanId, reward: 0.5 }); } catch (e) { return e.code; }
    return "no error";
  });
  await page.close();
  assert.equal(code, "Closed");
});

test("a page killed in the middle of a 5k batch loses nothing acknowledged and half-writes nothing", async () => {
  const outcomes = [];
  for (const delay of [30, 300, 1200]) {
    const db = `crash-${delay}`;
    const page = await harness();
    await page.evaluate(async (db) => {
      const lp = await window.lib.LightPrompt.open({ dbName: db, autoTrainEvery: 0 });
      const first = Array.from({ length: 200 }, (_, i) => ({ prompt: `acknowledged ${i}`, category: "image", model: "sdxl" }));
      await lp.optimizeBatch(first);
      const big = Array.from({ length: 5000 }, (_, i) => ({ prompt: `a lighthouse number ${i}`, category: "image", model: "midjourney" }));
      window.batch = lp.optimizeBatch(big).then(() => "done", (e) => e.code);
    }, db);
    await new Promise((r) => setTimeout(r, delay));
    await page.close({ runBeforeUnload: false });
    const [spans] = await counts(db);
    outcomes.push(spans);
    assert.ok(spans === 200 || spans === 5200, `after ${delay} ms: ${spans} spans`);
  }
  console.log(`# crash outcomes (spans after reopen): ${outcomes.join(", ")}`);
});

test("a browser shut down in the middle of a batch loses nothing acknowledged", async () => {
  const page = await harness();
  await page.evaluate(async () => {
    const lp = await window.lib.LightPrompt.open({ dbName: "shutdown", autoTrainEvery: 0 });
    await lp.optimizeBatch(Array.from({ length: 100 }, (_, i) => ({ prompt: `kept ${i}`, category: "text" })));
    window.batch = lp.optimizeBatch(Array.from({ length: 5000 }, (_, i) => ({ prompt: `a ship ${i}`, category: "video" })));
  });
  await new Promise((r) => setTimeout(r, 200));
  await context.close();
  context = await launch();
  const [spans] = await counts("shutdown");
  assert.ok(spans === 100 || spans === 5100, `${spans} spans`);
});

test("two tabs writing 1k optimizations each at once: all 2k present, no error", async () => {
  const pages = [await harness(), await harness()];
  const results = await Promise.all(pages.map((page, tab) => page.evaluate(async (tab) => {
    const lp = await window.lib.LightPrompt.open({ dbName: "tabs", autoTrainEvery: 0 });
    let errors = 0;
    for (let i = 0; i < 1000; i++) {
      try { await lp.optimize({ prompt: `tab ${tab} prompt ${i}`, category: "image", model: "flux" }); } catch { errors++; }
    }
    lp.close();
    return errors;
  }, tab)));
  for (const p of pages) await p.close();
  assert.deepEqual(results, [0, 0]);
  assert.deepEqual(await counts("tabs"), [2000, 0]);
});

test("a full quota gives QuotaExceeded, leaves the store unchanged, and says what to do", async () => {
  // Chromium applies the quota override to ordinary (not persistent-profile) contexts.
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"] });
  const own = await browser.newContext();
  const page = await own.newPage();
  await page.goto(`${origin}/harness.html`);
  await page.waitForFunction(() => window.ready !== undefined);
  await page.evaluate(() => window.ready);
  const cdp = await own.newCDPSession(page);
  // The override is keyed by storage key (origin with a trailing slash) and read when the
  // database is first opened: set it, then load the page afresh.
  await cdp.send("Storage.overrideQuotaForOrigin", { origin: `${origin}/`, quotaSize: 512 * 1024 });
  await page.reload();
  await page.waitForFunction(() => window.ready !== undefined);
  await page.evaluate(() => window.ready);
  await page.evaluate(async () => {
    const lp = await window.lib.LightPrompt.open({ dbName: "quota", autoTrainEvery: 0 });
    await lp.optimize({ prompt: "before the quota", category: "image" });
    lp.close();
  });
  let result;
  try {
    result = await page.evaluate(async () => {
      const lp = await window.lib.LightPrompt.open({ dbName: "quota", autoTrainEvery: 0 });
      const big = Array.from({ length: 3000 }, (_, i) => ({ prompt: `a long prompt about a castle on a hill with towers ${i} `.repeat(20), category: "image", model: "flux" }));
      try { await lp.optimizeBatch(big); return { code: "none" }; } catch (e) { return { code: e.code, message: e.message }; } finally { lp.close(); }
    });
    var after = await page.evaluate(async () => {
      const lp = await window.lib.LightPrompt.open({ dbName: "quota", autoTrainEvery: 0 });
      const s = await lp.trainingStatus();
      lp.close();
      return [s.totalSpans, s.totalRewards];
    });
  } finally {
    await cdp.send("Storage.overrideQuotaForOrigin", { origin: `${origin}/` });
    await browser.close();
  }
  assert.equal(result.code, "QuotaExceeded", JSON.stringify(result));
  assert.match(result.message, /export your data/i);
  assert.deepEqual(after, [1, 0]);
});

test("hostile imports are rejected whole or imported safely", async () => {
  const page = await harness();
  const out = await page.evaluate(async () => {
    const lp = await window.lib.LightPrompt.open({ dbName: "hostile", seed: 3, autoTrainEvery: 0 });
    const r = await lp.optimize({ prompt: "<img src=x onerror=alert(1)> a fox", category: "image" });
    await lp.feedback({ spanId: r.spanId, reward: 0.5 });
    const doc = await lp.exportData();
    const results = {};
    const attempt = async (name, input, options) => {
      try { await lp.importData(input, options); results[name] = "ok"; } catch (e) { results[name] = e.code; }
      const s = await lp.trainingStatus();
      results[name + ".counts"] = [s.totalSpans, s.totalRewards];
    };
    await attempt("50MB junk", "{\"format\":\"lightprompt\",\"spans\":[" + "9".repeat(50 * 1024 * 1024));
    await attempt("wrong version", { ...doc, version: 2 });
    await attempt("wrong types", { ...doc, spans: [{ ...doc.spans[0], qualityScore: "high" }] });
    await attempt("duplicate ids", { ...doc, spans: [doc.spans[0], doc.spans[0]] });
    await attempt("duplicate reward ids", { ...doc, rewards: [doc.rewards[0], doc.rewards[0]] }, { replace: true });
    const marked = JSON.parse(JSON.stringify(doc));
    marked.spans[0].spanId = "00000000000000aa";
    marked.spans[0].originalPrompt = "<script>alert(2)</script> a fox";
    marked.rewards = [];
    await attempt("markup", marked);
    const back = await lp.spans({ limit: 10 });
    results.markupKept = back.some((s) => s.originalPrompt === "<script>alert(2)</script> a fox");
    lp.close();
    return results;
  });
  await page.close();
  assert.equal(out["50MB junk"], "InvalidInput");
  assert.equal(out["wrong version"], "VersionError");
  assert.equal(out["wrong types"], "InvalidInput");
  assert.equal(out["duplicate ids"], "Duplicate");
  assert.equal(out["duplicate reward ids"], "Duplicate");
  for (const k of ["50MB junk", "wrong version", "wrong types", "duplicate ids", "duplicate reward ids"]) assert.deepEqual(out[k + ".counts"], [1, 1], k);
  assert.equal(out.markup, "ok");
  assert.deepEqual(out["markup.counts"], [2, 1]);
  assert.equal(out.markupKept, true);
});

test("a long history streams out to a file and back in, checked whole and in bounded wasm memory", async (t) => {
  const page = await harness();
  const out = await page.evaluate(async () => {
    const { LightPrompt } = window.lib;
    const source = await LightPrompt.open({ dbName: "stream-source", seed: 11, autoTrainEvery: 0 });
    // Real spans of every category, then many more with ids and times of their own.
    const prompts = ["a lighthouse at dusk, watercolor", "a fox in the snow", "드론으로 본 서울 야경", "explain recursion to a child", "a slow pan across a misty forest"];
    const real = await source.optimizeBatch(prompts.flatMap((p, i) => ["image", "video", "text"].map((category) => ({ prompt: `${p} #${i}`, category }))));
    const template = await source.spans({ limit: 100 });
    const hex = (n, width) => n.toString(16).padStart(width, "0");
    const n = 20_000;
    const spans = [];
    const rewards = [];
    for (let i = 0; i < n; i++) {
      const s = template[i % template.length];
      // Every tenth span shares its time with the next: pages end inside ties too.
      spans.push({ ...s, spanId: hex(i + 1, 16), taskId: hex(i + 1, 32), createdAt: 1.7e12 + i - (i % 10 === 1 ? 1 : 0) });
      if (i % 5 === 0) rewards.push({ rewardId: hex(i + 1 + 2 ** 40, 16), spanId: hex(i + 1, 16), taskId: hex(i + 1, 32), category: s.category, model: s.model, value: ((i * 37) % 200) / 100 - 1, source: "explicit", qualityScore: s.qualityScore, rating: 1 + (i % 5), metadata: {}, createdAt: 1.7e12 + i + 0.5 });
    }
    const before = await window.wasmMemoryBytes();
    await source.importData({ format: "lightprompt", version: 1, exportedAt: 0, spans, rewards, policies: [] }, { replace: true });
    const afterObjectImport = await window.wasmMemoryBytes();
    const whole = await source.exportData();
    const afterExport = await window.wasmMemoryBytes();
    const text = await new Response(source.exportStream()).text();
    const afterStream = await window.wasmMemoryBytes();
    // The OTLP exports page through the tasks too.
    const otlpTasks = (await source.exportOtlp()).resourceSpans.length;
    const otlpBytes = (await source.exportOtlp({ encoding: "protobuf" })).length;
    const afterOtlp = await window.wasmMemoryBytes();
    const streamed = JSON.parse(text);
    const file = new File([text], "export.json", { type: "application/json" });
    const target = await LightPrompt.open({ dbName: "stream-target", seed: 12, autoTrainEvery: 0 });
    const steps = [];
    const report = await target.importData(file, { onProgress: (done, total) => { steps.push([done, total]); } });
    const afterFileImport = await window.wasmMemoryBytes();
    const back = await target.exportData();
    // A bad record deep in a file: named, and nothing stored.
    const broken = JSON.parse(text);
    broken.spans[15_432].qualityScore = "high";
    let code = null;
    let field = null;
    try { await target.importData(new Blob([JSON.stringify(broken)]), { replace: true }); } catch (e) { code = e.code; field = e.field; }
    const status = await target.trainingStatus();
    source.close();
    target.close();
    // Compared here: handing 3 × 20k spans to the test process would take minutes.
    const same = (a, b) => JSON.stringify({ ...a, exportedAt: 0 }) === JSON.stringify({ ...b, exportedAt: 0 });
    return {
      real: real.length, n, rewards: rewards.length, report, steps, code, field,
      counts: [whole.spans.length, whole.rewards.length],
      streamedIsWhole: same(streamed, whole), backIsWhole: same({ ...back, policies: [] }, { ...whole, policies: [] }),
      firstSpan: [whole.spans[0], streamed.spans[0], back.spans[0]],
      kept: [status.totalSpans, status.totalRewards], textBytes: text.length,
      otlpTasks, otlpBytes,
      growth: { objectImport: afterObjectImport - before, export: afterExport - afterObjectImport, stream: afterStream - afterExport, otlp: afterOtlp - afterStream, fileImport: afterFileImport - afterOtlp },
    };
  });
  await page.close();
  assert.equal(out.real, 15);
  // The stream is the very document exportData returns, and it imports back as itself.
  assert.deepEqual(out.counts, [out.n, out.rewards]);
  assert.equal(out.streamedIsWhole, true);
  assert.deepEqual(out.report, { spansAdded: out.n, spansSkipped: 0, rewardsAdded: out.rewards, rewardsSkipped: 0, policiesAdded: 1 });
  assert.equal(out.backIsWhole, true);
  assert.deepEqual(out.firstSpan[1], out.firstSpan[0]);
  assert.deepEqual(out.firstSpan[2], out.firstSpan[0]);
  // Progress counts the file's bytes, rises, and ends full.
  assert.ok(out.steps.length > 3, JSON.stringify(out.steps.slice(0, 5)));
  for (let i = 1; i < out.steps.length; i++) assert.ok(out.steps[i][0] >= out.steps[i - 1][0]);
  assert.equal(out.steps.at(-1)[0], out.steps.at(-1)[1]);
  assert.equal(out.code, "InvalidInput");
  assert.equal(out.field, "spans[15432].qualityScore");
  assert.deepEqual(out.kept, [out.n, out.rewards]);
  assert.equal(out.otlpTasks, out.n); // every span has a task of its own here
  assert.ok(out.otlpBytes > out.textBytes / 4);
  // wasm holds a chunk at a time, never the history: a whole-document import or export of
  // these 20k spans (about 40 MB of JSON) took about a hundred times this.
  const MB = 1024 * 1024;
  t.diagnostic(`wasm memory growth (MB): ${Object.entries(out.growth).map(([k, v]) => `${k} ${(v / MB).toFixed(1)}`).join(", ")}; the file ${(out.textBytes / MB).toFixed(1)} MB`);
  for (const [what, bytes] of Object.entries(out.growth)) assert.ok(bytes <= 16 * MB, `${what} grew wasm memory by ${(bytes / MB).toFixed(1)} MB`);
});

const v1 = JSON.parse(readFileSync(path.join(root, "tests/reliability/fixtures/v1-export.json"), "utf8"));

for (const schema of [1, 2]) test(`a database written by schema version ${schema} opens under the current version with nothing lost`, async () => {
  const page = await harness();
  const out = await page.evaluate(async ([doc, schema]) => {
    const name = `upgrade-v${schema}`;
    const db = await window.writeV1(name, doc, schema);
    db.close();
    const lp = await window.lib.LightPrompt.open({ dbName: name, autoTrainEvery: 0 });
    const status = await lp.trainingStatus();
    const exported = await lp.exportData();
    const r = await lp.optimize({ prompt: "after the upgrade", category: "image" });
    await lp.feedback({ spanId: exported.spans[0].spanId, metadata: { rating: 5 } });
    // Old full records and a new compact one side by side, read and trained on together.
    await lp.feedback({ spanId: r.spanId, metadata: { rating: 4 } });
    const trained = await lp.train();
    const mixed = (await lp.spans({ limit: 100 })).find((s) => s.spanId === r.spanId);
    lp.close();
    const version = await new Promise((res) => { const q = indexedDB.open(name); q.onsuccess = () => { const v = q.result.version; const names = [...q.result.transaction("spans").objectStore("spans").indexNames]; q.result.close(); res({ v, names }); }; });
    const raw = await new Promise((res) => { const q = indexedDB.open(name); q.onsuccess = () => { const g = q.result.transaction("spans").objectStore("spans").get(r.spanId); g.onsuccess = () => { q.result.close(); res(g.result); }; }; });
    return { status: [status.totalSpans, status.totalRewards, status.policyVersion], spans: exported.spans, rewards: exported.rewards, version, newSpan: r.spanId, result: r, mixed, raw, trained };
  }, [v1, schema]);
  await page.close();
  assert.deepEqual(out.status, [v1.spans.length, v1.rewards.length, Math.max(...v1.policies.map((p) => p.version))]);
  assert.deepEqual(out.spans, v1.spans);
  assert.deepEqual(out.rewards, v1.rewards);
  assert.equal(out.version.v, 3);
  // The new span is stored compact and reads back with the edits the optimize call returned.
  assert.equal(out.raw.v, 3);
  assert.equal(out.raw.edits, undefined);
  assert.deepEqual(out.mixed.edits, out.result.edits);
  assert.equal(out.mixed.optimizedPrompt, out.result.optimizedPrompt);
  assert.equal(out.trained.rewardsUsed, v1.rewards.length + 2);
  assert.ok(out.version.names.includes("model"));
});

test("an open blocked by another tab's old connection fails with Blocked, never hangs", async () => {
  const holder = await harness();
  await holder.evaluate(async (doc) => { window.held = await window.writeV1("blocked", doc); }, v1);
  const page = await harness();
  const out = await page.evaluate(async () => {
    const t = performance.now();
    try { await window.lib.LightPrompt.open({ dbName: "blocked", blockedTimeoutMs: 1500 }); return { code: "opened" }; } catch (e) { return { code: e.code, message: e.message, ms: performance.now() - t }; }
  });
  await holder.evaluate(() => window.held.close());
  await page.close();
  await holder.close();
  assert.equal(out.code, "Blocked", JSON.stringify(out));
  assert.match(out.message, /close or reload the other/);
  assert.ok(out.ms < 5000);
  // Once the old connection is gone the upgrade goes through and nothing was lost.
  assert.deepEqual(await counts("blocked"), [v1.spans.length, v1.rewards.length]);
});

test("a tab holding the database steps aside when another tab upgrades, and says so", async () => {
  const tab = await harness();
  await tab.evaluate(async () => {
    window.notified = false;
    addEventListener("lightprompt-versionchange", () => { window.notified = true; });
    window.lp = await window.lib.LightPrompt.open({ dbName: "versionchange", autoTrainEvery: 0 });
    await window.lp.optimize({ prompt: "a fox", category: "image" });
  });
  const other = await harness();
  const upgraded = await other.evaluate(() => new Promise((resolve) => {
    const r = indexedDB.open("versionchange", 9);
    r.onsuccess = () => { r.result.close(); resolve("upgraded"); };
    r.onblocked = () => resolve("blocked");
    r.onerror = () => resolve("error");
  }));
  const after = await tab.evaluate(async () => {
    try { await window.lp.optimize({ prompt: "another fox", category: "image" }); return { code: "none", notified: window.notified }; } catch (e) { return { code: e.code, message: e.message, notified: window.notified }; }
  });
  await other.close();
  await tab.close();
  assert.equal(upgraded, "upgraded");
  assert.equal(after.code, "Closed");
  assert.match(after.message, /another tab upgraded/);
  assert.equal(after.notified, true);
});

test("training runs in one tab at a time and the other tabs pick up the new policy", async () => {
  const a = await harness();
  const b = await harness();
  const open = (page) => page.evaluate(async () => {
    window.lp = await window.lib.LightPrompt.open({ dbName: "shared-policy", seed: 5, autoTrainEvery: 0 });
  });
  await open(a);
  await open(b);
  await a.evaluate(async () => {
    for (let i = 0; i < 6; i++) {
      const r = await window.lp.optimize({ prompt: `a lighthouse ${i}`, category: "image", model: "sdxl" });
      await window.lp.feedback({ spanId: r.spanId, metadata: { rating: 5 } });
    }
  });
  // Both tabs train at once: the lock serialises them, so the versions differ.
  const versions = await Promise.all([a, b].map((p) => p.evaluate(async () => (await window.lp.train()).policyVersion)));
  assert.deepEqual([...versions].sort(), [1, 2]);
  // A third training in tab A reaches tab B by BroadcastChannel, without B asking.
  await a.evaluate(async () => window.lp.train());
  let seen;
  for (let i = 0; i < 50; i++) {
    seen = await b.evaluate(async () => { const s = await window.lp.trainingStatus(); return [s.totalRewards, s.policyVersion]; });
    if (seen[1] === 3) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(seen, [6, 3]);
  for (const p of [a, b]) { await p.evaluate(() => window.lp.close()); await p.close(); }
});
