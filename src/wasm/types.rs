//! The catalog of categories and models, and the TypeScript types of the whole API
//! (appended to the generated `.d.ts`).

use crate::prompt::adapters::Adapter;
use crate::prompt::{Category, ADAPTERS};
use serde::Serialize;
use wasm_bindgen::prelude::*;

/// Everything a picker needs.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Catalog {
    categories: Vec<CategoryInfo>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CategoryInfo {
    id: &'static str,
    facets: Vec<FacetInfo>,
    models: Vec<&'static Adapter>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FacetInfo {
    id: &'static str,
    label: &'static str,
}

/// The catalog.
pub fn catalog() -> Catalog {
    Catalog {
        categories: Category::ALL
            .iter()
            .map(|&c| CategoryInfo {
                id: c.as_str(),
                facets: c
                    .facets()
                    .iter()
                    .map(|f| FacetInfo {
                        id: f.as_str(),
                        label: f.label(),
                    })
                    .collect(),
                models: ADAPTERS.iter().filter(|a| a.category == c).collect(),
            })
            .collect(),
    }
}

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** Stable error codes: every rejected promise is a `LightPromptError`. */
export type ErrorCode = "InvalidInput" | "NotFound" | "Duplicate" | "QuotaExceeded" | "Blocked"
  | "VersionError" | "Unavailable" | "Storage" | "Closed" | "Callback" | "Aborted"
  | "NotInitialized" | "Internal" | "Unreachable" | "Refused" | "UnsupportedVersion";

/** Where a tuner keeps its data. */
export type StorageKind = "indexeddb" | "memory";

/** What `AbortSignal` offers that lightprompt reads (an `AbortSignal` is one). */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
}

/** Options of the long calls: `optimizeBatch`, `train`, `evaluate` (and `importData`). */
export interface ProgressOptions {
  /** Called with `(0, total)` first, then as work is done (about once per frame for a
   * batch, once per stage otherwise) and `(total, total)` last. For `optimizeBatch` the
   * units are requests; for `train` and `evaluate`, stages; for `importData`, the records of
   * a document object or the bytes of a file (UTF-16 units of a string), plus a tenth for the
   * write. A throw stops the call with code "Callback". */
  onProgress?: (done: number, total: number) => void;
  /** Cancels the call: it rejects with code "Aborted" and stores nothing. */
  signal?: AbortSignalLike;
}

export type Category = "image" | "video" | "text";
export type FacetId = "subject" | "style" | "lighting" | "composition" | "camera" | "color" | "mood"
  | "detail" | "environment" | "action" | "cameraMovement" | "shotType" | "pacing" | "role" | "task"
  | "context" | "audience" | "format" | "constraints" | "examples" | "tone";
export type OptionValue = null | boolean | number | string | OptionValue[];

/** Options of `LightPrompt.open` (each also accepted in snake_case, e.g. `db_name`). */
export interface LightPromptOptions {
  /** IndexedDB database name (default "lightprompt"). */
  dbName?: string;
  db_name?: string;
  /** Keep everything in memory (also the automatic fallback where IndexedDB is missing). */
  inMemory?: boolean;
  in_memory?: boolean;
  /** Save the policy after every N rewards (default 10; 0 = only when asked): it learns from each
   * reward at once, and the save costs the policy's size, not the history's. */
  autoTrainEvery?: number;
  auto_train_every?: number;
  /** 0 = greedy, 1 = default, larger explores more (at most 10). */
  exploration?: number;
  /** Seed of the policy's random choices (replayable runs). */
  seed?: number;
  /** Half-life of a reward's weight in days (default 30). */
  halfLifeDays?: number;
  half_life_days?: number;
  /** Longest prompt accepted (default 10000 characters). */
  maxPromptChars?: number;
  max_prompt_chars?: number;
  /** How long an open may wait for other tabs to release an older database version before
   * failing with code "Blocked" (default 5000 ms). */
  blockedTimeoutMs?: number;
  blocked_timeout_ms?: number;
}

/** A request to optimize one prompt. */
export interface OptimizeRequest {
  prompt: string;
  category: Category;
  /** Model name or alias ("mj", "Midjourney v7", "sdxl", "claude-3.5"); omitted = generic. */
  model?: string;
  /** Model options by name (see `supportedModels()`), e.g. { aspectRatio: "16:9", negative: ["text"] }. */
  options?: Record<string, OptionValue>;
  /** Group spans under a task (32 hex digits). */
  taskId?: string;
  /** The seed's name for `taskId`. */
  task_id?: string;
  metadata?: Record<string, unknown>;
}

