// lightprompt page. The engine lives in a module Web Worker (worker.js); this module is the
// UI: it builds every piece of data-bearing DOM with createElement / textContent (no HTML
// string is ever parsed), draws the charts as SVG nodes, and talks to the worker by RPC.

const SVG_NS = "http://www.w3.org/2000/svg";
const HISTORY_PAGE = 8;
const QUOTA_MESSAGE = "Storage is full: export your data, then clear old history";
const PRIMARY_OPTIONS = new Set(["aspectRatio", "negative", "style", "format", "tone"]);
const OPTION_LABELS = {
  aspectRatio: "Aspect ratio",
  negative: "Negative terms",
  cfgScale: "CFG scale",
  maxEdits: "Most edits",
  maxLength: "Longest prompt (chars)",
  maxWords: "Longest answer (words)",
  maxTokens: "Most output tokens",
  stepByStep: "Step by step",
  defaultNegative: "Usual negative terms",
  exp: "Experimental (--exp)",
};

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- DOM helpers

/** An element with attributes and children; strings become text nodes. */
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

/** An SVG element; `text` (optional) becomes its text node. */
function s(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttrs(node, attrs);
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function setAttrs(node, attrs) {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "class") node.setAttribute("class", value);
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
}

function fmt(value, digits = 2) {
  return Number.isFinite(value) ? value.toFixed(digits) : "–";
}

function signed(value, digits = 2) {
  if (!Number.isFinite(value)) return "–";
  return (value > 0 ? "+" : value < 0 ? "−" : "") + Math.abs(value).toFixed(digits);
}

function score(value) {
  return Number.isFinite(value) ? String(Math.round(value * 10) / 10) : "–";
}

function percent(value) {
  return Number.isFinite(value) ? `${Math.round(value * 100)}%` : "–";
}

