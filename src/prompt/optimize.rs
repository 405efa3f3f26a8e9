//! The optimizer: turns a prompt into decision slots (facets to fill or enrich, the aspect
//! ratio, learned keywords), lets a [`Chooser`] (the policy) pick one action per slot,
//! renders the result in the model's syntax and scores both versions.
//!
//! Invariants, tested over real prompts: the user's text comes first and unchanged (only
//! Midjourney parameters move to the end); no chosen edit contradicts the prompt or another
//! edit; the model's length budget is respected; the optimized score is never below the
//! original.

use super::adapters::{resolve, Adapter, Budget, InlineParams, RenderEdit, RenderInput, Rendered};
use super::analyze::{analyze, suits, when_holds, Analysis, AnalysisCache, Intent};
use super::category::{Category, Facet, Tag};
use super::options::{ModelOptions, Options};
use super::rules::{rules, CategoryRules, FacetMode};
use super::score::{score, QualityScore, ScoreInput};
use super::tokenize::tokenize;
use crate::error::Result;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::rc::Rc;

/// Id of the action that adds nothing to a slot.
pub const SKIP: &str = "skip";
/// Slot id of the aspect-ratio decision.
pub const ASPECT_RATIO_SLOT: &str = "aspectRatio";
/// Slot id of the learned-keyword decision.
pub const KEYWORD_SLOT: &str = "keyword";

/// One thing the policy may do in a slot. Rule edits borrow from the (static) rule tables,
/// so building the slots of a prompt allocates almost nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// Stable id: an edit id, `skip`, `aspectRatio:16:9` or `keyword:<term>`.
    pub id: Cow<'static, str>,
    /// Text added to the prompt (empty for skip and parameters).
    pub text: Cow<'static, str>,
    /// The facet the text fills (for parameters: composition).
    pub facet: Facet,
    /// The rules' guess of the effect on reward; the rule-only policy takes the highest.
    pub prior: f64,
    /// Tags the action sets (for conflict checks).
    pub tags: Cow<'static, [Tag]>,
    /// What the action fits (see [`crate::prompt::rules::EditRule::fits`]).
    pub fits: Cow<'static, [Tag]>,
    /// Tags of prompts it never goes on.
    pub not: Cow<'static, [Tag]>,
    /// Attention weight for weighting syntaxes.
    pub emphasis: f32,
    /// Normalized words of `text` (for redundancy checks).
    pub words: Cow<'static, [String]>,
}

impl Action {
    /// Whether this is the skip action.
    pub fn is_skip(&self) -> bool {
        self.id == SKIP
    }
}

/// A decision point.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    /// `lighting`, `aspectRatio`, `keyword`, ...
    pub id: String,
    /// Everything that could be done here; index 0 is always skip.
    pub actions: Vec<Action>,
}

/// What the policy knows when it decides.
#[derive(Debug, Clone, Copy)]
pub struct DecisionContext<'a> {
    /// The category.
    pub category: Category,
    /// The adapter (model) id.
    pub model: &'static str,
    /// The analysis of the user's prompt.
    pub analysis: &'a Analysis,
}

/// The policy's pick in one slot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Choice {
    /// Index into the slot's actions.
    pub action: usize,
    /// Probability with which the policy picked it (1 for a deterministic pick).
    pub propensity: f64,
    /// Whether learning (rather than the rules alone) led to this pick.
    pub learned: bool,
}

