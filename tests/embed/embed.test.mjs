// lightprompt embedded the way web developers embed it, from the packed tarball (`npm pack
// pkg`): real Vite (build, dev server, module worker), webpack 5 (page and module worker)
// and esbuild builds, init(url) in a page, a plain page importing from a CDN URL, Node ESM and CommonJS, and TypeScript (bundler, node16,
// nodenext; strict, no skipLibCheck; Node consumers without the DOM lib). Every browser app
// runs in headless Chromium and must optimize a prompt, store it in IndexedDB (it is still
// there after a reload) and log no error. The apps' files are in tests/embed/apps/ and the
// README shows them verbatim (checked here).
//
// Run: node --test tests/embed/   (needs pkg/ from `make pkg`; the pinned tools from
// tests/embed/package.json in build/bundlers, installed by scripts/setup.sh)

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import path from "node:path";
import { chromium } from "playwright-core";

const root = path.resolve(import.meta.dirname, "../..");
const tools = path.join(root, "build", "bundlers");
// Under the tools' folder, so the apps' configs find vite, webpack and esbuild by walking up.
const work = path.join(tools, "apps");
const apps = path.join(import.meta.dirname, "apps");
const readme = readFileSync(path.join(root, "README.md"), "utf8");
const version = JSON.parse(readFileSync(path.join(root, "pkg", "package.json"), "utf8")).version;

const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".css": "text/css", ".json": "application/json" };

let browser = null;
const servers = [];
let tarball = "";

/** A copy of one app (or several app folders merged) in the work folder. */
function app(name, ...sources) {
  const dir = path.join(work, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const s of sources) cpSync(path.join(apps, s), dir, { recursive: true });
  return dir;
}

/** Serves `dir` on 127.0.0.1; resolves to its origin. */
function serve(dir) {
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    let file = path.join(dir, decodeURIComponent(url.pathname));
    if (!file.startsWith(dir)) return res.writeHead(403).end();
    if (existsSync(file) && statSync(file).isDirectory()) file = path.join(file, "index.html");
    if (!existsSync(file)) return res.writeHead(404).end();
    res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream" });
    res.end(readFileSync(file));
  });
  servers.push(server);
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${server.address().port}`)));
}

/** The README shows `file` of tests/embed/apps verbatim. */
function shownInReadme(file) {
  const text = readFileSync(path.join(apps, file), "utf8").trim();
  assert.ok(readme.includes(text), `README.md must show tests/embed/apps/${file} verbatim`);
}

/** Total size of the files `dist` serves, raw and gzipped (what a visitor downloads). */
function shipped(dist) {
  let raw = 0;
  let gz = 0;
  for (const f of readdirSync(dist, { recursive: true })) {
    const p = path.join(dist, f);
    if (!statSync(p).isFile() || f.endsWith(".map")) continue;
    const bytes = readFileSync(p);
    raw += bytes.length;
    gz += execFileSync("gzip", ["-9", "-c"], { input: bytes, maxBuffer: 1 << 26 }).length;
  }
  return `${(raw / 1024).toFixed(0)} KB (${(gz / 1024).toFixed(0)} KB gzipped)`;
}

/**
 * Opens `url` in a fresh context, waits for #out to show an optimized prompt, reloads and
 * waits again; returns what IndexedDB holds and what the page logged as errors.
 */
async function runPage(url, { route } = {}) {
  const context = await browser.newContext();
  try {
    if (route) await route(context);
    const page = await context.newPage();
    const errors = [];
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("requestfailed", (r) => errors.push(`request failed: ${r.url()}`));
    const texts = [];
    for (let visit = 0; visit < 2; visit++) {
      if (visit === 0) await page.goto(url);
      else await page.reload();
      await page.waitForFunction(() => document.querySelector("#out")?.textContent.startsWith("a fox in the snow"), null, { timeout: 60_000 })
        .catch(async (e) => {
          throw new Error(`${url}: #out is "${await page.textContent("#out")}"; errors: ${errors.join(" | ")}; ${e.message}`);
        });
      texts.push(await page.textContent("#out"));
    }
    // Read IndexedDB directly: the spans are really stored, by whichever context wrote them.
    const spans = await page.evaluate(() => new Promise((resolve, reject) => {
      const r = indexedDB.open("lightprompt");
      r.onsuccess = () => {
        const db = r.result;
        const q = db.transaction("spans").objectStore("spans").getAll();
        q.onsuccess = () => { resolve(q.result.map((s) => s.p /* the stored (compact) span's original prompt */)); db.close(); };
        q.onerror = () => reject(q.error);
      };
      r.onerror = () => reject(r.error);
    }));
    return { texts, spans, errors };
  } finally {
    await context.close();
  }
}

