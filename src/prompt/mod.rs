//! Prompt analysis, rule tables, model adapters, the quality score and the optimizer. Pure
//! Rust: nothing here knows about the browser.

pub mod adapters;
pub mod analyze;
pub mod category;
pub mod optimize;
pub mod options;
pub mod rules;
pub mod score;
pub mod tokenize;

pub use adapters::{Adapter, Family, ADAPTERS};
pub use analyze::{analyze, Analysis};
pub use category::{Category, Facet, Tag};
pub use optimize::{
    optimize, score_prompt, AppliedEdit, Choice, Chooser, Decision, DecisionContext, Optimization,
    OptimizeInput, RuleChooser, Slot,
};
pub use options::{OptionValue, Options};
pub use score::QualityScore;
