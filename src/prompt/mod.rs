//! Prompt analysis, rule tables, model adapters and the quality score.

pub mod category;
pub mod rules;
pub mod tokenize;

pub use category::{Category, Facet, Tag};