function when(ms) {
  if (!Number.isFinite(ms)) return "";
  return new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function shortDate(ms) {
  return new Date(ms).toLocaleDateString(undefined, { month: "short", day: "numeric" });
}

function humanize(name) {
  if (OPTION_LABELS[name]) return OPTION_LABELS[name];
  const words = name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function clip(text, max = 140) {
  const flat = String(text).replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

// ---------------------------------------------------------------- engine RPC

class Engine {
  constructor() {
    this.nextId = 1;
    this.pending = new Map();
    this.failure = null;
    this.worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module", name: "lightprompt-engine" });
    this.worker.addEventListener("message", (event) => this.receive(event.data));
    this.worker.addEventListener("error", (event) => {
      event.preventDefault();
      this.fail(engineError(`The engine could not start: ${event.message || "the worker failed to load"}`, "Unavailable"));
    });
    this.worker.addEventListener("messageerror", () => this.fail(engineError("A message from the engine could not be read.", "Internal")));
  }

  /** Calls `method` in the worker; resolves with its value, rejects with an Error carrying code and field. */
  call(method, ...args) {
    return this.track(method, args).promise;
  }

  /** A long call with progress: `onProgress(done, total)`; `cancel()` aborts it (code "Aborted"). */
  track(method, args, onProgress = null) {
    if (this.failure) return { promise: Promise.reject(this.failure), cancel: () => {} };
    const id = this.nextId++;
    const promise = new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      this.worker.postMessage({ id, method, args, progress: onProgress !== null });
    });
    return { promise, cancel: () => this.worker.postMessage({ cancel: id }) };
  }

  receive(message) {
    if (message?.event === "agl-progress") {
      aglProgress(message.progress);
      return;
    }
    if (message?.event === "versionchange") {
      notify("error", "Another lightprompt tab updated the saved data, so this tab stopped using it. Reload this page to continue.", { code: "Closed" });
      return;
    }
    const entry = this.pending.get(message?.id);
    if (!entry) return;
    if (message.progress) {
      entry.onProgress?.(...message.progress);
      return;
    }
    this.pending.delete(message.id);
    if (message.ok) entry.resolve(message.value);
    else entry.reject(engineError(message.error?.message ?? "unknown error", message.error?.code, message.error?.field));
  }

  fail(error) {
    this.failure = error;
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
  }
}

function engineError(message, code = "Internal", field = null) {
  const error = new Error(message);
  error.name = "LightPromptError";
  error.code = code ?? "Internal";
  error.field = field ?? null;
  return error;
}

const engine = new Engine();

// ---------------------------------------------------------------- state

const state = {
  catalog: null,
  result: null, // the OptimizeResult (or history span) on screen
  target: null, // what the feedback form rates: { spanId, taskId, qualityScore, prompt, model }
  history: { page: 0, category: "", spans: [], rewards: {}, hasMore: false, selected: null },
  rewardSeries: [],
  status: null,
  busy: 0,
};

// ---------------------------------------------------------------- messages, busy state, errors

function describeError(error) {
  if (error?.code === "QuotaExceeded") return QUOTA_MESSAGE;
  return error?.message ?? String(error);
}

/** A dismissible message in the banner area. */
function notify(kind, text, { code = null, timeout = kind === "error" ? 0 : 6000 } = {}) {
  const body = h("p", {});
  if (code) body.append(h("span", { class: "code", text: code }), " ");
  body.append(text);
  const close = h("button", { type: "button", class: "small", "aria-label": "Dismiss message", text: "×" });
  const box = h("div", { class: `message ${kind}`, role: kind === "error" ? "alert" : "status" }, body, close);
  close.addEventListener("click", () => box.remove());
  $("messages").append(box);
  while ($("messages").children.length > 4) $("messages").firstElementChild.remove();
  if (timeout) setTimeout(() => box.remove(), timeout);
  return box;
}

function notifyError(error, context) {
  const where = error?.field ? ` (field “${error.field}”)` : "";
  notify("error", `${context ? `${context}: ` : ""}${describeError(error)}${where}`, { code: error?.code ?? null });
}

/** Cancel functions of the long calls in flight: one bar and one Cancel serve them all. */
const longCalls = new Set();

/**
 * Runs the long engine call `method` like `busy`, with a progress bar and a Cancel button
 * in the status bar; a cancelled call rejects with code "Aborted" and stores nothing.
 */
async function busyWithProgress(section, label, method, args, disable = []) {
  const bar = $("busy-progress");
  const call = engine.track(method, args, (done, total) => {
    bar.max = Math.max(total, 1);
    bar.value = done;
    bar.setAttribute("aria-valuetext", `${done} of ${total}`);
  });
  longCalls.add(call.cancel);
  bar.value = 0;
  bar.hidden = false;
  $("busy-cancel").hidden = false;
  try {
    return await busy(section, label, () => call.promise, disable);
  } finally {
    longCalls.delete(call.cancel);
    bar.hidden = longCalls.size === 0;
    $("busy-cancel").hidden = longCalls.size === 0;
  }
}

/** Runs `task` with a busy indicator and aria-busy on `section`; buttons in `disable` are disabled meanwhile. */
async function busy(section, label, task, disable = []) {
  state.busy++;
  section?.setAttribute("aria-busy", "true");
  for (const button of disable) button.disabled = true;
  $("busy-text").textContent = label;
  $("busy").hidden = false;
  try {
    return await task();
  } finally {
    state.busy--;
    section?.removeAttribute("aria-busy");
    for (const button of disable) button.disabled = false;
    if (state.busy === 0) $("busy").hidden = true;
  }
}

/** Says `text` to screen readers without moving the focus. */
function announce(text) {
  $("announcer").textContent = "";
  setTimeout(() => {
    $("announcer").textContent = text;
  }, 50);
}

function pill(id, text, kind) {
  const node = $(id);
  node.textContent = text;
  node.className = `pill${kind ? ` ${kind}` : ""}`;
  node.hidden = false;
}

// ---------------------------------------------------------------- catalog, pickers, model options

function categories() {
  return state.catalog?.categories ?? [];
}

function currentCategory() {
  return categories().find((c) => c.id === $("category").value) ?? categories()[0];
}

function currentModel() {
  const category = currentCategory();
  return category?.models.find((m) => m.id === $("model").value) ?? category?.models[0];
}

function fillCategories() {
  const select = $("category");
  const filter = $("history-category");
  select.replaceChildren();
  for (const category of categories()) {
    const label = humanize(category.id);
    select.append(h("option", { value: category.id, text: label }));
    filter.append(h("option", { value: category.id, text: label }));
  }
  const saved = localStorage.getItem("lightprompt.category");
  if (saved && categories().some((c) => c.id === saved)) select.value = saved;
}

function fillModels(preferred) {
  const select = $("model");
  const category = currentCategory();
  select.replaceChildren();
  for (const model of category?.models ?? []) {
    const label = model.id === category.id ? `${model.name} (generic)` : model.name;
    select.append(h("option", { value: model.id, text: label }));
  }
  const saved = preferred ?? localStorage.getItem(`lightprompt.model.${category?.id}`);
  if (saved && category?.models.some((m) => m.id === saved)) select.value = saved;
  buildOptions();
}

/** One labelled control per model option; known kinds get the right widget. */
function optionControl(model, option) {
  const id = `opt-${option.name}`;
  const data = { id, "data-option": option.name, "data-type": option.type, title: option.description };
  const hintId = `${id}-hint`;
  let control;
  const choices = option.type === "aspectRatio" ? (model.aspectRatios.length ? model.aspectRatios : option.values ?? []) : option.values ?? [];
  if ((option.type === "choice" || option.type === "aspectRatio") && choices.length > 0) {
    control = h("select", data, h("option", { value: "", text: "Default" }), choices.map((v) => h("option", { value: v, text: v })));
  } else if (option.type === "boolean") {
    control = h("select", data, h("option", { value: "", text: "Default" }), h("option", { value: "true", text: "On" }), h("option", { value: "false", text: "Off" }));
  } else if (option.type === "integer" || option.type === "number") {
    control = h("input", { ...data, type: "number", inputmode: option.type === "integer" ? "numeric" : "decimal", min: option.min, max: option.max, step: option.type === "integer" ? 1 : "any", placeholder: "default" });
  } else if (option.type === "terms") {
    control = h("input", { ...data, type: "text", placeholder: "e.g. text, watermark", autocomplete: "off" });
  } else if (option.type === "aspectRatio") {
    control = h("input", { ...data, type: "text", placeholder: "W:H, e.g. 16:9", pattern: "\\d+:\\d+", autocomplete: "off" });
  } else {
    control = h("input", { ...data, type: "text", maxlength: option.maxChars, placeholder: option.name === "style" ? "e.g. watercolor" : "", autocomplete: "off" });
  }
  control.setAttribute("aria-describedby", hintId);
  const hint = option.type === "terms" ? `${option.description} Separate with commas.` : option.description;
  return h("div", { class: "field" }, h("label", { for: id, text: humanize(option.name) }), control, h("p", { id: hintId, class: "hint", text: hint }));
}

function buildOptions() {
  const model = currentModel();
  const main = $("main-options");
  const extra = $("extra-options");
  main.replaceChildren();
  extra.replaceChildren();
  if (!model) return;
  $("model-description").textContent = model.description ?? "";
  for (const option of model.options) {
    (PRIMARY_OPTIONS.has(option.name) ? main : extra).append(optionControl(model, option));
  }
  $("more-options").hidden = extra.children.length === 0;
  clearFieldErrors();
  refreshLearned();
}

function readOptions() {
  const options = {};
  for (const control of document.querySelectorAll("[data-option]")) {
    const raw = control.value.trim();
    if (raw === "") continue;
    const name = control.dataset.option;
    switch (control.dataset.type) {
      case "integer":
      case "number":
        options[name] = Number(raw);
        break;
      case "boolean":
        options[name] = raw === "true";
        break;
      case "terms":
        options[name] = raw.split(/[,\n]/).map((t) => t.trim()).filter(Boolean);
        break;
      default:
        options[name] = raw;
    }
  }
  return options;
}

function writeOptions(options = {}) {
  for (const control of document.querySelectorAll("[data-option]")) {
    const value = options[control.dataset.option];
    if (value === undefined || value === null) control.value = "";
    else if (Array.isArray(value)) control.value = value.join(", ");
    else control.value = String(value);
  }
}

function clearFieldErrors() {
  for (const node of document.querySelectorAll("#optimize-form [aria-invalid]")) node.removeAttribute("aria-invalid");
  $("prompt-error").hidden = true;
  $("options-error").hidden = true;
}

/** Points at the input an error names (`prompt`, `options.stylize`). Returns whether one was found. */
function showFieldError(error) {
  const field = error?.field ?? "";
  if (field === "prompt") {
    $("prompt").setAttribute("aria-invalid", "true");
    $("prompt-error").textContent = describeError(error);
    $("prompt-error").hidden = false;
    $("prompt").focus();
    return true;
  }
  const match = /^options\.([A-Za-z0-9_]+)/.exec(field);
  const control = match && document.querySelector(`[data-option="${CSS.escape(match[1])}"]`);
  if (control) {
    if (control.closest("details")) control.closest("details").open = true;
    control.setAttribute("aria-invalid", "true");
    $("options-error").textContent = describeError(error);
    $("options-error").hidden = false;
    control.focus();
    return true;
  }
  return false;
}

// ---------------------------------------------------------------- optimize

async function optimize() {
  if ($("optimize-btn").disabled) return;
  clearFieldErrors();
  const prompt = $("prompt").value;
  if (!prompt.trim()) {
    showFieldError({ field: "prompt", message: "Write a prompt first." });
    return;
  }
  const category = currentCategory()?.id;
  const model = currentModel()?.id;
  const request = { prompt, category, model, options: readOptions() };
  localStorage.setItem("lightprompt.category", category);
  localStorage.setItem(`lightprompt.model.${category}`, model);
  try {
    const result = await busy($("optimize-section"), "Optimizing…", () => engine.call("optimize", request), [$("optimize-btn")]);
    state.history.selected = null;
    showResult(result);
    setTarget({ spanId: result.spanId, taskId: result.taskId, qualityScore: result.qualityScore, prompt: result.originalPrompt, model: result.model });
    announce(`Optimized: quality score ${score(result.originalQualityScore)} before, ${score(result.qualityScore)} after. The result follows the form.`);
    $("result-section").scrollIntoView({ block: "nearest", behavior: "smooth" });
    await Promise.all([refreshInsights(), loadHistory()]);
  } catch (error) {
    if (!showFieldError(error)) notifyError(error, "Could not optimize");
  }
}

/** Splits `text` into plain runs and <mark>s around each edit's words (first free occurrence). */
function highlightEdits(text, edits) {
  const ranges = [];
  const lower = text.toLowerCase();
  const sameLength = lower.length === text.length;
  const free = (start, end) => ranges.every((r) => end <= r.start || start >= r.end);
  for (const edit of edits ?? []) {
    const needle = String(edit.text ?? "").trim();
    if (!needle) continue;
    const find = (haystack, word) => {
      for (let at = haystack.indexOf(word); at !== -1; at = haystack.indexOf(word, at + 1)) {
        if (free(at, at + word.length)) return at;
      }
      return -1;
    };
    let at = find(text, needle);
    if (at === -1 && sameLength) at = find(lower, needle.toLowerCase());
    if (at !== -1) ranges.push({ start: at, end: at + needle.length, edit });
  }
  ranges.sort((a, b) => a.start - b.start);
  const fragment = document.createDocumentFragment();
  let cursor = 0;
  for (const range of ranges) {
    if (range.start > cursor) fragment.append(text.slice(cursor, range.start));
    const { edit } = range;
    const how = edit.learned ? "learned" : "rule";
    fragment.append(
      h("mark", {
        class: `edit-${how}`,
        title: `${edit.id} · ${edit.facet} · ${edit.learned ? "learned" : "rules"} · p=${fmt(edit.propensity)}`,
        text: text.slice(range.start, range.end),
      }),
    );
    cursor = range.end;
  }
  if (cursor < text.length) fragment.append(text.slice(cursor));
  return { fragment, found: new Set(ranges.map((r) => r.edit)) };
}

function setGauge(before, after) {
  const clamp = (v) => Math.max(0, Math.min(100, Number.isFinite(v) ? v : 0));
  for (const [id, value] of [["gauge-before", before], ["gauge-after", after]]) {
    const node = $(id);
    node.setAttribute("stroke-dasharray", `${clamp(value)} 100`);
    node.classList.toggle("empty", clamp(value) === 0);
  }
  $("gauge-value").textContent = score(after);
  $("gauge-title").textContent = `Quality score: ${score(before)} before, ${score(after)} after, out of 100`;
}

/** Renders an OptimizeResult, or a stored Span (which has no breakdown or suggestions). */
function showResult(result) {
  state.result = result;
  const section = $("result-section");
  section.hidden = false;
  section.dataset.spanId = result.spanId;

  const meta = [`${humanize(result.category)} · ${result.model}`];
  if (result.requestedModel && result.requestedModel !== result.model) meta.push(`asked for “${result.requestedModel}”`);
  if (result.fallback) meta.push("generic adapter");
  if (Number.isFinite(result.policyVersion)) meta.push(`policy v${result.policyVersion}`);
  if (result.createdAt) meta.push(when(result.createdAt));
  $("result-meta").textContent = meta.join(" · ");

  const before = result.originalQualityScore;
  const after = result.qualityScore;
  setGauge(before, after);
  const delta = after - before;
  $("score-text").textContent = `${score(before)} → ${score(after)} (${delta >= 0 ? "+" : "−"}${score(Math.abs(delta))})`;

  const { fragment, found } = highlightEdits(result.optimizedPrompt ?? "", result.edits);
  $("optimized-prompt").replaceChildren(fragment);

  $("negative-block").hidden = !result.negativePrompt;
  $("negative-prompt").textContent = result.negativePrompt ?? "";

  const params = Object.entries(result.parameters ?? {});
  $("params-block").hidden = params.length === 0;
  $("parameters").replaceChildren(
    ...params.flatMap(([key, value]) => [h("dt", { text: key }), h("dd", { text: typeof value === "string" ? value : JSON.stringify(value) })]),
  );

  const notes = [...(result.notes ?? [])];
  if (result.fallback && notes.length === 0) notes.push(`The model was not recognised: the generic ${result.category} adapter was used.`);
  if (!result.breakdown) notes.push("Loaded from your history. Rate it below, or optimize it again for a fresh breakdown.");
  $("notes-block").hidden = notes.length === 0;
  $("notes").replaceChildren(...notes.map((note) => h("li", { text: note })));

  renderBreakdown(result);

  const edits = result.edits ?? [];
  $("edits").replaceChildren(
    ...(edits.length
      ? edits.map((edit) =>
          h(
            "li",
            {},
            h("span", { class: `badge ${edit.learned ? "learned" : "rule"}`, text: edit.learned ? "learned" : "rule" }),
            " ",
            h("strong", { text: edit.text }),
            " ",
            h("span", { class: "muted", text: `${edit.facet} · p=${fmt(edit.propensity)}${found.has(edit) ? "" : " · in the parameters"}` }),
          ),
        )
      : [h("li", { class: "muted", text: "No edits: the prompt was kept as written." })]),
  );

  const suggestions = result.suggestions ?? [];
  $("suggestions").replaceChildren(
    ...(suggestions.length ? suggestions.map((text) => h("li", { text })) : [h("li", { class: "muted", text: result.breakdown ? "Nothing to add." : "—" })]),
  );
}

function renderBreakdown(result) {
  const list = $("breakdown");
  const before = new Map((result.originalBreakdown ?? []).map((f) => [f.facet, f]));
  $("breakdown-block").hidden = !result.breakdown;
  list.replaceChildren();
  for (const facet of result.breakdown ?? []) {
    if (facet.applicable === false) {
      // A facet the prompt's intent rules out (a lens for a watercolor) is worth nothing either way.
      const na = h("li", { class: "na" }, h("span", {}, h("span", { class: "facet-name", text: facet.label }), h("span", { class: "facet-state", text: " does not apply" })));
      na.title = "Not scored: it does not fit what the prompt asks for.";
      list.append(na);
      continue;
    }
    const was = before.get(facet.facet);
    const gain = was ? facet.points - was.points : 0;
    const name = h("span", { class: "facet-name", text: facet.label });
    const state = h("span", { class: "facet-state" }, h("span", { "aria-hidden": "true", text: facet.present ? "✓" : "○" }), h("span", { class: "visually-hidden", text: facet.present ? " present" : " missing" }));
    const label = h("span", {}, name, state);
    if (gain > 0) label.append(h("span", { class: "gain", text: `+${score(gain)}` }));
    const meter = h("meter", { min: 0, max: facet.maxPoints || 1, value: facet.points, "aria-label": `${facet.label}: ${score(facet.points)} of ${score(facet.maxPoints)} points` });
    const item = h("li", { class: facet.present ? "present" : "missing" }, label, meter, h("span", { class: "pts", text: `${score(facet.points)}/${score(facet.maxPoints)}` }));
    if (facet.evidence?.length) item.title = `Because of: ${facet.evidence.join(", ")}`;
    list.append(item);
  }
  const penalties = result.penalties ?? [];
  $("penalties-title").hidden = penalties.length === 0;
  $("penalties").replaceChildren(...penalties.map((p) => h("li", { text: `−${score(p.points)} ${p.kind}: ${p.detail}` })));
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = h("textarea", { class: "visually-hidden", readonly: true, "aria-hidden": "true" });
    area.value = text;
    document.body.append(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch {
      ok = false;
    }
    area.remove();
    return ok;
  }
}

async function copyFrom(button, text, markUsed) {
  const ok = await copyText(text);
  const label = button.textContent;
  button.textContent = ok ? "Copied ✓" : "Copy failed";
  setTimeout(() => {
    button.textContent = label === "Copied ✓" || label === "Copy failed" ? "Copy" : label;
  }, 1800);
  if (ok && markUsed && state.target) {
    $("fb-used").checked = true;
    updateRewardPreview();
  }
}

// ---------------------------------------------------------------- feedback

function setTarget(target) {
  state.target = target;
  const form = $("feedback-form");
  form.reset();
  form.dataset.spanId = target ? target.spanId : "";
  $("feedback-result").textContent = "";
  $("feedback-result").className = "result-line";
  delete $("feedback-result").dataset.reward;
  $("feedback-btn").disabled = !target;
  if (!target) {
    $("feedback-target").textContent = "Optimize a prompt, or pick one from the history, to rate it.";
  } else {
    const node = $("feedback-target");
    node.replaceChildren("Rating ", h("q", { text: clip(target.prompt, 90) }), ` · ${target.model}`);
    if (target.latestReward) node.append(` · last reward ${signed(target.latestReward.value)}`);
  }
  updateRating();
}

function ratingValue() {
  const checked = document.querySelector('input[name="rating"]:checked');
  return checked ? Number(checked.value) : null;
}

function updateRating() {
  const rating = ratingValue();
  $("rating-text").textContent = rating ? `${rating} of 5` : "not rated";
  updateRewardPreview();
}

let previewToken = 0;
async function updateRewardPreview() {
  const target = state.target;
  const token = ++previewToken;
  if (!target || !Number.isFinite(target.qualityScore)) {
    $("reward-preview").textContent = "";
    return;
  }
  const signals = { qualityScore: target.qualityScore, satisfied: $("fb-satisfied").checked, usedResult: $("fb-used").checked };
  const rating = ratingValue();
  if (rating) signals.rating = rating;
  try {
    const value = await engine.call("calculateReward", signals);
    if (token === previewToken) $("reward-preview").textContent = `This feedback would give a reward of ${signed(value)} (from −1 to +1).`;
  } catch {
    // The preview is a nicety; the real reward comes back with the feedback.
  }
}

async function sendFeedback() {
  const target = state.target;
  if (!target) return;
  const metadata = { satisfied: $("fb-satisfied").checked, usedResult: $("fb-used").checked };
  const rating = ratingValue();
  if (rating) metadata.rating = rating;
  const request = { spanId: target.spanId, taskId: target.taskId, metadata };
  const comment = $("fb-comment").value.trim();
  if (comment) request.feedbackText = comment;
  const out = $("feedback-result");
  try {
    const result = await busy($("feedback-section"), "Saving feedback…", () => engine.call("feedback", request), [$("feedback-btn")]);
    const parts = [`Reward ${signed(result.reward)} (${result.source}). Thank you!`];
    if (result.trained) parts.push(`The policy was saved as version ${result.trained.policyVersion}: it has learned from ${result.trained.rewardsUsed} ratings of ${result.trained.spansUsed} prompts.`);
    if (result.trainError) parts.push(`Automatic training failed (${result.trainError}); your reward is saved.`);
    out.textContent = parts.join(" ");
    out.className = `result-line ${result.reward >= 0 ? "good" : "bad"}`;
    out.dataset.reward = String(result.reward);
    target.latestReward = { value: result.reward };
    await Promise.all([refreshInsights(), loadHistory()]);
  } catch (error) {
    out.textContent = `Not saved — ${error.code}: ${describeError(error)}`;
    out.className = "result-line bad";
    if (error.code === "QuotaExceeded") notifyError(error);
  }
}

// ---------------------------------------------------------------- training panel

let insightsToken = 0;
async function refreshInsights() {
  const token = ++insightsToken;
  try {
    const [status, rewards] = await Promise.all([engine.call("trainingStatus"), engine.call("rewards", { limit: 500 })]);
    if (token !== insightsToken) return;
    state.status = status;
    state.rewardSeries = [...rewards].sort((a, b) => a.createdAt - b.createdAt || a.rewardId.localeCompare(b.rewardId));
    renderStatus(status);
    showStorageEstimate();
    drawRewardChart();
    drawCategoryChart();
    refreshLearned();
  } catch (error) {
    notifyError(error, "Could not read the training status");
  }
}

/** Says so when the saved data was wiped (the store's sentinel is newer than the one seen). */
function checkWiped(status) {
  if (status.storage !== "indexeddb" || status.storeCreatedAt == null) return;
  let seen = null;
  try { seen = Number(localStorage.getItem("lightprompt.storeCreatedAt")) || null; } catch { return; }
  if (seen && seen !== status.storeCreatedAt) {
    notify("error", `The browser cleared this site's saved data (a new store was started ${new Date(status.storeCreatedAt).toLocaleString()}): earlier history and learning are gone. Export your data regularly, and allow persistent storage.`, { code: "Storage", timeout: 0 });
  }
  try { localStorage.setItem("lightprompt.storeCreatedAt", String(status.storeCreatedAt)); } catch { /* private mode */ }
}

function renderStatus(status) {
  checkWiped(status);
  $("stat-spans").textContent = String(status.totalSpans);
  $("stat-rewards").textContent = String(status.totalRewards);
  const avg = $("stat-avg");
  avg.textContent = status.totalRewards ? signed(status.averageReward) : "–";
  avg.className = status.totalRewards ? (status.averageReward >= status.targetReward ? "good" : "") : "";
  $("stat-target").textContent = `target ${fmt(status.targetReward)}${status.totalRewards && status.averageReward >= status.targetReward ? " ✓ reached" : ""}`;
  $("stat-ratio").textContent = percent(status.rewardRatio);
  $("stat-policy").textContent = `v${status.policyVersion}`;
  $("stat-trained").textContent = status.lastTrainedAt ? `trained ${when(status.lastTrainedAt)}` : "not trained yet";
  $("stat-next").textContent = status.rewardsUntilTraining === null || status.rewardsUntilTraining === undefined ? "off" : String(status.rewardsUntilTraining);

  const kind = status.storage === "indexeddb" ? ["Saved in IndexedDB", "ok"] : ["Memory only: data is lost when you close the page", "warn"];
  pill("storage-kind", kind[0], kind[1]);

  const body = $("category-table").tBodies[0];
  body.replaceChildren();
  for (const category of categories()) {
    const row = status.byCategory?.[category.id] ?? { spans: 0, rewards: 0, averageReward: 0, rewardedSpans: 0 };
    body.append(
      h(
        "tr",
        {},
        h("th", { scope: "row", text: humanize(category.id) }),
        h("td", { class: "num", text: String(row.spans) }),
        h("td", { class: "num", text: String(row.rewards) }),
        h("td", { class: "num", text: String(row.rewardedSpans) }),
        h("td", { class: "num", text: row.rewards ? signed(row.averageReward) : "–" }),
      ),
    );
  }
}

function chartWidth(box) {
  return Math.max(300, Math.round(box.clientWidth || 600));
}

/**
 * Empties a chart and sizes it to its box; returns its geometry and `y`, which maps a reward
 * in −1…+1 to a vertical position.
 */
function prepareChart(svg, box, height, pad) {
  const width = chartWidth(box);
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  svg.replaceChildren();
  return { width, plotW, plotH, y: (v) => pad.top + ((1 - v) / 2) * plotH };
}

/** Reward per feedback (oldest first) with its moving average, the 0.7 target and the zero line. */
function drawRewardChart() {
  const svg = $("reward-chart");
  const series = state.rewardSeries;
  const height = 230;
  const pad = { left: 40, right: 14, top: 16, bottom: 38 };
  const { width, plotW, plotH, y } = prepareChart(svg, $("reward-chart-box"), height, pad);
  svg.dataset.points = String(series.length);

  const x = (i) => pad.left + (series.length <= 1 ? plotW / 2 : (i / (series.length - 1)) * plotW);

  const grid = s("g", {});
  for (const v of [-1, -0.5, 0, 0.5, 1]) {
    grid.append(s("line", { class: v === 0 ? "axis" : "grid", x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), "vector-effect": "non-scaling-stroke" }));
    grid.append(s("text", { x: pad.left - 6, y: y(v) + 4, "text-anchor": "end" }, v > 0 ? `+${v}` : String(v)));
  }
  const target = state.status?.targetReward ?? 0.7;
  grid.append(s("line", { class: "target", x1: pad.left, x2: width - pad.right, y1: y(target), y2: y(target), "vector-effect": "non-scaling-stroke" }));
  grid.append(s("text", { class: "target-label", x: width - pad.right, y: y(target) - 5, "text-anchor": "end" }, `target ${target}`));
  svg.append(grid);

  if (series.length === 0) {
    svg.append(s("text", { class: "empty-label", x: pad.left + plotW / 2, y: pad.top + plotH / 2 + 22, "text-anchor": "middle" }, "No feedback yet: rate a result to start the curve."));
    $("reward-chart-desc").textContent = "No rewards yet.";
    return;
  }

  const span = Math.max(3, Math.min(10, Math.round(series.length / 5)));
  const averages = series.map((_, i) => {
    const slice = series.slice(Math.max(0, i - span + 1), i + 1);
    return slice.reduce((sum, r) => sum + r.value, 0) / slice.length;
  });
  const path = (values) => values.map((v, i) => `${i ? "L" : "M"}${x(i).toFixed(1)} ${y(v).toFixed(1)}`).join(" ");

  svg.append(s("path", { class: "line-reward", d: path(series.map((r) => r.value)), "vector-effect": "non-scaling-stroke" }));
  const dots = s("g", { class: "points" });
  const radius = series.length > 150 ? 1.8 : 3;
  series.forEach((reward, i) => {
    const dot = s("circle", { class: "pt", cx: x(i).toFixed(1), cy: y(reward.value).toFixed(1), r: radius });
    dot.append(s("title", {}, `${when(reward.createdAt)} · ${reward.category}/${reward.model} · reward ${signed(reward.value)}`));
    dots.append(dot);
  });
  svg.append(dots);
  svg.append(s("path", { class: "line-avg", d: path(averages), "vector-effect": "non-scaling-stroke" }));

  const axisY = height - pad.bottom + 16;
  svg.append(s("text", { x: pad.left, y: axisY, "text-anchor": "start" }, shortDate(series[0].createdAt)));
  if (series.length > 1) svg.append(s("text", { x: width - pad.right, y: axisY, "text-anchor": "end" }, shortDate(series.at(-1).createdAt)));
  svg.append(s("text", { x: pad.left + plotW / 2, y: axisY, "text-anchor": "middle" }, `${series.length} rewards, oldest → newest`));

  const legendY = height - 6;
  const legend = [
    ["line-reward", "reward"],
    ["line-avg", `moving average (${span})`],
    ["target", "target"],
  ];
  let lx = pad.left;
  for (const [cls, label] of legend) {
    svg.append(s("line", { class: cls, x1: lx, x2: lx + 18, y1: legendY - 4, y2: legendY - 4, "vector-effect": "non-scaling-stroke" }));
    svg.append(s("text", { x: lx + 23, y: legendY }, label));
    lx += 23 + label.length * 6.2 + 16;
  }
  const last = averages.at(-1);
  $("reward-chart-desc").textContent = `${series.length} rewards; the latest moving average is ${signed(last)} against a target of ${target}.`;
}

