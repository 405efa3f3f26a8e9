//! The learned policy: a contextual bandit over edits.
//!
//! Every decision the optimizer makes (which lighting edit, which aspect ratio, whether to
//! add a learned keyword, or to skip) is an arm. Its value is the reward of the spans that
//! chose it, estimated at three levels and shrunk from one to the next:
//!
//! ```text
//! global   lighting.golden-hour            what this user likes anywhere
//! category image.lighting.golden-hour      ... in image prompts
//! model    sdxl | image.lighting...        ... for this model
//! ```
//!
//! Each level is shrunk toward the level above it computed *without* its own data
//! (leave-own-out), so what was learned for Midjourney moves Midjourney's estimate a lot and
//! SDXL's (through the category level) a little. The top level is shrunk toward the user's
//! average reward plus the rule's prior for the edit.
//!
//! Selection samples from a softmax over optimistic scores (posterior mean plus a bonus
//! proportional to the posterior spread) whose temperature also shrinks with the spread: like
//! Thompson sampling, it tries what it is unsure of and settles as evidence grows, but its
//! propensities are exact, which off-policy evaluation needs. It explores only inside a
//! near-best band: an arm whose optimistic score is clearly below the best one's (for a fresh
//! user, a clearly lower rule prior) has probability exactly 0, so a first rewrite is never a
//! clearly worse one. With `exploration = 0` the policy is greedy on the posterior means.
//!
//! Rewards are weighted by recency with a half-life; the weight of a reward is
//! `2^((t − t0)/half_life)`, so newer ones count more and sums never need decaying. They are
//! also weighted by evidence: each new rating first discounts the statistics it touches by
//! [`EVIDENCE_DISCOUNT`], while an arm no rating touches keeps what it had. A change detector
//! (a CUSUM of ratings below what the policy expected, see [`CHANGE_THRESHOLD`]) catches a
//! turn of taste within one sitting, with no time passing, and then forgets all earlier
//! evidence at once by [`CHANGE_FORGET`] bits, so arms the old taste ruled out are tried
//! again. A changed rating corrects the evidence its first rating gave instead of counting
//! twice. Batch training replays the rewards through the same update in time order, so batch
//! and online agree exactly.
//!
//! An arm's prior also takes what its traits taught: the tags and words its edit shares with
//! others (`palette:mono`, `grain`) have statistics of their own, so a liked `black and white`
//! raises `high contrast` before that was ever shown; each arm leaves its own ratings out, so
//! none counts twice.

