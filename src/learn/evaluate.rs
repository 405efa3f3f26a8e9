//! Off-policy evaluation: how would a policy have done on the prompts the user rated,
//! judged only from what the logging policy did and the probability it did it with.
//!
//! Each rated span is replayed through the optimizer: at every logged decision the logged
//! action is taken again, and each target policy reports the probability it would have
//! given that action. Three estimators follow:
//!
//! - IPS: `mean(w·r)` with `w = Π π(a)/μ(a)` over the span's decisions;
//! - self-normalised IPS: `Σ w·r / Σ w` (biased, far lower variance);
//! - pseudo-inverse (slates, assuming additive credit): `mean(r·(Σ π/μ − (D − 1)))`.

use super::policy::{keyword_action, LearnedKeyword, Policy};
use crate::error::Result;
use crate::prompt::optimize::{
    optimize, Action, Choice, Chooser, Decision, DecisionContext, OptimizeInput, Slot, KEYWORD_SLOT,
};
use crate::prompt::rules::rules;
use crate::span::{Reward, Span};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A policy to evaluate.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// The rules alone (no learning, no exploration, no learned keywords).
    Rules,
    /// A learned policy at an exploration level (0 = greedy).
    Learned {
        /// The policy.
        policy: &'a Policy,
        /// Its exploration.
        exploration: f64,
    },
}

/// One policy's estimated average reward.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyValue {
    /// Inverse propensity scoring.
    pub ips: f64,
    /// Self-normalised IPS.
    pub snips: f64,
    /// The pseudo-inverse estimator for slates.
    pub pseudo_inverse: f64,
    /// Standard error of the IPS estimate.
    pub std_error: f64,
    /// Spans evaluated.
    pub samples: usize,
    /// Effective sample size of the weights, `(Σw)² / Σw²`.
    pub effective_samples: f64,
}

/// The result of [`evaluate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    /// Rated spans used.
    pub samples: usize,
    /// Rated spans that could not be replayed (rules changed since), left out.
    pub skipped: usize,
    /// The average reward the logging policy actually got.
    pub logged_average: f64,
    /// Each target, in the order asked.
    pub values: Vec<PolicyValue>,
}

struct Replay<'a, 'b> {
    logged: &'a [Decision],
    next: usize,
    ok: bool,
    targets: &'b [Target<'b>],
    /// Per target: (π, μ) per decision.
    ratios: Vec<Vec<(f64, f64)>>,
}

fn rule_pick(slot: &Slot, eligible: &[usize]) -> usize {
    if slot.id == KEYWORD_SLOT {
        return 0; // the rules never add learned keywords: skip
    }
    let mut best = 0;
    for i in 1..eligible.len() {
        if slot.actions[eligible[i]].prior > slot.actions[eligible[best]].prior {
            best = i;
        }
    }
    best
}

impl Chooser for Replay<'_, '_> {
    fn choose(&mut self, ctx: &DecisionContext<'_>, slot: &Slot, eligible: &[usize]) -> Choice {
        let found = self
            .logged
            .get(self.next)
            .filter(|d| d.slot == slot.id)
            .and_then(|d| {
                eligible
                    .iter()
                    .position(|&i| slot.actions[i].id == d.action)
                    .map(|k| (k, d.propensity))
            });
        let Some((k, mu)) = found.filter(|(_, mu)| *mu > 0.0) else {
            self.ok = false;
            return Choice {
                action: eligible[0],
                propensity: 1.0,
                learned: false,
            };
        };
        self.next += 1;
        for (t, target) in self.targets.iter().enumerate() {
            let pi = match target {
                Target::Rules => f64::from(u8::from(rule_pick(slot, eligible) == k)),
                Target::Learned {
                    policy,
                    exploration,
                } => policy.distribution(ctx, slot, eligible, *exploration).0[k],
            };
            self.ratios[t].push((pi, mu));
        }
        Choice {
            action: eligible[k],
            propensity: mu,
            learned: false,
        }
    }

    fn keyword_actions(&self, ctx: &DecisionContext<'_>) -> Vec<Action> {
        // Offer exactly what was offered when the span was logged; priors come from the
        // first learned target (a keyword it no longer trusts gets a low prior).
        let Some(d) = self.logged.iter().find(|d| d.slot == KEYWORD_SLOT) else {
            return Vec::new();
        };
        let learned: Vec<LearnedKeyword> = self
            .targets
            .iter()
            .find_map(|t| match t {
                Target::Learned { policy, .. } => {
                    Some(policy.learned_keywords(ctx.category, ctx.model))
                }
                Target::Rules => None,
            })
            .unwrap_or_default();
        let Ok(rules) = rules() else {
            return Vec::new();
        };
        let table = rules.category(ctx.category);
        d.offered
            .iter()
            .filter_map(|term| {
                let prior = learned
                    .iter()
                    .find(|k| &k.term == term)
                    .map_or(-1.0, |k| k.lower_bound);
                keyword_action(table.term(term)?, prior)
            })
            .collect()
    }
}