/** One bar per category: its average reward on a −1…+1 scale. */
function drawCategoryChart() {
  const svg = $("category-chart");
  const status = state.status;
  const cats = categories();
  const height = 170;
  const pad = { left: 40, right: 14, top: 14, bottom: 28 };
  const { width, plotW, y } = prepareChart(svg, $("category-chart-box"), height, pad);
  for (const v of [-1, 0, 1]) {
    svg.append(s("line", { class: v === 0 ? "axis" : "grid", x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), "vector-effect": "non-scaling-stroke" }));
    svg.append(s("text", { x: pad.left - 6, y: y(v) + 4, "text-anchor": "end" }, v > 0 ? `+${v}` : String(v)));
  }
  const target = status?.targetReward ?? 0.7;
  svg.append(s("line", { class: "target", x1: pad.left, x2: width - pad.right, y1: y(target), y2: y(target), "vector-effect": "non-scaling-stroke" }));
  const slot = plotW / Math.max(1, cats.length);
  const barW = Math.min(70, slot * 0.5);
  cats.forEach((category, i) => {
    const row = status?.byCategory?.[category.id];
    const cx = pad.left + slot * i + slot / 2;
    svg.append(s("text", { x: cx, y: height - 8, "text-anchor": "middle" }, humanize(category.id)));
    if (!row || row.rewards === 0) {
      svg.append(s("text", { x: cx, y: y(0) - 6, "text-anchor": "middle" }, "no ratings"));
      return;
    }
    const v = Math.max(-1, Math.min(1, row.averageReward));
    const top = Math.min(y(v), y(0));
    const barH = Math.max(1, Math.abs(y(v) - y(0)));
    const bar = s("rect", { class: v >= 0 ? "bar-pos" : "bar-neg", x: cx - barW / 2, y: top, width: barW, height: barH, rx: 3 });
    bar.append(s("title", {}, `${humanize(category.id)}: average reward ${signed(row.averageReward)} over ${row.rewards} rewards`));
    svg.append(bar);
    const labelY = v >= 0 ? top - 5 : top + barH + 13;
    svg.append(s("text", { class: "value-label", x: cx, y: labelY, "text-anchor": "middle" }, `${signed(row.averageReward)} (${row.rewards})`));
  });
}