/** No error logged; both visits stored their span in IndexedDB; `counted` pages say so. */
function assertStored({ texts, spans, errors }, counted) {
  assert.deepEqual(errors, []);
  assert.deepEqual(spans, ["a fox in the snow", "a fox in the snow"]);
  for (const t of texts) assert.match(t, /^a fox in the snow, \S/, "an optimized prompt, with words added");
  if (counted) {
    assert.match(texts[0], /\(1 in indexeddb\)$/);
    assert.match(texts[1], /\(2 in indexeddb\)$/);
  }
}

before(async () => {
  assert.ok(existsSync(path.join(tools, "node_modules", "vite")), "run scripts/setup.sh: the embed tools are missing from build/bundlers");
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  tarball = execFileSync("npm", ["pack", "--silent", "--pack-destination", work, path.join(root, "pkg")], { encoding: "utf8" }).trim().split("\n").pop();
  // One install of the tarball that every app below finds by walking up.
  writeFileSync(path.join(work, "package.json"), JSON.stringify({ name: "embed-apps", private: true, type: "module" }));
  execFileSync("npm", ["install", "--silent", "--no-audit", "--no-fund", path.join(work, tarball)], { cwd: work });
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  for (const s of servers) s.close();
});

/** Builds a webpack app in `dir` and writes its page into dist/ (webpack writes scripts, not
 *  pages: the page loads its bundle). */
async function buildWithWebpack(dir) {
  const config = (await import(path.join(dir, "webpack.config.js"))).default;
  const webpack = (await import(path.join(tools, "node_modules", "webpack", "lib", "index.js"))).default;
  const stats = await new Promise((resolve, reject) =>
    webpack({ ...config, context: dir }, (err, s) => (err ? reject(err) : resolve(s))));
  assert.ok(!stats.hasErrors(), stats.toString("errors-only"));
  writeFileSync(path.join(dir, "dist", "index.html"), readFileSync(path.join(dir, "index.html"), "utf8").replace('<script type="module" src="./src/main.js">', '<script src="./main.js">'));
}

