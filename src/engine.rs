//! The engine: optimize, feedback, train, status, queries, export and import — the
//! orchestration of `prompt/`, `learn/` and a [`Store`]. Pure Rust, natively testable; the
//! wasm layer only converts JS values into the requests below.
//!
//! State lives in a `RefCell` that is never borrowed across an `.await`, so concurrent
//! calls from JS interleave safely: every borrow is taken, used and dropped between awaits.

use crate::error::{Error, ErrorCode, Result};
use crate::learn::stats::FastMap;
use crate::learn::{
    self, Evaluation, LearnedOptimizations, Policy, PolicyChooser, PolicyState, Target,
};
use crate::prompt::adapters::resolve;
use crate::prompt::analyze::AnalysisCache;
use crate::prompt::optimize::{optimize_cached, AppliedEdit, OptimizeInput};
use crate::prompt::score::{FacetScore, Penalty};
use crate::prompt::{Category, Options};
use crate::reward::{
    accept_custom, calculate_reward, validate_quality, validate_rating, validate_reward,
    FeedbackSignals,
};
use crate::rng::Rng;
use crate::span::{
    is_valid_id, next_sequence, Metadata, Reward, RewardSource, Span, SPAN_ID_LEN, TASK_ID_LEN,
};
use crate::store::{
    newest_first, Dataset, ImportReport, PolicySnapshot, Query, SpanCursor, StorageKind, Store,
};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// Milliseconds since the Unix epoch; injected so tests and the simulator control time.
pub type Clock = Rc<dyn Fn() -> f64>;

/// The system clock (`SystemTime` natively, `Date.now()` in the browser).
pub fn system_clock() -> Clock {
    #[cfg(target_arch = "wasm32")]
    {
        Rc::new(js_sys::Date::now)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        Rc::new(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        })
    }
}

/// The future a [`Progress`] step returns.
pub type StepFuture<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + 'a>>;

/// Watches a long call (`optimize_batch_with`, `train_with`, `import_with`,
/// `evaluate_with`): told `done` of `total` units between units of work, it may report them,
/// yield to the event loop (the returned future is awaited) or cancel the call by returning
/// an error (`Aborted`). Cancelled calls store nothing.
pub trait Progress {
    /// `done` of `total` units are finished; an error stops the call with that error.
    fn step(&self, done: u64, total: u64) -> StepFuture<'_>;

    /// A step right before the call writes (the last moment it can be cancelled): a good
    /// place to let queued events (a Cancel) run first.
    fn last_chance(&self, done: u64, total: u64) -> StepFuture<'_> {
        self.step(done, total)
    }
}

/// No reporting, no cancellation: what the plain methods use.
pub struct NoProgress;

impl Progress for NoProgress {
    fn step(&self, _done: u64, _total: u64) -> StepFuture<'_> {
        Box::pin(std::future::ready(Ok(())))
    }
}

/// Stages of `train_with` (read spans, read rewards, compute, store).
const TRAIN_STAGES: u64 = 4;
/// Stages of `evaluate_with` (read rewards, read the rated spans, estimate).
const EVALUATE_STAGES: u64 = 3;
/// Records an import source hands on at a time (what a document source's part holds).
pub const IMPORT_CHUNK: usize = 1000;

/// The seed's goal for the average reward.
pub const TARGET_REWARD: f64 = 0.7;
/// Default longest prompt accepted, in characters.
pub const DEFAULT_MAX_PROMPT_CHARS: usize = 10_000;
/// Longest feedback comment accepted, in characters.
pub const MAX_FEEDBACK_CHARS: usize = 10_000;
/// Most requests in one batch.
pub const MAX_BATCH: usize = 100_000;
/// Most records one query returns.
pub const MAX_PAGE: usize = 10_000;
/// Format name of exported documents.
pub const EXPORT_FORMAT: &str = "lightprompt";
/// Version of the export document.
pub const EXPORT_VERSION: u32 = 1;
/// The settings key of the store's sentinel.
const SENTINEL: &str = "sentinel";

/// How an engine behaves. Field names as in `LightPrompt.open({...})`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct EngineConfig {
    /// 0 = greedy (no random exploration); 1 = the default; larger explores more.
    pub exploration: f64,
    /// Store the policy as a new snapshot after every this many rewards (0 = only when
    /// asked). The policy learns from each reward at once; this only makes it survive a
    /// reload, and costs the policy's size, not the history's ([`Engine::checkpoint`]).
    #[serde(alias = "auto_train_every")]
    pub auto_train_every: u32,
    /// Seed of the policy's random choices; the same seed replays the same choices.
    pub seed: Option<u64>,
    /// Longest prompt accepted, in characters.
    #[serde(alias = "max_prompt_chars")]
    pub max_prompt_chars: usize,
    /// Half-life of a reward's weight in days (`null`: rewards never fade).
    #[serde(alias = "half_life_days")]
    pub half_life_days: Option<f64>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            exploration: 1.0,
            auto_train_every: 10,
            seed: None,
            max_prompt_chars: DEFAULT_MAX_PROMPT_CHARS,
            half_life_days: Some(30.0),
        }
    }
}

impl EngineConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        if !self.exploration.is_finite() || !(0.0..=10.0).contains(&self.exploration) {
            return Err(Error::invalid(
                "exploration",
                format!("must be a number from 0 to 10, got {}", self.exploration),
            ));
        }
        if self.max_prompt_chars == 0 || self.max_prompt_chars > 1_000_000 {
            return Err(Error::invalid(
                "maxPromptChars",
                "must be from 1 to 1000000",
            ));
        }
        if let Some(h) = self.half_life_days {
            if !h.is_finite() || h <= 0.0 {
                return Err(Error::invalid(
                    "halfLifeDays",
                    format!("must be a positive number or null, got {h}"),
                ));
            }
        }
        Ok(())
    }

    fn half_life_ms(&self) -> Option<f64> {
        self.half_life_days.map(|d| d * 86_400_000.0)
    }
}

/// A request to optimize one prompt. Field names as in `lp.optimize({...})`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OptimizeRequest {
    /// The prompt as the user wrote it.
    pub prompt: String,
    /// `image`, `video` or `text`.
    pub category: String,
    /// Target model; omitted = the category's generic adapter.
    #[serde(default)]
    pub model: Option<String>,
    /// Model options (aspect ratio, negative terms, style, ...).
    #[serde(default)]
    pub options: Options,
    /// Task id to group several spans (32 hex digits); a new one when omitted.
    #[serde(default, alias = "task_id")]
    pub task_id: Option<String>,
    /// Free-form metadata stored with the span.
    #[serde(default)]
    pub metadata: Metadata,
}

/// The result of an optimization, as `lp.optimize` returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OptimizeResult {
    /// The task id.
    pub task_id: String,
    /// The span id: pass it to `feedback`.
    pub span_id: String,
    /// The category.
    pub category: Category,
    /// The adapter used.
    pub model: String,
    /// The model name asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_model: Option<String>,
    /// True when the model was unknown and the generic adapter was used.
    pub fallback: bool,
    /// The prompt as written.
    pub original_prompt: String,
    /// The optimized prompt.
    pub optimized_prompt: String,
    /// Score of the original, 0–100.
    pub original_quality_score: f64,
    /// Score of the optimized prompt, 0–100.
    pub quality_score: f64,
    /// Per-facet breakdown of the optimized prompt's score.
    pub breakdown: Vec<FacetScore>,
    /// Per-facet breakdown of the original's score.
    pub original_breakdown: Vec<FacetScore>,
    /// Points for specificity and structure, and penalties, of the optimized prompt.
    pub specificity: f64,
    /// Points for model-appropriate structure.
    pub structure: f64,
    /// Penalties applied to the optimized prompt.
    pub penalties: Vec<Penalty>,
    /// What is still missing.
    pub suggestions: Vec<String>,
    /// Edits applied, in order.
    pub edits: Vec<AppliedEdit>,
    /// A separate negative prompt, where the model takes one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub negative_prompt: Option<String>,
    /// Generation parameters by the model's names.
    pub parameters: BTreeMap<String, serde_json::Value>,
    /// The aspect ratio chosen or given, where the model takes one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aspect_ratio: Option<String>,
    /// Notes on what was done (fallback adapter, dropped edits, ...).
    pub notes: Vec<String>,
    /// The policy version that produced it.
    pub policy_version: u32,
    /// When (ms since the epoch).
    pub created_at: f64,
}

