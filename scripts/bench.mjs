// Runs bench/ in headless Chromium (Debian's) and prints a table; writes build/bench.json.
// `node scripts/bench.mjs --tiny` runs tiny sizes (the test suite does, so the harness stays alive).
import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const tiny = process.argv.includes("--tiny");
const site = path.join(root, "build", "bench-site");
rmSync(site, { recursive: true, force: true });
mkdirSync(path.join(site, "pkg"), { recursive: true });
cpSync(path.join(root, "bench"), site, { recursive: true });
cpSync(path.join(root, "www", "pkg"), path.join(site, "pkg"), { recursive: true });
cpSync(path.join(root, "node_modules", "dexie", "dist", "dexie.mjs"), path.join(site, "dexie.mjs"));

const port = await new Promise((resolve) => { const s = net.createServer(); s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); }); });
const server = spawn("python3", ["-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", site], { stdio: "ignore" });
const profile = path.join(root, "build", "bench-profile");
rmSync(profile, { recursive: true, force: true });
let context;
try {
  await new Promise((r) => setTimeout(r, 400));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--enable-precise-memory-info"],
  });
  const page = await context.newPage();
  page.on("console", (m) => { if (m.type() === "error") console.error("page:", m.text()); });
  await page.goto(`http://127.0.0.1:${port}/index.html${tiny ? "?tiny" : ""}`);
  const result = await page.evaluate(() => window.__bench);
  if (!result.ok) throw new Error(result.error);
  const r = result.results;
  const native = existsSync(path.join(root, "build", "bench-native.json")) ? JSON.parse(readFileSync(path.join(root, "build", "bench-native.json"), "utf8")) : {};
  const f = (x, d = 1) => (x == null ? "n/a" : Number(x).toLocaleString("en-US", { maximumFractionDigits: d }));
  const kb = (b) => `${f(b / 1024)} KB`;
  const rows = [
    ["optimize compute, native", `${f(native.optimizePerSecond, 0)} /s, median ${f(native.optimizeMedianUs)} µs`, "median ≤ 20 µs"],
    ["optimize compute, wasm (per call, via JS API)", `${f(r.optimizePerSecondWasm, 0)} /s, median ${f(r.optimizeMedianMsWasm * 1000)} µs`, "≥ 20k/s"],
    ["optimizeBatch compute, wasm (memory store)", `${f(r.optimizeBatchPerSecondWasmMemory, 0)} /s`, "—"],
    ["optimize + persist (IndexedDB) p50 / p95", `${f(r.optimizePersistP50Ms, 2)} / ${f(r.optimizePersistP95Ms, 2)} ms`, "p50 ≤ 1 ms"],
    [`optimizeBatch ${tiny ? 200 : "10k"} → IndexedDB`, `${f(r.batchSpansPerSecond, 0)} spans/s`, ""],
    ["raw IndexedDB put loop, same records", `${f(r.rawPutPerSecond, 0)} /s`, ""],
    ["Dexie 4 bulkPut, same records", `${f(r.dexieBulkPutPerSecond, 0)} /s`, ""],
    ["batch / raw, batch / Dexie", `${f(r.batchVsRaw, 2)}×, ${f(r.batchVsDexie, 2)}×`, "≥ 0.9×, ≥ 1.0×"],
    [`train() reads, ${tiny ? "1k" : "100k"} spans + a reward on every fifth`, `${f(r[`load${tiny ? 1000 : 100000}RecordsPerSecond`], 0)} records/s`, ""],
    ["raw IndexedDB, same records (rewards + rated spans by id)", `${f(r[`rawRead${tiny ? 1000 : 100000}RecordsPerSecond`], 0)} records/s`, ""],
    ["train() reads / raw", `${f(r[`load${tiny ? 1000 : 100000}VsRaw`], 2)}×`, "≥ 0.9×"],
    ...(tiny ? [] : [["train() 10k spans, 2k rewards: compute / total", `${f(r.train10000ComputeMs)} / ${f(r.train10000Ms)} ms`, ""]]),
    [`train() ${tiny ? "1k" : "100k"} spans: compute / total (wasm)`, `${f(r[`train${tiny ? 1000 : 100000}ComputeMs`])} / ${f(r[`train${tiny ? 1000 : 100000}Ms`])} ms`, ""],
    ["reopen / reopen + train()", `${f(r.reopenMs)} / ${f(r.reopenTrainMs)} ms`, "≤ 3 s total"],
    ["auto-train after 10 more ratings: the checkpoint / its feedback call", `${f(r.autoTrainMs, 2)} / ${f(r.autoTrainFeedbackMs, 2)} ms`, "≤ 50 ms"],
    ["train() 100k compute, native", `${f(native.trainMs100000)} ms`, ""],
    ["online update: feedback p50 (IndexedDB, wasm)", `${f(r.feedbackP50Ms, 2)} ms`, ""],
    ["online update, native compute", `${f(native.onlineUpdateUs)} µs`, "≤ 1 ms"],
    ["wasm size raw / gzip", `${kb(r.wasmBytes)} / ${kb(r.wasmGzipBytes)}`, ""],
    ["JS size raw / gzip", `${kb(r.jsBytes)} / ${kb(r.jsGzipBytes)}`, "wasm+JS ≤ 150 KB gz"],
    [`scale run: importData of ${tiny ? "1k" : "100k"} spans (object), then train()`, `${f(r[`import${tiny ? 1000 : 100000}Ms`])} ms; wasm memory then ${f(r.wasmMemoryAfterImportBytes / 1048576)} MB, after reopen + train ${f(r.wasmMemoryAfterTrainBytes / 1048576)} MB`, ""],
    ["export of the history: exportStream() → Blob / exportData() object", `${f(r.exportStreamMs)} ms (${f(r.exportFileBytes / 1048576)} MB) / ${f(r.exportDataMs)} ms`, "streamed, bounded memory"],
    ["raw IndexedDB, same export: getAll + JSON.stringify → Blob", `${f(r.rawExportMs)} ms (${f(r.rawExportBytes / 1048576)} MB)`, ""],
    ["importData(file) of that export into a new database", `${f(r.importFileMs)} ms, ${f(r.importFileSpansPerSecond, 0)} spans/s`, "streamed, bounded memory"],
    ["wasm memory after optimizeBatch (it never shrinks: the peak so far)", `${f(r.wasmMemoryAfterBatchBytes / 1048576)} MB`, ""],
    ["wasm memory (peak of the run) / JS heap, after the scale run", `${f(r.wasmMemoryBytes / 1048576)} MB / ${f((r.jsHeapBytes ?? 0) / 1048576)} MB`, "wasm ≤ 100 MB"],
    ["stored span record (JSON): mean / largest", `${f(r.recordBytes, 0)} / ${f(r.recordBytesMax, 0)} bytes`, "≤ 800 bytes"],
    ["the same spans as the API returns them (JSON), mean", `${f(r.apiSpanBytes, 0)} bytes`, ""],
  ];
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const w1 = Math.max(...rows.map((x) => x[1].length));
  console.log(`${"benchmark".padEnd(w0)}  ${"result".padEnd(w1)}  target`);
  for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`);
  mkdirSync(path.join(root, "build"), { recursive: true });
  writeFileSync(path.join(root, "build", tiny ? "bench-tiny.json" : "bench.json"), JSON.stringify({ browser: r, native }, null, 2));
} finally {
  if (context) await context.close();
  server.kill();
}