let learnedToken = 0;
async function refreshLearned() {
  const category = currentCategory();
  const model = currentModel();
  if (!category || !model) return;
  const token = ++learnedToken;
  $("learned-scope").textContent = `${humanize(category.id)} · ${model.name}`;
  try {
    const learned = await engine.call("learnedOptimizations", category.id, model.id);
    if (token === learnedToken) renderLearned(learned);
  } catch (error) {
    if (token === learnedToken) $("learned").replaceChildren(h("p", { class: "field-error", text: `${error.code}: ${describeError(error)}` }));
  }
}

function renderLearned(learned) {
  const box = $("learned");
  const confidence = h(
    "p",
    { class: "confidence" },
    "Confidence",
    h("meter", { min: 0, max: 1, value: learned.confidence, "aria-label": "Confidence of what was learned" }),
    `${percent(learned.confidence)} from ${fmt(learned.samples, 1)} weighted samples`,
  );
  const parts = [confidence];
  if (learned.learnedKeywords.length) {
    parts.push(
      table(
        "Learned keywords",
        ["Keyword", "Facet", "Effect", "Lower bound", "Samples"],
        learned.learnedKeywords.map((k) => [k.term, k.facet, signed(k.effect, 3), signed(k.lowerBound, 3), fmt(k.samples, 1)]),
      ),
    );
  }
  if (learned.learnedPatterns.length) {
    parts.push(
      table(
        "Learned patterns",
        ["Pattern", "Slot", "Effect", "Samples", "Confidence"],
        learned.learnedPatterns.slice(0, 12).map((p) => [p.text, p.slot, signed(p.effect, 3), fmt(p.samples, 1), percent(p.confidence)]),
      ),
    );
  }
  if (!learned.learnedKeywords.length && !learned.learnedPatterns.length) {
    parts.push(h("p", { class: "hint", text: "Nothing learned for this model yet: rate a few results and it will start to pick what works for you." }));
  }
  box.replaceChildren(...parts);
}

