//! Learning from feedback: the policy (a contextual bandit over edits), batch and online
//! training, learned keywords and patterns, and off-policy evaluation.

pub mod evaluate;
pub mod policy;
pub mod simulate;
pub mod stats;

pub use evaluate::{evaluate, Evaluation, PolicyValue, Target};
pub use policy::{
    LearnedKeyword, LearnedOptimizations, LearnedPattern, Policy, PolicyChooser, PolicyState,
};
