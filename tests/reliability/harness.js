// Loads the web package and exposes it to the Playwright tests.
import init, * as lib from "./pkg/lightprompt.js";
import { runMatrix } from "./bad-inputs.mjs";
// wasm-bindgen's init hands back the instance already loaded: its memory, for the bounds.
import glueInit from "./pkg/glue_web.js";
window.lib = lib;
window.wasmMemoryBytes = async () => (await glueInit()).memory.buffer.byteLength;
window.runMatrix = runMatrix;
window.ready = init().then(() => true);

// A database exactly as schema version 1 of lightprompt laid it out (no `model` indexes),
// holding the records of `doc` — the upgrade fixture.
// A database as schema version 1 (or 2, which added the model indexes) wrote it: full spans.
window.writeV1 = (name, doc, version = 1) => new Promise((resolve, reject) => {
  const r = indexedDB.open(name, version);
  r.onupgradeneeded = () => {
    const db = r.result;
    const spans = db.createObjectStore("spans", { keyPath: "spanId" });
    spans.createIndex("taskId", "taskId");
    spans.createIndex("category", "category");
    spans.createIndex("createdAt", "createdAt");
    spans.createIndex("category_createdAt", ["category", "createdAt"]);
    const rewards = db.createObjectStore("rewards", { keyPath: "rewardId" });
    rewards.createIndex("spanId", "spanId");
    rewards.createIndex("category", "category");
    rewards.createIndex("createdAt", "createdAt");
    if (version >= 2) {
      spans.createIndex("model", "model");
      rewards.createIndex("model", "model");
    }
    db.createObjectStore("policy", { keyPath: "version" });
    db.createObjectStore("meta");
  };
  r.onsuccess = () => {
    const db = r.result;
    const tx = db.transaction(["spans", "rewards", "policy"], "readwrite");
    for (const s of doc.spans) tx.objectStore("spans").put(s);
    for (const w of doc.rewards) tx.objectStore("rewards").put(w);
    for (const p of doc.policies) tx.objectStore("policy").put(p);
    tx.oncomplete = () => resolve(db);
    tx.onabort = () => reject(tx.error);
  };
  r.onerror = () => reject(r.error);
});
