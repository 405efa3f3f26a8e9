//! Simulated users, for tests and `cargo run --release --example simulate`.
//!
//! A simulated user has a hidden taste: per facet one edit they like and one they dislike,
//! a preferred aspect ratio, and noise in their star ratings. The policy never sees the
//! taste, only the ratings, exactly as with a person. A user can change taste half-way.

use crate::engine::{
    Engine, EngineConfig, FeedbackMetadata, FeedbackRequest, OptimizeRequest, OptimizeResult,
};
use crate::error::Result;
use crate::prompt::optimize::{
    optimize, Choice, Chooser, DecisionContext, Optimization, OptimizeInput, Slot, SKIP,
};
use crate::prompt::rules::rules;
use crate::prompt::{Category, Options};
use crate::reward::{calculate_reward, FeedbackSignals};
use crate::rng::Rng;
use crate::store::MemoryStore;
use std::collections::BTreeMap;
use std::future::Future;
use std::rc::Rc;

/// Runs a future whose awaits all complete at once (the memory store's), natively.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// Ten everyday image prompts, English and Korean, that the simulated users rate.
pub const IMAGE_PROMPTS: &[&str] = &[
    "a lighthouse on a rocky cliff",
    "portrait of an old fisherman",
    "a red fox in the snow",
    "a quiet street in Kyoto after rain",
    "a bowl of ramen on a wooden table",
    "an astronaut floating above the earth",
    "a cottage in a pine forest",
    "a vintage motorcycle in a garage",
    "노을 지는 바닷가",
    "a cat sleeping on a windowsill",
];

/// A hidden taste.
#[derive(Debug, Clone, PartialEq)]
pub struct Taste {
    /// Utility of each edit id (absent = indifferent).
    pub edits: BTreeMap<String, f64>,
    /// The aspect ratio they want.
    pub aspect_ratio: Option<String>,
}

impl Taste {
    /// A random taste over the edits of `category`: per facet one liked edit (+0.6) and one
    /// disliked (−0.6), and a preferred aspect ratio among `ratios`.
    pub fn random(category: Category, ratios: &[&str], rng: &mut Rng) -> Result<Taste> {
        let table = rules()?.category(category);
        let mut edits = BTreeMap::new();
        for facet in &table.facets {
            let n = facet.edits.len();
            if n < 2 {
                continue;
            }
            let liked = rng.below(n);
            let mut disliked = rng.below(n - 1);
            if disliked >= liked {
                disliked += 1;
            }
            edits.insert(table.edits[facet.edits[liked]].id.clone(), 0.6);
            edits.insert(table.edits[facet.edits[disliked]].id.clone(), -0.6);
        }
        let aspect_ratio =
            (!ratios.is_empty()).then(|| ratios[rng.below(ratios.len())].to_string());
        Ok(Taste {
            edits,
            aspect_ratio,
        })
    }

    /// A taste over what edits are made of rather than over edits one by one: every edit
    /// of `category` with a liked tag (`palette:mono`) or word (`grain`) gets +0.5 per
    /// match, every one with a disliked one −0.6 per match (at most two matches each way),
    /// and a preferred aspect ratio as in [`Taste::random`].
    pub fn themed(
        category: Category,
        likes: &[&str],
        dislikes: &[&str],
        aspect_ratio: Option<&str>,
    ) -> Result<Taste> {
        let table = rules()?.category(category);
        let mut edits = BTreeMap::new();
        for edit in &table.edits {
            let matches = |list: &[&str]| {
                list.iter()
                    .filter(|want| {
                        edit.tags.iter().any(|t| t.to_string() == **want)
                            || edit.words.iter().any(|w| w == *want)
                    })
                    .count()
                    .min(2) as f64
            };
            let u = 0.5 * matches(likes) - 0.6 * matches(dislikes);
            if u != 0.0 {
                edits.insert(edit.id.clone(), u);
            }
        }
        Ok(Taste {
            edits,
            aspect_ratio: aspect_ratio.map(str::to_string),
        })
    }

    /// How much the user likes a result, before noise (about −2..2).
    pub fn utility(&self, edit_ids: &[&str], aspect_ratio: Option<&str>) -> f64 {
        let mut u: f64 = edit_ids.iter().filter_map(|id| self.edits.get(*id)).sum();
        if let (Some(want), Some(got)) = (&self.aspect_ratio, aspect_ratio) {
            u += if want == got { 0.5 } else { -0.3 };
        }
        u
    }
}

/// A simulated person rating results.
#[derive(Debug, Clone)]
pub struct SimUser {
    /// Their taste now.
    pub taste: Taste,
    /// Standard deviation of the noise in their star ratings.
    pub noise: f64,
    rng: Rng,
}

/// One simulated rating.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rating {
    /// 1–5 stars.
    pub stars: f64,
    /// 4 stars or more.
    pub satisfied: bool,
    /// 5 stars.
    pub used: bool,
}