/// Feedback on a span. Field names as in `lp.feedback({...})`; the seed's snake_case
/// names are accepted too.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FeedbackRequest {
    /// The span's task id (optional; checked against the span when given).
    #[serde(default, alias = "task_id")]
    pub task_id: Option<String>,
    /// The span rated.
    #[serde(alias = "span_id")]
    pub span_id: String,
    /// An explicit reward in [-1, 1]; wins over the reward function.
    #[serde(default)]
    pub reward: Option<f64>,
    /// The user's comment.
    #[serde(default, alias = "feedback_text")]
    pub feedback_text: Option<String>,
    /// Rating, satisfaction, use, and anything else.
    #[serde(default)]
    pub metadata: FeedbackMetadata,
}

/// The signals of a piece of feedback (`metadata` in the seed).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedbackMetadata {
    /// 1–5 stars.
    #[serde(default)]
    pub rating: Option<f64>,
    /// Satisfied with the result.
    #[serde(default)]
    pub satisfied: Option<bool>,
    /// Used the result.
    #[serde(default, alias = "used_result")]
    pub used_result: Option<bool>,
    /// Overrides the quality score the formula reads (the seed's `quality_score`).
    #[serde(default, alias = "quality_score")]
    pub quality_score: Option<f64>,
    /// Anything else; stored with the reward.
    #[serde(flatten)]
    pub extra: Metadata,
}

/// What a custom reward function is given.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RewardInput {
    /// The span's quality score (or the override from the feedback).
    pub quality_score: f64,
    /// 1–5 stars.
    pub rating: Option<f64>,
    /// Satisfied.
    pub satisfied: Option<bool>,
    /// Used the result.
    pub used_result: Option<bool>,
    /// The comment.
    pub feedback_text: Option<String>,
    /// The span rated.
    pub span: Span,
}

/// A custom reward function.
pub type RewardFn = Rc<dyn Fn(&RewardInput) -> Result<f64>>;

/// What `feedback` returns.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedbackResult {
    /// The new reward's id.
    pub reward_id: String,
    /// The reward value stored.
    pub reward: f64,
    /// Where it came from.
    pub source: RewardSource,
    /// The policy version after the update.
    pub policy_version: u32,
    /// Set when this feedback triggered automatic training.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trained: Option<TrainReport>,
    /// Set when automatic training failed (the reward itself is stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_error: Option<String>,
    /// Set when training is due but left to the caller (see
    /// [`Engine::set_external_training`]).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub training_due: bool,
}

/// What `train` returns.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainReport {
    /// The new policy version.
    pub policy_version: u32,
    /// Rated spans the policy learned from (the only spans training reads).
    pub spans_used: u64,
    /// Rewards the policy learned from.
    pub rewards_used: u64,
    /// Total time in ms (reading, computing, storing).
    pub ms: f64,
    /// Time spent computing in ms.
    pub compute_ms: f64,
}

/// Per-category figures of the status.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CategoryStatus {
    /// Spans of this category.
    pub spans: u64,
    /// Rewards of this category.
    pub rewards: u64,
    /// Their mean (0 without rewards).
    pub average_reward: f64,
    /// Spans with at least one reward.
    pub rewarded_spans: u64,
}

/// The seed's `/training/status`, and more.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainingStatus {
    /// The store answers.
    pub store_available: bool,
    /// The trainer can run (always, unless closed).
    pub trainer_available: bool,
    /// `indexeddb` or `memory`.
    pub storage: StorageKind,
    /// Spans stored.
    pub total_spans: u64,
    /// Rewards stored.
    pub total_rewards: u64,
    /// Mean of every reward (0 without rewards).
    pub average_reward: f64,
    /// Spans with a reward / spans.
    pub reward_ratio: f64,
    /// By category.
    pub by_category: BTreeMap<String, CategoryStatus>,
    /// The current policy version (0 = never trained).
    pub policy_version: u32,
    /// When the policy was last trained (ms since the epoch).
    pub last_trained_at: Option<f64>,
    /// The goal for the average reward (0.7, the seed's).
    pub target_reward: f64,
    /// Rewards until automatic training (None when off).
    pub rewards_until_training: Option<u32>,
    /// The exploration setting.
    pub exploration: f64,
    /// When this store was first opened (a sentinel in its settings). If it changes while
    /// the app remembers an older value, the browser wiped the data.
    pub store_created_at: Option<f64>,
}

/// A page query from JS (`lp.spans({...})`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueryRequest {
    /// Only this category.
    #[serde(default)]
    pub category: Option<String>,
    /// Only rewards of this span.
    #[serde(default, alias = "span_id")]
    pub span_id: Option<String>,
    /// Only spans of this task.
    #[serde(default, alias = "task_id")]
    pub task_id: Option<String>,
    /// At most this many (default 50, at most 10 000).
    #[serde(default)]
    pub limit: Option<f64>,
    /// Skip this many first.
    #[serde(default)]
    pub offset: Option<f64>,
}

/// A whole store as a versioned document (`exportData`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportDocument {
    /// Always `lightprompt`.
    pub format: String,
    /// Document version (1).
    pub version: u32,
    /// When it was written.
    pub exported_at: f64,
    /// All spans, oldest first.
    pub spans: Vec<Span>,
    /// All rewards, oldest first.
    pub rewards: Vec<Reward>,
    /// All policy snapshots.
    pub policies: Vec<PolicySnapshot>,
}

/// What an export reads before its spans ([`Engine::export_start`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ExportStart {
    /// When the export began (ms since the epoch).
    pub exported_at: f64,
    /// Every reward, oldest first.
    pub rewards: Vec<Reward>,
    /// Every policy snapshot, oldest version first.
    pub policies: Vec<PolicySnapshot>,
}

/// Spans an export reads at a time.
pub const EXPORT_PAGE: usize = 1000;

/// Spans a trace export reads at a time (whole tasks: a longer task is read whole).
pub const TRACE_PAGE: usize = 1000;

#[derive(Default)]
struct Totals {
    spans: [u64; 3],
    rewards: [u64; 3],
    reward_sum: [f64; 3],
}

/// Analyses kept for repeats: a prompt and a few rewrites of each of the last few dozen.
const ANALYSIS_CACHE_CAPACITY: usize = 128;

struct State {
    policy: Policy,
    policy_version: u32,
    last_trained_at: Option<f64>,
    /// Policy choices: seeded, so runs replay.
    rng: Rng,
    /// Ids: from entropy, so two engines with one seed still issue distinct ids.
    ids: Rng,
    totals: Totals,
    /// Latest reward per span: (value, time, category).
    latest: FastMap<String, (f64, f64, Category)>,
    rewards_since_train: u32,
    training: u32,
    store_created_at: Option<f64>,
    /// Rewards that arrived while a training was reading the store.
    during_training: Vec<(Reward, Span)>,
    closed: bool,
    /// The sequence number given last (spans and rewards share it).
    last_sequence: u64,
    /// Analyses of recent prompts and rewrites, for repeats.
    analyses: AnalysisCache,
}

fn cat_index(c: Category) -> usize {
    match c {
        Category::Image => 0,
        Category::Video => 1,
        Category::Text => 2,
    }
}

/// The engine over a store.
pub struct Engine<S: Store> {
    store: S,
    config: EngineConfig,
    clock: Clock,
    state: RefCell<State>,
    reward_fn: RefCell<Option<RewardFn>>,
    external_training: std::cell::Cell<bool>,
}

/// A prompt checked and ready.
struct Checked {
    prompt: String,
    category: Category,
    model: Option<String>,
    options: Options,
    task_id: Option<String>,
    metadata: Metadata,
}

/// Checks a prompt: not empty, not too long, no control characters but line breaks and tabs.
pub fn validate_prompt(prompt: &str, field: &str, max_chars: usize) -> Result<()> {
    if prompt.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    let chars = prompt.chars().count();
    if chars > max_chars {
        return Err(Error::invalid(
            field,
            format!("is {chars} characters long; the limit is {max_chars}"),
        ));
    }
    if let Some((i, c)) = prompt
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Error::invalid(
            field,
            format!(
                "contains control character U+{:04X} at position {i}",
                c as u32
            ),
        ));
    }
    Ok(())
}

