//! Several tabs on one database: training runs in one tab at a time (Web Locks), and the
//! other tabs learn of a new policy (BroadcastChannel) and load it.

use crate::engine::Engine;
use crate::error::{Error, Result};
use js_sys::{Function, Promise, Reflect};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, spawn_local, JsFuture};

use super::progress::Control;
use super::store::AnyStore;

fn get(target: &JsValue, key: &str) -> Option<JsValue> {
    Reflect::get(target, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

/// The channel shared by the tabs of one database.
pub struct TabSync {
    lock_name: String,
    channel: JsValue,
    _on_message: Closure<dyn FnMut(JsValue)>,
}

impl TabSync {
    /// Joins the channel of database `name`; a message from another tab reloads the engine.
    /// `None` where BroadcastChannel is missing.
    pub fn join(name: &str, engine: &Rc<Engine<AnyStore>>) -> Option<TabSync> {
        let global = js_sys::global();
        let ctor = get(&global, "BroadcastChannel")?
            .dyn_into::<Function>()
            .ok()?;
        let args = js_sys::Array::of1(&JsValue::from_str(&format!("lightprompt:{name}")));
        let channel = Reflect::construct(&ctor, &args).ok()?;
        let engine = Rc::downgrade(engine);
        let on_message = Closure::<dyn FnMut(JsValue)>::new(move |_event: JsValue| {
            if let Some(engine) = engine.upgrade() {
                spawn_local(async move {
                    // A closed engine or a failed read leaves the old policy in place.
                    let _ = engine.refresh().await;
                });
            }
        });
        Reflect::set(&channel, &"onmessage".into(), on_message.as_ref()).ok()?;
        Some(TabSync {
            lock_name: format!("lightprompt-train:{name}"),
            channel,
            _on_message: on_message,
        })
    }

    /// Tells the other tabs that a new policy is stored.
    pub fn announce(&self, policy_version: u32) {
        if let Some(post) =
            get(&self.channel, "postMessage").and_then(|f| f.dyn_into::<Function>().ok())
        {
            let message = js_sys::Object::new();
            let _ = Reflect::set(
                &message,
                &"policyVersion".into(),
                &JsValue::from(policy_version),
            );
            let _ = post.call1(&self.channel, &message);
        }
    }

    /// Leaves the channel.
    pub fn leave(&self) {
        if let Some(close) = get(&self.channel, "close").and_then(|f| f.dyn_into::<Function>().ok())
        {
            let _ = close.call0(&self.channel);
        }
    }
}

/// Trains (`full`: from the stored history, after reloading what other tabs stored) or
/// checkpoints the policy in use (the automatic training after some rewards), under the
/// tabs' shared lock when there is one; announces the new policy. Returns the TrainReport
/// as a JS value.
pub async fn train_shared(
    engine: Rc<Engine<AnyStore>>,
    sync: Option<Rc<TabSync>>,
    control: Rc<Control>,
    full: bool,
) -> Result<JsValue> {
    let run = {
        let engine = engine.clone();
        let sync = sync.clone();
        let control = control.clone();
        move || -> Promise {
            future_to_promise(async move {
                let result: Result<JsValue> = async {
                    let report = if full {
                        if sync.is_some() {
                            engine.refresh().await?;
                        }
                        engine.train_with(super::as_progress(&control)).await?
                    } else {
                        // Reloads by itself when another tab stored rewards.
                        engine.checkpoint().await?
                    };
                    if let Some(s) = &sync {
                        s.announce(report.policy_version);
                    }
                    super::to_js(&report)
                }
                .await;
                result.map_err(super::to_js_error)
            })
        }
    };
    let locks = get(&js_sys::global(), "navigator").and_then(|n| get(&n, "locks"));
    let (Some(sync), Some(locks)) = (sync, locks) else {
        return JsFuture::from(run()).await.map_err(error_from_js);
    };
    let request = get(&locks, "request")
        .and_then(|f| f.dyn_into::<Function>().ok())
        .ok_or_else(|| Error::internal("navigator.locks.request is missing"))?;
    let callback = Closure::once_into_js(move |_lock: JsValue| -> Promise { run() });
    // With a signal, an abort also takes the call out of the queue for the lock.
    let lock_options = js_sys::Object::new();
    if let Some(signal) = control.signal() {
        let _ = Reflect::set(&lock_options, &"signal".into(), signal);
    }
    let promise = request
        .call3(
            &locks,
            &JsValue::from_str(&sync.lock_name),
            &lock_options,
            &callback,
        )
        .map_err(error_from_js)?
        .dyn_into::<Promise>()
        .map_err(|_| Error::internal("navigator.locks.request did not return a promise"))?;
    // An aborted request leaves the lock's queue rejecting with the signal's reason.
    JsFuture::from(promise)
        .await
        .map_err(|e| control.check().err().unwrap_or_else(|| error_from_js(e)))
}

/// Turns a rejection back into an error, keeping its code.
fn error_from_js(value: JsValue) -> Error {
    // The lock's queue rejects an aborted request with the DOMException "AbortError".
    if get(&value, "name").and_then(|n| n.as_string()).as_deref() == Some("AbortError") {
        return super::progress::aborted(&JsValue::UNDEFINED);
    }
    let code = get(&value, "code")
        .and_then(|c| c.as_string())
        .unwrap_or_default();
    let message = get(&value, "message")
        .and_then(|m| m.as_string())
        .unwrap_or_else(|| format!("{value:?}"));
    let code = match code.as_str() {
        "Closed" => crate::ErrorCode::Closed,
        "QuotaExceeded" => crate::ErrorCode::QuotaExceeded,
        "Storage" => crate::ErrorCode::Storage,
        "Aborted" => crate::ErrorCode::Aborted,
        "Callback" => crate::ErrorCode::Callback,
        _ => crate::ErrorCode::Internal,
    };
    Error::new(code, message)
}
