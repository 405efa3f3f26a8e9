// The page sends to a real Agent Lightning store on this computer, in headless Chromium:
// optimize and rate in the page, "Send to Agent Lightning" with the store's URL (the store
// allows the page's origin with --cors-origin), then read back with Agent Lightning's own
// helpers. The page requests nothing but its own files and the loopback store, and breaks
// no CSP rule.
//
// Run: node --test tests/agl/page.test.mjs   (needs www/pkg, build/agl, /usr/bin/chromium)

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { freePort, readBack, remember, root, startStore, work } from "./helpers.mjs";

const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

let server = null;
let store = null;
let browser = null;
let origin = "";

before(async () => {
  const port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  server = spawn("python3", ["-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", path.join(root, "www")], { stdio: "ignore" });
  store = await startStore({ corsOrigin: origin });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${origin}/index.html`)).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 100) throw new Error("the static server did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
});

after(async () => {
  try {
    if (browser) await browser.close();
  } finally {
    store?.stop();
    if (server && server.exitCode === null) process.kill(server.pid, "SIGTERM");
  }
});

test("Your data → Send to Agent Lightning: sent once, read back by Agent Lightning", { timeout: 120_000 }, async () => {
  const context = await browser.newContext({ acceptDownloads: true });
  const requests = [];
  const violations = [];
  context.on("request", (r) => requests.push(r.url()));
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => (window.__csp ??= []).push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.on("pageerror", (e) => violations.push(`pageerror: ${e.message}`));
  await page.goto(`${origin}/`);
  await page.waitForSelector("html[data-ready='true']");

  for (const [prompt, stars] of [["a lighthouse on a cliff at night", 5], ["a bowl of ramen, overhead shot", 2], ["a cat asleep on a windowsill", 0]]) {
    const before = await page.locator("#result-section").getAttribute("data-span-id");
    await page.getByLabel("Prompt", { exact: true }).fill(prompt);
    await page.getByRole("button", { name: "Optimize", exact: true }).click();
    await page.waitForFunction((old) => {
      const id = document.getElementById("result-section").dataset.spanId;
      return id && id !== old;
    }, before);
    if (stars) {
      await page.evaluate(() => delete document.getElementById("feedback-result").dataset.reward);
      await page.locator("label.star").nth(stars - 1).click();
      await page.getByRole("button", { name: "Send feedback" }).click();
      await page.waitForFunction(() => document.getElementById("feedback-result").dataset.reward !== undefined);
    }
  }

  const send = async () => {
    await page.evaluate(() => (document.getElementById("data-result").textContent = ""));
    await page.getByLabel("Agent Lightning store").fill(store.url);
    await page.getByRole("button", { name: "Send to Agent Lightning" }).click();
    await page.waitForFunction(() => /Sent to Agent Lightning|failed/.test(document.getElementById("data-result").textContent + document.getElementById("data-error").textContent));
    assert.equal(await page.locator("#data-error").isHidden(), true, await page.locator("#data-error").textContent());
    return (await page.locator("#data-result").textContent()).trim();
  };
  assert.match(await send(), /: 3 new rollouts, 3 optimizations, 2 rewards \(0 of 3 tasks/);
  assert.equal(await page.locator("#agl-progress").getAttribute("data-phase"), "done");
  assert.equal(await page.locator("#agl-progress").evaluate((p) => p.value), 1);
  assert.match(await send(), /: 0 new rollouts, 0 optimizations, 0 rewards \(3 of 3 tasks/);
  mkdirSync(path.join(root, "build", "screenshots"), { recursive: true });
  await page.locator("#data-section").screenshot({ path: path.join(root, "build", "screenshots", "agl-send.png") });

  // What the page holds, from its own export, against what Agent Lightning reads.
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export", exact: true }).click()]);
  const file = path.join(work, "page-export.json");
  rmSync(file, { force: true });
  await download.saveAs(file);
  const doc = JSON.parse(readFileSync(file, "utf8"));
  const expected = new Map();
  remember(expected, doc.spans, doc.rewards);
  const counts = readBack(store.url, expected, "page-expected");
  assert.deepEqual(counts, { rollouts: 3, succeeded: 3, spans: 3, rewards: 2, triplets: 3, rewarded_triplets: 2 });
  console.log(`# Agent Lightning read back (page): ${JSON.stringify(counts)}`);

  // A remote store is not tried from the page; the message says what to do instead.
  await page.getByLabel("Agent Lightning store").fill("http://192.0.2.1:4747");
  await page.getByRole("button", { name: "Send to Agent Lightning" }).click();
  await page.waitForFunction(() => !document.getElementById("data-error").hidden);
  assert.match(await page.locator("#data-error").textContent(), /InvalidInput.*storeUrl.*send-agl/s);
  // And the page's CSP would refuse it anyway: connect-src lists loopback only.
  const csp = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute("content");
  assert.match(csp, /connect-src 'self' http:\/\/127\.0\.0\.1:\* http:\/\/localhost:\*;/);
  assert.equal(await page.evaluate(() => fetch("http://192.0.2.1:4747/").then(() => "sent", () => "refused")), "refused");
  const seen = await page.evaluate(() => window.__csp ?? []);
  assert.ok(seen.some((v) => v.startsWith("connect-src") && v.includes("192.0.2.1")), `the CSP blocked it: ${seen}`);
  assert.deepEqual(seen.filter((v) => !v.includes("192.0.2.1")), [], "no other CSP violation");
  assert.deepEqual(violations, []);
  // (The page's own fetch to 192.0.2.1 above is blocked by the CSP before it leaves.)
  const outside = requests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith(`${store.url}/`) && !u.startsWith("data:") && !u.startsWith("blob:") && !u.startsWith("http://192.0.2.1:4747/"));
  assert.deepEqual(outside, [], "the page requests only its own files and the loopback store");
  await context.close();
});
