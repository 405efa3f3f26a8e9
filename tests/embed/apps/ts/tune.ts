import { LightPrompt, LightPromptError, type OptimizeResult } from "lightprompt";

/** Optimizes many prompts, reporting progress; undefined when `signal` cancels it. */
export async function tuneAll(prompts: string[], signal?: AbortSignal): Promise<OptimizeResult[] | undefined> {
  await using lp = await LightPrompt.open(); // closed when the function returns
  try {
    return await lp.optimizeBatch(
      prompts.map((prompt) => ({ prompt, category: "image", model: "sdxl" })),
      { signal, onProgress: (done, total) => console.log(`${done}/${total}`) },
    );
  } catch (e) {
    if (e instanceof LightPromptError && e.code === "Aborted") return undefined;
    throw e; // e.code and e.field say what went wrong
  }
}
