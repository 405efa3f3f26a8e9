// Quick start: optimize a prompt, rate it, see what was learned.
import { LightPrompt, calculateReward } from "lightprompt";

const lp = await LightPrompt.open({ inMemory: true, seed: 7 });
const result = await lp.optimize({
  prompt: "a beautiful sunset",
  category: "image",
  model: "midjourney",
  options: { stylize: 250 },
});
console.log(result.optimizedPrompt, result.originalQualityScore, "->", result.qualityScore);

const { reward } = await lp.feedback({
  spanId: result.spanId,
  metadata: { rating: 5, satisfied: true, usedResult: true },
});
console.log("reward", reward, "=", calculateReward({ qualityScore: result.qualityScore, rating: 5, satisfied: true, usedResult: true }));

const status = await lp.trainingStatus();
console.log(status.totalSpans, "spans,", status.totalRewards, "rewards, average", status.averageReward);

try {
  await lp.optimize({ prompt: "   ", category: "image" });
} catch (e) {
  console.log(e.code, e.field); // InvalidInput prompt
}
lp.close();
