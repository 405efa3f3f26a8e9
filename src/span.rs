//! The stored records: a [`Span`] per optimization (the seed's `emit_span`) and a
//! [`Reward`] per piece of feedback (the seed's `emit_reward`), with their ids.

use crate::prompt::optimize::{AppliedEdit, Decision};
use crate::prompt::{Category, Options};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Free-form metadata a caller attaches to a request or feedback.
pub type Metadata = BTreeMap<String, serde_json::Value>;

/// One optimization, as recorded. Field names are camelCase in JSON and in IndexedDB, where
/// `taskId`, `category` and `createdAt` are indexed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    /// 16 hex digits (an OpenTelemetry span id).
    pub span_id: String,
    /// 32 hex digits (an OpenTelemetry trace id); several spans may share a task.
    pub task_id: String,
    /// `prompt_optimization_{category}`, as in the seed.
    pub name: String,
    /// The category.
    pub category: Category,
    /// The adapter used (`midjourney-v7`, `sdxl`, `image` for the generic fallback, ...).
    pub model: String,
    /// The model name the caller asked for, when it differs from `model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_model: Option<String>,
    /// The prompt as the user wrote it.
    pub original_prompt: String,
    /// The prompt as optimized.
    pub optimized_prompt: String,
    /// A separate negative prompt, if the model takes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative_prompt: Option<String>,
    /// Generation parameters by the model's names.
    #[serde(default)]
    pub parameters: BTreeMap<String, serde_json::Value>,
    /// Score of the original prompt, 0–100.
    pub original_quality_score: f64,
    /// Score of the optimized prompt, 0–100.
    pub quality_score: f64,
    /// Edits applied.
    pub edits: Vec<AppliedEdit>,
    /// Every decision the policy made, with its propensity (including skips).
    #[serde(default)]
    pub decisions: Vec<Decision>,
    /// Modifier terms found in the optimized prompt (what keyword learning credits).
    #[serde(default)]
    pub keywords: Vec<String>,
    /// The policy version that produced this span.
    pub policy_version: u32,
    /// Milliseconds since the Unix epoch.
    pub created_at: f64,
    /// Time the optimization took, in milliseconds.
    #[serde(default)]
    pub duration_ms: f64,
    /// Order of recording, fixed when the span is stored (see [`next_sequence`]); absent in
    /// data stored before it existed, which exports order by `created_at` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    /// The options of the request.
    #[serde(default)]
    pub options: Options,
    /// The caller's metadata.
    #[serde(default)]
    pub metadata: Metadata,
}

impl Span {
    /// The seed's span name for a category.
    pub fn name_for(category: Category) -> String {
        format!("prompt_optimization_{}", category.as_str())
    }
}

/// Where a reward's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RewardSource {
    /// The caller passed `reward`.
    Explicit,
    /// The default formula (the seed's `calculate_reward_from_feedback`).
    Computed,
    /// A custom reward function.
    Custom,
}

/// One piece of feedback on a span. A span may get several; training uses the latest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reward {
    /// 16 hex digits.
    pub reward_id: String,
    /// The span rated (indexed).
    pub span_id: String,
    /// The span's task.
    pub task_id: String,
    /// The span's category (copied so statistics need no join).
    pub category: Category,
    /// The span's model.
    pub model: String,
    /// The reward, in [-1, 1].
    pub value: f64,
    /// Where the value came from.
    pub source: RewardSource,
    /// The span's quality score, which the default formula uses.
    pub quality_score: f64,
    /// 1–5 stars, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<f64>,
    /// Whether the user was satisfied, if said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfied: Option<bool>,
    /// Whether the user used the result, if said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_result: Option<bool>,
    /// The user's comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback_text: Option<String>,
    /// The caller's metadata.
    #[serde(default)]
    pub metadata: Metadata,
    /// Milliseconds since the Unix epoch (indexed).
    pub created_at: f64,
    /// Order of recording, as on [`Span::sequence`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
}