/// Per-span weights gathered by replaying rated spans: what the estimators are computed
/// from. Collections from disjoint sets of spans can be merged.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    samples: usize,
    skipped: usize,
    logged_sum: f64,
    /// Per target: (product weight, pseudo-inverse term, reward) per span.
    weights: Vec<Vec<(f64, f64, f64)>>,
}

impl Collected {
    /// Adds another collection over other spans (same targets, same order).
    pub fn merge(&mut self, other: Collected) {
        self.samples += other.samples;
        self.skipped += other.skipped;
        self.logged_sum += other.logged_sum;
        if self.weights.is_empty() {
            self.weights = other.weights;
        } else {
            for (mine, theirs) in self.weights.iter_mut().zip(other.weights) {
                mine.extend(theirs);
            }
        }
    }

    /// The estimates.
    pub fn summarize(&self) -> Evaluation {
        let values = self
            .weights
            .iter()
            .map(|ws| {
                let n = ws.len().max(1) as f64;
                let terms: Vec<f64> = ws.iter().map(|(w, _, r)| w * r).collect();
                let ips = terms.iter().sum::<f64>() / n;
                let sum_w: f64 = ws.iter().map(|(w, _, _)| w).sum();
                let sum_w2: f64 = ws.iter().map(|(w, _, _)| w * w).sum();
                let snips = if sum_w > 0.0 {
                    terms.iter().sum::<f64>() / sum_w
                } else {
                    0.0
                };
                let pseudo_inverse = ws.iter().map(|(_, p, r)| p * r).sum::<f64>() / n;
                let var = terms.iter().map(|t| (t - ips).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
                PolicyValue {
                    ips,
                    snips,
                    pseudo_inverse,
                    std_error: (var / n).sqrt(),
                    samples: ws.len(),
                    effective_samples: if sum_w2 > 0.0 {
                        sum_w * sum_w / sum_w2
                    } else {
                        0.0
                    },
                }
            })
            .collect();
        Evaluation {
            samples: self.samples,
            skipped: self.skipped,
            logged_average: if self.samples > 0 {
                self.logged_sum / self.samples as f64
            } else {
                0.0
            },
            values,
        }
    }
}

/// Estimates the average reward of each target from the rated spans (latest reward per
/// span), in the order of `targets`.
pub fn evaluate(spans: &[Span], rewards: &[Reward], targets: &[Target<'_>]) -> Result<Evaluation> {
    Ok(collect(spans, rewards, targets)?.summarize())
}

/// Replays the rated spans and gathers the weights of each target.
pub fn collect(spans: &[Span], rewards: &[Reward], targets: &[Target<'_>]) -> Result<Collected> {
    let mut latest: HashMap<&str, &Reward> = HashMap::new();
    for r in rewards {
        let newer = latest.get(r.span_id.as_str()).is_none_or(|old| {
            (r.created_at, r.reward_id.as_str()) > (old.created_at, old.reward_id.as_str())
        });
        if newer {
            latest.insert(&r.span_id, r);
        }
    }
    let mut weights: Vec<Vec<(f64, f64, f64)>> = vec![Vec::new(); targets.len()]; // (w, pi-term, r)
    let mut logged_sum = 0.0;
    let mut samples = 0;
    let mut skipped = 0;
    for span in spans {
        let Some(reward) = latest.get(span.span_id.as_str()) else {
            continue;
        };
        let mut replay = Replay {
            logged: &span.decisions,
            next: 0,
            ok: true,
            targets,
            ratios: vec![Vec::new(); targets.len()],
        };
        let input = OptimizeInput {
            prompt: &span.original_prompt,
            category: span.category,
            model: Some(&span.model),
            options: &span.options,
        };
        let replayed = optimize(&input, &mut replay);
        if replayed.is_err() || !replay.ok || replay.next != span.decisions.len() {
            skipped += 1;
            continue;
        }
        samples += 1;
        logged_sum += reward.value;
        for (t, ratios) in replay.ratios.iter().enumerate() {
            let w: f64 = ratios.iter().map(|(pi, mu)| pi / mu).product();
            let d = ratios.len() as f64;
            let pi_sum: f64 = ratios.iter().map(|(pi, mu)| pi / mu).sum();
            let pseudo = if ratios.is_empty() {
                1.0
            } else {
                pi_sum - (d - 1.0)
            };
            weights[t].push((w, pseudo, reward.value));
        }
    }
    Ok(Collected {
        samples,
        skipped,
        logged_sum,
        weights,
    })
}