fn validate_id(id: &str, len: usize, field: &str) -> Result<()> {
    if is_valid_id(id, len) {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!(
                "must be {len} lowercase hex digits, got {:?}",
                crate::prompt::category::truncate_for_message(id)
            ),
        ))
    }
}

fn check_request(req: &OptimizeRequest, prefix: &str, max_chars: usize) -> Result<Checked> {
    let field = |name: &str| format!("{prefix}{name}");
    validate_prompt(&req.prompt, &field("prompt"), max_chars)?;
    let category = Category::parse(&req.category, &field("category"))?;
    if let Some(task) = &req.task_id {
        validate_id(task, TASK_ID_LEN, &field("taskId"))?;
    }
    if let Some(model) = &req.model {
        if model.chars().count() > 200 {
            return Err(Error::invalid(
                field("model"),
                "is longer than 200 characters",
            ));
        }
    }
    Ok(Checked {
        prompt: req.prompt.clone(),
        category,
        model: req.model.clone(),
        options: req.options.clone(),
        task_id: req.task_id.clone(),
        metadata: req.metadata.clone(),
    })
}

/// Prefixes an error's field (and message) with the position of a batch request.
fn in_batch(mut e: Error, prefix: &str) -> Error {
    if e.code == ErrorCode::InvalidInput {
        match &e.field {
            Some(f) if !f.starts_with(prefix) => {
                e.message = format!("{prefix}{}", e.message);
                e.field = Some(format!("{prefix}{f}"));
            }
            None => e.field = Some(prefix.trim_end_matches('.').to_string()),
            _ => {}
        }
    }
    e
}

impl<S: Store> Engine<S> {
    /// Opens an engine over `store`: loads the rewards, the latest policy snapshot, and
    /// replays rewards newer than the snapshot.
    pub async fn open(store: S, config: EngineConfig, clock: Clock) -> Result<Engine<S>> {
        config.validate()?;
        let seed = config.seed;
        let rng = match seed {
            Some(s) => Rng::from_seed(s),
            None => Rng::from_entropy(clock().to_bits()),
        };
        let ids = Rng::from_entropy(clock().to_bits() ^ seed.unwrap_or(0x5eed));
        let engine = Engine {
            store,
            state: RefCell::new(State {
                policy: Policy::new(config.half_life_ms()),
                policy_version: 0,
                last_trained_at: None,
                rng,
                ids,
                totals: Totals::default(),
                latest: FastMap::default(),
                rewards_since_train: 0,
                training: 0,
                store_created_at: None,
                during_training: Vec::new(),
                closed: false,
                last_sequence: 0,
                analyses: AnalysisCache::new(ANALYSIS_CACHE_CAPACITY),
            }),
            config,
            clock,
            reward_fn: RefCell::new(None),
            external_training: std::cell::Cell::new(false),
        };
        engine.reload().await?;
        Ok(engine)
    }

    /// Rebuilds the in-memory state from the store.
    async fn reload(&self) -> Result<()> {
        // The sentinel: written once, when the store is new.
        let created = match self.store.meta(SENTINEL).await? {
            Some(v) => v.get("createdAt").and_then(serde_json::Value::as_f64),
            None => {
                let now = (self.clock)();
                self.store
                    .put_meta(SENTINEL, &serde_json::json!({ "createdAt": now }))
                    .await?;
                Some(now)
            }
        };
        self.state.borrow_mut().store_created_at = created;
        let mut counts = [0u64; 3];
        for c in Category::ALL {
            counts[cat_index(c)] = self.store.count_spans(Some(c)).await?;
        }
        let mut rewards = self.store.all_rewards().await?;
        sort_rewards(&mut rewards);
        // Continue after the highest sequence stored (rewards, and the newest span), should
        // the clock have gone back since.
        let newest_span = self
            .store
            .spans(&Query {
                limit: 1,
                ..Query::default()
            })
            .await?;
        let stored_max = rewards
            .iter()
            .filter_map(|r| r.sequence)
            .chain(newest_span.iter().filter_map(|s| s.sequence))
            .max()
            .unwrap_or(0);
        {
            let mut st = self.state.borrow_mut();
            st.last_sequence = st.last_sequence.max(stored_max);
        }
        let snapshot = self.store.latest_policy().await?;
        let half_life = self.config.half_life_ms();
        // A snapshot is reused when it was trained on a prefix of today's rewards with the
        // same half-life and update rule; otherwise the policy is rebuilt from scratch. It
        // covers exactly the first `rewards_used` (in time order) when every later one is
        // newer than the newest it saw: a reward another tab made earlier but stored later
        // fails that test.
        let usable = snapshot.as_ref().and_then(|s| {
            let state: PolicyState = serde_json::from_value(s.state.clone()).ok()?;
            let used = s.rewards_used as usize;
            let prefix_ok = used <= rewards.len()
                && rewards
                    .get(used)
                    .is_none_or(|next| next.created_at > state.latest);
            (prefix_ok
                && state.half_life_ms == half_life
                && state.learner == crate::learn::policy::LEARNER_VERSION)
                .then_some((s, state))
        });
        let (mut policy, replay_from) = match &usable {
            Some((_, state)) => (
                Policy::from_state(state),
                usable.as_ref().map_or(0, |(s, _)| s.rewards_used as usize),
            ),
            None if rewards.is_empty() => (Policy::new(half_life), 0),
            None => {
                let spans = self.store.training_spans_by_id(&rated(&rewards)).await?;
                (Policy::train(&spans, &rewards, half_life), rewards.len())
            }
        };
        let mut latest: FastMap<String, (f64, f64, Category)> = FastMap::default();
        let mut totals = Totals {
            spans: counts,
            ..Totals::default()
        };
        for r in &rewards[..replay_from] {
            latest.insert(r.span_id.clone(), (r.value, r.created_at, r.category));
        }
        let tail = &rewards[replay_from..];
        if !tail.is_empty() {
            let ids: Vec<String> = tail.iter().map(|r| r.span_id.clone()).collect();
            let spans = self.store.spans_by_id(&ids).await?;
            let by_id: FastMap<&str, &Span> =
                spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
            for r in tail {
                if let Some(span) = by_id.get(r.span_id.as_str()) {
                    let previous = latest.get(&r.span_id).map(|(v, t, _)| (*v, *t));
                    policy.observe(*span, r.value, r.created_at, previous);
                }
                latest.insert(r.span_id.clone(), (r.value, r.created_at, r.category));
            }
        }
        for r in &rewards {
            let i = cat_index(r.category);
            totals.rewards[i] += 1;
            totals.reward_sum[i] += r.value;
        }
        let mut st = self.state.borrow_mut();
        st.policy = policy;
        st.policy_version = snapshot.as_ref().map_or(0, |s| s.version);
        st.last_trained_at = snapshot.as_ref().map(|s| s.created_at);
        st.totals = totals;
        st.latest = latest;
        st.rewards_since_train = tail.len() as u32;
        Ok(())
    }