impl SimUser {
    /// A user with a taste and rating noise.
    pub fn new(taste: Taste, noise: f64, seed: u64) -> SimUser {
        SimUser {
            taste,
            noise,
            rng: Rng::from_seed(seed),
        }
    }

    /// Rates a result with noise.
    pub fn rate(&mut self, edit_ids: &[&str], aspect_ratio: Option<&str>) -> Rating {
        let u = self.taste.utility(edit_ids, aspect_ratio);
        let stars = (3.0 + 1.5 * u + self.noise * self.rng.normal())
            .round()
            .clamp(1.0, 5.0);
        Rating {
            stars,
            satisfied: stars >= 4.0,
            used: stars >= 5.0,
        }
    }

    /// The reward the seed's formula gives a rating.
    pub fn reward(rating: &Rating, quality: f64) -> f64 {
        calculate_reward(&FeedbackSignals {
            quality_score: quality,
            rating: Some(rating.stars),
            satisfied: Some(rating.satisfied),
            used_result: Some(rating.used),
        })
    }
}

/// The best fixed choice in hindsight: in every slot, the eligible action the user's taste
/// values most (the rules break ties). Only a simulation can know it.
pub struct OracleChooser<'a> {
    /// The taste it knows.
    pub taste: &'a Taste,
}

impl Chooser for OracleChooser<'_> {
    fn choose(&mut self, _ctx: &DecisionContext<'_>, slot: &Slot, eligible: &[usize]) -> Choice {
        let value = |i: usize| {
            let a = &slot.actions[i];
            let taste = if a.id == SKIP {
                0.0
            } else if let Some(r) = a.id.strip_prefix("aspectRatio:") {
                self.taste.utility(&[], Some(r))
            } else {
                self.taste.edits.get(a.id.as_ref()).copied().unwrap_or(0.0)
            };
            (taste, a.prior)
        };
        let best = eligible
            .iter()
            .copied()
            .max_by(|&a, &b| {
                value(a)
                    .partial_cmp(&value(b))
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then(b.cmp(&a))
            })
            .unwrap_or(0);
        Choice {
            action: best,
            propensity: 1.0,
            learned: false,
        }
    }
}

/// Settings of a simulation run.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Category of the prompts.
    pub category: Category,
    /// Target model.
    pub model: String,
    /// Ratings given.
    pub rounds: usize,
    /// Ratings per point of the learning curve.
    pub window: usize,
    /// Change the user's taste at this round.
    pub change_at: Option<usize>,
    /// Engine settings (seed, exploration, half-life).
    pub engine: EngineConfig,
    /// Milliseconds between two ratings (drives the recency half-life).
    pub ms_per_round: f64,
}

/// One point of the learning curves: mean reward over a window of ratings.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WindowPoint {
    /// Last round of the window.
    pub round: usize,
    /// The learning policy (what the user actually got).
    pub learned: f64,
    /// The rule-only baseline on the same prompts.
    pub rules: f64,
    /// The best fixed choice in hindsight.
    pub oracle: f64,
}

/// What a simulation found.
#[derive(Debug, Clone, PartialEq)]
pub struct SimReport {
    /// Learning curves.
    pub windows: Vec<WindowPoint>,
    /// True mean reward of the final greedy learned policy (fresh noisy ratings).
    pub true_learned: f64,
    /// True mean reward of the final learned policy as configured (exploring).
    pub true_exploring: f64,
    /// IPS estimate of the final learned policy as configured.
    pub ips_exploring: f64,
    /// Self-normalised IPS of the same.
    pub snips_exploring: f64,
    /// Pseudo-inverse estimate of the same.
    pub pi_exploring: f64,
    /// True mean reward of the rule-only policy.
    pub true_rules: f64,
    /// IPS estimate of the final greedy policy from the logged data.
    pub ips_learned: f64,
    /// Self-normalised IPS of the same.
    pub snips_learned: f64,
    /// IPS estimate of the rule-only policy.
    pub ips_rules: f64,
    /// Its self-normalised IPS.
    pub snips_rules: f64,
    /// Learned keywords at the end.
    pub keywords: Vec<String>,
    /// Rated spans the evaluation replayed.
    pub evaluated: usize,
}

/// A user's (noisy) rating of an engine result.
fn rate_result(user: &mut SimUser, result: &OptimizeResult) -> Rating {
    let ids: Vec<&str> = result.edits.iter().map(|e| e.id.as_str()).collect();
    user.rate(&ids, result.aspect_ratio.as_deref())
}

/// The reward that rating gives.
fn reward_of_result(user: &mut SimUser, result: &OptimizeResult) -> f64 {
    SimUser::reward(&rate_result(user, result), result.quality_score)
}