/** A small table; the first column is the row header; columns from `firstNumeric` on align right. */
function table(caption, headers, rows, firstNumeric = 2) {
  const num = (i) => (i >= firstNumeric ? "num" : null);
  const head = h("tr", {}, headers.map((text, i) => h("th", { scope: "col", class: num(i), text })));
  const body = rows.map((cells) => h("tr", {}, cells.map((text, i) => (i === 0 ? h("th", { scope: "row", text }) : h("td", { class: num(i), text })))));
  return h("div", { class: "table-wrap" }, h("table", {}, h("caption", { class: "visually-hidden", text: caption }), h("thead", {}, head), h("tbody", {}, body)));
}

async function trainNow() {
  const out = $("train-report");
  out.className = "result-line";
  out.textContent = "Training…";
  try {
    const report = await busyWithProgress($("training-section"), "Training…", "train", [{}], [$("train-btn"), $("evaluate-btn")]);
    // The report and the policy stat change together; the rest of the insights follow.
    $("stat-policy").textContent = `v${report.policyVersion}`;
    out.textContent = `Trained policy v${report.policyVersion} from ${report.rewardsUsed} ratings of ${report.spansUsed} prompts in ${report.ms} ms (compute ${report.computeMs} ms).`;
    out.className = "result-line good";
    await refreshInsights();
  } catch (error) {
    out.textContent = `Training failed — ${error.code}: ${describeError(error)}`;
    out.className = "result-line bad";
  }
}

