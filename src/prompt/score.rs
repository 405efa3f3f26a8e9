//! The quality score, 0–100: deterministic and explainable.
//!
//! - **Facets, 80 points**: each facet of the category is worth its rule weight, scaled so
//!   the facets of a category sum to 80. A facet scores fully when present.
//! - **Specificity, 10 points**: content words, up to a per-category target.
//! - **Structure, 10 points**: whether the prompt uses its model's syntax (parameters for
//!   Midjourney, a negative prompt and weights for Stable Diffusion, sentences for natural
//!   models, sections and delimited input for LLMs).
//! - **Penalties**: contradicting modifiers (8 each, at most 16), repetition (1.5 each, at
//!   most 6), and going over the model's length budget (5 to 20, growing with the excess).
//!
//! Adding a missing facet's term (without contradicting the prompt, within the budget) never
//! lowers the score: a facet is worth at least 6 points, more than the most a three-word
//! term can add in repetition penalties.

use super::adapters::{Adapter, Budget, Family};
use super::analyze::{suits, when_holds, Analysis};
use super::category::{Category, Facet};
use super::rules::{rules, FacetMode};
use crate::error::Result;
use serde::Serialize;

/// Points of one facet.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FacetScore {
    /// The facet.
    pub facet: Facet,
    /// Its label for people.
    pub label: &'static str,
    /// Whether the prompt covers it.
    pub present: bool,
    /// Whether it applies to this prompt (no lens for a watercolor); a facet that does not
    /// apply is worth no points and its weight goes to the others.
    pub applicable: bool,
    /// Points earned.
    pub points: f64,
    /// Points possible.
    pub max_points: f64,
    /// The words that show it.
    pub evidence: Vec<String>,
}

/// A part of the score that is not a facet.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Component {
    /// Points earned.
    pub points: f64,
    /// Points possible.
    pub max_points: f64,
    /// Why.
    pub detail: String,
}

/// What a penalty is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PenaltyKind {
    /// Modifiers that contradict each other.
    Conflict,
    /// Words or fragments said more than once.
    Repetition,
    /// Longer than the model reads.
    OverLength,
}

/// Points taken off.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Penalty {
    /// What for.
    pub kind: PenaltyKind,
    /// Points subtracted (positive).
    pub points: f64,
    /// Which words.
    pub detail: String,
}

/// A score with its explanation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QualityScore {
    /// 0–100, one decimal.
    pub total: f64,
    /// Per facet, in the category's order.
    pub facets: Vec<FacetScore>,
    /// Content words.
    pub specificity: Component,
    /// Use of the model's syntax.
    pub structure: Component,
    /// Deductions.
    pub penalties: Vec<Penalty>,
    /// What to do to raise the score, most valuable first.
    pub suggestions: Vec<String>,
}

/// What the score looks at besides the words.
#[derive(Debug, Clone, Copy)]
pub struct ScoreInput<'a> {
    /// Analysis of the prompt's text (without inline parameters).
    pub analysis: &'a Analysis,
    /// The model.
    pub adapter: &'a Adapter,
    /// The prompt's text as the model reads it (without parameters).
    pub text: &'a str,
    /// Names of the parameters given (inline or rendered).
    pub parameters: &'a [&'a str],
    /// Whether a separate negative prompt is given.
    pub has_negative_prompt: bool,
    /// An extra limit in characters (`options.maxLength`).
    pub max_chars: Option<usize>,
}

const FACET_POINTS: f64 = 80.0;
const SPECIFICITY_POINTS: f64 = 10.0;
const STRUCTURE_POINTS: f64 = 10.0;

/// Share of a facet's points its evidence earns: one word names the facet, a second
/// describes it (a prompt that says "golden hour, long shadows" says more about its light
/// than one that says "golden hour").
fn depth(evidence: usize) -> f64 {
    match evidence {
        0 | 1 => DEPTH_ONE,
        _ => 1.0,
    }
}

