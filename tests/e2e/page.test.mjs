// The page as a person uses it, in headless Chromium: optimize, rate, watch the training panel,
// reload (real IndexedDB), go offline (service worker), try to inject markup, import a broken
// file, export, reset; no request leaves the page's origin and the CSP is never violated.
//
// Run: node --test tests/e2e/   (needs www/pkg from ./scripts/build-pkg.sh and /usr/bin/chromium)

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { chromium } from "playwright-core";

const root = path.resolve(import.meta.dirname, "../..");
const www = path.join(root, "www");
const profile = path.join(root, "build", "e2e-profile");
const shots = path.join(root, "build", "screenshots");
const downloads = path.join(root, "build", "e2e-downloads");

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let server = null;
let port = 0;
let origin = "";
let context = null;
let page = null;
const requests = [];
const dialogs = [];
const pageErrors = [];
const cspViolations = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port: p } = probe.address();
      probe.close(() => resolve(p));
    });
  });
}

async function startServer() {
  port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  server = spawn("python3", ["-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", www], { stdio: "ignore" });
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const response = await fetch(`${origin}/index.html`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error("the static server did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
}

function stopServer() {
  if (server && server.exitCode === null && !server.killed) server.kill();
  server = null;
}
process.on("exit", stopServer);

const text = async (selector) => (await page.locator(selector).textContent()).trim();
const spanIdShown = () => page.locator("#result-section").getAttribute("data-span-id");
const chartPoints = () => page.locator("#reward-chart circle.pt").count();

async function waitReady() {
  await page.waitForSelector("html[data-ready='true']", { timeout: 20_000 });
  // The first status render has landed when the totals are numbers.
  await page.waitForFunction(() => /^\d+$/.test(document.getElementById("stat-spans").textContent.trim()));
}

/** Optimizes the prompt in the form with the button (default) or Ctrl+Enter; returns the new span id. */
async function optimize(prompt, { category, model, keys = false } = {}) {
  const previous = await spanIdShown();
  if (category) await page.getByLabel("Category", { exact: true }).selectOption(category);
  if (model) await page.getByLabel("Model", { exact: true }).selectOption(model);
  const box = page.getByLabel("Prompt", { exact: true });
  await box.fill(prompt);
  if (keys) {
    await box.focus();
    await page.keyboard.press("Control+Enter");
  } else {
    await page.getByRole("button", { name: "Optimize", exact: true }).click();
  }
  await page.waitForFunction((old) => {
    const id = document.getElementById("result-section").dataset.spanId;
    return id && id !== old;
  }, previous);
  return spanIdShown();
}

/** Rates what the feedback form points at and sends it; returns the reward shown. */
async function rate(stars, { satisfied = false } = {}) {
  await page.locator("label.star").nth(stars - 1).click();
  if (satisfied) await page.locator("label.toggle", { hasText: "Satisfied" }).click();
  await page.getByRole("button", { name: "Send feedback" }).click();
  await page.waitForFunction(() => document.getElementById("feedback-result").dataset.reward !== undefined);
  const reward = Number(await page.locator("#feedback-result").getAttribute("data-reward"));
  // The totals refresh after the feedback; wait for the reward count to include it.
  return reward;
}

async function waitStat(id, value) {
  await page.waitForFunction(([i, v]) => document.getElementById(i).textContent.trim() === v, [id, String(value)]);
}

describe("lightprompt page", { timeout: 110_000 }, () => {
  before(async () => {
    assert.ok(existsSync(path.join(www, "pkg", "lightprompt.js")), "www/pkg is built (./scripts/build-pkg.sh)");
    rmSync(profile, { recursive: true, force: true });
    rmSync(downloads, { recursive: true, force: true });
    mkdirSync(shots, { recursive: true });
    mkdirSync(downloads, { recursive: true });
    await startServer();
    context = await chromium.launchPersistentContext(profile, {
      executablePath: "/usr/bin/chromium",
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 800 },
      acceptDownloads: true,
      downloadsPath: downloads,
    });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin });
    context.on("request", (request) => requests.push(request.url()));
    await context.exposeFunction("__lpCspViolation", (v) => cspViolations.push(v));
    await context.addInitScript(() => {
      window.__csp = [];
      document.addEventListener("securitypolicyviolation", (event) => {
        const v = { directive: event.violatedDirective, blocked: event.blockedURI, sample: event.sample };
        window.__csp.push(v);
        window.__lpCspViolation?.(v);
      });
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(15_000);
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      dialog.dismiss().catch(() => {});
    });
    page.on("pageerror", (error) => pageErrors.push(error.message));
  });

  after(async () => {
    try {
      if (context) await context.close();
    } finally {
      stopServer();
    }
  });

  it("ships no inline script or style and never writes HTML from strings", () => {
    const html = readFileSync(path.join(www, "index.html"), "utf8");
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, "no inline <script>");
    assert.doesNotMatch(html, /<style[\s>]/i, "no <style> element");
    assert.doesNotMatch(html, /\sstyle\s*=/i, "no style attributes");
    assert.doesNotMatch(html, /\son[a-z]+\s*=/i, "no inline event handlers");
    for (const file of ["app.js", "worker.js", "sw.js"]) {
      const js = readFileSync(path.join(www, file), "utf8");
      assert.doesNotMatch(js, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/, `${file} writes no HTML from strings`);
    }
    const manifest = JSON.parse(readFileSync(path.join(www, "manifest.webmanifest"), "utf8"));
    assert.equal(manifest.start_url, ".");
    assert.equal(manifest.display, "standalone");
    assert.ok(manifest.name && manifest.short_name && manifest.theme_color && manifest.background_color);
    assert.ok(manifest.icons.some((icon) => icon.src === "icon.svg"));
  });

  it("loads with its CSP, the engine on IndexedDB and the service worker", async () => {
    await page.goto(`${origin}/`);
    await waitReady();
    const csp = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute("content");
    for (const directive of [
      "default-src 'self'",
      "script-src 'self' 'wasm-unsafe-eval'",
      "style-src 'self'",
      "img-src 'self' data:",
      // Loopback only: the page may send to an Agent Lightning store on this computer.
      "connect-src 'self' http://127.0.0.1:* http://localhost:*;",
      "worker-src 'self'",
      "manifest-src 'self'",
      "object-src 'none'",
      "base-uri 'none'",
      "form-action 'none'",
    ]) {
      assert.ok(csp.includes(directive), `CSP has ${directive}`);
    }
    assert.equal(await page.locator('link[rel="icon"][href="icon.svg"]').count(), 1);
    assert.equal(await page.locator('link[rel="manifest"]').count(), 1);
    assert.equal(await text("#storage-kind"), "Saved in IndexedDB");
    assert.match(await text("#persist-status"), /Persistent storage (granted|not granted)/);
    assert.equal(await text("#stat-spans"), "0");
    assert.equal(await page.evaluate(() => navigator.serviceWorker.ready.then((r) => Boolean(r.active))), true);
    // Every model of the catalog is offered; choosing one rebuilds its options.
    await page.getByLabel("Category", { exact: true }).selectOption("image");
    await page.getByLabel("Model", { exact: true }).selectOption("sdxl");
    assert.ok((await page.getByLabel("Aspect ratio").locator("option").count()) > 3);
    assert.equal(await page.getByLabel("Negative terms", { exact: true }).count(), 1);
    await page.getByLabel("Category", { exact: true }).selectOption("video");
    assert.ok(await page.getByLabel("Model", { exact: true }).locator("option", { hasText: "Sora" }).count());
    await page.getByLabel("Category", { exact: true }).selectOption("image");
    // Keyboard only: Tab reaches the Optimize button and shows where the focus is.
    await page.getByLabel("Prompt", { exact: true }).focus();
    for (let i = 0; i < 40 && !(await page.evaluate(() => document.activeElement?.id === "optimize-btn")); i++) await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement?.id), "optimize-btn");
    assert.equal(await page.evaluate(() => document.activeElement.matches(":focus-visible") && getComputedStyle(document.activeElement).outlineStyle), "solid");
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll("input, select, textarea")].filter((c) => c.labels.length === 0 && !c.getAttribute("aria-label")).map((c) => c.id || c.name),
    );
    assert.deepEqual(unlabelled, [], "every control has a label");
  });

  it("optimizes with the button and shows the prompt, score, breakdown and edits", async () => {
    await optimize("portrait of an old fisherman, dramatic lighting", { category: "image", model: "midjourney-v7" });
    const optimized = await text("#optimized-prompt");
    assert.ok(optimized.startsWith("portrait of an old fisherman, dramatic lighting"), optimized);
    assert.match(optimized, /--v 7/);
    assert.match(await text("#score-text"), /^\d+(\.\d)? → \d+(\.\d)? \([+−]\d/);
    const [before, after] = (await text("#score-text")).split(" → ").map((v) => parseFloat(v));
    assert.ok(after >= before, `${after} >= ${before}`);
    const arc = parseFloat(await page.locator("#gauge-after").getAttribute("stroke-dasharray"));
    assert.ok(Math.abs(arc - after) < 0.1, `gauge shows ${arc}, score ${after}`);
    assert.ok((await page.locator("#breakdown li").count()) >= 5, "a row per facet");
    assert.match(await text("#breakdown"), /Subject/);
    assert.ok((await page.locator("#suggestions li").count()) >= 1);
    // The policy picked an aspect ratio: it is marked inside the prompt.
    const marks = await page.locator("#optimized-prompt mark").allTextContents();
    assert.ok(marks.length >= 1, "edits are highlighted");
    for (const mark of marks) assert.ok(optimized.includes(mark));
    assert.ok((await page.locator("#edits li").count()) >= 1);
    // Copy puts the prompt on the clipboard and marks "Used it".
    await page.getByRole("button", { name: "Copy", exact: true }).first().click();
    await page.waitForFunction(() => document.getElementById("fb-used").checked);
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), optimized);
  });

  it("optimizes with Ctrl+Enter", async () => {
    const first = await spanIdShown();
    const id = await optimize("a red fox in a snowy forest at dawn", { keys: true });
    assert.notEqual(id, first);
    assert.match(await text("#optimized-prompt"), /^a red fox in a snowy forest at dawn/);
    await waitStat("stat-spans", 2);
  });

  it("takes 5 stars + Satisfied with the keyboard and mouse, and shows the reward", async () => {
    // Keyboard: the stars are a radio group.
    await page.getByRole("radio", { name: "1 star", exact: true }).focus();
    for (let i = 0; i < 4; i++) await page.keyboard.press("ArrowRight");
    assert.equal(await page.getByRole("radio", { name: "5 stars" }).isChecked(), true);
    assert.equal(await text("#rating-text"), "5 of 5");
    await page.locator("label.toggle", { hasText: "Satisfied" }).click();
    assert.equal(await page.getByLabel("Satisfied").isChecked(), true);
    await page.getByLabel("Comment").fill("great fox");
    await page.getByRole("button", { name: "Send feedback" }).click();
    await page.waitForFunction(() => document.getElementById("feedback-result").dataset.reward !== undefined);
    const reward = Number(await page.locator("#feedback-result").getAttribute("data-reward"));
    assert.ok(reward > 0.5 && reward <= 1, `reward ${reward}`);
    assert.match(await text("#feedback-result"), /^Reward \+[01]\.\d\d \(computed\)/);
    await waitStat("stat-rewards", 1);
    assert.equal(await chartPoints(), 1);
  });

  it("learns over several rounds: totals, the reward chart and the category bars grow", async () => {
    const prompts = [
      ["a lighthouse on a cliff in a storm", "image", "sdxl", 4],
      ["explain recursion to a beginner", "text", "claude", 5],
      ["a drone shot over a waterfall", "video", "sora", 3],
      ["a cozy cabin in the woods", "image", "flux", 2],
    ];
    for (const [prompt, category, model, stars] of prompts) {
      await optimize(prompt, { category, model });
      const reward = await rate(stars, { satisfied: stars >= 4 });
      assert.ok(reward >= -1 && reward <= 1);
    }
    await waitStat("stat-spans", 6);
    await waitStat("stat-rewards", 5);
    assert.equal(await chartPoints(), 5);
    assert.match(await page.locator("#reward-chart path.line-reward").getAttribute("d"), /^M[\d.]+ [\d.]+( L[\d.]+ [\d.]+){4}$/);
    assert.equal(await page.locator("#reward-chart path.line-avg").count(), 1);
    assert.equal(await page.locator("#reward-chart").getAttribute("data-points"), "5");
    assert.ok((await page.locator("#reward-chart text").allTextContents()).some((t) => t.includes("target")));
    assert.equal(await page.locator("#category-chart rect").count(), 3, "a bar per rated category");
    assert.equal(await page.locator("#category-table tbody tr").count(), 3);
    assert.match(await text("#stat-ratio"), /^\d+%$/);

    await page.getByRole("button", { name: "Train now" }).click();
    await page.waitForFunction(() => /^Trained policy v\d+/.test(document.getElementById("train-report").textContent));
    // Five ratings, each of a different prompt (the sixth prompt is unrated and teaches nothing).
    assert.match(await text("#train-report"), /from 5 ratings of 5 prompts/);
    assert.notEqual(await text("#stat-policy"), "v0");

    await page.getByRole("button", { name: "Evaluate" }).click();
    await page.locator("#evaluation table").waitFor();
    const rows = await page.locator("#evaluation tbody tr").allTextContents();
    assert.equal(rows.length, 3);
    assert.match(rows[0], /^Learned/);
    assert.match(rows[1], /^Greedy/);
    assert.match(rows[2], /^Rules only/);
    assert.match(await text("#learned"), /Confidence/);
  });

  it("lists the history with rewards, searches, filters, pages, and reuses an item to rate it", async () => {
    // Three more, so that the history has two pages of 8.
    for (const prompt of ["a bowl of ramen, top view", "a knight on a horse at sunset", "a neon city street in the rain"]) {
      await optimize(prompt, { category: "image", model: "sdxl", keys: true });
    }
    await waitStat("stat-spans", 9);
    await page.waitForFunction(() => document.querySelectorAll("#history-list li").length === 8);
    assert.equal(await page.getByRole("button", { name: "Previous" }).isDisabled(), true);
    await page.getByRole("button", { name: "Next" }).click();
    await page.waitForFunction(() => document.querySelectorAll("#history-list li").length === 1);
    assert.equal(await text("#history-page"), "Page 2");
    assert.match(await text("#history-list"), /portrait of an old fisherman/);
    await page.getByRole("button", { name: "Previous" }).click();
    await page.waitForFunction(() => document.querySelectorAll("#history-list li").length === 8);

    await page.getByLabel("Search this page").fill("lighthouse");
    assert.equal(await page.locator("#history-list li").count(), 1);
    assert.match(await text("#history-list"), /reward [+−]0\.\d\d/);
    await page.getByLabel("Search this page").fill("");

    await page.getByLabel("Filter by category").selectOption("text");
    await page.waitForFunction(() => document.querySelectorAll("#history-list li").length === 1);
    assert.match(await text("#history-list"), /explain recursion/);
    await page.getByLabel("Filter by category").selectOption("");
    await page.waitForFunction(() => document.querySelectorAll("#history-list li").length === 8);

    // Reuse an unrated item, then rate it from there.
    const item = page.locator(".history-item", { hasText: "a bowl of ramen" });
    assert.match(await item.textContent(), /not rated/);
    await item.click();
    assert.equal(await page.getByLabel("Prompt", { exact: true }).inputValue(), "a bowl of ramen, top view");
    assert.equal(await page.getByLabel("Category", { exact: true }).inputValue(), "image");
    assert.equal(await page.getByLabel("Model", { exact: true }).inputValue(), "sdxl");
    assert.match(await text("#feedback-target"), /a bowl of ramen/);
    await rate(4);
    await waitStat("stat-rewards", 6);
    await page.waitForFunction(() => /reward/.test(document.querySelector('.history-item.selected .badge')?.textContent ?? ""));
  });

  it("keeps history and status across a reload (IndexedDB)", async () => {
    await page.reload();
    await waitReady();
    assert.equal(await text("#stat-spans"), "9");
    assert.equal(await text("#stat-rewards"), "6");
    await page.waitForFunction(() => document.querySelectorAll("#history-list li").length === 8);
    assert.equal(await page.getByRole("button", { name: "Next" }).isDisabled(), false);
    assert.equal(await chartPoints(), 6);
    assert.equal(await page.evaluate(() => Boolean(navigator.serviceWorker.controller)), true, "the service worker controls the page");
  });

  it("shows markup typed in a prompt as text and runs nothing", async () => {
    const evil = "a cat <img src=x onerror=alert(1)> <script>alert(2)</script>";
    await optimize(evil, { category: "image", model: "sdxl" });
    assert.ok((await text("#optimized-prompt")).includes("<img src=x onerror=alert(1)>"));
    assert.ok((await text("#history-list")).includes("<img src=x onerror=alert(1)>"));
    await page.waitForTimeout(300);
    assert.equal(await page.locator('img[src="x"]').count(), 0);
    assert.equal(await page.locator("main script").count(), 0);
    assert.deepEqual(dialogs, []);
    assert.equal(await page.locator("[style]").count(), 0, "no inline style attributes in the DOM");
  });

  it("rejects a broken import with its code and changes nothing", async () => {
    const spans = await text("#stat-spans");
    const rewards = await text("#stat-rewards");
    await page.locator("#import-file").setInputFiles({ name: "broken.json", mimeType: "application/json", buffer: Buffer.from("{not json") });
    await page.locator("#data-error").waitFor({ state: "visible" });
    assert.match(await text("#data-error"), /Nothing was imported from broken\.json — InvalidInput/);
    // A well-formed JSON with a bad span is refused as a whole too.
    const bad = { format: "lightprompt", version: 1, exportedAt: 0, spans: [{}], rewards: [], policies: [] };
    await page.locator("#import-file").setInputFiles({ name: "bad.json", mimeType: "application/json", buffer: Buffer.from(JSON.stringify(bad)) });
    await page.waitForFunction(() => document.getElementById("data-error").textContent.includes("bad.json"));
    assert.match(await text("#data-error"), /InvalidInput/);
    assert.equal(await text("#stat-spans"), spans);
    assert.equal(await text("#stat-rewards"), rewards);
  });

  it("exports JSON and OTLP as downloads, and imports the export back", async () => {
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export", exact: true }).click()]);
    assert.match(download.suggestedFilename(), /^lightprompt-.*\.json$/);
    const file = path.join(downloads, download.suggestedFilename());
    await download.saveAs(file);
    const doc = JSON.parse(readFileSync(file, "utf8"));
    assert.equal(doc.format, "lightprompt");
    assert.equal(doc.spans.length, 10);
    assert.equal(doc.rewards.length, 6);

    const [otlp] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export OTLP" }).click()]);
    assert.match(otlp.suggestedFilename(), /^lightprompt-otlp-.*\.json$/);
    const otlpFile = path.join(downloads, otlp.suggestedFilename());
    await otlp.saveAs(otlpFile);
    assert.ok(Array.isArray(JSON.parse(readFileSync(otlpFile, "utf8")).resourceSpans));

    // Merging the same export adds nothing and says so.
    await page.locator("#import-file").setInputFiles(file);
    await page.waitForFunction(() => document.getElementById("data-result").textContent.startsWith("Imported"));
    assert.match(await text("#data-result"), /0 optimizations added \(10 already there\)/);
    assert.equal(await page.locator("#data-error").isHidden(), true);
    assert.equal(await text("#stat-spans"), "10");
  });

  it("shows progress for training; Cancel stops a training that waits for its lock", async () => {
    // Training: the bar fills and goes away, the report shows.
    await page.evaluate(() => { document.getElementById("train-report").textContent = ""; });
    await page.getByRole("button", { name: "Train now" }).click();
    await page.waitForFunction(() => document.getElementById("train-report").textContent.startsWith("Trained"));
    assert.equal(await page.locator("#busy-progress").isHidden(), true);
    const version = await text("#train-report");
    // Hold the tabs' training lock (as another tab training would), so the next training
    // waits in the lock's queue: Cancel then takes it out, deterministically.
    await page.evaluate(() => new Promise((held) => {
      navigator.locks.request("lightprompt-train:lightprompt", () => new Promise((release) => { window.releaseTrainLock = release; held(); }));
    }));
    await page.getByRole("button", { name: "Train now" }).click();
    await page.locator("#busy-cancel").waitFor({ state: "visible" });
    assert.equal(await page.locator("#busy-progress").isVisible(), true);
    await page.locator("#busy-cancel").click();
    await page.waitForFunction(() => document.getElementById("train-report").textContent.includes("Aborted"));
    await page.evaluate(() => window.releaseTrainLock());
    assert.equal(await page.locator("#busy-cancel").isHidden(), true);
    // The policy is the one of before: training again makes the next version, not two more.
    await page.getByRole("button", { name: "Train now" }).click();
    await page.waitForFunction(() => document.getElementById("train-report").textContent.startsWith("Trained"));
    const before = Number(version.match(/policy v(\d+)/)[1]);
    assert.equal(Number((await text("#train-report")).match(/policy v(\d+)/)[1]), before + 1);
  });

  it("fits a 390px phone and a 1280px desktop (screenshots)", async () => {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.waitForTimeout(200);
    await page.screenshot({ path: path.join(shots, "desktop-1280x800.png") });
    await page.screenshot({ path: path.join(shots, "desktop-1280-full.png"), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), "no horizontal scroll at 390px");
    await page.screenshot({ path: path.join(shots, "phone-390x844.png") });
    await page.screenshot({ path: path.join(shots, "phone-390-full.png"), fullPage: true });
    // The charts were redrawn at the phone's width.
    const width = Number((await page.locator("#reward-chart").getAttribute("viewBox")).split(" ")[2]);
    assert.ok(width <= 390, `chart width ${width}`);
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it("works offline after the first load (service worker)", async () => {
    stopServer();
    await context.setOffline(true);
    try {
      await page.reload();
      await waitReady();
      assert.equal(await text("#stat-spans"), "10");
      await optimize("a paper boat on a puddle", { category: "image", model: "dall-e-3" });
      assert.match(await text("#optimized-prompt"), /paper boat/);
      await waitStat("stat-spans", 11);
      assert.match(await text("#network-status"), /Offline/);
    } finally {
      await context.setOffline(false);
    }
  });

  it("resets everything after a confirmation", async () => {
    await page.getByRole("button", { name: "Reset", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: "Reset everything?" });
    await dialog.waitFor();
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "hidden" });
    assert.equal(await text("#stat-spans"), "11");

    await page.getByRole("button", { name: "Reset", exact: true }).click();
    await dialog.getByRole("button", { name: "Delete everything" }).click();
    await waitStat("stat-spans", 0);
    assert.equal(await text("#stat-rewards"), "0");
    await page.waitForFunction(() => document.querySelectorAll("#history-list li").length === 0);
    assert.equal(await page.locator("#history-empty").isVisible(), true);
    assert.equal(await chartPoints(), 0);
    assert.equal(await page.locator("#result-section").isHidden(), true);
  });

  it("says so when another tab takes the database over, and when the saved data is wiped", async () => {
    // Another tab deletes the database: this tab's engine steps aside and the page says so.
    const other = await context.newPage();
    await other.goto(`${origin}/icon.svg`);
    await other.evaluate(() => new Promise((resolve) => {
      const request = indexedDB.deleteDatabase("lightprompt");
      request.onsuccess = request.onerror = () => resolve();
    }));
    await other.close();
    await page.locator(".message.error", { hasText: "Another lightprompt tab" }).waitFor();
    // Reloaded, the page finds a new, empty store where it knew an older one: it warns.
    await page.reload();
    await page.locator(".message.error", { hasText: "cleared this site's saved data" }).waitFor();
    await waitStat("stat-spans", 0);
  });

  it("stayed on its own origin, broke no CSP rule and threw nothing", async () => {
    assert.ok(requests.length > 5, "requests were recorded");
    const outside = requests.filter((url) => !url.startsWith(`${origin}/`) && !url.startsWith("data:") && !url.startsWith("blob:"));
    assert.deepEqual(outside, []);
    assert.deepEqual(cspViolations, []);
    assert.deepEqual(await page.evaluate(() => window.__csp), []);
    assert.deepEqual(dialogs, []);
    assert.deepEqual(pageErrors, []);
  });
});
