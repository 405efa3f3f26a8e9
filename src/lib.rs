//! # lightprompt
//!
//! An offline, personal prompt tuner. It rewrites prompts for image, video and text models,
//! scores them, records every rewrite as a [`span::Span`], takes the user's feedback as a
//! [`span::Reward`], and learns which rewrites work for this user.
//!
//! The core (everything but `store::idb` and `wasm`) is pure Rust and tests natively.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod agl;
pub mod document;
pub mod engine;
pub mod error;
pub mod learn;
pub mod otlp;
pub mod prompt;
pub mod reward;
pub mod rng;
pub mod span;
pub mod store;
#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use engine::{Engine, EngineConfig};
pub use error::{Error, ErrorCode, Result};
