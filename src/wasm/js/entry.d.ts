
/** Where `init` may load the WebAssembly from: a URL (string or `URL`), its bytes
 * (`ArrayBuffer` or a view such as `Uint8Array`), a `fetch` `Response`, or a compiled
 * `WebAssembly.Module` — or a promise of one. */
export type WasmSource = string | { readonly href: string } | ArrayBuffer | ArrayBufferView | object;

/**
 * Loads lightprompt's WebAssembly, once: later and concurrent calls share the first load.
 * `LightPrompt.open()` calls it itself, so it is needed only to load from elsewhere (a
 * CDN, bytes you already have) or to load before the first `open()`. In Node it reads the
 * package's file; with CommonJS it resolves at once. Rejects with code "Unavailable".
 */
declare function init(source?: WasmSource | PromiseLike<WasmSource>): Promise<void>;
export default init;
export { init };

/** The error every lightprompt failure rejects (or throws) with. */
export declare class LightPromptError extends Error {
  constructor(code: ErrorCode, message: string, field?: string | null, options?: { cause?: unknown });
  readonly name: "LightPromptError";
  /** Stable code to branch on. */
  readonly code: ErrorCode;
  /** The input field at fault (`prompt`, `options.stylize`, `requests[3].prompt`), or null. */
  readonly field: string | null;
}

/** True for a lightprompt error, also one from another copy of the package. */
export declare function isLightPromptError(value: unknown): value is LightPromptError;

export interface LightPrompt {
  /**
   * The export as JSON text (the document `exportData()` returns), read a page of spans at
   * a time so that neither wasm nor JS holds the whole history: for files of any size.
   * `await new Response(lp.exportStream()).blob()` makes a file; `importData(file)` reads
   * it back. Rewards and policies are read first; a span stored meanwhile may be left out.
   */
  exportStream(): ReadableStream<Uint8Array>;
}
