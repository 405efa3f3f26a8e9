// Browser benchmarks for `make bench`: lightprompt against raw IndexedDB and Dexie, in the
// same run, on records of the same shape. Results go to window.__bench (read by the runner).
import init, { LightPrompt } from "./pkg/lightprompt.js";
// The raw wasm exports (for the memory figure): the glue hands back the instance init() loaded.
import rawWasm from "./pkg/glue_web.js";
import Dexie from "./dexie.mjs";

const params = new URLSearchParams(location.search);
const tiny = params.has("tiny");
const N_BATCH = tiny ? 200 : 10_000;
const N_LOAD = tiny ? 1_000 : 100_000;
const N_OPT = tiny ? 50 : 3_000;
const N_LATENCY = tiny ? 20 : 300;

const PROMPTS = [
  ["a beautiful sunset", "image", "midjourney"],
  ["portrait of an old fisherman with a weathered face, oil painting, dramatic rim light", "image", "sdxl"],
  ["a red fox in the snow", "image", "flux"],
  ["노을 지는 바닷가, 부드러운 조명", "image", "dall-e-3"],
  ["a surfer riding a huge wave at dawn, drone shot, slow motion", "video", "sora"],
  ["city traffic at night", "video", "veo"],
  ["a dog running through a meadow", "video", "runway"],
  ["summarize this article about climate policy for a busy executive", "text", "claude"],
  ["write an email asking my landlord to fix the heating", "text", "gpt"],
  ["explain recursion", "text", "gemini"],
  ["fix the bug in this python function: def add(a, b): return a - b", "text", "llama"],
  ["cat", "image", "sd-1.5"],
];
const request = (i) => {
  const [prompt, category, model] = PROMPTS[i % PROMPTS.length];
  return { prompt: `${prompt} ${i % 97}`, category, model };
};
const now = () => performance.now();
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const hex = (n, len) => n.toString(16).padStart(len, "0");
const out = {};
const status = (t) => { document.getElementById("status").textContent = t; };

function deleteDb(name) {
  return new Promise((resolve) => { const r = indexedDB.deleteDatabase(name); r.onsuccess = r.onerror = r.onblocked = () => resolve(); });
}

// Raw IndexedDB with lightprompt's schema for spans (same indexes).
function openRaw(name) {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(name, 1);
    r.onupgradeneeded = () => {
      const s = r.result.createObjectStore("spans", { keyPath: "spanId" });
      s.createIndex("taskId", "taskId");
      s.createIndex("category", "category");
      s.createIndex("createdAt", "createdAt");
      s.createIndex("category_createdAt", ["category", "createdAt"]);
    };
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function rawPutAll(db, records) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction("spans", "readwrite");
    const store = tx.objectStore("spans");
    for (const rec of records) store.put(rec);
    tx.oncomplete = () => resolve();
    tx.onabort = tx.onerror = () => reject(tx.error);
  });
}

function rawGetAll(db, storeName, index) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(storeName, "readonly");
    const src = index ? tx.objectStore(storeName).index(index) : tx.objectStore(storeName);
    const r = src.getAll();
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

// Records by key, every get issued at once in one transaction.
function rawGetByIds(db, storeName, keys) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(storeName, "readonly");
    const store = tx.objectStore(storeName);
    const found = [];
    for (const k of keys) store.get(k).onsuccess = (e) => { if (e.target.result) found.push(e.target.result); };
    tx.oncomplete = () => resolve(found);
    tx.onabort = tx.onerror = () => reject(tx.error);
  });
}