async function evaluateNow() {
  const box = $("evaluation");
  const body = $("evaluation-body");
  try {
    const evaluation = await busyWithProgress($("training-section"), "Evaluating…", "evaluate", [{}], [$("train-btn"), $("evaluate-btn")]);
    const names = ["Learned", "Greedy", "Rules only"];
    const rows = evaluation.values.map((v, i) => [names[i], signed(v.ips, 3), signed(v.snips, 3), `±${fmt(v.stdError, 3)}`, fmt(v.effectiveSamples, 1)]);
    const summary = h(
      "p",
      { class: "hint" },
      `Off-policy estimates (IPS, self-normalised SNIPS) of the average reward each policy would earn: the learned policy as configured, ` +
        `the learned policy always taking its best edit (greedy), and the rules alone. From ${evaluation.samples} rated optimizations ` +
        `(${evaluation.skipped} skipped); logged average ${signed(evaluation.loggedAverage, 3)}.`,
    );
    const [learned, , rules] = evaluation.values;
    const verdict = h(
      "p",
      {},
      evaluation.samples === 0
        ? "Rate some results first: there is nothing to evaluate yet."
        : learned.snips > rules.snips
          ? `The learned policy beats the rules by ${signed(learned.snips - rules.snips, 3)} (SNIPS).`
          : `The learned policy does not beat the rules yet (${signed(learned.snips - rules.snips, 3)} SNIPS).`,
    );
    body.replaceChildren(summary, table("Policy evaluation", ["Policy", "IPS", "SNIPS", "Std err.", "Eff. n"], rows, 1), verdict);
    box.hidden = false;
  } catch (error) {
    body.replaceChildren(h("p", { class: "field-error", text: `Evaluation failed — ${error.code}: ${describeError(error)}` }));
    box.hidden = false;
  }
}

