// The part of lightprompt's JS entries that every environment shares: load the WebAssembly
// once (on the first `open()` or `init()`, shared by concurrent callers), the exported
// error class, guarded synchronous helpers, and `using` support. Each entry (browser,
// Node ESM, Node CJS) passes in wasm-bindgen's glue and how to load the wasm there.
// scripts/pkg-files.mjs also writes a CommonJS copy of this file (core.cjs).

/** The error every lightprompt failure is: a stable `code` and the input `field` at fault. */
export class LightPromptError extends Error {
  constructor(code, message, field = null, options = undefined) {
    super(message, options);
    this.name = "LightPromptError";
    this.code = code;
    this.field = field;
  }
}

/** True for a lightprompt error, also one from another copy of the package or realm. */
export function isLightPromptError(value) {
  return (
    value instanceof LightPromptError ||
    (value instanceof Error && value.name === "LightPromptError" && typeof value.code === "string")
  );
}

function describe(error) {
  const message = error instanceof Error ? error.message : String(error);
  // The usual cause: the file was not emitted or copied, so the server answered the wasm URL
  // with a 404 or an HTML page.
  return /magic word|failed to fetch Wasm/.test(message)
    ? `${message} (the URL did not serve lightprompt_bg.wasm; see the README's section on your bundler)`
    : message;
}

/**
 * Wraps wasm-bindgen's `glue` module. `load(source)` instantiates the wasm from `source`
 * (undefined = the package's own file) and may be sync or async.
 */
export function bind(glue, load) {
  let loading;
  let ready = false;

  function init(source) {
    if (loading === undefined) {
      loading = (async () => {
        try {
          await load(await source);
        } catch (error) {
          // Forget the failure so that a later call (another URL, the network back) can retry.
          loading = undefined;
          throw new LightPromptError(
            "Unavailable",
            `could not load lightprompt's WebAssembly: ${describe(error)}`,
            null,
            { cause: error },
          );
        }
        glue.__setErrorClass(LightPromptError);
        ready = true;
      })();
    }
    return loading;
  }

  function loaded(name) {
    if (!ready) {
      throw new LightPromptError(
        "NotInitialized",
        `${name}() needs lightprompt's WebAssembly: call it after \`await LightPrompt.open()\` or \`await init()\``,
      );
    }
  }

  const { LightPrompt } = glue;
  const open = LightPrompt.open;
  LightPrompt.open = async function (options) {
    await init();
    return open.call(LightPrompt, options);
  };

  // `using lp = await LightPrompt.open()` closes the database at the end of the block;
  // later calls reject with code "Closed" (the memory goes with the object, or `free()`).
  function dispose() {
    // A pointer of 0 means the caller already freed it (wasm-bindgen's field, pinned version).
    if (this.__wbg_ptr !== 0) this.close();
  }
  for (const [symbol, value] of [
    [Symbol.dispose, dispose],
    [Symbol.asyncDispose, async function () { dispose.call(this); }],
  ]) {
    // Where the runtime lacks the symbols, `using` does not exist either.
    if (typeof symbol === "symbol") {
      Object.defineProperty(LightPrompt.prototype, symbol, { value, writable: true, configurable: true });
    }
  }

  // The export as JSON text, a page of spans at a time: the same document as
  // `JSON.stringify(await exportData())`, but neither wasm nor JS ever holds all of it.
  // `new Response(lp.exportStream()).blob()` gives a file (large Blobs live on disk).
  Object.defineProperty(LightPrompt.prototype, "exportStream", {
    value: function exportStream() {
      const lp = this;
      const encoder = new TextEncoder();
      let start = null; // the header, rewards and policies, read first
      let cursor = null; // after the last span written
      let spansLeft = true;
      let first = true;
      return new ReadableStream({
        // Every pull enqueues something: a pull that enqueues nothing is not called again.
        async pull(controller) {
          if (start === null) {
            start = await lp._exportStart();
            const head = { format: start.format, version: start.version, exportedAt: start.exportedAt };
            controller.enqueue(encoder.encode(JSON.stringify(head).slice(0, -1) + ',"spans":['));
            return;
          }
          if (spansLeft) {
            const page = await lp._exportSpans(cursor);
            cursor = page.after;
            spansLeft = cursor !== null;
            if (page.spans.length > 0) {
              const text = page.spans.map((span) => JSON.stringify(span)).join(",");
              controller.enqueue(encoder.encode(first ? text : "," + text));
              first = false;
              return;
            }
          }
          controller.enqueue(encoder.encode(`],"rewards":${JSON.stringify(start.rewards)},"policies":${JSON.stringify(start.policies)}}`));
          controller.close();
        },
      }, { highWaterMark: 1 });
    },
    writable: true,
    configurable: true,
  });

  return {
    init,
    LightPrompt,
    LightPromptError,
    isLightPromptError,
    calculateReward(input) {
      loaded("calculateReward");
      return glue.calculateReward(input);
    },
    supportedModels() {
      loaded("supportedModels");
      return glue.supportedModels();
    },
    version() {
      loaded("version");
      return glue.version();
    },
  };
}