    /// The engine's configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    fn ensure_open(&self) -> Result<()> {
        if self.state.borrow().closed {
            Err(Error::new(
                ErrorCode::Closed,
                "the engine is closed; open a new one",
            ))
        } else {
            Ok(())
        }
    }

    /// Marks the engine closed: every later call fails with `Closed`.
    pub fn close(&self) {
        self.state.borrow_mut().closed = true;
    }

    /// Whether `close` was called.
    pub fn is_closed(&self) -> bool {
        self.state.borrow().closed
    }

    /// Sets (or with `None` removes) the custom reward function.
    pub fn set_reward_fn(&self, f: Option<RewardFn>) {
        *self.reward_fn.borrow_mut() = f;
    }

    /// Lookups of the analysis cache so far: (answered from it, analysed afresh).
    pub fn analysis_cache_stats(&self) -> (u64, u64) {
        let st = self.state.borrow();
        (st.analyses.hits, st.analyses.misses)
    }

    /// Optimizes without storing anything (a preview, or for benchmarks of the compute).
    /// `exploration` overrides the configured one (0 = what the policy thinks best).
    pub fn preview(
        &self,
        req: &OptimizeRequest,
        exploration: Option<f64>,
    ) -> Result<OptimizeResult> {
        let checked = check_request(req, "", self.config.max_prompt_chars)?;
        Ok(self
            .run(&checked, exploration.unwrap_or(self.config.exploration))?
            .1)
    }

    fn run(&self, c: &Checked, exploration: f64) -> Result<(Span, OptimizeResult)> {
        let started = (self.clock)();
        let mut st = self.state.borrow_mut();
        let State {
            policy,
            rng,
            ids,
            policy_version,
            last_sequence,
            analyses,
            ..
        } = &mut *st;
        let mut chooser = PolicyChooser {
            policy,
            rng,
            exploration,
        };
        let input = OptimizeInput {
            prompt: &c.prompt,
            category: c.category,
            model: c.model.as_deref(),
            options: &c.options,
        };
        let out = optimize_cached(&input, &mut chooser, analyses)?;
        let span_id = ids.hex(8);
        let task_id = c.task_id.clone().unwrap_or_else(|| ids.hex(16));
        let now = (self.clock)();
        *last_sequence = next_sequence(*last_sequence, now);
        let sequence = Some(*last_sequence);
        let requested_model = c
            .model
            .as_ref()
            .filter(|m| m.as_str() != out.adapter.id)
            .cloned();
        let span = Span {
            span_id: span_id.clone(),
            task_id: task_id.clone(),
            name: Span::name_for(c.category),
            category: c.category,
            model: out.adapter.id.to_string(),
            requested_model: requested_model.clone(),
            original_prompt: c.prompt.clone(),
            optimized_prompt: out.optimized_prompt.clone(),
            negative_prompt: out.negative_prompt.clone(),
            parameters: out.parameters.clone(),
            original_quality_score: out.original.total,
            quality_score: out.optimized.total,
            edits: out.edits.clone(),
            decisions: out.decisions,
            keywords: out.keywords,
            policy_version: *policy_version,
            created_at: now,
            duration_ms: (now - started).max(0.0),
            sequence,
            options: c.options.clone(),
            metadata: c.metadata.clone(),
        };
        let result = OptimizeResult {
            task_id,
            span_id,
            category: c.category,
            model: out.adapter.id.to_string(),
            requested_model,
            fallback: out.fallback,
            original_prompt: c.prompt.clone(),
            optimized_prompt: out.optimized_prompt,
            original_quality_score: out.original.total,
            quality_score: out.optimized.total,
            breakdown: out.optimized.facets,
            original_breakdown: out.original.facets,
            specificity: out.optimized.specificity.points,
            structure: out.optimized.structure.points,
            penalties: out.optimized.penalties,
            suggestions: out.optimized.suggestions,
            edits: out.edits,
            negative_prompt: out.negative_prompt,
            parameters: out.parameters,
            aspect_ratio: out.aspect_ratio,
            notes: out.notes,
            policy_version: *policy_version,
            created_at: now,
        };
        Ok((span, result))
    }

    /// Optimizes a prompt and records the span.
    pub async fn optimize(&self, req: &OptimizeRequest) -> Result<OptimizeResult> {
        self.ensure_open()?;
        let checked = check_request(req, "", self.config.max_prompt_chars)?;
        let (span, result) = self.run(&checked, self.config.exploration)?;
        self.store.add_spans(std::slice::from_ref(&span)).await?;
        self.state.borrow_mut().totals.spans[cat_index(span.category)] += 1;
        Ok(result)
    }

    /// Optimizes many prompts and records their spans in one write, all or nothing. Every
    /// request is checked before any is optimized.
    pub async fn optimize_batch(&self, reqs: &[OptimizeRequest]) -> Result<Vec<OptimizeResult>> {
        self.optimize_batch_with(reqs, &NoProgress).await
    }

    /// [`Engine::optimize_batch`], stepping `progress` once per request (units: requests)
    /// before the write; a cancelled batch writes nothing.
    pub async fn optimize_batch_with(
        &self,
        reqs: &[OptimizeRequest],
        progress: &dyn Progress,
    ) -> Result<Vec<OptimizeResult>> {
        self.ensure_open()?;
        if reqs.len() > MAX_BATCH {
            return Err(Error::invalid(
                "requests",
                format!("has {} requests; at most {MAX_BATCH} per batch", reqs.len()),
            ));
        }
        let mut checked = Vec::with_capacity(reqs.len());
        for (i, r) in reqs.iter().enumerate() {
            let prefix = format!("requests[{i}].");
            checked.push(check_request(r, &prefix, self.config.max_prompt_chars)?);
        }
        let mut spans = Vec::with_capacity(reqs.len());
        let mut results = Vec::with_capacity(reqs.len());
        let total = checked.len() as u64;
        for (i, c) in checked.iter().enumerate() {
            progress.step(i as u64, total).await?;
            // A step may have yielded to other calls, one of which may have closed us.
            self.ensure_open()?;
            let (span, result) = self
                .run(c, self.config.exploration)
                .map_err(|e| in_batch(e, &format!("requests[{i}].")))?;
            spans.push(span);
            results.push(result);
        }
        // The last chance to cancel: after this the batch is written.
        progress.last_chance(total, total).await?;
        self.ensure_open()?;
        self.store.add_spans(&spans).await?;
        let mut st = self.state.borrow_mut();
        for s in &spans {
            st.totals.spans[cat_index(s.category)] += 1;
        }
        Ok(results)
    }

    /// Records feedback on a span, updates the policy at once, and trains every
    /// `autoTrainEvery` rewards.
    pub async fn feedback(&self, req: &FeedbackRequest) -> Result<FeedbackResult> {
        self.ensure_open()?;
        validate_id(&req.span_id, SPAN_ID_LEN, "spanId")?;
        if let Some(task) = &req.task_id {
            validate_id(task, TASK_ID_LEN, "taskId")?;
        }
        if let Some(r) = req.reward {
            validate_reward(r, "reward")?;
        }
        let m = &req.metadata;
        if let Some(r) = m.rating {
            validate_rating(r, "metadata.rating")?;
        }
        if let Some(q) = m.quality_score {
            validate_quality(q, "metadata.qualityScore")?;
        }
        if let Some(text) = &req.feedback_text {
            let n = text.chars().count();
            if n > MAX_FEEDBACK_CHARS {
                return Err(Error::invalid(
                    "feedbackText",
                    format!("is {n} characters long; the limit is {MAX_FEEDBACK_CHARS}"),
                ));
            }
        }
        let span = self
            .store
            .span(&req.span_id)
            .await?
            .ok_or_else(|| Error::not_found("spanId", format!("no span {}", req.span_id)))?;
        if let Some(task) = &req.task_id {
            if task != &span.task_id {
                return Err(Error::invalid(
                    "taskId",
                    format!(
                        "span {} belongs to task {}, not {task}",
                        span.span_id, span.task_id
                    ),
                ));
            }
        }
        let quality = m.quality_score.unwrap_or(span.quality_score);
        let custom = self.reward_fn.borrow().clone();
        let (value, source) = if let Some(r) = req.reward {
            (r, RewardSource::Explicit)
        } else if let Some(f) = custom {
            let input = RewardInput {
                quality_score: quality,
                rating: m.rating,
                satisfied: m.satisfied,
                used_result: m.used_result,
                feedback_text: req.feedback_text.clone(),
                span: span.clone(),
            };
            (accept_custom(f(&input)?)?, RewardSource::Custom)
        } else {
            let signals = FeedbackSignals {
                quality_score: quality,
                rating: m.rating,
                satisfied: m.satisfied,
                used_result: m.used_result,
            };
            (calculate_reward(&signals), RewardSource::Computed)
        };
        let now = (self.clock)();
        let (reward_id, sequence) = {
            let mut st = self.state.borrow_mut();
            st.last_sequence = next_sequence(st.last_sequence, now);
            (st.ids.hex(8), Some(st.last_sequence))
        };
        let reward = Reward {
            reward_id: reward_id.clone(),
            span_id: span.span_id.clone(),
            task_id: span.task_id.clone(),
            category: span.category,
            model: span.model.clone(),
            value,
            source,
            quality_score: quality,
            rating: m.rating,
            satisfied: m.satisfied,
            used_result: m.used_result,
            feedback_text: req.feedback_text.clone(),
            metadata: m.extra.clone(),
            created_at: now,
            sequence,
        };
        self.store.add_reward(&reward).await?;
        let due = {
            let mut st = self.state.borrow_mut();
            self.absorb(&mut st, &reward, &span);
            st.rewards_since_train += 1;
            self.config.auto_train_every > 0
                && st.rewards_since_train >= self.config.auto_train_every
        };
        let external = self.external_training.get();
        let (trained, train_error) = if due && !external {
            match self.checkpoint().await {
                Ok(t) => (Some(t), None),
                Err(e) => (None, Some(e.to_string())),
            }
        } else {
            (None, None)
        };
        Ok(FeedbackResult {
            reward_id,
            reward: value,
            source,
            policy_version: self.state.borrow().policy_version,
            trained,
            train_error,
            training_due: due && external,
        })
    }

    /// Leaves automatic training to the caller: `feedback` then only reports
    /// `training_due` (the browser layer trains under a lock shared by all tabs).
    pub fn set_external_training(&self, on: bool) {
        self.external_training.set(on);
    }

    /// Re-reads the store: another tab may have added rewards or trained a new policy.
    pub async fn refresh(&self) -> Result<()> {
        self.ensure_open()?;
        self.reload().await
    }

    /// Takes a stored reward into the in-memory state (policy, totals).
    fn absorb(&self, st: &mut State, reward: &Reward, span: &Span) {
        let previous = st
            .latest
            .insert(
                span.span_id.clone(),
                (reward.value, reward.created_at, span.category),
            )
            .map(|(v, t, _)| (v, t));
        st.policy
            .observe(span, reward.value, reward.created_at, previous);
        let i = cat_index(span.category);
        st.totals.rewards[i] += 1;
        st.totals.reward_sum[i] += reward.value;
        if st.training > 0 {
            st.during_training.push((reward.clone(), span.clone()));
        }
    }

    /// Stores the policy in use as a new snapshot, without reading the history: the online
    /// update after each reward already makes it the policy [`Engine::train`] would build
    /// (the two agree to rounding; tested), so this costs the policy's size, not the
    /// history's. When the store holds rewards this engine has not seen (another tab's), it
    /// reloads first, so the snapshot always covers every stored reward.
    pub async fn checkpoint(&self) -> Result<TrainReport> {
        self.ensure_open()?;
        let started = (self.clock)();
        let stored = self.store.count_rewards().await?;
        let known: u64 = self.state.borrow().totals.rewards.iter().sum();
        if stored != known {
            self.reload().await?;
        }
        let compute_start = (self.clock)();
        let snapshot = {
            let st = self.state.borrow();
            let state = serde_json::to_value(st.policy.state())
                .map_err(|e| Error::internal(e.to_string()))?;
            PolicySnapshot {
                version: st.policy_version + 1,
                created_at: (self.clock)(),
                spans_used: st.latest.len() as u64,
                rewards_used: st.totals.rewards.iter().sum(),
                state,
            }
        };
        let compute_ms = (self.clock)() - compute_start;
        self.store.put_policy(&snapshot).await?;
        let mut st = self.state.borrow_mut();
        st.policy_version = st.policy_version.max(snapshot.version);
        st.last_trained_at = Some(snapshot.created_at);
        st.rewards_since_train = 0;
        Ok(TrainReport {
            policy_version: snapshot.version,
            spans_used: snapshot.spans_used,
            rewards_used: snapshot.rewards_used,
            ms: ((self.clock)() - started).max(0.0),
            compute_ms: compute_ms.max(0.0),
        })
    }

    /// Rebuilds the policy from every stored reward and the spans they rate, stores it as a
    /// new snapshot and uses it from now on. Deterministic: the same data gives the same policy.
    pub async fn train(&self) -> Result<TrainReport> {
        self.train_with(&NoProgress).await
    }

    /// [`Engine::train`], stepping `progress` between its stages (units: stages); a
    /// cancelled training stores no policy and keeps the current one.
    pub async fn train_with(&self, progress: &dyn Progress) -> Result<TrainReport> {
        self.ensure_open()?;
        let started = (self.clock)();
        {
            let mut st = self.state.borrow_mut();
            st.training += 1;
            st.rewards_since_train = 0;
        }
        let outcome = self.train_inner(started, progress).await;
        {
            let mut st = self.state.borrow_mut();
            st.training = st.training.saturating_sub(1);
            if st.training == 0 {
                st.during_training.clear();
            }
        }
        if outcome.is_ok() {
            // The policy is stored and in use: a cancel now no longer fails the call.
            let _ = progress.step(TRAIN_STAGES, TRAIN_STAGES).await;
        }
        outcome
    }

    async fn train_inner(&self, started: f64, progress: &dyn Progress) -> Result<TrainReport> {
        progress.step(0, TRAIN_STAGES).await?;
        let mut rewards = self.store.all_rewards().await?;
        sort_rewards(&mut rewards);
        progress.step(1, TRAIN_STAGES).await?;
        // Only rated spans teach anything: read those, not the whole history.
        let spans = self.store.training_spans_by_id(&rated(&rewards)).await?;
        progress.step(2, TRAIN_STAGES).await?;
        let compute_start = (self.clock)();
        let mut policy = Policy::train(&spans, &rewards, self.config.half_life_ms());
        let compute_ms = (self.clock)() - compute_start;
        progress.last_chance(3, TRAIN_STAGES).await?;
        let state =
            serde_json::to_value(policy.state()).map_err(|e| Error::internal(e.to_string()))?;
        let version = self.state.borrow().policy_version + 1;
        let now = (self.clock)();
        let snapshot = PolicySnapshot {
            version,
            created_at: now,
            spans_used: spans.len() as u64,
            rewards_used: rewards.len() as u64,
            state,
        };
        self.store.put_policy(&snapshot).await?;
        let mut st = self.state.borrow_mut();
        // Rewards stored while we were reading are not in this policy: replay them.
        let known: std::collections::HashSet<&str> =
            rewards.iter().map(|r| r.reward_id.as_str()).collect();
        let mut latest: FastMap<&str, (f64, f64)> = FastMap::default();
        for r in &rewards {
            latest.insert(r.span_id.as_str(), (r.value, r.created_at));
        }
        let late: Vec<(Reward, Span)> = st
            .during_training
            .iter()
            .filter(|(r, _)| !known.contains(r.reward_id.as_str()))
            .cloned()
            .collect();
        for (r, span) in &late {
            let previous = latest.get(r.span_id.as_str()).copied();
            policy.observe(span, r.value, r.created_at, previous);
            latest.insert(r.span_id.as_str(), (r.value, r.created_at));
        }
        st.policy = policy;
        st.policy_version = st.policy_version.max(version);
        st.last_trained_at = Some(now);
        Ok(TrainReport {
            policy_version: version,
            spans_used: spans.len() as u64,
            rewards_used: rewards.len() as u64,
            ms: ((self.clock)() - started).max(0.0),
            compute_ms: compute_ms.max(0.0),
        })
    }

    /// The training status (the seed's `/training/status`).
    pub fn training_status(&self) -> Result<TrainingStatus> {
        self.ensure_open()?;
        let st = self.state.borrow();
        let mut by_category = BTreeMap::new();
        let mut rewarded = [0u64; 3];
        for (_, _, c) in st.latest.values() {
            rewarded[cat_index(*c)] += 1;
        }
        for c in Category::ALL {
            let i = cat_index(c);
            let t = &st.totals;
            by_category.insert(
                c.as_str().to_string(),
                CategoryStatus {
                    spans: t.spans[i],
                    rewards: t.rewards[i],
                    average_reward: if t.rewards[i] > 0 {
                        t.reward_sum[i] / t.rewards[i] as f64
                    } else {
                        0.0
                    },
                    rewarded_spans: rewarded[i],
                },
            );
        }
        let total_spans: u64 = st.totals.spans.iter().sum();
        let total_rewards: u64 = st.totals.rewards.iter().sum();
        let sum: f64 = st.totals.reward_sum.iter().sum();
        let every = self.config.auto_train_every;
        Ok(TrainingStatus {
            store_available: !st.closed,
            trainer_available: !st.closed,
            storage: self.store.kind(),
            total_spans,
            total_rewards,
            average_reward: if total_rewards > 0 {
                sum / total_rewards as f64
            } else {
                0.0
            },
            reward_ratio: if total_spans > 0 {
                rewarded.iter().sum::<u64>() as f64 / total_spans as f64
            } else {
                0.0
            },
            by_category,
            policy_version: st.policy_version,
            last_trained_at: st.last_trained_at,
            target_reward: TARGET_REWARD,
            rewards_until_training: (every > 0)
                .then(|| every.saturating_sub(st.rewards_since_train)),
            exploration: self.config.exploration,
            store_created_at: st.store_created_at,
        })
    }

    /// What was learned for a category and model.
    pub fn learned_optimizations(
        &self,
        category: &str,
        model: Option<&str>,
    ) -> Result<LearnedOptimizations> {
        self.ensure_open()?;
        let category = Category::parse(category, "category")?;
        let adapter = resolve(category, model)?.adapter;
        Ok(self
            .state
            .borrow()
            .policy
            .learned_optimizations(category, adapter.id))
    }

    /// Off-policy estimates of the learned policy (as configured, and greedy) and the
    /// rule-only baseline, from the stored spans' logged propensities.
    pub async fn evaluate(&self) -> Result<Evaluation> {
        self.evaluate_with(&NoProgress).await
    }

    /// [`Engine::evaluate`], stepping `progress` between its stages (units: stages).
    pub async fn evaluate_with(&self, progress: &dyn Progress) -> Result<Evaluation> {
        self.ensure_open()?;
        progress.step(0, EVALUATE_STAGES).await?;
        let rewards = self.store.all_rewards().await?;
        progress.step(1, EVALUATE_STAGES).await?;
        // Only rated spans count, so only they are read (not the whole history), in the
        // order a full read gives them: oldest first.
        let mut spans = self.store.spans_by_id(&rated(&rewards)).await?;
        spans.sort_by(|a, b| newest_first((b.created_at, &b.span_id), (a.created_at, &a.span_id)));
        progress.step(2, EVALUATE_STAGES).await?;
        // The current policy judged on all logged data. (Cross-fitting, training on half
        // and judging on the other half, removes the in-sample optimism but the half-data
        // policies differ from the logged choices so often that the slate weights collapse;
        // measured in the simulator, in-sample SNIPS is the better estimate here.)
        let policy = self.state.borrow().policy.clone();
        let evaluation = learn::evaluate(
            &spans,
            &rewards,
            &[
                Target::Learned {
                    policy: &policy,
                    exploration: self.config.exploration,
                },
                Target::Learned {
                    policy: &policy,
                    exploration: 0.0,
                },
                Target::Rules,
            ],
        )?;
        progress.step(EVALUATE_STAGES, EVALUATE_STAGES).await?;
        Ok(evaluation)
    }

    fn query(&self, q: &QueryRequest) -> Result<Query> {
        let category = q
            .category
            .as_deref()
            .map(|c| Category::parse(c, "category"))
            .transpose()?;
        let count = |v: Option<f64>, field: &str, default: usize, max: usize| -> Result<usize> {
            match v {
                None => Ok(default),
                Some(n) if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= max as f64 => {
                    Ok(n as usize)
                }
                Some(n) => Err(Error::invalid(
                    field,
                    format!("must be a whole number from 0 to {max}, got {n}"),
                )),
            }
        };
        if let Some(id) = &q.span_id {
            validate_id(id, SPAN_ID_LEN, "spanId")?;
        }
        if let Some(id) = &q.task_id {
            validate_id(id, TASK_ID_LEN, "taskId")?;
        }
        Ok(Query {
            category,
            span_id: q.span_id.clone(),
            task_id: q.task_id.clone(),
            limit: count(q.limit, "limit", 50, MAX_PAGE)?,
            offset: count(q.offset, "offset", 0, usize::MAX >> 12)?,
        })
    }

    /// A page of spans, newest first.
    pub async fn spans(&self, q: &QueryRequest) -> Result<Vec<Span>> {
        self.ensure_open()?;
        let query = self.query(q)?;
        self.store.spans(&query).await
    }

    /// A page of rewards, newest first.
    pub async fn rewards(&self, q: &QueryRequest) -> Result<Vec<Reward>> {
        self.ensure_open()?;
        let query = self.query(q)?;
        self.store.rewards(&query).await
    }

    /// Removes every span, reward and policy snapshot, and forgets what was learned.
    pub async fn clear(&self) -> Result<()> {
        self.ensure_open()?;
        self.store.clear().await?;
        let mut st = self.state.borrow_mut();
        st.policy = Policy::new(self.config.half_life_ms());
        st.policy_version = 0;
        st.last_trained_at = None;
        st.totals = Totals::default();
        st.latest.clear();
        st.rewards_since_train = 0;
        Ok(())
    }

    /// Everything, as a versioned document ([`Engine::export_start`], then every page of
    /// [`Engine::export_spans`]).
    pub async fn export(&self) -> Result<ExportDocument> {
        let start = self.export_start().await?;
        let mut spans = Vec::new();
        self.export_span_pages(|page| {
            spans.extend(page);
            Ok(())
        })
        .await?;
        Ok(ExportDocument {
            format: EXPORT_FORMAT.to_string(),
            version: EXPORT_VERSION,
            exported_at: start.exported_at,
            spans,
            rewards: start.rewards,
            policies: start.policies,
        })
    }

    /// The start of an export: its time, and the rewards and policy snapshots, read before
    /// the spans. A span stored while the export pages through the spans is in it or not,
    /// but every reward in it has its span: spans are never removed one by one.
    pub async fn export_start(&self) -> Result<ExportStart> {
        self.ensure_open()?;
        let exported_at = (self.clock)();
        let rewards = self.store.all_rewards().await?;
        let policies = self.store.all_policies().await?;
        Ok(ExportStart {
            exported_at,
            rewards,
            policies,
        })
    }

    /// Every span of an export, oldest first, handed to `visit` a page at a time (what
    /// [`Engine::export_spans`] returns page after page).
    pub async fn export_span_pages(
        &self,
        mut visit: impl FnMut(Vec<Span>) -> Result<()>,
    ) -> Result<()> {
        let mut after = None;
        loop {
            let page = self.export_spans(after.as_ref(), EXPORT_PAGE).await?;
            let last = page.len() < EXPORT_PAGE;
            after = page.last().map(SpanCursor::after);
            visit(page)?;
            if last {
                return Ok(());
            }
        }
    }

    /// A page of an export's spans: up to `limit`, oldest first, after `after` (from the
    /// first when `None`). Fewer than `limit` means the last page.
    pub async fn export_spans(
        &self,
        after: Option<&SpanCursor>,
        limit: usize,
    ) -> Result<Vec<Span>> {
        self.ensure_open()?;
        self.store.spans_after(after, limit.max(1)).await
    }

    /// Spans and rewards as OTLP/JSON traces (Agent Lightning's attribute conventions).
    pub async fn export_otlp(&self) -> Result<serde_json::Value> {
        Ok(crate::otlp::encode_tasks_json(&self.traces().await?))
    }

    /// The same traces as [`Engine::export_otlp`], as OTLP protobuf bytes.
    pub async fn export_otlp_protobuf(&self) -> Result<Vec<u8>> {
        Ok(crate::otlp::encode_tasks_protobuf(&self.traces().await?))
    }

    /// Every task's spans and rewards, numbered and laid out for export (what a send to
    /// Agent Lightning reads).
    pub async fn traces(&self) -> Result<Vec<crate::otlp::TaskTrace>> {
        let mut all = Vec::new();
        self.trace_pages(|page| {
            all.extend(page);
            Ok(())
        })
        .await?;
        Ok(all)
    }

    /// [`Engine::traces`] a page of whole tasks at a time, in task order, handed to
    /// `visit`: what the OTLP exports encode page by page, so that they never hold every
    /// span. The pages together are exactly [`Engine::traces`].
    pub async fn trace_pages(
        &self,
        mut visit: impl FnMut(Vec<crate::otlp::TaskTrace>) -> Result<()>,
    ) -> Result<()> {
        self.ensure_open()?;
        // Rewards by task, each task's in the order a full read gives them.
        let mut rewards: BTreeMap<String, Vec<Reward>> = BTreeMap::new();
        for r in self.store.all_rewards().await? {
            rewards.entry(r.task_id.clone()).or_default().push(r);
        }
        let mut after: Option<String> = None;
        loop {
            let mut spans = self
                .store
                .spans_by_task_after(after.as_deref(), TRACE_PAGE)
                .await?;
            let full = spans.len() == TRACE_PAGE;
            if let (true, Some(last)) = (full, spans.last().map(|s| s.task_id.clone())) {
                // The last task may go on past the page: it waits for the next page, or,
                // the page's only task, is read whole.
                match spans.iter().position(|s| s.task_id == last) {
                    Some(0) | None => {
                        let whole = Query {
                            task_id: Some(last),
                            limit: usize::MAX,
                            ..Query::default()
                        };
                        spans = self.store.spans(&whole).await?;
                    }
                    Some(first) => spans.truncate(first),
                }
            }
            let end = spans.last().map(|s| s.task_id.clone());
            // The rewards of the tasks up to the page's last (all that are left, last),
            // including those of tasks with rewards and no span.
            let tasks: Vec<String> = match (&end, full) {
                (Some(end), true) => rewards
                    .range(..=end.clone())
                    .map(|(k, _)| k.clone())
                    .collect(),
                _ => rewards.keys().cloned().collect(),
            };
            let page_rewards: Vec<Reward> = tasks
                .iter()
                .flat_map(|t| rewards.remove(t).unwrap_or_default())
                .collect();
            // Oldest first, as a full read orders them (ties of sequence keep this order).
            spans.sort_by(|a, b| {
                newest_first((b.created_at, &b.span_id), (a.created_at, &a.span_id))
            });
            if !spans.is_empty() || !page_rewards.is_empty() {
                visit(crate::otlp::tasks(&spans, &page_rewards))?;
            }
            if !full {
                return Ok(());
            }
            after = end;
        }
    }

    /// Imports a document: checks all of it first, then writes it in one transaction
    /// (`replace` drops what was stored before), then reloads and retrains.
    pub async fn import(&self, doc: &ExportDocument, replace: bool) -> Result<ImportReport> {
        self.import_with(doc, replace, &NoProgress).await
    }

    /// [`Engine::import`], stepping `progress` as it reads (units: records). It can be
    /// cancelled until the write starts (nothing is stored then); once the document is
    /// written, the call finishes and reports success.
    pub async fn import_with(
        &self,
        doc: &ExportDocument,
        replace: bool,
        progress: &dyn Progress,
    ) -> Result<ImportReport> {
        self.import_from(&mut DocumentSource::new(doc), replace, progress)
            .await
    }

    /// Imports a document read a part at a time from `source`: each part is checked and
    /// handed to the store's staging (in its stored form), so an import holds one part in
    /// memory, not the document. Everything is written in one transaction at the end, and
    /// only when the whole document is valid: bad input stores nothing. `progress` counts
    /// the source's units (records or bytes), plus a tenth for the write; the call can be
    /// cancelled until the write starts.
    pub async fn import_from(
        &self,
        source: &mut impl ImportSource,
        replace: bool,
        progress: &dyn Progress,
    ) -> Result<ImportReport> {
        self.ensure_open()?;
        let mut check = DocumentCheck::new(self.config.max_prompt_chars);
        let mut staging = <S as Store>::Staging::default();
        // The write and the retraining count as a tenth more than the reading.
        fn units(source: &impl ImportSource) -> (u64, u64) {
            let (done, total) = source.position();
            (done, total + total / 10 + 1)
        }
        let (done, total) = units(source);
        progress.step(done, total).await?;
        while let Some(part) = source.next_part().await? {
            match part {
                DocumentPart::Format(format) => check.format(&format)?,
                DocumentPart::Version(version) => check.version(version)?,
                DocumentPart::Records(data) => {
                    check.records(&data)?;
                    self.store.stage(&mut staging, data)?;
                }
            }
            let (done, total) = units(source);
            progress.step(done, total).await?;
        }
        check.finish()?;
        // On merge, rewards may refer to spans already stored rather than in the document.
        let missing = check.unresolved();
        if !missing.is_empty() {
            let ids: Vec<String> = missing.iter().map(|(_, id)| id.clone()).collect();
            let found = if replace {
                Vec::new()
            } else {
                self.store.spans_by_id(&ids).await?
            };
            let found: std::collections::HashSet<&str> =
                found.iter().map(|s| s.span_id.as_str()).collect();
            if let Some((i, id)) = missing.iter().find(|(_, id)| !found.contains(id.as_str())) {
                return Err(Error::invalid(
                    format!("rewards[{i}].spanId"),
                    format!("refers to span {id}, which is neither in the document nor stored"),
                ));
            }
        }
        let (read, total) = units(source);
        progress.last_chance(read, total).await?;
        self.ensure_open()?;
        let report = self.store.commit_import(staging, replace).await?;
        // Stored now: report the remaining steps but no longer let a cancel fail the call.
        self.reload().await?;
        if report.rewards_added > 0 || replace {
            self.train().await?;
        }
        let (_, total) = units(source);
        let _ = progress.step(total, total).await;
        Ok(report)
    }
}