/// The reward a user's (noisy) rating of a bare optimizer run gives.
fn reward_of_optimization(user: &mut SimUser, out: &Optimization) -> f64 {
    let ids: Vec<&str> = out.edits.iter().map(|e| e.id.as_str()).collect();
    let rating = user.rate(&ids, out.aspect_ratio.as_deref());
    SimUser::reward(&rating, out.optimized.total)
}

/// Drives optimize → rating → feedback through an engine on a memory store, and measures
/// the rule-only baseline and the oracle on the same prompts with the same user.
pub fn simulate(
    prompts: &[&str],
    user: &mut SimUser,
    second_taste: Option<Taste>,
    cfg: &SimConfig,
) -> Result<SimReport> {
    let time = Rc::new(std::cell::Cell::new(1_700_000_000_000.0_f64));
    let clock_time = time.clone();
    let engine = block_on(Engine::open(
        MemoryStore::new(),
        cfg.engine.clone(),
        Rc::new(move || clock_time.get()),
    ))?;
    let options = Options::new();
    let mut baseline_user = user.clone();
    let mut oracle_user = user.clone();
    let mut windows = Vec::new();
    let mut acc = WindowPoint::default();
    let mut in_window = 0;
    let mut second = second_taste;
    for round in 0..cfg.rounds {
        if cfg.change_at == Some(round) {
            if let Some(t) = second.take() {
                user.taste = t.clone();
                baseline_user.taste = t.clone();
                oracle_user.taste = t;
            }
        }
        let prompt = prompts[round % prompts.len()];
        let req = OptimizeRequest {
            prompt: prompt.to_string(),
            category: cfg.category.as_str().to_string(),
            model: Some(cfg.model.clone()),
            ..OptimizeRequest::default()
        };
        let result = block_on(engine.optimize(&req))?;
        let rating = rate_result(user, &result);
        block_on(engine.feedback(&FeedbackRequest {
            span_id: result.span_id.clone(),
            metadata: FeedbackMetadata {
                rating: Some(rating.stars),
                satisfied: Some(rating.satisfied),
                used_result: Some(rating.used),
                ..FeedbackMetadata::default()
            },
            ..FeedbackRequest::default()
        }))?;
        acc.learned += SimUser::reward(&rating, result.quality_score);

        let input = OptimizeInput {
            prompt,
            category: cfg.category,
            model: Some(&cfg.model),
            options: &options,
        };
        let rules_out = optimize(&input, &mut crate::prompt::RuleChooser)?;
        acc.rules += reward_of_optimization(&mut baseline_user, &rules_out);
        let oracle_out = optimize(
            &input,
            &mut OracleChooser {
                taste: &oracle_user.taste,
            },
        )?;
        acc.oracle += reward_of_optimization(&mut oracle_user, &oracle_out);

        in_window += 1;
        time.set(time.get() + cfg.ms_per_round);
        if in_window == cfg.window || round + 1 == cfg.rounds {
            let n = in_window as f64;
            windows.push(WindowPoint {
                round: round + 1,
                learned: acc.learned / n,
                rules: acc.rules / n,
                oracle: acc.oracle / n,
            });
            acc = WindowPoint::default();
            in_window = 0;
        }
    }
    block_on(engine.train())?;
    // True values: fresh noisy ratings of each policy over every prompt, several times.
    let mut truth_user = user.clone();
    let (mut true_learned, mut true_rules, mut true_exploring, mut n) = (0.0, 0.0, 0.0, 0.0);
    for _ in 0..5 {
        for prompt in prompts {
            let req = OptimizeRequest {
                prompt: prompt.to_string(),
                category: cfg.category.as_str().to_string(),
                model: Some(cfg.model.clone()),
                ..OptimizeRequest::default()
            };
            true_learned += reward_of_result(&mut truth_user, &engine.preview(&req, Some(0.0))?);
            true_exploring += reward_of_result(&mut truth_user, &engine.preview(&req, None)?);
            let input = OptimizeInput {
                prompt,
                category: cfg.category,
                model: Some(&cfg.model),
                options: &options,
            };
            let rules_out = optimize(&input, &mut crate::prompt::RuleChooser)?;
            true_rules += reward_of_optimization(&mut truth_user, &rules_out);
            n += 1.0;
        }
    }
    let eval = block_on(engine.evaluate())?;
    let keywords = engine
        .learned_optimizations(cfg.category.as_str(), Some(&cfg.model))?
        .learned_keywords
        .into_iter()
        .map(|k| k.term)
        .collect();
    Ok(SimReport {
        windows,
        true_learned: true_learned / n,
        true_exploring: true_exploring / n,
        ips_exploring: eval.values[0].ips,
        snips_exploring: eval.values[0].snips,
        pi_exploring: eval.values[0].pseudo_inverse,
        true_rules: true_rules / n,
        ips_learned: eval.values[1].ips,
        snips_learned: eval.values[1].snips,
        ips_rules: eval.values[2].ips,
        snips_rules: eval.values[2].snips,
        keywords,
        evaluated: eval.samples,
    })
}
