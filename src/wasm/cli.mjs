#!/usr/bin/env node
// The `lightprompt` command (the npm package's bin). One subcommand:
//
//   lightprompt send-agl FILE… --store URL
//
// sends exports (`exportData()`, the page's "Export data") from any number of browsers to
// an Agent Lightning store, with a progress bar. Each file is checked and loaded into a
// memory instance, then sent like `sendToAgentLightning`; sending a file again adds nothing.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const USAGE = `usage: lightprompt send-agl FILE... --store URL

Sends lightprompt exports (exportData() / "Export data" in the page) to an Agent Lightning
0.3 store, e.g. one started with: agl store --host 127.0.0.1 --port 4747
Only what the store does not have yet is sent, so files can be sent again.

  --store URL   the store's address (also AGL_STORE_URL)
  --quiet       no progress bar
`;

function parse(argv) {
  const [command, ...rest] = argv;
  if (!command || command === "-h" || command === "--help") return { help: true };
  if (command !== "send-agl") throw new Usage(`unknown command ${JSON.stringify(command)}`);
  const files = [];
  let store = process.env.AGL_STORE_URL;
  let quiet = false;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === "--store") {
      store = rest[++i];
      if (!store) throw new Usage("--store needs a URL");
    } else if (a.startsWith("--store=")) store = a.slice("--store=".length);
    else if (a === "--quiet") quiet = true;
    else if (a === "-h" || a === "--help") return { help: true };
    else if (a.startsWith("--")) throw new Usage(`unknown option ${a}`);
    else files.push(a);
  }
  if (files.length === 0) throw new Usage("no FILE given");
  if (!store) throw new Usage("--store URL is required");
  return { files, store, quiet };
}

class Usage extends Error {}

/** A one-line progress bar on stderr (plain lines when stderr is not a terminal). */
function progressBar(quiet) {
  const tty = process.stderr.isTTY && !quiet;
  let lastLine = "";
  return {
    update(fileIndex, files, name, p) {
      if (quiet) return;
      const share = p.total > 0 ? p.done / p.total : 1;
      const phases = ["connecting", "checking", "creating", "sending", "finishing", "done"];
      const phase = Math.max(0, phases.indexOf(p.phase));
      // Sending dominates; the other phases move the bar a little each.
      const within = p.phase === "sending" ? 0.3 + 0.6 * share : (phase < 3 ? 0.1 * phase : 0.9 + 0.1 * (phase - 4));
      const overall = (fileIndex + Math.min(1, Math.max(0, within))) / files;
      const width = 30;
      const filled = Math.round(overall * width);
      const counts = p.total > 0 ? ` ${p.done}/${p.total}` : "";
      const line = `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${String(Math.round(overall * 100)).padStart(3)}% ${name}: ${p.phase}${counts}`;
      if (tty) process.stderr.write(`\r\x1b[2K${line}`);
      else if (p.phase !== lastLine) process.stderr.write(`${line}\n`);
      lastLine = tty ? line : p.phase;
    },
    end() {
      if (tty && lastLine) process.stderr.write("\n");
    },
  };
}

async function main() {
  let args;
  try {
    args = parse(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof Usage)) throw e;
    process.stderr.write(`lightprompt: ${e.message}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const { LightPrompt } = createRequire(import.meta.url)("../node.cjs");
  const bar = progressBar(args.quiet);
  const total = { files: 0, rollouts: 0, spans: 0, rewards: 0, tasks: 0, upToDate: 0 };
  for (const [i, file] of args.files.entries()) {
    let text;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      bar.end();
      process.stderr.write(`lightprompt: cannot read ${file}: ${e.message}\n`);
      return 1;
    }
    const lp = await LightPrompt.open({ inMemory: true, autoTrainEvery: 0 });
    try {
      await lp.importData(text);
      const r = await lp.sendToAgentLightning({
        storeUrl: args.store,
        onProgress: (p) => bar.update(i, args.files.length, file, p),
      });
      total.files += 1;
      for (const k of ["rollouts", "spans", "rewards", "tasks", "upToDate"]) total[k] += r[k];
    } catch (e) {
      bar.end();
      const status = e.status ? ` (HTTP ${e.status})` : "";
      process.stderr.write(`lightprompt: ${file}: ${e.code ?? "Error"}${status}: ${e.message}\n`);
      return 1;
    } finally {
      lp.close();
    }
  }
  bar.end();
  process.stdout.write(
    `sent ${total.files} file(s) to ${args.store}: ${total.rollouts} new rollout(s), ` +
      `${total.spans} span(s), ${total.rewards} reward(s); ${total.upToDate} of ${total.tasks} task(s) were already complete\n` +
      `${JSON.stringify(total)}\n`,
  );
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`lightprompt: ${e?.stack ?? e}\n`);
    process.exit(1);
  },
);
