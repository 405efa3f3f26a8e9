// CommonJS: the same API through require().
const { LightPrompt, isLightPromptError } = require("lightprompt");

async function main() {
  const lp = await LightPrompt.open({ seed: 7 }); // in memory: Node has no IndexedDB
  const r = await lp.optimize({ prompt: "a beautiful sunset", category: "image", model: "midjourney" });
  console.log(r.optimizedPrompt);
  try {
    await lp.optimize({ prompt: 5, category: "image" });
  } catch (e) {
    if (isLightPromptError(e)) console.log(e.code, e.field, e.message);
  }
  lp.close();
}
main();