use super::stats::{FastMap, Stat};
use crate::prompt::optimize::{Action, Choice, Chooser, DecisionContext, Slot, KEYWORD_SLOT, SKIP};
use crate::prompt::rules::{rules, TermRule};
use crate::prompt::{Category, Facet, Tag};
use crate::rng::Rng;
use crate::span::{LearningRecord, Reward};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Pseudo-count of the prior (rules + the user's average) at the global level.
const PRIOR_GLOBAL: f64 = 4.0;
/// Pseudo-count of the global estimate at the category level.
const PRIOR_CATEGORY: f64 = 10.0;
/// Pseudo-count of the category estimate at the model level.
const PRIOR_MODEL: f64 = 1.0;
/// Pseudo-count pulling the user's average reward toward 0.
const PRIOR_BASE: f64 = 2.0;
/// Prior variance of a reward (rewards lie in [-1, 1]).
const PRIOR_VARIANCE: f64 = 0.25;
/// Softmax temperature per unit of posterior spread at exploration 1.
const TEMPERATURE: f64 = 0.1;
/// Optimism bonus per unit of posterior spread at exploration 1.
const BONUS: f64 = 0.5;
/// Width of the near-best band at exploration 1: an arm whose optimistic score falls further
/// than this below the best one's is never explored. For a fresh user (equal spreads) this
/// is a margin on the rules' priors; with evidence, an arm shown to be worse drops out while
/// an untried one (wide spread, high optimistic score) stays in.
const NEAR_BEST: f64 = 0.2;
/// z for the keywords' lower confidence bound (one-sided 95 %).
const Z_LOWER: f64 = 1.645;
/// Fewest effective samples before a keyword can count as learned.
const MIN_KEYWORD_SAMPLES: f64 = 2.0;
/// Most learned keywords offered to one optimization.
const MAX_KEYWORD_ACTIONS: usize = 5;
/// Weight exponents above this are rebased, keeping sums far from overflow.
const REBASE_EXPONENT: f64 = 300.0;
/// Forgetting by evidence: the share of its weight that the evidence behind an arm, keyword
/// or total gives up each time a new rating touches it. Recent ratings then count more than
/// old ones by count as well as by time, so a change of mind within one sitting is followed
/// (the last `1 / EVIDENCE_DISCOUNT` or so ratings of an arm dominate its estimate), while an
/// arm no rating touches keeps what it had.
pub const EVIDENCE_DISCOUNT: f64 = 0.03;

/// Pseudo-count shrinking a trait's effect (tag or word shared by edits) toward 0.
const TRAIT_PRIOR: f64 = 3.0;
/// How much of the mean effect of its traits an arm's prior takes.
const TRAIT_WEIGHT: f64 = 1.0;
/// Largest shift of an arm's prior by its traits, either way.
const TRAIT_CAP: f64 = 0.3;

/// Change detection: the slack of the CUSUM, in standard deviations of a rating below what
/// the chosen arms led the policy to expect.
pub const CHANGE_SLACK: f64 = 0.5;
/// The CUSUM's threshold (in standard deviations): about eight ratings a full deviation
/// worse than expected, or three far worse, signal a change of taste.
pub const CHANGE_THRESHOLD: f64 = 4.0;
/// Bits of weight all earlier evidence loses when a change is detected (5: it keeps 1/32).
pub const CHANGE_FORGET: f64 = 5.0;

/// Version of the update rule; a stored snapshot made by another one is rebuilt from the
/// rewards rather than continued (1: forgetting by evidence, re-ratings as corrections;
/// 2: traits shared across edits, change detection).
pub const LEARNER_VERSION: u32 = 2;

/// The learner's state as stored in a policy snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PolicyState {
    /// The [`LEARNER_VERSION`] that made it (0: before versions were kept).
    #[serde(default)]
    pub learner: u32,
    /// Recency half-life in milliseconds (`None`: no decay).
    pub half_life_ms: Option<f64>,
    /// Reference time of the weights.
    pub t0: Option<f64>,
    /// Bits of weight every rating so far has lost to detected changes of taste.
    #[serde(default)]
    pub forgotten: f64,
    /// The change detector's running sum.
    #[serde(default)]
    pub surprise: f64,
    /// Newest reward time seen.
    pub latest: f64,
    /// Spans whose (latest) reward the policy holds.
    pub rewards: u64,
    /// Arm statistics by key (`m|model|arm`, `c|arm`, `g|arm`, `t…` totals).
    pub arms: BTreeMap<String, Stat>,
    /// Keyword statistics by `category|term` and `model|term` (prefixed `kc|`, `km|`).
    pub keywords: BTreeMap<String, Stat>,
    /// Statistics of what edits are made of, by `category|tag` and `category|~word`: the
    /// rewards of spans that had an edit with that tag or word.
    #[serde(default)]
    pub traits: BTreeMap<String, Stat>,
}

/// One learned keyword.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LearnedKeyword {
    /// The term, as the rules spell it.
    pub term: String,
    /// The facet it belongs to.
    pub facet: Facet,
    /// Estimated reward with the term minus without it.
    pub effect: f64,
    /// Lower confidence bound (95 %, one-sided) of the effect; keywords rank by it.
    pub lower_bound: f64,
    /// Effective number of rated prompts with the term.
    pub samples: f64,
}

/// One learned pattern: an arm (edit, aspect ratio, skip) and its estimated effect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LearnedPattern {
    /// The edit id (`image.lighting.golden-hour`), `aspectRatio:16:9`, `keyword:…` or
    /// `{slot}.skip`.
    pub id: String,
    /// The slot it competes in.
    pub slot: String,
    /// The edit's text, when it is one.
    pub text: String,
    /// Estimated reward when chosen minus the user's average in this context.
    pub effect: f64,
    /// Effective number of rated spans behind the estimate (all levels).
    pub samples: f64,
    /// Confidence in [0, 1] that grows with the samples.
    pub confidence: f64,
}

/// What was learned for a category and model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LearnedOptimizations {
    /// The category.
    pub category: Category,
    /// The adapter id.
    pub model: String,
    /// Terms whose presence earns reliably higher reward, best lower bound first.
    pub learned_keywords: Vec<LearnedKeyword>,
    /// Arms with evidence, largest effect first.
    pub learned_patterns: Vec<LearnedPattern>,
    /// Confidence in [0, 1] that grows with the evidence in this context.
    pub confidence: f64,
    /// Effective number of rated spans in this context.
    pub samples: f64,
}

/// An arm's posterior.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Posterior mean reward.
    pub mean: f64,
    /// Posterior standard deviation.
    pub std: f64,
    /// Effective samples behind it (own model fully, other models and categories partly).
    pub samples: f64,
}

/// Trait offsets of the actions of one category and model, by action id.
type TraitOffsets = FastMap<String, f64>;