describe("the packed package", () => {
  it("holds exactly the entries, their types, one wasm and the docs", () => {
    const out = execFileSync("npm", ["pack", "--dry-run", "--json", path.join(root, "pkg")], { encoding: "utf8" });
    const [info] = JSON.parse(out);
    const files = info.files.map((f) => f.path).sort();
    assert.deepEqual(files, ["CHANGELOG.md", "LICENSE", "README.md", "bin/lightprompt.mjs", "core.cjs", "core.js", "glue_node.cjs", "glue_web.js",
      "lightprompt.d.cts", "lightprompt.d.ts", "lightprompt.js", "lightprompt_bg.wasm", "node.cjs", "node.mjs", "package.json"]);
    assert.equal(files.filter((f) => f.endsWith(".wasm")).length, 1);
    const pkg = JSON.parse(readFileSync(path.join(root, "pkg", "package.json"), "utf8"));
    // Every path package.json names exists in the tarball.
    const named = [pkg.main, pkg.module, pkg.browser, pkg.types, pkg.unpkg, pkg.jsdelivr, ...Object.values(pkg.bin),
      ...JSON.stringify(pkg.exports).match(/"\.\/[^"]+"/g).map((s) => JSON.parse(s))];
    for (const p of named) assert.ok(files.includes(p.replace(/^\.\//, "")), `${p} is named in package.json but not packed`);
    console.log(`tarball ${(info.size / 1024).toFixed(0)} KB, unpacked ${(info.unpackedSize / 1024).toFixed(0)} KB, ${files.length} files`);
  });
});

describe("browsers and bundlers", () => {
  it("Vite: a page", async () => {
    shownInReadme("browser/src/main.js");
    shownInReadme("vite/vite.config.js");
    const dir = app("vite-page", "browser", "vite");
    const { build } = await import(path.join(tools, "node_modules", "vite", "dist", "node", "index.js"));
    await build({ root: dir, logLevel: "error", configFile: path.join(dir, "vite.config.js") });
    const result = await runPage(`${await serve(path.join(dir, "dist"))}/`);
    assertStored(result, true);
    console.log(`vite page: ${shipped(path.join(dir, "dist"))}`);
  });

  it("Vite: the dev server, with no config at all", async () => {
    const dir = app("vite-dev", "browser");
    const { createServer } = await import(path.join(tools, "node_modules", "vite", "dist", "node", "index.js"));
    const server = await createServer({ root: dir, logLevel: "error", configFile: false, server: { host: "127.0.0.1", port: 0 } });
    await server.listen();
    try {
      assertStored(await runPage(server.resolvedUrls.local[0]), true);
    } finally {
      await server.close();
    }
  });

  it("Vite: a module worker", async () => {
    shownInReadme("worker/src/worker.js");
    shownInReadme("worker/src/main.js");
    const dir = app("vite-worker", "browser", "worker", "vite");
    const { build } = await import(path.join(tools, "node_modules", "vite", "dist", "node", "index.js"));
    await build({ root: dir, logLevel: "error", configFile: path.join(dir, "vite.config.js") });
    const result = await runPage(`${await serve(path.join(dir, "dist"))}/`);
    assertStored(result);
    console.log(`vite worker: ${shipped(path.join(dir, "dist"))}`);
  });

  it("webpack 5", async () => {
    shownInReadme("webpack/webpack.config.js");
    const dir = app("webpack", "browser", "webpack");
    await buildWithWebpack(dir);
    const result = await runPage(`${await serve(path.join(dir, "dist"))}/`);
    assertStored(result, true);
    console.log(`webpack: ${shipped(path.join(dir, "dist"))}`);
  });

  it("webpack 5: a module worker", async () => {
    const dir = app("webpack-worker", "browser", "worker", "webpack");
    await buildWithWebpack(dir);
    assertStored(await runPage(`${await serve(path.join(dir, "dist"))}/`));
  });

  it("esbuild", async () => {
    shownInReadme("esbuild/build.mjs");
    const dir = app("esbuild", "browser", "esbuild");
    execFileSync("node", ["build.mjs"], { cwd: dir, stdio: "pipe" });
    writeFileSync(path.join(dir, "dist", "index.html"), readFileSync(path.join(dir, "index.html"), "utf8").replace('src="./src/main.js"', 'src="./main.js"'));
    const result = await runPage(`${await serve(path.join(dir, "dist"))}/`);
    assertStored(result, true);
    console.log(`esbuild: ${shipped(path.join(dir, "dist"))}`);
  });

  it("init(url) loads the wasm from where the app put it (esbuild, no copy next to the bundle)", async () => {
    const dir = app("esbuild-init", "browser");
    writeFileSync(path.join(dir, "src", "main.js"), `import init, { LightPrompt, version } from "lightprompt";
await Promise.all([init(new URL("./custom/lp.wasm", location.href)), init()]);
const lp = await LightPrompt.open();
const r = await lp.optimize({ prompt: "a fox in the snow", category: "image", model: "sdxl" });
document.querySelector("#out").textContent = \`\${r.optimizedPrompt} (\${version()})\`;
`);
    const esbuild = await import(path.join(tools, "node_modules", "esbuild", "lib", "main.js"));
    await esbuild.build({ entryPoints: [path.join(dir, "src", "main.js")], bundle: true, format: "esm", outdir: path.join(dir, "dist"), logLevel: "silent" });
    mkdirSync(path.join(dir, "dist", "custom"));
    cpSync(path.join(work, "node_modules", "lightprompt", "lightprompt_bg.wasm"), path.join(dir, "dist", "custom", "lp.wasm"));
    writeFileSync(path.join(dir, "dist", "index.html"), readFileSync(path.join(dir, "index.html"), "utf8").replace('src="./src/main.js"', 'src="./main.js"'));
    const result = await runPage(`${await serve(path.join(dir, "dist"))}/`);
    assertStored(result);
    assert.ok(result.texts[0].endsWith(`(${version})`));
  });

  it("a missing wasm file is a typed Unavailable error that says what to check, and open() can retry", async () => {
    const dir = app("esbuild-missing", "browser");
    writeFileSync(path.join(dir, "src", "main.js"), `import init, { LightPrompt, isLightPromptError } from "lightprompt";
const out = document.querySelector("#out");
try {
  await LightPrompt.open();
} catch (e) {
  out.textContent = \`\${isLightPromptError(e) ? e.code : "untyped"}: \${e.message}\`;
  await init(new URL("./later/lightprompt_bg.wasm", location.href));
  const lp = await LightPrompt.open();
  out.dataset.retried = lp.storage;
}
`);
    const esbuild = await import(path.join(tools, "node_modules", "esbuild", "lib", "main.js"));
    await esbuild.build({ entryPoints: [path.join(dir, "src", "main.js")], bundle: true, format: "esm", outdir: path.join(dir, "dist"), logLevel: "silent" });
    mkdirSync(path.join(dir, "dist", "later"));
    cpSync(path.join(work, "node_modules", "lightprompt", "lightprompt_bg.wasm"), path.join(dir, "dist", "later", "lightprompt_bg.wasm"));
    writeFileSync(path.join(dir, "dist", "index.html"), readFileSync(path.join(dir, "index.html"), "utf8").replace('src="./src/main.js"', 'src="./main.js"'));
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${await serve(path.join(dir, "dist"))}/`);
      await page.waitForFunction(() => document.querySelector("#out").dataset.retried, null, { timeout: 60_000 });
      assert.match(await page.textContent("#out"), /^Unavailable: could not load lightprompt's WebAssembly: .*see the README's section on your bundler/);
      assert.equal(await page.getAttribute("#out", "data-retried"), "indexeddb");
    } finally {
      await context.close();
    }
  });

  it("a plain page importing from a CDN", async () => {
    shownInReadme("cdn/index.html");
    const dir = app("cdn", "cdn");
    const unpacked = path.join(work, "node_modules", "lightprompt");
    // The CDN is another origin: answer its URLs from the tarball, with the CORS header a CDN sends.
    const route = (context) => context.route(/^https:\/\/cdn\.jsdelivr\.net\/npm\/lightprompt@[^/]+\/(.+)$/, (r) => {
      const file = path.join(unpacked, new URL(r.request().url()).pathname.replace(/^\/npm\/lightprompt@[^/]+\//, ""));
      if (!existsSync(file)) return r.fulfill({ status: 404 });
      return r.fulfill({ status: 200, body: readFileSync(file), headers: { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream", "access-control-allow-origin": "*" } });
    });
    const html = readFileSync(path.join(dir, "index.html"), "utf8");
    assert.ok(html.includes(`lightprompt@${version}/`), "the README's CDN URL names the current version");
    const result = await runPage(`${await serve(dir)}/`, { route });
    assertStored(result);
  });
});

describe("Node", () => {
  it("ESM: the README's quick start", () => {
    const file = path.join(work, "quickstart.mjs");
    cpSync(path.join(root, "examples", "quickstart.mjs"), file);
    const out = execFileSync("node", [file], { cwd: work, encoding: "utf8" });
    assert.match(out, /^a beautiful sunset/m);
    assert.match(out, /InvalidInput prompt/);
  });

  it("CommonJS: require", () => {
    shownInReadme("node/quickstart.cjs");
    const dir = app("node", "node");
    const out = execFileSync("node", ["quickstart.cjs"], { cwd: dir, encoding: "utf8" });
    assert.match(out, /^a beautiful sunset.*--v 7$/m);
    assert.match(out, /^InvalidInput prompt prompt: expected a string, got a number$/m);
  });

  it("init() resolves in Node, before and after open(), and the helpers then work", () => {
    const dir = app("node-init", "node");
    const esm = `import init, { LightPrompt, version, supportedModels } from "lightprompt";
let before = "no error"; try { version(); } catch (e) { before = e.code; }
await init(); await init();
const [a, b] = await Promise.all([LightPrompt.open(), LightPrompt.open()]);
console.log(before, version(), supportedModels().categories.length, a.storage, b.storage);`;
    writeFileSync(path.join(dir, "init.mjs"), esm);
    writeFileSync(path.join(dir, "init.cjs"), esm.replace('import init, { LightPrompt, version, supportedModels } from "lightprompt";', 'const { init, LightPrompt, version, supportedModels } = require("lightprompt"); (async () => {') + "\n})();");
    for (const f of ["init.mjs", "init.cjs"]) {
      const out = execFileSync("node", [f], { cwd: dir, encoding: "utf8" });
      assert.equal(out.trim(), `NotInitialized ${version} 3 memory memory`, f);
    }
  });
});

describe("TypeScript", () => {
  const tsc = path.join(tools, "node_modules", "typescript", "bin", "tsc");
  const base = { strict: true, noEmit: true, skipLibCheck: false, target: "es2022", types: [] };
  // Node consumers: no DOM lib, Node's own types; the disposable lib for `await using`.
  const nodeLib = { lib: ["es2022", "esnext.disposable"], types: ["node"], typeRoots: [path.join(tools, "node_modules", "@types")] };
  const check = (dir, compilerOptions, files) => {
    writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { ...base, ...compilerOptions }, files }));
    try {
      execFileSync("node", [tsc, "-p", dir], { encoding: "utf8", stdio: "pipe" });
    } catch (e) {
      assert.fail(`tsc (${JSON.stringify(compilerOptions)}):\n${e.stdout}${e.stderr}`);
    }
  };

  it("the README's example compiles with bundler resolution (DOM lib)", () => {
    shownInReadme("ts/tune.ts");
    const dir = app("ts-bundler", "ts");
    check(dir, { module: "esnext", moduleResolution: "bundler", lib: ["es2022", "esnext.disposable", "dom"] }, ["tune.ts"]);
  });

  for (const resolution of ["node16", "nodenext"]) {
    it(`${resolution}: ESM and CommonJS files, without the DOM lib`, () => {
      const dir = app(`ts-${resolution}`, "ts");
      cpSync(path.join(dir, "tune.ts"), path.join(dir, "tune.mts"));
      cpSync(path.join(dir, "tune.ts"), path.join(dir, "tune.cts"));
      // What a CommonJS file sees: require's types (.d.cts), the default export, the guard.
      writeFileSync(path.join(dir, "more.cts"), `import init, { LightPrompt, isLightPromptError, calculateReward, type StorageKind, type FeedbackRequest } from "lightprompt";
export async function f(): Promise<StorageKind> {
  await init();
  const lp = await LightPrompt.open({ in_memory: true });
  const fb: FeedbackRequest = { span_id: "0123456789abcdef", metadata: { used_result: true } };
  try { await lp.feedback(fb); } catch (e) { if (isLightPromptError(e)) { const field: string | null = e.field; void field; } }
  // @ts-expect-error: both spellings of one field
  const both: FeedbackRequest = { spanId: "a", span_id: "b" };
  void both;
  void calculateReward({ quality_score: 50 });
  return lp.storage;
}
`);
      check(dir, { module: resolution, moduleResolution: resolution, ...nodeLib }, ["tune.mts", "tune.cts", "more.cts"]);
    });
  }

  it("node16: a compiled CommonJS file gets the default export and the named ones", () => {
    const dir = app("ts-cjs-run", "ts");
    writeFileSync(path.join(dir, "main.cts"), `import init, { LightPrompt, isLightPromptError } from "lightprompt";
async function main(): Promise<void> {
  await init();
  const lp = await LightPrompt.open();
  try { await lp.optimize({ prompt: "", category: "image" }); } catch (e) { if (isLightPromptError(e)) console.log(e.code, e.field, lp.storage); }
}
void main();
`);
    check(dir, { module: "node16", moduleResolution: "node16", ...nodeLib, noEmit: false, outDir: "out" }, ["main.cts"]);
    const out = execFileSync("node", [path.join(dir, "out", "main.cjs")], { cwd: dir, encoding: "utf8" });
    assert.equal(out.trim(), "InvalidInput prompt memory");
  });

  it("nodenext: the compiled example runs: progress, cancellation, await using", () => {
    const dir = app("ts-run", "ts");
    cpSync(path.join(dir, "tune.ts"), path.join(dir, "tune.mts"));
    writeFileSync(path.join(dir, "run.mts"), `import { tuneAll } from "./tune.mjs";
const done = await tuneAll(["a red fox", "a blue bird"]);
const controller = new AbortController();
controller.abort();
const cancelled = await tuneAll(["a cat"], controller.signal);
console.log(done?.length, cancelled);
`);
    writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type: "module" }));
    check(dir, { module: "nodenext", moduleResolution: "nodenext", ...nodeLib, noEmit: false, outDir: "out" }, ["tune.mts", "run.mts"]);
    const out = execFileSync("node", [path.join(dir, "out", "run.mjs")], { cwd: dir, encoding: "utf8" });
    assert.match(out, /^0\/2$/m);
    assert.match(out, /^2\/2$/m);
    assert.match(out, /^2 undefined$/m);
  });
});