function openExisting(name) {
  return new Promise((resolve, reject) => { const r = indexedDB.open(name); r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
}

async function gzipSize(url) {
  const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
  const gz = await new Response(new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer();
  return { raw: bytes.length, gzip: gz.byteLength };
}

async function run() {
  await init();
  const wasm = await rawWasm();

  // 1. Optimize compute in wasm (memory store: the write is a map insert).
  status("optimize compute");
  {
    const lp = await LightPrompt.open({ inMemory: true, seed: 1, autoTrainEvery: 0 });
    for (let i = 0; i < 50; i++) await lp.optimize(request(i));
    const times = [];
    const t0 = now();
    for (let i = 0; i < N_OPT; i++) {
      const t = now();
      await lp.optimize(request(i));
      times.push(now() - t);
    }
    const total = now() - t0;
    out.optimizePerSecondWasm = N_OPT / (total / 1000);
    out.optimizeMedianMsWasm = pct(times, 0.5);
    const batchReqs = Array.from({ length: N_OPT }, (_, i) => request(i));
    const tb = now();
    await lp.optimizeBatch(batchReqs);
    out.optimizeBatchPerSecondWasmMemory = N_OPT / ((now() - tb) / 1000);
    lp.close();
  }

  // 2. Optimize + persist, one request at a time, IndexedDB.
  status("optimize + persist");
  {
    await deleteDb("bench-latency");
    const lp = await LightPrompt.open({ dbName: "bench-latency", seed: 2, autoTrainEvery: 0 });
    for (let i = 0; i < 10; i++) await lp.optimize(request(i));
    const times = [];
    for (let i = 0; i < N_LATENCY; i++) {
      const t = now();
      await lp.optimize(request(i));
      times.push(now() - t);
    }
    out.optimizePersistP50Ms = pct(times, 0.5);
    out.optimizePersistP95Ms = pct(times, 0.95);
    lp.close();
  }

  // 3. Batch write: optimizeBatch vs raw IndexedDB vs Dexie bulkPut, same records.
  status("batch write");
  let template;
  {
    await deleteDb("bench-batch");
    const lp = await LightPrompt.open({ dbName: "bench-batch", seed: 3, autoTrainEvery: 0 });
    const reqs = Array.from({ length: N_BATCH }, (_, i) => request(i));
    const t = now();
    await lp.optimizeBatch(reqs);
    const ms = now() - t;
    out.batchSpansPerSecond = N_BATCH / (ms / 1000);
    out.wasmMemoryAfterBatchBytes = wasm.memory.buffer.byteLength;
    const spans = await lp.spans({ limit: Math.min(N_BATCH, 10000) });
    template = spans;
    lp.close();
    // The records as lightprompt stored them (compact), read back raw: the raw and Dexie
    // runs write these very records, and their size is the stored size.
    const stored = await openExisting("bench-batch");
    const storedRecords = await rawGetAll(stored, "spans", "createdAt");
    stored.close();
    const records = storedRecords.map((s, i) => ({ ...s, spanId: hex(i + 1, 16) }));
    out.recordBytes = storedRecords.reduce((sum, r) => sum + JSON.stringify(r).length, 0) / storedRecords.length;
    out.recordBytesMax = Math.max(...storedRecords.map((r) => JSON.stringify(r).length));
    out.apiSpanBytes = spans.reduce((sum, r) => sum + JSON.stringify(r).length, 0) / spans.length;

    await deleteDb("bench-raw");
    const raw = await openRaw("bench-raw");
    const tr = now();
    await rawPutAll(raw, records);
    out.rawPutPerSecond = records.length / ((now() - tr) / 1000);
    raw.close();

    await deleteDb("bench-dexie");
    const dx = new Dexie("bench-dexie");
    dx.version(1).stores({ spans: "spanId, taskId, category, createdAt, [category+createdAt]" });
    await dx.open();
    const td = now();
    await dx.table("spans").bulkPut(records);
    out.dexieBulkPutPerSecond = records.length / ((now() - td) / 1000);
    dx.close();
    out.batchVsRaw = out.batchSpansPerSecond / out.rawPutPerSecond;
    out.batchVsDexie = out.batchSpansPerSecond / out.dexieBulkPutPerSecond;
  }

  // 4/5. Scale: N_LOAD spans with a reward on every fifth (the 100k spans and 20k
  // rewards), imported; train() from scratch against raw reads of the same records; then a
  // returning user: reopen + train, and the automatic training after ten more ratings.
  for (const size of tiny ? [N_LOAD] : [10_000, N_LOAD]) {
    status(`load + train ${size}`);
    await deleteDb("bench-load");
    const lp = await LightPrompt.open({ dbName: "bench-load", seed: 4, autoTrainEvery: 0 });
    const spans = [];
    const rewards = [];
    for (let i = 0; i < size; i++) {
      const s = template[i % template.length];
      const id = hex(i + 1, 16);
      spans.push({ ...s, spanId: id, taskId: hex(i + 1, 32), createdAt: 1.7e12 + i });
      if (i % 5 === 0) {
        rewards.push({ rewardId: hex(i + 1 + 2 ** 40, 16), spanId: id, taskId: hex(i + 1, 32), category: s.category, model: s.model, value: ((i * 37) % 200) / 100 - 1, source: "computed", qualityScore: s.qualityScore, rating: 1 + (i % 5), metadata: {}, createdAt: 1.7e12 + i + 0.5 });
      }
    }
    const ti = now();
    await lp.importData({ format: "lightprompt", version: 1, exportedAt: Date.now(), spans, rewards, policies: [] });
    out[`import${size}Ms`] = now() - ti;
    if (size === N_LOAD) out.wasmMemoryAfterImportBytes = wasm.memory.buffer.byteLength;
    const report = await lp.train();
    out[`train${size}Ms`] = report.ms;
    out[`train${size}ComputeMs`] = report.computeMs;
    const loadMs = report.ms - report.computeMs;
    out[`load${size}RecordsPerSecond`] = (report.rewardsUsed + report.spansUsed) / (loadMs / 1000);
    lp.close();
    // Raw IndexedDB reading the same records: every reward, and the rated spans by id.
    const raw = await openExisting("bench-load");
    const tr = now();
    const got = await rawGetAll(raw, "rewards", "createdAt");
    const rated = await rawGetByIds(raw, "spans", got.map((r) => r.spanId));
    out[`rawRead${size}RecordsPerSecond`] = (got.length + rated.length) / ((now() - tr) / 1000);
    raw.close();
    out[`load${size}VsRaw`] = out[`load${size}RecordsPerSecond`] / out[`rawRead${size}RecordsPerSecond`];
    if (size === N_LOAD) {
      status("reopen + train, auto-train");
      const t0 = now();
      const again = await LightPrompt.open({ dbName: "bench-load", seed: 5, autoTrainEvery: 10 });
      out.reopenMs = now() - t0;
      await again.train();
      out.reopenTrainMs = now() - t0;
      // Ten more ratings on spans not rated yet; the tenth stores the policy.
      let last = null;
      for (let i = 0; i < 10; i++) {
        const t = now();
        last = await again.feedback({ spanId: hex(5 * i + 2, 16), metadata: { rating: 4 } });
        out.autoTrainFeedbackMs = now() - t;
      }
      out.autoTrainMs = last && last.trained ? last.trained.ms : null;
      // Online update through the API: feedback on stored spans (includes the write).
      const times = [];
      for (let i = 0; i < (tiny ? 10 : 200); i++) {
        const t = now();
        await again.feedback({ spanId: hex(i + 1, 16), metadata: { rating: 4 } });
        times.push(now() - t);
      }
      out.feedbackP50Ms = pct(times, 0.5);
      out.wasmMemoryAfterTrainBytes = wasm.memory.buffer.byteLength;
      // Export and import of the whole history: the stream to a file (a Blob), the
      // document object, and the file imported into a new database.
      status("export, import");
      const te = now();
      const file = await new Response(again.exportStream()).blob();
      out.exportStreamMs = now() - te;
      out.exportFileBytes = file.size;
      const td = now();
      const doc = await again.exportData();
      out.exportDataMs = now() - td;
      out.exportSpans = doc.spans.length;
      again.close();
      // Raw IndexedDB, the same export: every record read at once, as JSON text in a Blob.
      const rawDb = await openExisting("bench-load");
      const tr = now();
      const [rawSpans, rawRewards] = [await rawGetAll(rawDb, "spans"), await rawGetAll(rawDb, "rewards")];
      const rawFile = new Blob([JSON.stringify({ spans: rawSpans, rewards: rawRewards })]);
      out.rawExportMs = now() - tr;
      out.rawExportBytes = rawFile.size;
      rawDb.close();
      await deleteDb("bench-import");
      const target = await LightPrompt.open({ dbName: "bench-import", seed: 6, autoTrainEvery: 0 });
      const tf = now();
      const imported = await target.importData(file);
      out.importFileMs = now() - tf;
      out.importFileSpansPerSecond = imported.spansAdded / (out.importFileMs / 1000);
      target.close();
      await deleteDb("bench-import");
      out.wasmMemoryBytes = wasm.memory.buffer.byteLength;
      out.jsHeapBytes = performance.memory ? performance.memory.usedJSHeapSize : null;
    }
  }

  // 6. Sizes.
  const wasmSize = await gzipSize("./pkg/lightprompt_bg.wasm");
  // The JS a page loads: the entry, its core and wasm-bindgen's glue.
  const jsSizes = await Promise.all(["./pkg/lightprompt.js", "./pkg/core.js", "./pkg/glue_web.js"].map(gzipSize));
  out.wasmBytes = wasmSize.raw;
  out.wasmGzipBytes = wasmSize.gzip;
  out.jsBytes = jsSizes.reduce((sum, s) => sum + s.raw, 0);
  out.jsGzipBytes = jsSizes.reduce((sum, s) => sum + s.gzip, 0);
  status("done");
  return out;
}

window.__bench = run().then((r) => ({ ok: true, results: r }), (e) => ({ ok: false, error: `${e && e.code ? e.code + ": " : ""}${e && e.message ? e.message : e}` }));