/// The learned policy.
#[derive(Debug, Default)]
pub struct Policy {
    half_life_ms: Option<f64>,
    t0: Option<f64>,
    forgotten: f64,
    surprise: f64,
    latest: f64,
    rewards: u64,
    arms: FastMap<String, Stat>,
    keywords: FastMap<String, Stat>,
    traits: FastMap<String, Stat>,
    keyword_cache: RefCell<FastMap<(Category, &'static str), Vec<LearnedKeyword>>>,
    /// Trait offsets by category and model, then action id (cleared by every update).
    trait_cache: RefCell<FastMap<(Category, &'static str), TraitOffsets>>,
}

impl Clone for Policy {
    fn clone(&self) -> Policy {
        Policy::from_state(&self.state())
    }
}

/// The arm key of a decision: category-qualified, so `skip` and aspect ratios of different
/// categories are different arms.
pub fn arm_key(category: Category, slot: &str, action: &str) -> String {
    let cat = category.as_str();
    if action == SKIP {
        format!("{cat}.{slot}.skip")
    } else if action.len() > cat.len()
        && action.starts_with(cat)
        && action.as_bytes()[cat.len()] == b'.'
    {
        action.to_string()
    } else {
        format!("{cat}.{action}")
    }
}

/// The arm's global key: its key without the category, so `image.lighting.golden-hour` and
/// `video.lighting.golden-hour` share what they teach.
fn global_part(key: &str) -> &str {
    key.split_once('.').map_or(key, |(_, rest)| rest)
}

/// Calls `visit` with the trait keys of a decision: `category|axis:value` for each tag and
/// `category|~word` for each word of the edit or learned keyword it chose (none for a skip
/// or an aspect ratio).
fn trait_keys(category: Category, slot: &str, action: &str, visit: impl FnMut(&str)) {
    if action == SKIP || action.starts_with("aspectRatio:") {
        return;
    }
    let Ok(rules) = rules() else { return };
    let table = rules.category(category);
    let found = if slot == KEYWORD_SLOT {
        action
            .strip_prefix("keyword:")
            .and_then(|t| table.term(t))
            .map(|t| (t.tags.as_slice(), t.words.as_slice()))
    } else {
        table
            .edit(&arm_key(category, slot, action))
            .map(|e| (e.tags.as_slice(), e.words.as_slice()))
    };
    if let Some((tags, words)) = found {
        each_trait_key(category, tags, words, visit);
    }
}

/// The trait keys of tags and words (see [`trait_keys`]).
fn each_trait_key(category: Category, tags: &[Tag], words: &[String], mut visit: impl FnMut(&str)) {
    let mut key = String::with_capacity(48);
    for tag in tags {
        key.clear();
        let _ = write!(key, "{}|{}:{}", category.as_str(), tag.axis, tag.value);
        visit(&key);
    }
    for word in words {
        key.clear();
        let _ = write!(key, "{}|~{word}", category.as_str());
        visit(&key);
    }
}

/// Where each statistic lives: one key scheme for every writer (online and batch) and
/// every reader.
enum Key<'a> {
    /// An arm for one model: `m|model|arm`.
    Model(&'a str, &'a str),
    /// An arm in its category: `c|arm`.
    Category(&'a str),
    /// An arm across categories: `g|arm-without-category`.
    Global(&'a str),
    /// A keyword for one model: `km|model|term`.
    KeywordModel(&'a str, &'a str),
    /// A keyword in a category: `kc|category|term`.
    KeywordCategory(Category, &'a str),
    /// All rewards of a model: `tm|model`.
    TotalModel(&'a str),
    /// All rewards of a category: `tc|category`.
    TotalCategory(Category),
    /// All rewards: `tg`.
    Total,
}

impl Key<'_> {
    /// Writes the key into `out` (cleared first) and returns it.
    fn write<'b>(&self, out: &'b mut String) -> &'b str {
        out.clear();
        let _ = match self {
            Key::Model(model, arm) => write!(out, "m|{model}|{arm}"),
            Key::Category(arm) => write!(out, "c|{arm}"),
            Key::Global(arm) => write!(out, "g|{}", global_part(arm)),
            Key::KeywordModel(model, term) => write!(out, "km|{model}|{term}"),
            Key::KeywordCategory(c, term) => write!(out, "kc|{}|{term}", c.as_str()),
            Key::TotalModel(model) => write!(out, "tm|{model}"),
            Key::TotalCategory(c) => write!(out, "tc|{}", c.as_str()),
            Key::Total => write!(out, "tg"),
        };
        out
    }

    /// The key as an owned string.
    fn string(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }
}

impl Policy {
    /// An empty policy: the rules' priors only.
    pub fn new(half_life_ms: Option<f64>) -> Policy {
        Policy {
            half_life_ms: half_life_ms.filter(|h| h.is_finite() && *h > 0.0),
            ..Policy::default()
        }
    }

    /// The policy of a stored snapshot.
    pub fn from_state(state: &PolicyState) -> Policy {
        Policy {
            half_life_ms: state.half_life_ms,
            t0: state.t0,
            forgotten: state.forgotten,
            surprise: state.surprise,
            latest: state.latest,
            rewards: state.rewards,
            arms: state.arms.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            keywords: state
                .keywords
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            traits: state.traits.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            keyword_cache: RefCell::default(),
            trait_cache: RefCell::default(),
        }
    }

    /// The state to store (sorted, so equal policies serialize equally).
    pub fn state(&self) -> PolicyState {
        PolicyState {
            learner: LEARNER_VERSION,
            half_life_ms: self.half_life_ms,
            t0: self.t0,
            forgotten: self.forgotten,
            surprise: self.surprise,
            latest: self.latest,
            rewards: self.rewards,
            arms: self.arms.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            keywords: self.keywords.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            traits: self.traits.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        }
    }

    /// Spans whose reward the policy holds.
    pub fn rewards(&self) -> u64 {
        self.rewards
    }

    /// The recency half-life in milliseconds.
    pub fn half_life_ms(&self) -> Option<f64> {
        self.half_life_ms
    }

    /// Weight exponent of a rating at time `t`: recency by time (the half-life) plus the
    /// forgetting of every detected change of taste.
    fn exponent(&self, t: f64) -> f64 {
        let by_time = match (self.half_life_ms, self.t0) {
            (Some(h), Some(t0)) => (t - t0) / h,
            _ => 0.0,
        };
        by_time + self.forgotten
    }

    /// The weight of a new rating at time `t`, rebasing first if it would grow too large.
    fn weight_for_new(&mut self, t: f64) -> f64 {
        if self.half_life_ms.is_some() && self.t0.is_none() {
            self.t0 = Some(t);
        }
        let e = self.exponent(t);
        if e > REBASE_EXPONENT {
            let factor = (-e).exp2();
            for s in self
                .arms
                .values_mut()
                .chain(self.keywords.values_mut())
                .chain(self.traits.values_mut())
            {
                s.scale(factor);
            }
            if self.half_life_ms.is_some() {
                self.t0 = Some(t);
            }
            self.forgotten = 0.0;
            return 1.0;
        }
        e.exp2()
    }

    /// The current weight of one rating at the newest time: divides sums into effective
    /// counts.
    fn scale_now(&self) -> f64 {
        self.exponent(self.latest).exp2()
    }

    /// Change detection: a one-sided CUSUM of how far ratings fall below what the policy
    /// expected of the arms it chose. When it passes [`CHANGE_THRESHOLD`] the user's taste
    /// has most likely turned, and all evidence so far loses [`CHANGE_FORGET`] bits of
    /// weight at once (a shift of the weight exponent, so nothing is rewritten).
    fn detect_change<S: LearningRecord>(&mut self, span: &S, value: f64) {
        if span.decisions().is_empty() || self.arms.is_empty() {
            return;
        }
        let (category, model) = (span.category(), span.model());
        let baseline = self.baseline(category, model);
        let variance = self.variance();
        let mut expected = 0.0;
        for d in span.decisions() {
            let e =
                self.estimate_with(category, model, &d.slot, &d.action, 0.0, baseline, variance);
            expected += e.mean;
        }
        expected /= span.decisions().len() as f64;
        let z = (expected - value) / variance.sqrt();
        self.surprise = (self.surprise + z - CHANGE_SLACK).max(0.0);
        if self.surprise > CHANGE_THRESHOLD {
            self.forgotten += CHANGE_FORGET;
            self.surprise = 0.0;
        }
    }

    /// Online update: adds a span's reward. If the span had an earlier reward, pass it as
    /// `previous` (value, time): it is removed first, since training uses the latest.
    pub fn observe<S: LearningRecord>(
        &mut self,
        span: &S,
        value: f64,
        at: f64,
        previous: Option<(f64, f64)>,
    ) {
        if previous.is_none() {
            self.detect_change(span, value);
        }
        let w = self.weight_for_new(at);
        match previous {
            // A changed rating corrects the evidence it gave (what remains of it after the
            // discounts since) rather than counting as one more rating.
            Some((old, old_at)) => {
                // With today's forgetting of changes: a rating is usually changed soon after
                // it was given, and online and batch both know only this.
                let w_old = self.exponent(old_at).exp2();
                self.apply(span, |s| s.correct(w_old, old, value));
            }
            None => {
                self.apply(span, |s| {
                    s.scale(1.0 - EVIDENCE_DISCOUNT);
                    s.add(w, value);
                });
                self.rewards += 1;
            }
        }
        self.latest = self.latest.max(at);
        self.keyword_cache.borrow_mut().clear();
        self.trait_cache.borrow_mut().clear();
    }

    fn apply<S: LearningRecord>(&mut self, span: &S, update: impl Fn(&mut Stat)) {
        let mut key = String::with_capacity(64);
        let bump = |map: &mut FastMap<String, Stat>, key: &str| {
            if let Some(s) = map.get_mut(key) {
                update(s);
            } else {
                let mut s = Stat::default();
                update(&mut s);
                map.insert(key.to_string(), s);
            }
        };
        let model = span.model();
        for d in span.decisions() {
            let arm = arm_key(span.category(), &d.slot, &d.action);
            for k in [
                Key::Model(model, &arm),
                Key::Category(&arm),
                Key::Global(&arm),
            ] {
                bump(&mut self.arms, k.write(&mut key));
            }
        }
        let mut seen: Vec<String> = Vec::new();
        for d in span.decisions() {
            trait_keys(span.category(), &d.slot, &d.action, |k| {
                if !seen.iter().any(|s| s == k) {
                    seen.push(k.to_string());
                }
            });
        }
        for k in &seen {
            bump(&mut self.traits, k);
        }
        for term in span.keywords() {
            for k in [
                Key::KeywordModel(model, term),
                Key::KeywordCategory(span.category(), term),
            ] {
                bump(&mut self.keywords, k.write(&mut key));
            }
        }
        for k in [
            Key::TotalModel(model),
            Key::TotalCategory(span.category()),
            Key::Total,
        ] {
            bump(&mut self.arms, k.write(&mut key));
        }
    }

    /// Batch training: every reward replayed in time order through [`Policy::observe`],
    /// each span's later rewards as corrections of its earlier one, so batch and online
    /// training give the same policy. Deterministic: the same spans and rewards give the same
    /// policy, in whatever order they are passed.
    pub fn train<S: LearningRecord>(
        spans: &[S],
        rewards: &[Reward],
        half_life_ms: Option<f64>,
    ) -> Policy {
        let mut policy = Policy::new(half_life_ms);
        let by_id: FastMap<&str, &S> = spans.iter().map(|s| (s.span_id(), s)).collect();
        let mut order: Vec<&Reward> = rewards
            .iter()
            .filter(|r| by_id.contains_key(r.span_id.as_str()))
            .collect();
        order.sort_by(|a, b| {
            a.created_at
                .total_cmp(&b.created_at)
                .then_with(|| a.reward_id.cmp(&b.reward_id))
        });
        let mut latest: FastMap<&str, (f64, f64)> = FastMap::default();
        latest.reserve(order.len());
        for r in order {
            let span = by_id[r.span_id.as_str()];
            let previous = latest.insert(r.span_id.as_str(), (r.value, r.created_at));
            policy.observe(span, r.value, r.created_at, previous);
        }
        policy
    }

    fn arm(&self, key: &str) -> Stat {
        self.arms.get(key).copied().unwrap_or_default()
    }

    /// Effective count and mean of a statistic at the current weight scale.
    fn effective(&self, s: &Stat, scale: f64) -> (f64, f64) {
        (s.w / scale, s.wr / scale)
    }

    /// The user's average reward for a model, shrunk toward the category's, the global one
    /// and 0.
    pub fn baseline(&self, category: Category, model: &str) -> f64 {
        let scale = self.scale_now();
        let (wg, sg) = self.effective(&self.arm(&Key::Total.string()), scale);
        let bg = sg / (wg + PRIOR_BASE);
        let (wc, sc) = self.effective(&self.arm(&Key::TotalCategory(category).string()), scale);
        let bc = (sc + PRIOR_BASE * bg) / (wc + PRIOR_BASE);
        let (wm, sm) = self.effective(&self.arm(&Key::TotalModel(model).string()), scale);
        (sm + PRIOR_BASE * bc) / (wm + PRIOR_BASE)
    }

    /// Variance of rewards, pooled over everything and shrunk toward the prior.
    fn variance(&self) -> f64 {
        let tg = self.arm(&Key::Total.string());
        let n = tg.w / self.scale_now();
        let observed = tg.variance().unwrap_or(PRIOR_VARIANCE);
        ((PRIOR_BASE * PRIOR_VARIANCE + n * observed) / (PRIOR_BASE + n)).max(0.01)
    }

    /// The posterior of one arm. `prior` is the rule's guess of the arm's effect.
    pub fn estimate(
        &self,
        category: Category,
        model: &str,
        slot: &str,
        action: &str,
        prior: f64,
    ) -> Estimate {
        self.estimate_with(
            category,
            model,
            slot,
            action,
            prior,
            self.baseline(category, model),
            self.variance(),
        )
    }

    /// What the edits sharing this action's tags and words taught: the mean over its
    /// traits of their shrunk effect (reward of spans with the trait minus the user's
    /// average), each leaving this action's own ratings out, so a tried action's evidence
    /// is not counted twice. Called through [`Policy::cached_trait_offset`], which returns
    /// 0 before any trait has evidence.
    fn trait_offset(
        &self,
        category: Category,
        slot: &str,
        action: &str,
        tags: &[Tag],
        words: &[String],
        baseline: f64,
    ) -> f64 {
        let scale = self.scale_now();
        let mut key = String::with_capacity(64);
        let own = self.arm(Key::Category(&arm_key(category, slot, action)).write(&mut key));
        let (mut sum, mut count) = (0.0, 0.0_f64);
        each_trait_key(category, tags, words, |k| {
            count += 1.0;
            if let Some(st) = self.traits.get(k) {
                let (w, wr) = self.effective(&st.minus(&own), scale);
                sum += (wr - w * baseline) / (w + TRAIT_PRIOR);
            }
        });
        if count == 0.0 {
            return 0.0;
        }
        (TRAIT_WEIGHT * sum / count).clamp(-TRAIT_CAP, TRAIT_CAP)
    }

    /// [`Policy::trait_offset`] of an action, computed once per action until the next update
    /// (the same edits come back in prompt after prompt).
    fn cached_trait_offset(
        &self,
        ctx: &DecisionContext<'_>,
        slot: &str,
        action: &Action,
        baseline: f64,
    ) -> f64 {
        if self.traits.is_empty() {
            return 0.0;
        }
        let key = (ctx.category, ctx.model);
        if let Some(hit) = self
            .trait_cache
            .borrow()
            .get(&key)
            .and_then(|m| m.get(&*action.id))
        {
            return *hit;
        }
        let offset = self.trait_offset(
            ctx.category,
            slot,
            &action.id,
            &action.tags,
            &action.words,
            baseline,
        );
        self.trait_cache
            .borrow_mut()
            .entry(key)
            .or_default()
            .insert(action.id.to_string(), offset);
        offset
    }

    #[allow(clippy::too_many_arguments)]
    fn estimate_with(
        &self,
        category: Category,
        model: &str,
        slot: &str,
        action: &str,
        prior: f64,
        baseline: f64,
        variance: f64,
    ) -> Estimate {
        let scale = self.scale_now();
        let (sc, sg, sm) = if self.arms.is_empty() {
            // Nothing learned yet: the rules' prior alone (and no key building).
            Default::default()
        } else {
            let arm = arm_key(category, slot, action);
            let mut key = String::with_capacity(64);
            let sc = self.arm(Key::Category(&arm).write(&mut key));
            let sg = self.arm(Key::Global(&arm).write(&mut key));
            (sc, sg, self.arm(Key::Model(model, &arm).write(&mut key)))
        };
        let prior_mean = baseline + prior;
        // Leave-own-out: each level's prior excludes the data of the level below.
        let (wg_out, sg_out) = self.effective(&sg.minus(&sc), scale);
        let g = (PRIOR_GLOBAL * prior_mean + sg_out) / (PRIOR_GLOBAL + wg_out);
        let (wc_out, sc_out) = self.effective(&sc.minus(&sm), scale);
        let c = (PRIOR_CATEGORY * g + sc_out) / (PRIOR_CATEGORY + wc_out);
        let (wm, smr) = self.effective(&sm, scale);
        let mean = (PRIOR_MODEL * c + smr) / (PRIOR_MODEL + wm);
        let samples = wm + 0.3 * wc_out + 0.1 * wg_out;
        // Normal–normal posterior of the arm's mean: the prior spread of an arm's value
        // (PRIOR_VARIANCE) narrowed by the evidence at the observed noise level. An untried
        // arm keeps the full prior spread even when the user rates very consistently.
        let precision = 1.0 / PRIOR_VARIANCE + samples / variance;
        Estimate {
            mean,
            std: (1.0 / precision).sqrt(),
            samples,
        }
    }

    /// Probabilities with which the policy picks each of `eligible` (same order), and the
    /// greedy pick's position. `exploration` 0 is greedy.
    pub fn distribution(
        &self,
        ctx: &DecisionContext<'_>,
        slot: &Slot,
        eligible: &[usize],
        exploration: f64,
    ) -> (Vec<f64>, Vec<Estimate>) {
        let baseline = self.baseline(ctx.category, ctx.model);
        let variance = self.variance();
        let estimates: Vec<Estimate> = eligible
            .iter()
            .map(|&i| {
                let a = &slot.actions[i];
                let shared = if a.is_skip() || a.id.starts_with("aspectRatio:") {
                    0.0
                } else {
                    self.cached_trait_offset(ctx, &slot.id, a, baseline)
                };
                self.estimate_with(
                    ctx.category,
                    ctx.model,
                    &slot.id,
                    &a.id,
                    a.prior + shared,
                    baseline,
                    variance,
                )
            })
            .collect();
        let greedy = greedy_index(&estimates, slot, eligible);
        let mut probs = vec![0.0; eligible.len()];
        if exploration <= 0.0 || !exploration.is_finite() {
            probs[greedy] = 1.0;
            return (probs, estimates);
        }
        let rms =
            (estimates.iter().map(|e| e.std * e.std).sum::<f64>() / estimates.len() as f64).sqrt();
        let tau = (exploration * TEMPERATURE * rms).max(1e-9);
        // Optimism in the face of uncertainty: an arm little tried gets a bonus in
        // proportion to its posterior spread, so it is tried until the data rules it out.
        let scores: Vec<f64> = estimates
            .iter()
            .map(|e| e.mean + exploration * BONUS * e.std)
            .collect();
        let top = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        // The greedy pick always stays in the band, even when untried arms outshine it.
        let floor = (top - exploration * NEAR_BEST).min(scores[greedy]);
        let mut total = 0.0;
        for (p, score) in probs.iter_mut().zip(&scores) {
            // Outside the near-best band the probability is exactly 0, not merely small.
            *p = if *score >= floor {
                ((score - top) / tau).exp()
            } else {
                0.0
            };
            total += *p;
        }
        for p in &mut probs {
            *p /= total;
        }
        (probs, estimates)
    }

    /// Learned keywords for a category and model, best lower bound first (cached until the
    /// next update).
    pub fn learned_keywords(&self, category: Category, model: &'static str) -> Vec<LearnedKeyword> {
        if let Some(hit) = self.keyword_cache.borrow().get(&(category, model)) {
            return hit.clone();
        }
        let computed = self.compute_keywords(category, model);
        self.keyword_cache
            .borrow_mut()
            .insert((category, model), computed.clone());
        computed
    }

    fn compute_keywords(&self, category: Category, model: &str) -> Vec<LearnedKeyword> {
        if self.keywords.is_empty() {
            return Vec::new();
        }
        let Ok(rules) = rules() else {
            return Vec::new();
        };
        let table = rules.category(category);
        let scale = self.scale_now();
        let total_c = self.arm(&Key::TotalCategory(category).string());
        let total_m = self.arm(&Key::TotalModel(model).string());
        let variance = self.variance();
        let prefix = Key::KeywordCategory(category, "").string();
        let mut out = Vec::new();
        let mut terms: Vec<(&String, &Stat)> = self
            .keywords
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .collect();
        terms.sort_by(|a, b| a.0.cmp(b.0));
        for (key, kc) in terms {
            let term = &key[prefix.len()..];
            let km = self
                .keywords
                .get(&Key::KeywordModel(model, term).string())
                .copied()
                .unwrap_or_default();
            // This model's data fully, other models' partly.
            let mut with = km;
            let mut others = kc.minus(&km);
            others.scale(0.3);
            with.merge(&others);
            let mut without = total_m.minus(&km);
            let mut others_without = total_c.minus(kc).minus(&total_m.minus(&km));
            others_without.scale(0.3);
            without.merge(&others_without);
            let (n_with, s_with) = self.effective(&with, scale);
            let (n_without, s_without) = self.effective(&without, scale);
            if n_with < MIN_KEYWORD_SAMPLES || n_without < 1.0 {
                continue;
            }
            let effect = s_with / n_with - s_without / n_without;
            let se = (variance / n_with + variance / n_without).sqrt();
            let lower = effect - Z_LOWER * se;
            let Some(rule) = table.term(term) else {
                continue;
            };
            let Some(facet) = rule.facet else { continue };
            if lower > 0.0 {
                out.push(LearnedKeyword {
                    term: term.to_string(),
                    facet,
                    effect,
                    lower_bound: lower,
                    samples: n_with,
                });
            }
        }
        out.sort_by(|a, b| {
            b.lower_bound
                .total_cmp(&a.lower_bound)
                .then_with(|| a.term.cmp(&b.term))
        });
        out
    }

    /// What was learned for a category and model.
    pub fn learned_optimizations(
        &self,
        category: Category,
        model: &'static str,
    ) -> LearnedOptimizations {
        let cat = category.as_str();
        let scale = self.scale_now();
        let baseline = self.baseline(category, model);
        let variance = self.variance();
        let prefix = Key::Category(&format!("{cat}.")).string();
        let mut patterns = Vec::new();
        let table = rules().ok().map(|r| r.category(category));
        let mut keys: Vec<&String> = self
            .arms
            .keys()
            .filter(|k| k.starts_with(&prefix))
            .collect();
        keys.sort();
        for key in keys {
            let arm = &key[2..];
            let rest = &arm[cat.len() + 1..];
            let (slot, action, text) = if let Some(slot) = rest.strip_suffix(".skip") {
                (slot.to_string(), SKIP.to_string(), String::new())
            } else if let Some(kw) = rest.strip_prefix("keyword:") {
                (
                    KEYWORD_SLOT.to_string(),
                    format!("keyword:{kw}"),
                    kw.to_string(),
                )
            } else if let Some(ratio) = rest.strip_prefix("aspectRatio:") {
                (
                    "aspectRatio".to_string(),
                    rest.to_string(),
                    ratio.to_string(),
                )
            } else {
                let slot = rest.split('.').next().unwrap_or(rest).to_string();
                let text = table
                    .and_then(|t| t.edit(arm))
                    .map(|e| e.text.to_string())
                    .unwrap_or_default();
                (slot, arm.to_string(), text)
            };
            let prior = table.and_then(|t| t.edit(arm)).map_or(0.0, |e| e.prior);
            let e = self.estimate_with(category, model, &slot, &action, prior, baseline, variance);
            if e.samples < 0.5 {
                continue;
            }
            patterns.push(LearnedPattern {
                id: if action == SKIP {
                    format!("{slot}.skip")
                } else {
                    action
                },
                slot,
                text,
                effect: e.mean - baseline,
                samples: e.samples,
                confidence: 1.0 - (-e.samples / 5.0).exp(),
            });
        }
        patterns.sort_by(|a, b| b.effect.total_cmp(&a.effect).then_with(|| a.id.cmp(&b.id)));
        let (wm, _) = self.effective(&self.arm(&Key::TotalModel(model).string()), scale);
        let (wc, _) = self.effective(&self.arm(&Key::TotalCategory(category).string()), scale);
        let samples = wm + 0.3 * (wc - wm).max(0.0);
        LearnedOptimizations {
            category,
            model: model.to_string(),
            learned_keywords: self.learned_keywords(category, model),
            learned_patterns: patterns,
            confidence: 1.0 - (-samples / 10.0).exp(),
            samples,
        }
    }
}

/// Position (in `eligible`) of the highest posterior mean; ties go to the higher prior, then
/// the earlier action.
fn greedy_index(estimates: &[Estimate], slot: &Slot, eligible: &[usize]) -> usize {
    let mut best = 0;
    for i in 1..estimates.len() {
        let (a, b) = (&estimates[i], &estimates[best]);
        let better = a.mean > b.mean + 1e-12
            || ((a.mean - b.mean).abs() <= 1e-12
                && slot.actions[eligible[i]].prior > slot.actions[eligible[best]].prior);
        if better {
            best = i;
        }
    }
    best
}

/// Position of the rules' pick (highest prior, earliest on ties).
fn rule_index(slot: &Slot, eligible: &[usize]) -> usize {
    let mut best = 0;
    for i in 1..eligible.len() {
        if slot.actions[eligible[i]].prior > slot.actions[eligible[best]].prior {
            best = i;
        }
    }
    best
}

/// The learned policy as the optimizer's [`Chooser`].
pub struct PolicyChooser<'a> {
    /// The policy.
    pub policy: &'a Policy,
    /// The engine's random generator.
    pub rng: &'a mut Rng,
    /// 0 = greedy; 1 = the default amount of exploration.
    pub exploration: f64,
}

impl Chooser for PolicyChooser<'_> {
    fn choose(&mut self, ctx: &DecisionContext<'_>, slot: &Slot, eligible: &[usize]) -> Choice {
        let (probs, estimates) = self
            .policy
            .distribution(ctx, slot, eligible, self.exploration);
        let mut u = self.rng.next_f64();
        let mut pick = probs.len() - 1;
        for (i, p) in probs.iter().enumerate() {
            if u < *p {
                pick = i;
                break;
            }
            u -= p;
        }
        // Rounding can leave u past the last positive probability: never pick a zero.
        while probs[pick] <= 0.0 && pick > 0 {
            pick -= 1;
        }
        let greedy = greedy_index(&estimates, slot, eligible);
        let rule = rule_index(slot, eligible);
        let evidence = estimates[pick].samples + estimates[rule].samples;
        let learned = if slot.id == KEYWORD_SLOT {
            pick != 0
        } else {
            pick != rule && pick == greedy && evidence >= 1.0
        };
        Choice {
            action: eligible[pick],
            propensity: probs[pick],
            learned,
        }
    }