/// What a facet shown by a single word earns.
const DEPTH_ONE: f64 = 0.8;

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Scores a prompt.
pub fn score(input: &ScoreInput<'_>) -> Result<QualityScore> {
    let rules = rules()?;
    let analysis = input.analysis;
    let table = rules.category(analysis.category);
    // Facets that do not apply to this prompt (a lens on a watercolor, a role for a
    // one-line question) are left out, and the others share their points.
    let total_weight: u32 = table
        .facets
        .iter()
        .zip(&analysis.facets)
        .filter(|(_, p)| p.applicable)
        .map(|(f, _)| f.weight)
        .sum();
    let scale = FACET_POINTS / f64::from(total_weight.max(1));

    let facets: Vec<FacetScore> = table
        .facets
        .iter()
        .zip(&analysis.facets)
        .map(|(rule, presence)| {
            let max_points = if presence.applicable {
                round1(f64::from(rule.weight) * scale)
            } else {
                0.0
            };
            FacetScore {
                facet: rule.facet,
                label: rule.facet.label(),
                present: presence.present,
                applicable: presence.applicable,
                points: if presence.present {
                    round1(max_points * depth(presence.evidence.len()))
                } else {
                    0.0
                },
                max_points,
                evidence: presence.evidence.clone(),
            }
        })
        .collect();

    let target = match analysis.category {
        Category::Image => 10.0,
        Category::Video => 15.0,
        Category::Text => 12.0,
    };
    let words = analysis.content_words as f64;
    let specificity = Component {
        points: round1(SPECIFICITY_POINTS * (words / target).min(1.0)),
        max_points: SPECIFICITY_POINTS,
        detail: format!(
            "{} content words (full marks from {target})",
            analysis.content_words
        ),
    };
    let structure = structure(input);

    let mut penalties = Vec::new();
    if !analysis.conflicts.is_empty() {
        let detail = analysis
            .conflicts
            .iter()
            .map(|c| format!("“{}” vs “{}”", c.first, c.second))
            .collect::<Vec<_>>()
            .join("; ");
        penalties.push(Penalty {
            kind: PenaltyKind::Conflict,
            points: (8.0 * analysis.conflicts.len() as f64).min(16.0),
            detail,
        });
    }
    if !analysis.repeated.is_empty() {
        penalties.push(Penalty {
            kind: PenaltyKind::Repetition,
            points: (1.5 * analysis.repeated.len() as f64).min(6.0),
            detail: analysis
                .repeated
                .iter()
                .map(|r| format!("“{r}”"))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let over = over_length(input);
    if let Some((used, limit, unit)) = over {
        let excess = (used - limit) as f64 / limit as f64;
        penalties.push(Penalty {
            kind: PenaltyKind::OverLength,
            points: round1(5.0 + 15.0 * excess.min(1.0)),
            detail: format!("about {used} {unit}; the model reads {limit}"),
        });
    }

    let earned: f64 =
        facets.iter().map(|f| f.points).sum::<f64>() + specificity.points + structure.points
            - penalties.iter().map(|p| p.points).sum::<f64>();
    let total = round1(earned.clamp(0.0, 100.0));

    let mut suggestions = Vec::new();
    let mut missing: Vec<(&FacetScore, &super::rules::FacetRules)> = facets
        .iter()
        .zip(&table.facets)
        .filter(|(f, r)| !f.present && f.applicable && r.mode == FacetMode::Fill)
        .collect();
    missing.sort_by(|a, b| b.0.max_points.total_cmp(&a.0.max_points));
    for (facet, rule) in missing.iter().take(4) {
        let mut examples: Vec<&super::rules::EditRule> = rule
            .edits
            .iter()
            .map(|&e| &table.edits[e])
            .filter(|e| {
                input.adapter.accepts(&e.models)
                    && !e.tags.iter().any(|t| analysis.conflicts_with(t))
                    && when_holds(&e.when, &analysis.intent.tags)
                    && suits(&e.fits, &e.not, &analysis.intent.tags)
            })
            .collect();
        examples.sort_by(|a, b| b.prior.total_cmp(&a.prior));
        let names: Vec<String> = examples
            .iter()
            .take(2)
            .map(|e| format!("“{}”", e.text))
            .collect();
        let label = facet.label.to_lowercase();
        suggestions.push(if names.is_empty() {
            format!("Add {label} (+{} points).", facet.max_points)
        } else {
            format!(
                "Add {label} (+{} points), e.g. {}.",
                facet.max_points,
                names.join(" or ")
            )
        });
    }
    if !facets
        .iter()
        .any(|f| f.facet == Facet::Subject && f.present)
        && analysis.category != Category::Text
    {
        suggestions.insert(
            0,
            "Name the subject: what should the picture show?".to_string(),
        );
    }
    for c in &analysis.conflicts {
        suggestions.push(format!(
            "“{}” and “{}” pull in opposite directions ({}); keep one.",
            c.first, c.second, c.axis
        ));
    }
    if !analysis.repeated.is_empty() {
        suggestions.push(format!(
            "Say each thing once: {} repeated.",
            analysis
                .repeated
                .iter()
                .take(3)
                .map(|r| format!("“{r}”"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some((used, limit, unit)) = over {
        suggestions.push(format!(
            "Shorten it: about {used} {unit}, but {} reads {limit}; the rest is ignored or diluted.",
            input.adapter.name
        ));
    }
    if specificity.points < SPECIFICITY_POINTS / 2.0 {
        suggestions.push(match analysis.category {
            Category::Text => {
                "Say more: what the answer is for and what it must include.".to_string()
            }
            _ => "Describe the subject in more words: what it looks like, what it is doing."
                .to_string(),
        });
    }
    if structure.points < STRUCTURE_POINTS {
        suggestions.push(structure.detail.clone());
    }

    Ok(QualityScore {
        total,
        facets,
        specificity,
        structure,
        penalties,
        suggestions,
    })
}

/// `(used, limit, unit)` when the prompt is over its budget.
fn over_length(input: &ScoreInput<'_>) -> Option<(usize, usize, &'static str)> {
    let budget = input.adapter.budget;
    if let Some(limit) = budget.limit() {
        let used = budget.cost(input.text);
        if used > limit {
            return Some((used, limit, budget.unit()));
        }
    }
    if let Some(limit) = input.max_chars {
        let used = Budget::Chars(limit).cost(input.text);
        if used > limit {
            return Some((used, limit, "characters"));
        }
    }
    None
}

fn ends_sentence(text: &str) -> bool {
    text.trim_end().ends_with(['.', '!', '?', '。', '…'])
}

/// Share of comma-separated fragments of one or two words ("8k", "trending on artstation"
/// counts as three): a keyword pile rather than a description.
/// How much of a prompt is a pile of keywords, 0 to 1: nothing while at most half of its
/// comma-separated fragments are one or two words, then rising to 1 when all are, so one
/// more keyword costs a little rather than all of it.
fn keyword_pile(text: &str) -> f64 {
    let fragments: Vec<usize> = text
        .split([',', '，'])
        .map(|f| f.split_whitespace().count())
        .filter(|&n| n > 0)
        .collect();
    if fragments.len() < 3 {
        return 0.0;
    }
    let short = fragments.iter().filter(|&&n| n <= 2).count() as f64 / fragments.len() as f64;
    ((short - 0.5) * 2.0).clamp(0.0, 1.0)
}

fn structure(input: &ScoreInput<'_>) -> Component {
    let text = input.text;
    let has = |name: &str| input.parameters.contains(&name);
    let (points, detail) = match (input.adapter.family, input.adapter.category) {
        (Family::Midjourney, _) => {
            let ratio = has("ar") || has("aspect");
            let others = input
                .parameters
                .iter()
                .filter(|p| **p != "ar" && **p != "aspect")
                .count();
            let points = if ratio { 5.0 } else { 0.0 } + if others > 0 { 5.0 } else { 0.0 };
            (points, "Midjourney parameters last: --ar for the frame, --v (and --stylize, --no) for the look.".to_string())
        }
        (Family::StableDiffusion, _) => {
            let weights = has_weight_syntax(text);
            let points =
                if input.has_negative_prompt { 5.0 } else { 0.0 } + if weights { 5.0 } else { 0.0 };
            (
                points,
                "Stable Diffusion: a negative prompt and (term:1.2) weights on what matters most."
                    .to_string(),
            )
        }
        (_, Category::Text) => {
            let sections = has_sections(text);
            let undelimited = has_undelimited_input(text);
            let points = if sections { 5.0 } else { 0.0 } + if undelimited { 0.0 } else { 5.0 };
            (points, "Structure the request: labelled sections for role, format and constraints, and input set apart with \"\"\" delimiters.".to_string())
        }
        _ => {
            let points = if ends_sentence(text) { 5.0 } else { 0.0 }
                + round1(5.0 * (1.0 - keyword_pile(text)));
            (
                points,
                format!(
                    "{} reads descriptive sentences better than a pile of keywords.",
                    input.adapter.name
                ),
            )
        }
    };
    Component {
        points,
        max_points: STRUCTURE_POINTS,
        detail: if points >= STRUCTURE_POINTS {
            "Uses the model's syntax.".to_string()
        } else {
            detail
        },
    }
}

/// `(term:1.2)` somewhere in the text.
fn has_weight_syntax(text: &str) -> bool {
    text.match_indices(':').any(|(i, _)| {
        let after = &text[i + 1..];
        let digits: String = after
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        !digits.is_empty()
            && digits.parse::<f64>().is_ok()
            && after[digits.len()..].starts_with(')')
            && text[..i].contains('(')
    })
}

/// A markdown heading, an XML tag, or a `Label:` line.
fn has_sections(text: &str) -> bool {
    text.lines().skip(1).any(|line| {
        let line = line.trim();
        line.starts_with('#')
            || (line.starts_with('<') && line.ends_with('>') && line.len() > 2)
            || line.split_once(':').is_some_and(|(label, _)| {
                let words = label.split_whitespace().count();
                (1..=3).contains(&words)
                    && label.chars().next().is_some_and(char::is_uppercase)
                    && label.chars().all(|c| c.is_alphabetic() || c == ' ')
            })
    })
}

/// Input after a blank line that is not set apart with delimiters.
fn has_undelimited_input(text: &str) -> bool {
    text.split_once("\n\n").is_some_and(|(_, rest)| {
        let rest = rest.trim_start();
        !rest.is_empty()
            && !text.contains("\"\"\"")
            && !text.contains("```")
            && !has_sections(&format!("\n{rest}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::adapters::by_id;
    use crate::prompt::analyze::analyze;

    fn total(
        category: Category,
        model: &str,
        text: &str,
        params: &[&str],
        negative: bool,
    ) -> QualityScore {
        let analysis = analyze(category, text).unwrap();
        score(&ScoreInput {
            analysis: &analysis,
            adapter: by_id(model).unwrap(),
            text,
            parameters: params,
            has_negative_prompt: negative,
            max_chars: None,
        })
        .unwrap()
    }

    #[test]
    fn facets_sum_to_eighty() {
        for (c, m) in [
            (Category::Image, "image"),
            (Category::Video, "video"),
            (Category::Text, "text"),
        ] {
            let s = total(c, m, "x", &[], false);
            let sum: f64 = s.facets.iter().map(|f| f.max_points).sum();
            assert!((sum - 80.0).abs() < 0.5, "{c:?} {sum}");
        }
    }

    #[test]
    fn richer_prompts_score_higher_and_stay_bounded() {
        let bare = total(
            Category::Image,
            "midjourney-v7",
            "a beautiful sunset",
            &[],
            false,
        );
        let rich = total(
            Category::Image,
            "midjourney-v7",
            "a beautiful sunset over the sea, golden hour lighting, rule of thirds, 35mm photograph, warm tones, serene, highly detailed",
            &["ar", "v"],
            false,
        );
        assert!(
            rich.total > bare.total + 20.0,
            "{} vs {}",
            rich.total,
            bare.total
        );
        assert!((0.0..=100.0).contains(&rich.total));
        assert!(
            bare.suggestions.iter().any(|s| s.contains("lighting")),
            "{:?}",
            bare.suggestions
        );
    }

    #[test]
    fn conflicts_repetition_and_length_cost_points() {
        let clean = total(
            Category::Image,
            "sdxl",
            "anime girl, cel shading",
            &[],
            false,
        );
        let conflicted = total(
            Category::Image,
            "sdxl",
            "anime girl, cel shading, photograph",
            &[],
            false,
        );
        assert!(conflicted
            .penalties
            .iter()
            .any(|p| p.kind == PenaltyKind::Conflict));
        assert!(conflicted
            .suggestions
            .iter()
            .any(|s| s.contains("opposite")));
        let long =
            "a castle on a hill with many towers and flags and knights and horses and dragons "
                .repeat(6);
        let s = total(Category::Image, "sdxl", &long, &[], false);
        assert!(
            s.penalties
                .iter()
                .any(|p| p.kind == PenaltyKind::OverLength),
            "{:?}",
            s.penalties
        );
        assert!(s
            .penalties
            .iter()
            .any(|p| p.kind == PenaltyKind::Repetition));
        let _ = clean;
    }

    #[test]
    fn structure_rewards_model_syntax() {
        let plain = total(Category::Image, "midjourney-v7", "a cat", &[], false);
        let params = total(
            Category::Image,
            "midjourney-v7",
            "a cat",
            &["ar", "v"],
            false,
        );
        assert_eq!(params.structure.points - plain.structure.points, 10.0);
        let sd = total(
            Category::Image,
            "sdxl",
            "a cat, (soft light:1.2)",
            &[],
            true,
        );
        assert_eq!(sd.structure.points, 10.0);
        let text = total(
            Category::Text,
            "gpt",
            "Summarize this.\n\nThe meeting was long.",
            &[],
            false,
        );
        let delimited = total(
            Category::Text,
            "gpt",
            "Summarize this.\n\"\"\"\nThe meeting was long.\n\"\"\"\n\n## Format\n- Bullets.",
            &[],
            false,
        );
        assert!(delimited.structure.points > text.structure.points);
    }

    #[test]
    fn helpers() {
        assert!(has_weight_syntax("(a:1.2)"));
        assert!(!has_weight_syntax("time: 12:30"));
        assert_eq!(keyword_pile("a, b, c, d"), 1.0);
        assert_eq!(keyword_pile("a cat sits, on a mat today, b, c"), 0.0);
        assert!((keyword_pile("a cat sits, on a mat today, b, c, d") - 0.2).abs() < 1e-9);
        assert_eq!(
            keyword_pile("A cat sits on a mat, looking out of the window."),
            0.0
        );
        assert!(has_sections("Do it\n\n## Role\nYou"));
        assert!(has_sections("Do it\n<format>\nx\n</format>"));
        assert!(!has_sections("Do it"));
    }
}