/// The ids of the rated spans, each once, in the order of their first reward.
fn rated(rewards: &[Reward]) -> Vec<String> {
    let mut seen = std::collections::HashSet::with_capacity(rewards.len());
    rewards
        .iter()
        .filter(|r| seen.insert(r.span_id.as_str()))
        .map(|r| r.span_id.clone())
        .collect()
}

fn sort_rewards(rewards: &mut [Reward]) {
    rewards.sort_by(|a, b| {
        a.created_at
            .total_cmp(&b.created_at)
            .then_with(|| a.reward_id.cmp(&b.reward_id))
    });
}

fn finite(v: f64, field: impl Fn() -> String) -> Result<()> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(Error::invalid(
            field(),
            format!("must be a finite number, got {v}"),
        ))
    }
}

/// Checks an export document completely: format, version, every record's ids, numbers and
/// texts, duplicates, and that every reward's span is in the document (or, on merge,
/// stored — checked by the caller).
pub fn validate_document(doc: &ExportDocument, max_prompt_chars: usize) -> Result<()> {
    let mut check = DocumentCheck::new(max_prompt_chars);
    check.format(&doc.format)?;
    check.version(doc.version)?;
    check.spans(&doc.spans)?;
    check.rewards(&doc.rewards)?;
    check.policies(&doc.policies)?;
    check.finish()
}