    fn keyword_actions(&self, ctx: &DecisionContext<'_>) -> Vec<Action> {
        keyword_actions(self.policy, ctx)
    }
}

/// Learned keywords offered to an optimization: those with a positive lower bound whose
/// facet the prompt lacks.
pub fn keyword_actions(policy: &Policy, ctx: &DecisionContext<'_>) -> Vec<Action> {
    let learned = policy.learned_keywords(ctx.category, ctx.model);
    if learned.is_empty() {
        return Vec::new();
    }
    let Ok(rules) = rules() else {
        return Vec::new();
    };
    let table = rules.category(ctx.category);
    learned
        .into_iter()
        .filter(|k| !ctx.analysis.has(k.facet))
        .take(MAX_KEYWORD_ACTIONS)
        .filter_map(|k| keyword_action(table.term(&k.term)?, k.lower_bound))
        .collect()
}

/// The action that adds a rule term as a learned keyword (its id `keyword:<term>`); it
/// borrows the term's text, tags and words from the rule tables. `None` for a term of no
/// facet.
pub fn keyword_action(rule: &'static TermRule, prior: f64) -> Option<Action> {
    Some(Action {
        id: format!("keyword:{}", rule.text).into(),
        text: Cow::Borrowed(rule.text),
        facet: rule.facet?,
        prior,
        tags: Cow::Borrowed(rule.tags.as_slice()),
        // The optimizer gives a keyword its facet's `fits` and `not`.
        fits: Cow::Borrowed(&[]),
        not: Cow::Borrowed(&[]),
        emphasis: 1.0,
        words: Cow::Borrowed(rule.words.as_slice()),
    })
}