/// The part of a span that learning reads. Training over many spans reads only these fields
/// from storage, not the prompts and parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainingSpan {
    /// The span id.
    pub span_id: String,
    /// The category.
    pub category: Category,
    /// The adapter used.
    pub model: String,
    /// The policy's decisions.
    #[serde(default)]
    pub decisions: Vec<Decision>,
    /// Modifier terms of the optimized prompt.
    #[serde(default)]
    pub keywords: Vec<String>,
}

impl From<&Span> for TrainingSpan {
    fn from(s: &Span) -> TrainingSpan {
        TrainingSpan {
            span_id: s.span_id.clone(),
            category: s.category,
            model: s.model.clone(),
            decisions: s.decisions.clone(),
            keywords: s.keywords.clone(),
        }
    }
}

/// What the policy learns from: a [`Span`] or a [`TrainingSpan`].
pub trait LearningRecord {
    /// The span id.
    fn span_id(&self) -> &str;
    /// The category.
    fn category(&self) -> Category;
    /// The adapter id.
    fn model(&self) -> &str;
    /// The logged decisions.
    fn decisions(&self) -> &[Decision];
    /// The keywords.
    fn keywords(&self) -> &[String];
}

macro_rules! learning_record {
    ($t:ty) => {
        impl LearningRecord for $t {
            fn span_id(&self) -> &str {
                &self.span_id
            }
            fn category(&self) -> Category {
                self.category
            }
            fn model(&self) -> &str {
                &self.model
            }
            fn decisions(&self) -> &[Decision] {
                &self.decisions
            }
            fn keywords(&self) -> &[String] {
                &self.keywords
            }
        }
    };
}
learning_record!(Span);
learning_record!(TrainingSpan);

/// Whole microseconds since the Unix epoch of a millisecond time, computed from its integer
/// and fractional parts separately so whole milliseconds convert exactly (no `ms * 1e3`
/// rounding); 0 for negative or non-finite input.
pub fn micros(ms: f64) -> u64 {
    if !ms.is_finite() || ms <= 0.0 {
        return 0;
    }
    let whole = ms.trunc();
    let frac = ((ms - whole) * 1_000.0).round() as u64;
    (whole as u64).saturating_mul(1_000).saturating_add(frac)
}

/// The sequence number of a record made at `now_ms` after one numbered `last`: its time in
/// microseconds, or `last + 1` when the clock has not moved on (or went back). Sequence
/// numbers therefore increase in the order records are made, and stay close to their time,
/// which lets old records without one be numbered by time alone.
pub fn next_sequence(last: u64, now_ms: f64) -> u64 {
    micros(now_ms).max(last.saturating_add(1))
}

/// Whether `id` looks like an id lightprompt issues: `len` lowercase hex digits.
pub fn is_valid_id(id: &str, len: usize) -> bool {
    id.len() == len
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Length of span and reward ids (8 bytes, as OpenTelemetry span ids).
pub const SPAN_ID_LEN: usize = 16;
/// Length of task ids (16 bytes, as OpenTelemetry trace ids).
pub const TASK_ID_LEN: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(is_valid_id("0123456789abcdef", SPAN_ID_LEN));
        assert!(!is_valid_id("0123456789ABCDEF", SPAN_ID_LEN));
        assert!(!is_valid_id("0123", SPAN_ID_LEN));
        assert!(!is_valid_id("0123456789abcdeg", SPAN_ID_LEN));
        assert_eq!(Span::name_for(Category::Video), "prompt_optimization_video");
    }

    #[test]
    fn sequences_follow_time_and_never_repeat() {
        assert_eq!(micros(1_700_000_000_123.0), 1_700_000_000_123_000);
        assert_eq!(micros(1.25), 1_250);
        assert_eq!(micros(f64::NAN), 0);
        assert_eq!(micros(-5.0), 0);
        let a = next_sequence(0, 1000.0);
        let b = next_sequence(a, 1000.0);
        let c = next_sequence(b, 999.0);
        assert_eq!(a, 1_000_000);
        assert!(a < b && b < c);
        assert_eq!(next_sequence(c, 2000.0), 2_000_000);
    }
}