/// What an [`ImportSource`] reads from an export document, in the document's order.
#[derive(Debug)]
pub enum DocumentPart {
    /// The document's `format`.
    Format(String),
    /// The document's `version`.
    Version(u32),
    /// The next records (at most about [`IMPORT_CHUNK`]); their indices in the document
    /// continue from the part before.
    Records(Dataset),
}

/// An export document read a part at a time (a JS object, a file, bytes): an import holds
/// one part in memory, not the whole document.
#[allow(async_fn_in_trait)]
pub trait ImportSource {
    /// The next part, or `None` after the last; a document that cannot be read is an
    /// `InvalidInput` error naming the field.
    async fn next_part(&mut self) -> Result<Option<DocumentPart>>;

    /// How far it has read: units read and units in all (records of an object, bytes of
    /// a file).
    fn position(&self) -> (u64, u64);
}

/// An [`ImportSource`] over a document already in memory.
pub struct DocumentSource<'a> {
    doc: &'a ExportDocument,
    /// Parts handed on: format, version, then records.
    header_sent: u8,
    /// Records handed on (spans, then rewards, then policies).
    sent: usize,
}

impl<'a> DocumentSource<'a> {
    /// Reads `doc` from its start.
    pub fn new(doc: &'a ExportDocument) -> Self {
        DocumentSource {
            doc,
            header_sent: 0,
            sent: 0,
        }
    }