export interface AppliedEdit {
  /** Edit id, e.g. "image.lighting.golden-hour", "aspectRatio:16:9", "keyword:bokeh". */
  id: string;
  facet: FacetId;
  /** The words added. */
  text: string;
  /** True when learning (not the rules alone) chose it. */
  learned: boolean;
  /** Probability with which the policy chose it. */
  propensity: number;
}

export interface FacetScore {
  facet: FacetId;
  label: string;
  present: boolean;
  /** Whether the facet applies to this prompt (no lens for a watercolor); one that does not is worth no points. */
  applicable: boolean;
  points: number;
  maxPoints: number;
  /** The words that show the facet. */
  evidence: string[];
}

export interface Penalty {
  kind: "conflict" | "repetition" | "overLength";
  points: number;
  detail: string;
}

/** The result of `optimize`. */
export interface OptimizeResult {
  taskId: string;
  spanId: string;
  category: Category;
  /** The adapter used, e.g. "midjourney-v7". */
  model: string;
  /** The name asked for, when it differs. */
  requestedModel?: string;
  /** True when the model was unknown and the generic adapter was used. */
  fallback: boolean;
  originalPrompt: string;
  optimizedPrompt: string;
  originalQualityScore: number;
  qualityScore: number;
  breakdown: FacetScore[];
  originalBreakdown: FacetScore[];
  specificity: number;
  structure: number;
  penalties: Penalty[];
  suggestions: string[];
  edits: AppliedEdit[];
  negativePrompt?: string;
  parameters: Record<string, unknown>;
  aspectRatio?: string;
  notes: string[];
  policyVersion: number;
  createdAt: number;
}

/** Feedback on a span; the seed's snake_case names (`span_id`, `task_id`, `feedback_text`,
 * `used_result`, `quality_score`) are accepted too, one spelling per field. */
export type FeedbackRequest = FeedbackFields & (
  | { spanId: string; span_id?: never }
  | { span_id: string; spanId?: never });

/** The fields of `FeedbackRequest` besides the span id. */
export interface FeedbackFields {
  taskId?: string;
  task_id?: string;
  /** Explicit reward in [-1, 1]; wins over the reward function. */
  reward?: number;
  feedbackText?: string;
  feedback_text?: string;
  metadata?: {
    /** 1 to 5. */
    rating?: number;
    satisfied?: boolean;
    usedResult?: boolean;
    used_result?: boolean;
    qualityScore?: number;
    quality_score?: number;
    [key: string]: unknown;
  };
}

export type RewardSource = "explicit" | "computed" | "custom";

export interface TrainReport {
  policyVersion: number;
  spansUsed: number;
  rewardsUsed: number;
  ms: number;
  computeMs: number;
}

export interface FeedbackResult {
  rewardId: string;
  reward: number;
  source: RewardSource;
  policyVersion: number;
  /** Present when this feedback triggered automatic training. */
  trained?: TrainReport;
  /** Present when automatic training failed (the reward is stored). */
  trainError?: string;
}

export interface CategoryStatus {
  spans: number;
  rewards: number;
  averageReward: number;
  rewardedSpans: number;
}

/** The seed's training status. */
export interface TrainingStatus {
  storeAvailable: boolean;
  trainerAvailable: boolean;
  storage: "indexeddb" | "memory";
  totalSpans: number;
  totalRewards: number;
  averageReward: number;
  /** Rewarded spans / spans. */
  rewardRatio: number;
  byCategory: Record<Category, CategoryStatus>;
  policyVersion: number;
  lastTrainedAt: number | null;
  /** 0.7, the seed's goal. */
  targetReward: number;
  rewardsUntilTraining: number | null;
  exploration: number;
  /** When this store was first opened; if it changes, the browser wiped the saved data. */
  storeCreatedAt: number | null;
}

export interface LearnedKeyword {
  term: string;
  facet: FacetId;
  effect: number;
  /** 95% lower confidence bound of the effect; keywords rank by it. */
  lowerBound: number;
  samples: number;
}

export interface LearnedPattern {
  id: string;
  slot: string;
  text: string;
  effect: number;
  samples: number;
  confidence: number;
}

export interface LearnedOptimizations {
  category: Category;
  model: string;
  learnedKeywords: LearnedKeyword[];
  learnedPatterns: LearnedPattern[];
  /** In [0, 1], grows with evidence. */
  confidence: number;
  samples: number;
}

export interface PolicyValue {
  ips: number;
  snips: number;
  pseudoInverse: number;
  stdError: number;
  samples: number;
  effectiveSamples: number;
}

