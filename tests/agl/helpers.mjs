// Shared by the Agent Lightning tests: a real `agl store` on 127.0.0.1 (stopped by its pid),
// and the read-back through Agent Lightning's own Python client (check.py).
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";

export const root = path.resolve(import.meta.dirname, "../..");
export const work = path.join(root, "build", "agl-test");
export const python = path.join(root, "build", "agl", "bin", "python");
const aglBin = path.join(root, "build", "agl", "bin", "agl");
// litellm (an Agent Lightning dependency) fetches a price list at start unless told not to.
export const env = { ...process.env, LITELLM_LOCAL_MODEL_COST_MAP: "True" };

export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** Starts `agl store` on a free loopback port; resolves with { url, stop } once healthy. */
export async function startStore({ corsOrigin } = {}) {
  mkdirSync(work, { recursive: true });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = ["store", "--host", "127.0.0.1", "--port", String(port)];
  if (corsOrigin) args.push("--cors-origin", corsOrigin);
  const child = spawn(aglBin, args, { env, stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr.on("data", (d) => (log = (log + d).slice(-4000)));
  let stopped = false;
  const stop = () => {
    // By its pid, once: `after` and the exit hook may both call this.
    if (stopped || child.exitCode !== null) return;
    stopped = true;
    try {
      process.kill(child.pid, "SIGTERM");
    } catch {
      // already gone
    }
  };
  process.on("exit", stop);
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`agl store exited: ${log}`);
    try {
      if ((await fetch(`${url}/v1/agl/health`)).ok) return { url, stop };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      stop();
      throw new Error(`agl store did not start: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Adds what lightprompt holds (spans and rewards with their sequence numbers) to `expected`. */
export function remember(expected, spans, rewards) {
  const bySeq = (a, b) => a.sequence - b.sequence;
  for (const s of spans) assert.ok(Number.isSafeInteger(s.sequence), "spans carry a sequence");
  const tasks = new Map();
  for (const s of [...spans].sort(bySeq)) {
    if (!tasks.has(s.taskId)) tasks.set(s.taskId, { taskId: s.taskId, category: s.category, spans: [], rewards: [] });
    tasks.get(s.taskId).spans.push(s);
  }
  for (const r of [...rewards].sort(bySeq)) tasks.get(r.taskId).rewards.push(r);
  for (const task of tasks.values()) {
    const latest = new Map(task.rewards.map((r) => [r.spanId, r.value]));
    expected.set(task.taskId, {
      taskId: task.taskId,
      category: task.category,
      spanIds: task.spans.map((s) => s.spanId),
      optimizations: task.spans.map((s) => ({
        spanId: s.spanId,
        original: s.originalPrompt,
        optimized: s.optimizedPrompt,
        latestReward: latest.get(s.spanId) ?? null,
      })),
      rewards: task.rewards.map((r) => ({ rewardId: r.rewardId, spanId: r.spanId, value: r.value })),
      finalReward: task.rewards.length ? task.rewards[task.rewards.length - 1].value : null,
    });
  }
}

/** Reads the store back with Agent Lightning's helpers; returns the counts it read. */
export function readBack(url, expected, name = "expected") {
  const file = path.join(work, `${name}.json`);
  writeFileSync(file, JSON.stringify({ tasks: [...expected.values()] }));
  const out = execFileSync(python, [path.join(import.meta.dirname, "check.py"), url, file], { env, encoding: "utf8" });
  return JSON.parse(out.trim().split("\n").pop());
}