    fn records(&self) -> usize {
        self.doc.spans.len() + self.doc.rewards.len() + self.doc.policies.len()
    }
}

impl ImportSource for DocumentSource<'_> {
    fn position(&self) -> (u64, u64) {
        (self.sent as u64, self.records() as u64)
    }

    async fn next_part(&mut self) -> Result<Option<DocumentPart>> {
        match self.header_sent {
            0 => {
                self.header_sent = 1;
                return Ok(Some(DocumentPart::Format(self.doc.format.clone())));
            }
            1 => {
                self.header_sent = 2;
                return Ok(Some(DocumentPart::Version(self.doc.version)));
            }
            _ => {}
        }
        let (spans, rewards, policies) = (
            self.doc.spans.len(),
            self.doc.rewards.len(),
            self.doc.policies.len(),
        );
        let mut data = Dataset::default();
        let at = self.sent;
        if at < spans {
            data.spans = self.doc.spans[at..spans.min(at + IMPORT_CHUNK)].to_vec();
            self.sent += data.spans.len();
        } else if at < spans + rewards {
            let r = at - spans;
            data.rewards = self.doc.rewards[r..rewards.min(r + IMPORT_CHUNK)].to_vec();
            self.sent += data.rewards.len();
        } else if at < spans + rewards + policies {
            let p = at - spans - rewards;
            data.policies = self.doc.policies[p..policies.min(p + IMPORT_CHUNK)].to_vec();
            self.sent += data.policies.len();
        } else {
            return Ok(None);
        }
        Ok(Some(DocumentPart::Records(data)))
    }
}