/// A policy as the optimizer sees it.
pub trait Chooser {
    /// Picks one of `eligible` (indices into `slot.actions`, at least two, 0 = skip
    /// included when skipping is allowed).
    fn choose(&mut self, ctx: &DecisionContext<'_>, slot: &Slot, eligible: &[usize]) -> Choice;

    /// Learned keywords worth offering in this context, as actions (priors = learned effect).
    fn keyword_actions(&self, _ctx: &DecisionContext<'_>) -> Vec<Action> {
        Vec::new()
    }
}

/// The rule-only policy: in every slot, the action with the highest prior.
#[derive(Debug, Clone, Copy, Default)]
pub struct RuleChooser;

impl Chooser for RuleChooser {
    fn choose(&mut self, _ctx: &DecisionContext<'_>, slot: &Slot, eligible: &[usize]) -> Choice {
        let best = eligible
            .iter()
            .copied()
            .max_by(|&a, &b| {
                slot.actions[a]
                    .prior
                    .total_cmp(&slot.actions[b].prior)
                    // ties: the earlier action (max_by keeps the last maximum)
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

/// An edit applied to the prompt, as reported to the caller and stored in the span.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedEdit {
    /// Edit id (`image.lighting.golden-hour`, `option.style`, `aspectRatio:16:9`, ...).
    pub id: String,
    /// The facet it fills.
    pub facet: Facet,
    /// The text added (for a parameter, its value).
    pub text: String,
    /// Whether learning chose it.
    pub learned: bool,
    /// Probability with which it was chosen (1 for option edits).
    pub propensity: f64,
}

/// One logged decision, including skips: what training and off-policy evaluation use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// Slot id.
    pub slot: String,
    /// The chosen action id.
    pub action: String,
    /// Probability of that choice under the logging policy.
    pub propensity: f64,
    /// Whether learning led to it.
    pub learned: bool,
    /// Number of actions that were eligible.
    pub eligible: u32,
    /// For the learned-keyword slot: the keywords offered (so evaluation can replay it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offered: Vec<String>,
}

/// A request to the optimizer.
#[derive(Debug, Clone, Copy)]
pub struct OptimizeInput<'a> {
    /// The user's prompt.
    pub prompt: &'a str,
    /// The category.
    pub category: Category,
    /// The model name, if given.
    pub model: Option<&'a str>,
    /// Raw options.
    pub options: &'a Options,
}

/// The optimizer's result.
#[derive(Debug, Clone)]
pub struct Optimization {
    /// The adapter used.
    pub adapter: &'static Adapter,
    /// True when the model was unknown and the generic adapter was used.
    pub fallback: bool,
    /// The prompt in the model's syntax.
    pub optimized_prompt: String,
    /// A separate negative prompt, when the model takes one.
    pub negative_prompt: Option<String>,
    /// Generation parameters by the model's names.
    pub parameters: BTreeMap<String, serde_json::Value>,
    /// Score of the prompt as written.
    pub original: QualityScore,
    /// Score of the optimized prompt.
    pub optimized: QualityScore,
    /// Edits applied, in slot order.
    pub edits: Vec<AppliedEdit>,
    /// Every decision with more than one eligible action.
    pub decisions: Vec<Decision>,
    /// Remarks (fallback adapter, options overriding inline parameters, ...).
    pub notes: Vec<String>,
    /// The analysis of the user's prompt.
    pub analysis: Rc<Analysis>,
    /// Modifier terms of the rules (not subjects) found in the optimized prompt, as the
    /// rules spell them: what keyword learning credits.
    pub keywords: Vec<String>,
    /// The aspect ratio the policy chose (or the options fixed), if the model takes one.
    pub aspect_ratio: Option<String>,
}

/// The most edits to add: `options.maxEdits` when given, else the adapter's default, cut to
/// what the prompt's intent calls for (a one-line question needs one line, not a brief).
fn max_edits(adapter: &Adapter, options: &ModelOptions, intent: &Intent) -> usize {
    options.integer("maxEdits").map_or_else(
        || {
            intent
                .max_edits
                .map_or(adapter.max_edits, |m| m.min(adapter.max_edits))
        },
        |n| n.clamp(0, 12) as usize,
    )
}

/// Whether an action fits the running tags (the prompt's intent plus the edits chosen so
/// far): its `fits` hold and none of its `not` tags is present.
fn action_fits(action: &Action, tags: &[Tag]) -> bool {
    suits(&action.fits, &action.not, tags)
}

/// Tags set by the rule terms in `text`.
fn tags_of(table: &CategoryRules, text: &str) -> Vec<Tag> {
    let tokens = tokenize(text);
    table
        .match_terms(&tokens)
        .iter()
        .flat_map(|m| table.terms[m.term as usize].tags.iter().copied())
        .collect()
}

fn skip_action() -> Action {
    Action {
        id: Cow::Borrowed(SKIP),
        text: Cow::Borrowed(""),
        facet: Facet::Subject,
        prior: -0.02,
        tags: Cow::Borrowed(&[]),
        fits: Cow::Borrowed(&[]),
        not: Cow::Borrowed(&[]),
        emphasis: 1.0,
        words: Cow::Borrowed(&[]),
    }
}

/// The aspect ratio the rules expect for what the prompt shows.
fn rule_ratio(adapter: &Adapter, analysis: &Analysis) -> Option<&'static str> {
    let has = |value: &str| {
        analysis
            .intent
            .tags
            .iter()
            .any(|t| t.axis == "subject" && t.value == value)
    };
    let wide = has("landscape") || has("architecture") || has("vehicle") || has("space");
    let preferences: &[&str] = if adapter.category == Category::Video {
        &["16:9"]
    } else if has("person") && !wide {
        &["2:3", "3:4", "9:16", "1:1"]
    } else if wide {
        &["16:9", "3:2", "1:1"]
    } else {
        &["1:1"]
    };
    preferences
        .iter()
        .find_map(|p| adapter.aspect_ratios.iter().find(|r| *r == p))
        .copied()
}

/// Builds the decision slots for a prompt, in the order they are decided.
fn build_slots(
    table: &'static CategoryRules,
    adapter: &Adapter,
    analysis: &Analysis,
    filled_by_options: &[Facet],
    ratio_fixed: bool,
) -> Vec<Slot> {
    let mut slots = Vec::new();
    if !ratio_fixed && !adapter.aspect_ratios.is_empty() {
        let preferred = rule_ratio(adapter, analysis);
        let mut actions = vec![skip_action()];
        for ratio in adapter.aspect_ratios {
            actions.push(Action {
                id: Cow::Owned(format!("{ASPECT_RATIO_SLOT}:{ratio}")),
                text: Cow::Borrowed(ratio),
                facet: Facet::Composition,
                prior: if Some(*ratio) == preferred { 0.1 } else { -0.1 },
                tags: Cow::Borrowed(&[]),
                fits: Cow::Borrowed(&[]),
                not: Cow::Borrowed(&[]),
                emphasis: 1.0,
                words: Cow::Borrowed(&[]),
            });
        }
        // A model with a ratio parameter always gets one: skipping would leave it to chance.
        actions[0].prior = -1.0;
        slots.push(Slot {
            id: ASPECT_RATIO_SLOT.to_string(),
            actions,
        });
    }
    let mut facets: Vec<&super::rules::FacetRules> = table.facets.iter().collect();
    // Most valuable facets first; the sort is stable, so ties keep the category's order.
    facets.sort_by_key(|f| std::cmp::Reverse(f.weight));
    for rule in facets {
        let present = analysis.has(rule.facet);
        let open = match rule.mode {
            FacetMode::Fill => {
                !present && analysis.applies(rule.facet) && !filled_by_options.contains(&rule.facet)
            }
            FacetMode::Enrich => present,
        };
        if !open {
            continue;
        }
        let mut actions = vec![skip_action()];
        for &e in &rule.edits {
            let edit = &table.edits[e];
            let applies = adapter.accepts(&edit.models)
                && when_holds(&edit.when, &analysis.intent.tags)
                && suits(&edit.fits, &edit.not, &analysis.intent.tags)
                && !analysis.contains_words(&edit.words);
            if applies {
                actions.push(Action {
                    id: Cow::Borrowed(edit.id.as_str()),
                    text: Cow::Borrowed(edit.text),
                    facet: rule.facet,
                    prior: edit.prior,
                    tags: Cow::Borrowed(edit.tags.as_slice()),
                    fits: Cow::Borrowed(edit.fits.as_slice()),
                    not: Cow::Borrowed(edit.not.as_slice()),
                    emphasis: rule.emphasis,
                    words: Cow::Borrowed(edit.words.as_slice()),
                });
            }
        }
        if actions.len() > 1 {
            slots.push(Slot {
                id: rule.facet.as_str().to_string(),
                actions,
            });
        }
    }
    slots
}

/// Runs the optimizer with `chooser` as the policy.
pub fn optimize(input: &OptimizeInput<'_>, chooser: &mut dyn Chooser) -> Result<Optimization> {
    optimize_cached(input, chooser, &mut AnalysisCache::new(0))
}

/// [`optimize`], taking the analyses of the prompt and of its rewrite from `cache` when it
/// has seen them (the result is the same either way).
pub fn optimize_cached(
    input: &OptimizeInput<'_>,
    chooser: &mut dyn Chooser,
    cache: &mut AnalysisCache,
) -> Result<Optimization> {
    let rules = rules()?;
    let table = rules.category(input.category);
    let resolved = resolve(input.category, input.model)?;
    let adapter = resolved.adapter;
    let options = adapter.validate_options(input.options)?;
    let mut notes = Vec::new();
    if resolved.fallback {
        notes.push(format!(
            "Unknown model {:?}: used the generic {} adapter.",
            super::category::truncate_for_message(input.model.unwrap_or_default()),
            input.category.as_str()
        ));
    }

    let trimmed = input.prompt.trim();
    let (text, inline) = adapter.split_inline(trimmed);
    let analysis = cache.prompt(input.category, text)?;
    let ctx = DecisionContext {
        category: input.category,
        model: adapter.id,
        analysis: &analysis,
    };

    // Options that imply edits (a style preset, an answer format) are applied first.
    let option_edits = adapter.option_edits(&options);
    let mut tags: Vec<Tag> = analysis.intent.tags.clone();
    for e in &option_edits {
        tags.extend(tags_of(table, &e.text));
    }
    let filled: Vec<Facet> = option_edits.iter().map(|e| e.facet).collect();
    let ratio_fixed = options.has("aspectRatio") || inline.get(&["ar", "aspect"]).is_some();
    let mut slots = build_slots(table, adapter, &analysis, &filled, ratio_fixed);
    let keywords = chooser.keyword_actions(&ctx);
    if !keywords.is_empty() {
        let mut actions = vec![skip_action()];
        // A learned keyword obeys the prompt's intent like any edit: its facet must apply
        // (no learned "bokeh" on a watercolor) and it takes its facet's `fits` and `not`.
        actions.extend(keywords.into_iter().filter_map(|mut k| {
            let rule = table.facet(k.facet)?;
            if !analysis.applies(k.facet) || analysis.contains_words(&k.words) {
                return None;
            }
            if k.fits.is_empty() {
                k.fits = Cow::Borrowed(rule.fits.as_slice());
            }
            if k.not.is_empty() {
                k.not = Cow::Borrowed(rule.not.as_slice());
            }
            action_fits(&k, &analysis.intent.tags).then_some(k)
        }));
        if actions.len() > 1 {
            // Learned keywords go first among edits: they are what this user asked for.
            let at = usize::from(slots.first().is_some_and(|s| s.id == ASPECT_RATIO_SLOT));
            slots.insert(
                at,
                Slot {
                    id: KEYWORD_SLOT.to_string(),
                    actions,
                },
            );
        }
    }

    let budget = adapter.budget;
    let max_chars = options.integer("maxLength").map(|n| n.max(0) as usize);
    let limit_edits = max_edits(adapter, &options, &analysis.intent);
    let separator = adapter.separator();
    let mut draft = text.to_string();
    for e in &option_edits {
        draft.push_str(separator);
        draft.push_str(&e.text);
    }
    // Costs of the draft in the model's budget unit and in characters. A candidate's cost is
    // the draft's plus its own (separators split words, so the units add up); measuring
    // each candidate against the whole draft again was a third of the optimizer's time.
    let costs = |text: &str| (budget.cost(text), Budget::Chars(0).cost(text));
    let within = |(units, chars): (usize, usize)| {
        budget.limit().is_none_or(|l| units <= l) && max_chars.is_none_or(|l| chars <= l)
    };
    let mut draft_cost = costs(&draft);
    let (sep_units, sep_chars) = costs(separator);
    // The draft's cost once an edit is appended to it.
    let with_edit = |(units, chars): (usize, usize), a: &Action| {
        // An edit's words are its tokens: no need to tokenize it again.
        let own = match budget {
            Budget::Words(_) => a.words.len(),
            _ => budget.cost(&a.text),
        };
        (
            units + sep_units + own,
            chars + sep_chars + a.text.chars().count(),
        )
    };
    // Room is measured from the prompt as written: an over-long prompt gets no edits.
    let mut room_ok = within(draft_cost);

    let mut chosen: Vec<(usize, usize, Choice)> = Vec::new(); // (slot, action, choice)
    let mut decisions = Vec::new();
    let mut chosen_words: Vec<Vec<String>> = Vec::new();
    let mut edit_count = 0usize;
    let mut aspect_ratio: Option<String> = None;
    let mut covered: Vec<Facet> = Vec::new();
    for (s, slot) in slots.iter().enumerate() {
        let is_param = slot.id == ASPECT_RATIO_SLOT;
        if covered.iter().any(|f| f.as_str() == slot.id) {
            // A learned keyword already filled this facet.
            continue;
        }
        let eligible: Vec<usize> = slot
            .actions
            .iter()
            .enumerate()
            .filter(|(_, a)| {
                if a.is_skip() || is_param {
                    return true;
                }
                if edit_count >= limit_edits || !room_ok {
                    return false;
                }
                if a.tags
                    .iter()
                    .any(|t| tags.iter().any(|u| u.conflicts_with(t)))
                    || !action_fits(a, &tags)
                {
                    return false;
                }
                if chosen_words
                    .iter()
                    .any(|w| w.as_slice() == a.words.as_ref())
                {
                    return false;
                }
                within(with_edit(draft_cost, a))
            })
            .map(|(i, _)| i)
            .collect();
        if eligible.len() < 2 {
            continue;
        }
        let mut choice = chooser.choose(&ctx, slot, &eligible);
        if !eligible.contains(&choice.action) {
            // A policy bug must not corrupt the prompt: fall back to the rules.
            choice = RuleChooser.choose(&ctx, slot, &eligible);
        }
        let action = &slot.actions[choice.action];
        decisions.push(Decision {
            slot: slot.id.clone(),
            action: action.id.to_string(),
            propensity: choice.propensity,
            learned: choice.learned,
            eligible: eligible.len() as u32,
            offered: if slot.id == KEYWORD_SLOT {
                eligible
                    .iter()
                    .filter(|&&i| i != 0)
                    .map(|&i| slot.actions[i].text.to_string())
                    .collect()
            } else {
                Vec::new()
            },
        });
        if action.is_skip() {
            continue;
        }
        if is_param {
            aspect_ratio = Some(action.text.to_string());
        } else {
            draft.push_str(separator);
            draft.push_str(&action.text);
            tags.extend(action.tags.iter().copied());
            chosen_words.push(action.words.to_vec());
            if slot.id == KEYWORD_SLOT {
                covered.push(action.facet);
            }
            edit_count += 1;
            draft_cost = with_edit(draft_cost, action);
            room_ok = within(draft_cost);
        }
        chosen.push((s, choice.action, choice));
    }

    let words: Vec<String> = analysis.tokens.iter().map(|t| t.norm.clone()).collect();
    let render_with = |chosen: &[(usize, usize, Choice)]| -> Rendered {
        let mut edits: Vec<RenderEdit> = option_edits.clone();
        for &(s, a, _) in chosen {
            let action = &slots[s].actions[a];
            if slots[s].id != ASPECT_RATIO_SLOT {
                edits.push(RenderEdit {
                    facet: action.facet,
                    text: action.text.to_string(),
                    emphasis: action.emphasis,
                });
            }
        }
        adapter.render(&RenderInput {
            text,
            inline: &inline,
            edits: &edits,
            options: &options,
            aspect_ratio: aspect_ratio.as_deref(),
            tags: &tags,
            words: &words,
        })
    };
    let original = score_analysis(adapter, &analysis, text, &inline, None, max_chars)?;
    let mut rendered = render_with(&chosen);
    // The rewrite is judged under the prompt's intent plus what the chosen edits say.
    let rewrite_intent = analysis.intent.with(table, &tags);
    let (mut optimized, mut final_analysis) =
        score_rendered(adapter, &rendered, max_chars, &rewrite_intent, cache)?;
    // The optimized prompt never scores below the original: drop edits from the end until
    // it does not (rare; e.g. an estimate that undercounted a budget).
    while optimized.total < original.total {
        let Some(pos) = chosen
            .iter()
            .rposition(|(s, _, _)| slots[*s].id != ASPECT_RATIO_SLOT)
        else {
            break;
        };
        let (s, a, _) = chosen.remove(pos);
        notes.push(format!(
            "Dropped “{}”: it lowered the score.",
            slots[s].actions[a].text
        ));
        rendered = render_with(&chosen);
        (optimized, final_analysis) =
            score_rendered(adapter, &rendered, max_chars, &rewrite_intent, cache)?;
    }
    if optimized.total < original.total {
        // Even the bare rendering scores lower (the user's own syntax was better): keep the
        // prompt as written.
        notes.push("Kept the prompt as written: no rewrite scored higher.".to_string());
        rendered = Rendered {
            prompt: trimmed.to_string(),
            ..Rendered::default()
        };
        optimized = original.clone();
        final_analysis = Rc::clone(&analysis);
        chosen.clear();
    }
    notes.extend(rendered.notes.iter().cloned());

    let mut edits: Vec<AppliedEdit> = option_edits
        .iter()
        .map(|e| AppliedEdit {
            id: format!("option.{}", e.facet.as_str()),
            facet: e.facet,
            text: e.text.clone(),
            learned: false,
            propensity: 1.0,
        })
        .collect();
    for &(s, a, choice) in &chosen {
        let action = &slots[s].actions[a];
        edits.push(AppliedEdit {
            id: action.id.to_string(),
            facet: action.facet,
            text: action.text.to_string(),
            learned: choice.learned,
            propensity: choice.propensity,
        });
    }
    let mut keywords: Vec<String> = final_analysis
        .matches
        .iter()
        .map(|m| &table.terms[m.term as usize])
        .filter(|t| t.facet.is_some_and(|f| f != Facet::Subject))
        .map(|t| t.text.to_string())
        .collect();
    keywords.sort();
    keywords.dedup();
    let aspect_ratio = aspect_ratio
        .or_else(|| options.text("aspectRatio").map(str::to_string))
        .or_else(|| inline.get(&["ar", "aspect"]).map(str::to_string));
    Ok(Optimization {
        adapter,
        keywords,
        aspect_ratio,
        fallback: resolved.fallback,
        optimized_prompt: rendered.prompt,
        negative_prompt: rendered.negative_prompt,
        parameters: rendered.parameters,
        original,
        optimized,
        edits,
        decisions,
        notes,
        analysis,
    })
}

fn score_text(
    adapter: &Adapter,
    category: Category,
    text: &str,
    inline: &InlineParams,
    negative: Option<&str>,
    max_chars: Option<usize>,
) -> Result<(QualityScore, Analysis)> {
    let analysis = analyze(category, text)?;
    let quality = score_analysis(adapter, &analysis, text, inline, negative, max_chars)?;
    Ok((quality, analysis))
}

/// Scores a text whose analysis is already at hand.
fn score_analysis(
    adapter: &Adapter,
    analysis: &Analysis,
    text: &str,
    inline: &InlineParams,
    negative: Option<&str>,
    max_chars: Option<usize>,
) -> Result<QualityScore> {
    let names: Vec<&str> = inline.params.iter().map(|(n, _)| n.as_str()).collect();
    score(&ScoreInput {
        analysis,
        adapter,
        text,
        parameters: &names,
        has_negative_prompt: negative.is_some(),
        max_chars,
    })
}

fn score_rendered(
    adapter: &Adapter,
    rendered: &Rendered,
    max_chars: Option<usize>,
    intent: &Intent,
    cache: &mut AnalysisCache,
) -> Result<(QualityScore, Rc<Analysis>)> {
    let (text, inline) = adapter.split_inline(&rendered.prompt);
    let analysis = cache.rewrite(adapter.category, text, intent)?;
    let quality = score_analysis(
        adapter,
        &analysis,
        text,
        &inline,
        rendered.negative_prompt.as_deref(),
        max_chars,
    )?;
    Ok((quality, analysis))
}

/// Scores a prompt as written, without optimizing it.
pub fn score_prompt(
    prompt: &str,
    category: Category,
    model: Option<&str>,
) -> Result<(QualityScore, &'static Adapter)> {
    let adapter = resolve(category, model)?.adapter;
    let (text, inline) = adapter.split_inline(prompt.trim());
    Ok((
        score_text(adapter, category, text, &inline, None, None)?.0,
        adapter,
    ))
}