// ---------------------------------------------------------------- history

let historyToken = 0;
async function loadHistory() {
  const token = ++historyToken;
  const { page, category } = state.history;
  try {
    const data = await engine.call("history", { category: category || undefined, limit: HISTORY_PAGE, offset: page * HISTORY_PAGE });
    if (token !== historyToken) return;
    if (data.spans.length === 0 && page > 0) {
      state.history.page = page - 1;
      return loadHistory();
    }
    Object.assign(state.history, { spans: data.spans, rewards: data.rewards, hasMore: data.hasMore });
    renderHistory();
  } catch (error) {
    notifyError(error, "Could not load the history");
  }
}

function renderHistory() {
  const { spans, rewards, page, hasMore, selected } = state.history;
  const query = $("history-search").value.trim().toLowerCase();
  const shown = query
    ? spans.filter((span) => `${span.originalPrompt}\n${span.optimizedPrompt}\n${span.model}\n${span.category}`.toLowerCase().includes(query))
    : spans;
  const list = $("history-list");
  list.replaceChildren(
    ...shown.map((span) => {
      const reward = rewards[span.spanId];
      const badge = reward
        ? h("span", { class: `badge ${reward.value >= 0 ? "pos" : "neg"}`, text: `reward ${signed(reward.value)}` })
        : h("span", { class: "badge", text: "not rated" });
      const button = h(
        "button",
        { type: "button", class: `history-item${selected === span.spanId ? " selected" : ""}`, "data-span-id": span.spanId, "aria-pressed": String(selected === span.spanId) },
        h("span", { class: "h-prompt", text: clip(span.originalPrompt, 160) }),
        h("span", { class: "h-meta", text: `${humanize(span.category)} · ${span.model} · ${score(span.originalQualityScore)} → ${score(span.qualityScore)} · ${when(span.createdAt)}` }),
        badge,
      );
      button.addEventListener("click", () => reuse(span));
      return h("li", {}, button);
    }),
  );
  const empty = $("history-empty");
  empty.hidden = shown.length > 0;
  empty.textContent = spans.length === 0 ? "No optimizations yet." : "Nothing on this page matches the search.";
  $("history-page").textContent = `Page ${page + 1}`;
  $("history-prev").disabled = page === 0;
  $("history-next").disabled = !hasMore;
}

/** Fills the form from a past optimization and points the feedback form at it. */
function reuse(span) {
  state.history.selected = span.spanId;
  $("category").value = span.category;
  fillModels(span.model);
  writeOptions(span.options);
  $("prompt").value = span.originalPrompt;
  clearFieldErrors();
  showResult(span);
  setTarget({
    spanId: span.spanId,
    taskId: span.taskId,
    qualityScore: span.qualityScore,
    prompt: span.originalPrompt,
    model: span.model,
    latestReward: state.history.rewards[span.spanId],
  });
  renderHistory();
  $("feedback-section").scrollIntoView({ block: "nearest", behavior: "smooth" });
  $("feedback-heading").focus({ preventScroll: true });
  notify("info", "Loaded from your history: rate it, or press Optimize to run it again.");
}

// ---------------------------------------------------------------- your data

