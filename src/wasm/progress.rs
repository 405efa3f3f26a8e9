//! `onProgress` and `signal` for the long calls (`optimizeBatch`, `train`, `importData`,
//! `evaluate`): the engine steps a [`Control`] between units of work; it reports to the
//! callback, yields to the event loop now and then (so the page stays responsive and an
//! `abort()` gets a chance to run) and stops the call once the signal is aborted.

use crate::engine::{Progress, StepFuture};
use crate::error::{Error, ErrorCode, Result};
use js_sys::{Function, Promise, Reflect};
use std::cell::Cell;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// How long the engine computes between two yields to the event loop, in milliseconds.
/// About a frame: long enough that yielding costs little, short enough for a smooth bar.
const SLICE_MS: f64 = 16.0;

/// The progress callback and abort signal of one call.
pub struct Control {
    on_progress: Option<Function>,
    signal: Option<JsValue>,
    last_yield: Cell<f64>,
}

fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

impl Control {
    /// Reads `onProgress` and `signal` from a call's options (`prefix` names the options
    /// argument in errors). Fails with `Aborted` when the signal is already aborted.
    pub fn from_options(options: &JsValue, prefix: &str) -> Result<Control> {
        let on_progress = match get(options, "onProgress") {
            v if v.is_undefined() || v.is_null() => None,
            v => Some(v.dyn_into::<Function>().map_err(|_| {
                Error::invalid(format!("{prefix}onProgress"), "must be a function")
            })?),
        };
        let signal = match get(options, "signal") {
            v if v.is_undefined() || v.is_null() => None,
            v if v.is_object() && get(&v, "aborted").as_bool().is_some() => Some(v),
            _ => {
                return Err(Error::invalid(
                    format!("{prefix}signal"),
                    "must be an AbortSignal",
                ))
            }
        };
        let control = Control {
            on_progress,
            signal,
            last_yield: Cell::new(js_sys::Date::now()),
        };
        control.check()?;
        Ok(control)
    }

    /// No callback, no signal.
    pub fn idle() -> Control {
        Control {
            on_progress: None,
            signal: None,
            last_yield: Cell::new(0.0),
        }
    }

    /// True when the caller asked for nothing: the call can skip the bookkeeping.
    pub fn is_idle(&self) -> bool {
        self.on_progress.is_none() && self.signal.is_none()
    }

    /// The signal, for APIs that take one themselves (`navigator.locks.request`).
    pub fn signal(&self) -> Option<&JsValue> {
        self.signal.as_ref()
    }

    /// `Aborted` once the signal is aborted, naming its reason.
    pub fn check(&self) -> Result<()> {
        let Some(signal) = &self.signal else {
            return Ok(());
        };
        if get(signal, "aborted").as_bool() != Some(true) {
            return Ok(());
        }
        Err(aborted(&get(signal, "reason")))
    }

    fn report(&self, done: u64, total: u64) -> Result<()> {
        let Some(f) = &self.on_progress else {
            return Ok(());
        };
        f.call2(
            &JsValue::UNDEFINED,
            &JsValue::from_f64(done as f64),
            &JsValue::from_f64(total as f64),
        )
        .map(|_| ())
        .map_err(|e| {
            Error::new(
                ErrorCode::Callback,
                format!("onProgress threw: {}", message_of(&e)),
            )
        })
    }
}

/// The `Aborted` error for a signal's `reason`.
pub fn aborted(reason: &JsValue) -> Error {
    let why = if reason.is_undefined() || reason.is_null() {
        String::new()
    } else {
        format!(" ({})", message_of(reason))
    };
    Error::new(
        ErrorCode::Aborted,
        format!("the call was cancelled by its AbortSignal{why}; nothing was stored"),
    )
}

/// A thrown value's message.
fn message_of(value: &JsValue) -> String {
    if let Some(e) = value.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    value
        .as_string()
        .unwrap_or_else(|| "a value that is not an Error".to_string())
}

/// Resolves on the next turn of the event loop (a macrotask, so events such as a click on
/// "Cancel" or a worker message run first); at once where `setTimeout` is missing.
async fn next_turn() {
    let promise = Promise::new(&mut |resolve, _reject| {
        let set_timeout = get(&js_sys::global(), "setTimeout").dyn_into::<Function>();
        let scheduled = set_timeout.ok().and_then(|f| {
            f.call2(&JsValue::UNDEFINED, &resolve, &JsValue::from(0))
                .ok()
        });
        if scheduled.is_none() {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
    });
    let _ = JsFuture::from(promise).await;
}

impl Control {
    /// Checks, reports when due, and yields when a slice is used up or `force`d.
    async fn advance(&self, done: u64, total: u64, force: bool) -> Result<()> {
        self.check()?;
        let now = js_sys::Date::now();
        let due = now - self.last_yield.get() >= SLICE_MS;
        // Few units (stages): report each one; many (requests): about once per slice.
        if done == 0 || done >= total || due || total <= 16 {
            self.report(done, total)?;
        }
        if due || force {
            next_turn().await;
            self.last_yield.set(js_sys::Date::now());
            self.check()?;
        }
        Ok(())
    }
}

impl Progress for Control {
    fn step(&self, done: u64, total: u64) -> StepFuture<'_> {
        // With a signal, the first step yields too, so an abort queued right behind the
        // call is seen before any work.
        Box::pin(self.advance(done, total, done == 0 && self.signal.is_some()))
    }

    fn last_chance(&self, done: u64, total: u64) -> StepFuture<'_> {
        Box::pin(self.advance(done, total, self.signal.is_some()))
    }
}