/// Checks an export document as it is read, record by record: what
/// [`validate_document`] checks, keeping only the ids (for duplicates and the rewards'
/// spans), not the records.
pub struct DocumentCheck {
    max_prompt_chars: usize,
    format_seen: bool,
    version_seen: bool,
    span_ids: std::collections::HashSet<String>,
    reward_ids: std::collections::HashSet<String>,
    versions: std::collections::HashSet<u32>,
    /// Rewards whose span was not in the document when they were read: index and span id.
    pending: Vec<(usize, String)>,
}

impl DocumentCheck {
    /// A check of a document not read yet.
    pub fn new(max_prompt_chars: usize) -> Self {
        DocumentCheck {
            max_prompt_chars,
            format_seen: false,
            version_seen: false,
            span_ids: Default::default(),
            reward_ids: Default::default(),
            versions: Default::default(),
            pending: Vec::new(),
        }
    }

    /// The document's `format`.
    pub fn format(&mut self, format: &str) -> Result<()> {
        if format != EXPORT_FORMAT {
            return Err(Error::invalid(
                "format",
                format!(
                    "must be {EXPORT_FORMAT:?}, got {:?}",
                    crate::prompt::category::truncate_for_message(format)
                ),
            ));
        }
        self.format_seen = true;
        Ok(())
    }

    /// The document's `version`.
    pub fn version(&mut self, version: u32) -> Result<()> {
        if version != EXPORT_VERSION {
            return Err(Error::new(
                ErrorCode::VersionError,
                format!(
                    "version: this build reads documents of version {EXPORT_VERSION}, got {version}"
                ),
            )
            .with_field("version"));
        }
        self.version_seen = true;
        Ok(())
    }

    /// The next records of any kinds.
    pub fn records(&mut self, data: &Dataset) -> Result<()> {
        self.spans(&data.spans)?;
        self.rewards(&data.rewards)?;
        self.policies(&data.policies)
    }

    /// The next spans.
    pub fn spans(&mut self, spans: &[Span]) -> Result<()> {
        for s in spans {
            let i = self.span_ids.len();
            let f = |name: &str| format!("spans[{i}].{name}");
            validate_id(&s.span_id, SPAN_ID_LEN, &f("spanId"))?;
            validate_id(&s.task_id, TASK_ID_LEN, &f("taskId"))?;
            if self.span_ids.contains(&s.span_id) {
                return Err(appears_twice(f("spanId"), "span", &s.span_id));
            }
            validate_span_fields(s, i, self.max_prompt_chars)?;
            self.span_ids.insert(s.span_id.clone());
        }
        Ok(())
    }

    /// The next rewards.
    pub fn rewards(&mut self, rewards: &[Reward]) -> Result<()> {
        for r in rewards {
            let i = self.reward_ids.len();
            let f = |name: &str| format!("rewards[{i}].{name}");
            validate_id(&r.reward_id, SPAN_ID_LEN, &f("rewardId"))?;
            validate_id(&r.span_id, SPAN_ID_LEN, &f("spanId"))?;
            validate_id(&r.task_id, TASK_ID_LEN, &f("taskId"))?;
            if self.reward_ids.contains(&r.reward_id) {
                return Err(appears_twice(f("rewardId"), "reward", &r.reward_id));
            }
            validate_reward(r.value, &f("value"))?;
            validate_quality(r.quality_score, &f("qualityScore"))?;
            if let Some(rating) = r.rating {
                validate_rating(rating, &f("rating"))?;
            }
            finite(r.created_at, || f("createdAt"))?;
            if let Some(t) = &r.feedback_text {
                if t.chars().count() > MAX_FEEDBACK_CHARS {
                    return Err(Error::invalid(f("feedbackText"), "is too long"));
                }
            }
            if !self.span_ids.contains(&r.span_id) {
                self.pending.push((i, r.span_id.clone()));
            }
            self.reward_ids.insert(r.reward_id.clone());
        }
        Ok(())
    }

    /// The next policy snapshots.
    pub fn policies(&mut self, policies: &[PolicySnapshot]) -> Result<()> {
        for p in policies {
            let i = self.versions.len();
            if self.versions.contains(&p.version) {
                let field = format!("policies[{i}].version");
                return Err(appears_twice(field, "version", &p.version.to_string()));
            }
            finite(p.created_at, || format!("policies[{i}].createdAt"))?;
            serde_json::from_value::<PolicyState>(p.state.clone()).map_err(|e| {
                Error::invalid(
                    format!("policies[{i}].state"),
                    format!("is not a policy state: {e}"),
                )
            })?;
            self.versions.insert(p.version);
        }
        Ok(())
    }

    /// The end of the document: its format and version were there.
    pub fn finish(&self) -> Result<()> {
        if !self.format_seen {
            return Err(Error::invalid(
                "format",
                "is missing: not a lightprompt export",
            ));
        }
        if !self.version_seen {
            return Err(Error::invalid("version", "is missing"));
        }
        Ok(())
    }

    /// Rewards whose span is not in the document (index, span id): on merge it may be
    /// stored already.
    pub fn unresolved(&self) -> Vec<(usize, String)> {
        self.pending
            .iter()
            .filter(|(_, id)| !self.span_ids.contains(id))
            .cloned()
            .collect()
    }
}

/// The error for an id that a document holds twice.
fn appears_twice(field: String, what: &str, id: &str) -> Error {
    Error::new(
        ErrorCode::Duplicate,
        format!("{field}: {what} {id} appears twice"),
    )
    .with_field(field)
}

/// A span's numbers, texts, name and model (its ids are checked by the caller).
fn validate_span_fields(s: &Span, i: usize, max_prompt_chars: usize) -> Result<()> {
    let f = |name: &str| format!("spans[{i}].{name}");
    validate_prompt(&s.original_prompt, &f("originalPrompt"), max_prompt_chars)?;
    if s.optimized_prompt.chars().count() > max_prompt_chars * 4 {
        return Err(Error::invalid(f("optimizedPrompt"), "is too long"));
    }
    validate_quality(s.quality_score, &f("qualityScore"))?;
    validate_quality(s.original_quality_score, &f("originalQualityScore"))?;
    finite(s.created_at, || f("createdAt"))?;
    finite(s.duration_ms, || f("durationMs"))?;
    if s.name != Span::name_for(s.category) {
        return Err(Error::invalid(
            f("name"),
            format!("must be {:?}", Span::name_for(s.category)),
        ));
    }
    resolve(s.category, Some(&s.model)).map_err(|e| Error::invalid(f("model"), e.message))?;
    let edits = s.edits.iter().map(|e| ("edits", e.propensity));
    let decisions = s.decisions.iter().map(|d| ("decisions", d.propensity));
    for (list, j, p) in edits
        .enumerate()
        .chain(decisions.enumerate())
        .map(|(j, (list, p))| (list, j, p))
    {
        if !(p > 0.0 && p <= 1.0) {
            return Err(Error::invalid(
                format!("spans[{i}].{list}[{j}].propensity"),
                format!("must be in (0, 1], got {p}"),
            ));
        }
    }
    Ok(())
}