/** Saves `content` (text, or a Blob the worker made) as a file named `name`. */
function download(name, content, type = "application/json") {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const link = h("a", { href: url, download: name, class: "visually-hidden" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function stamp() {
  return new Date().toISOString().slice(0, 19).replace(/[T:]/g, "-");
}

function dataOk(text) {
  $("data-error").hidden = true;
  $("data-result").textContent = text;
}

function dataError(prefix, error) {
  $("data-result").textContent = "";
  const box = $("data-error");
  box.replaceChildren(`${prefix} `, h("span", { class: "code", text: error.code ?? "Error" }), error.field ? ` (${error.field})` : "", `: ${describeError(error)}`);
  box.hidden = false;
}

async function exportData() {
  try {
    const file = await busy($("data-section"), "Exporting…", () => engine.call("exportFile"), [$("export-btn")]);
    download(`lightprompt-${stamp()}.json`, file);
    dataOk("Exported your data as JSON.");
  } catch (error) {
    dataError("Export failed —", error);
  }
}

async function exportOtlp() {
  try {
    const text = await busy($("data-section"), "Exporting…", () => engine.call("exportOtlpJson"), [$("export-otlp-btn")]);
    download(`lightprompt-otlp-${stamp()}.json`, text);
    dataOk("Exported OTLP traces (JSON).");
  } catch (error) {
    dataError("OTLP export failed —", error);
  }
}

/** Shows a send's progress: phases before and after sending take a little of the bar each. */
function aglProgress(p) {
  const bar = $("agl-progress");
  const share = p.total > 0 ? p.done / p.total : 1;
  const at = { connecting: 0.05, checking: 0.1, creating: 0.1 + 0.2 * share, sending: 0.3 + 0.6 * share, finishing: 0.9 + 0.1 * share, done: 1 };
  bar.value = at[p.phase] ?? bar.value;
  bar.dataset.phase = p.phase;
}

/** The page sends only to a store on this computer (its CSP allows no other; the worker's fetch is checked here too). */
function loopbackStore(text) {
  let url = null;
  try {
    url = new URL(text);
  } catch {
    // not a URL
  }
  if (!url || url.protocol !== "http:" || !["127.0.0.1", "localhost", "[::1]"].includes(url.hostname)) {
    throw engineError(
      "The page sends only to a store on this computer (http://127.0.0.1:PORT or http://localhost:PORT). For another store, export your data and run: npx lightprompt send-agl FILE --store URL",
      "InvalidInput",
      "storeUrl",
    );
  }
  return url.origin;
}

async function sendToAgentLightning(event) {
  event.preventDefault();
  const bar = $("agl-progress");
  let storeUrl;
  try {
    storeUrl = loopbackStore($("agl-url").value.trim());
  } catch (error) {
    dataError("Sending to Agent Lightning failed —", error);
    return;
  }
  bar.value = 0;
  bar.hidden = false;
  try {
    const r = await busy($("data-section"), "Sending to Agent Lightning…", () => engine.call("sendToAgentLightning", storeUrl), [$("agl-send-btn")]);
    dataOk(
      `Sent to Agent Lightning at ${storeUrl}: ${r.rollouts} new rollouts, ${r.spans} optimizations, ${r.rewards} rewards ` +
        `(${r.upToDate} of ${r.tasks} tasks were already there).`,
    );
  } catch (error) {
    bar.hidden = true;
    dataError("Sending to Agent Lightning failed —", error);
  }
}

async function importFile(file) {
  if (!file) return;
  const replace = $("import-replace").checked;
  try {
    // The File itself goes to the worker, which reads it a piece at a time.
    const report = await busyWithProgress($("data-section"), `Importing ${file.name}…`, "importData", [file, { replace }]);
    dataOk(
      `Imported ${file.name}: ${report.spansAdded} optimizations added (${report.spansSkipped} already there), ` +
        `${report.rewardsAdded} rewards added (${report.rewardsSkipped} already there), ${report.policiesAdded} policies.`,
    );
    state.history.page = 0;
    await Promise.all([refreshInsights(), loadHistory()]);
  } catch (error) {
    dataError(`Nothing was imported from ${file.name} —`, error);
  } finally {
    $("import-file").value = "";
  }
}

async function resetAll() {
  try {
    await busy($("data-section"), "Deleting…", () => engine.call("clear"), [$("reset-btn")]);
    state.result = null;
    $("result-section").hidden = true;
    delete $("result-section").dataset.spanId;
    setTarget(null);
    $("evaluation").hidden = true;
    $("train-report").textContent = "";
    state.history.page = 0;
    state.history.selected = null;
    dataOk("Everything was deleted. lightprompt starts fresh.");
    await Promise.all([refreshInsights(), loadHistory()]);
  } catch (error) {
    dataError("Reset failed —", error);
  }
}

async function showStorageEstimate() {
  if (!navigator.storage?.estimate) return;
  try {
    const { usage, quota } = await navigator.storage.estimate();
    if (Number.isFinite(usage) && Number.isFinite(quota) && quota > 0) {
      const mb = (n) => `${(n / 1024 / 1024).toFixed(1)} MB`;
      $("storage-estimate").textContent = `This site uses ${mb(usage)} of ${mb(quota)} available.`;
    }
  } catch {
    // Not available in every browser.
  }
}

async function requestPersistence() {
  if (!navigator.storage?.persist) return;
  try {
    const granted = (await navigator.storage.persisted()) || (await navigator.storage.persist());
    pill("persist-status", granted ? "Persistent storage granted" : "Persistent storage not granted", granted ? "ok" : "warn");
    $("persist-status").title = granted
      ? "The browser will not clear your data when space runs low."
      : "The browser may clear your data when space runs low: export it now and then.";
  } catch {
    pill("persist-status", "Persistent storage unavailable", "warn");
  }
}

// ---------------------------------------------------------------- offline

function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker
    .register("./sw.js", { scope: "./" })
    .then(() => navigator.serviceWorker.ready)
    .then(() => {
      $("sw-status").textContent = "Ready to work offline.";
    })
    .catch((error) => {
      $("sw-status").textContent = `Offline mode unavailable (${error.message}).`;
    });
}

function showNetwork() {
  if (navigator.onLine) $("network-status").hidden = true;
  else pill("network-status", "Offline — everything still works", "warn");
}

// ---------------------------------------------------------------- wiring

function wire() {
  $("optimize-form").addEventListener("submit", (event) => {
    event.preventDefault();
    optimize();
  });
  $("prompt").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      optimize();
    }
  });
  $("prompt").addEventListener("input", () => {
    if ($("prompt").getAttribute("aria-invalid")) clearFieldErrors();
  });
  $("category").addEventListener("change", () => fillModels());
  $("model").addEventListener("change", () => buildOptions());
  $("copy-btn").addEventListener("click", (event) => copyFrom(event.currentTarget, state.result?.optimizedPrompt ?? "", true));
  $("copy-negative-btn").addEventListener("click", (event) => copyFrom(event.currentTarget, state.result?.negativePrompt ?? "", false));

  $("feedback-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sendFeedback();
  });
  $("feedback-form").addEventListener("change", (event) => {
    if (event.target.name === "rating") updateRating();
    else updateRewardPreview();
  });

  $("train-btn").addEventListener("click", trainNow);
  $("evaluate-btn").addEventListener("click", evaluateNow);
  $("busy-cancel").addEventListener("click", () => longCalls.forEach((cancel) => cancel()));

  $("history-category").addEventListener("change", () => {
    state.history.category = $("history-category").value;
    state.history.page = 0;
    loadHistory();
  });
  $("history-search").addEventListener("input", renderHistory);
  $("history-prev").addEventListener("click", () => {
    state.history.page = Math.max(0, state.history.page - 1);
    loadHistory();
  });
  $("history-next").addEventListener("click", () => {
    state.history.page += 1;
    loadHistory();
  });

  $("export-btn").addEventListener("click", exportData);
  $("export-otlp-btn").addEventListener("click", exportOtlp);
  $("agl-form").addEventListener("submit", sendToAgentLightning);
  $("agl-origin").textContent = location.origin;
  $("import-file").addEventListener("change", (event) => importFile(event.currentTarget.files?.[0]));
  $("reset-btn").addEventListener("click", () => $("reset-dialog").showModal());
  $("reset-cancel").addEventListener("click", () => $("reset-dialog").close("cancel"));
  $("reset-confirm").addEventListener("click", () => {
    $("reset-dialog").close("confirm");
    resetAll();
  });

  window.addEventListener("online", showNetwork);
  window.addEventListener("offline", showNetwork);

  // Redraw the charts at the new width so their text stays at its real size.
  let resizeTimer = 0;
  let lastWidth = 0;
  new ResizeObserver((entries) => {
    const width = Math.round(entries[0].contentRect.width);
    if (width === lastWidth) return;
    lastWidth = width;
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (state.status) {
        drawRewardChart();
        drawCategoryChart();
      }
    }, 120);
  }).observe($("reward-chart-box"));
}

async function start() {
  wire();
  registerServiceWorker();
  showNetwork();
  requestPersistence();
  try {
    const hello = await engine.call("hello");
    state.catalog = hello.catalog;
    $("version").textContent = `v${hello.version}`;
    fillCategories();
    fillModels();
    pill("engine-status", "Engine ready", "ok");
    document.documentElement.dataset.ready = "true";
  } catch (error) {
    pill("engine-status", "Engine failed to start", "bad");
    $("optimize-btn").disabled = true;
    notifyError(error, "The engine could not start");
    return;
  }
  await Promise.all([refreshInsights(), loadHistory()]);
}

start();