/** `values`: [learned policy as configured, learned greedy, rule-only]. */
export interface Evaluation {
  samples: number;
  skipped: number;
  loggedAverage: number;
  values: [PolicyValue, PolicyValue, PolicyValue];
}

export interface Decision {
  slot: string;
  action: string;
  propensity: number;
  learned: boolean;
  eligible: number;
  offered?: string[];
}

/** One stored optimization. */
export interface Span {
  spanId: string;
  taskId: string;
  name: string;
  category: Category;
  model: string;
  requestedModel?: string;
  originalPrompt: string;
  optimizedPrompt: string;
  negativePrompt?: string;
  parameters: Record<string, unknown>;
  originalQualityScore: number;
  qualityScore: number;
  edits: AppliedEdit[];
  decisions: Decision[];
  keywords: string[];
  policyVersion: number;
  createdAt: number;
  durationMs: number;
  /** Order of recording (increasing; absent in data recorded before lightprompt had it). */
  sequence?: number;
  options: Record<string, OptionValue>;
  metadata: Record<string, unknown>;
}

/** One stored piece of feedback. */
export interface Reward {
  rewardId: string;
  spanId: string;
  taskId: string;
  category: Category;
  model: string;
  value: number;
  source: RewardSource;
  qualityScore: number;
  rating?: number;
  satisfied?: boolean;
  usedResult?: boolean;
  feedbackText?: string;
  metadata: Record<string, unknown>;
  createdAt: number;
  /** Order of recording, shared with spans (increasing within a task). */
  sequence?: number;
}

export interface QueryRequest {
  category?: Category;
  spanId?: string;
  span_id?: string;
  taskId?: string;
  task_id?: string;
  /** Default 50, at most 10000. */
  limit?: number;
  offset?: number;
}

export interface PolicySnapshot {
  version: number;
  createdAt: number;
  spansUsed: number;
  rewardsUsed: number;
  state: unknown;
}

/** `exportData()` output and `importData()` input. */
export interface ExportDocument {
  format: "lightprompt";
  version: 1;
  exportedAt: number;
  spans: Span[];
  rewards: Reward[];
  policies: PolicySnapshot[];
}

/** Options of `importData`. It can be cancelled until the write starts; once the document
 * is written the call completes. */
export interface ImportOptions extends ProgressOptions {
  /** Drop what was stored before (default false: merge, keeping existing records). */
  replace?: boolean;
}

export interface ImportReport {
  spansAdded: number;
  spansSkipped: number;
  rewardsAdded: number;
  rewardsSkipped: number;
  policiesAdded: number;
}

/** What a custom reward function receives. */
export interface RewardInput {
  qualityScore: number;
  rating: number | null;
  satisfied: boolean | null;
  usedResult: boolean | null;
  feedbackText: string | null;
  span: Span;
}

/** Input of `calculateReward` (`quality_score` and `used_result` accepted too). */
export type RewardSignals = {
  /** 1 to 5. */
  rating?: number;
  satisfied?: boolean;
  usedResult?: boolean;
  used_result?: boolean;
} & ({ qualityScore: number; quality_score?: never } | { quality_score: number; qualityScore?: never });

export interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; boolValue?: boolean; intValue?: string; doubleValue?: number };
}

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: OtlpAttribute[];
  status: { code: number };
}

/** Options of `exportOtlp`: JSON (the default) or the protobuf bytes of `/v1/traces`. */
export interface OtlpExportOptions {
  encoding?: "json" | "protobuf";
}

/** OTLP/JSON traces with Agent Lightning's attribute conventions. */
export interface OtlpDocument {
  resourceSpans: {
    resource: { attributes: OtlpAttribute[] };
    scopeSpans: { scope: { name: string; version: string }; spans: OtlpSpan[] }[];
  }[];
}

export interface OptionInfo {
  name: string;
  type: "choice" | "integer" | "number" | "boolean" | "text" | "terms" | "aspectRatio";
  values?: string[];
  min?: number;
  max?: number;
  maxChars?: number;
  maxItems?: number;
  description: string;
}

export interface ModelInfo {
  id: string;
  name: string;
  category: Category;
  family: string;
  aliases: string[];
  budget: { unit: "clipTokens" | "words" | "chars"; limit: number } | { unit: "unlimited" };
  maxEdits: number;
  aspectRatios: string[];
  options: OptionInfo[];
  description: string;
}

/** What `supportedModels()` returns. */
export interface Catalog {
  categories: { id: Category; facets: { id: FacetId; label: string }[]; models: ModelInfo[] }[];
}
"#;
