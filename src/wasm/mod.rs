//! The JS API: one class, `LightPrompt`, plus `calculateReward` and `supportedModels`.
//!
//! A thin layer: it converts JS values into the engine's typed requests (camelCase, the
//! seed's snake_case accepted), runs the engine, and converts results and errors back.
//! Methods return Promises built from a clone of the engine handle, so no Rust borrow of the
//! JS object outlives the call: concurrent calls from JS interleave safely.

mod agl;
mod import;
mod progress;
mod store;
mod tabs;
mod types;

use crate::engine::{
    Engine, EngineConfig, ExportStart, FeedbackRequest, NoProgress, OptimizeRequest, Progress,
    QueryRequest, RewardFn, EXPORT_FORMAT, EXPORT_PAGE, EXPORT_VERSION,
};
use crate::error::{Error, ErrorCode, Result};
use crate::reward::{calculate_reward, FeedbackSignals};
use crate::store::SpanCursor;
use js_sys::{Array, Function, JsString, Promise, Reflect};
use progress::Control;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::rc::Rc;
use store::AnyStore;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

#[wasm_bindgen(start)]
fn start() {
    // A panic is a bug: say so in the console instead of an opaque "unreachable".
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&JsValue::from_str(&format!(
            "lightprompt panicked (a bug; please report it): {info}"
        )));
    }));
}

thread_local! {
    /// The prototype of the package's exported `LightPromptError` class, so errors made here
    /// pass `instanceof LightPromptError` (set by the JS entry once the wasm is loaded).
    static ERROR_PROTOTYPE: std::cell::RefCell<Option<js_sys::Object>> =
        const { std::cell::RefCell::new(None) };
}

/// Registers the JS class whose instances errors become. Internal: the package's entry
/// calls it; it is not part of the public API.
#[doc(hidden)]
#[wasm_bindgen(js_name = __setErrorClass)]
pub fn set_error_class(class: &Function) {
    let prototype = Reflect::get(class, &"prototype".into())
        .ok()
        .and_then(|p| p.dyn_into::<js_sys::Object>().ok());
    ERROR_PROTOTYPE.with(|p| *p.borrow_mut() = prototype);
}

/// Converts an error into a JS `Error` with `code` and `field` properties.
pub fn to_js_error(e: Error) -> JsValue {
    let err = js_sys::Error::new(&e.message);
    ERROR_PROTOTYPE.with(|p| {
        if let Some(prototype) = p.borrow().as_ref() {
            js_sys::Object::set_prototype_of(&err, prototype);
        }
    });
    err.set_name("LightPromptError");
    let _ = Reflect::set(&err, &"code".into(), &JsValue::from_str(e.code.as_str()));
    let field = e.field.as_deref().map_or(JsValue::NULL, JsValue::from_str);
    let _ = Reflect::set(&err, &"field".into(), &field);
    err.into()
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue> {
    let serializer = serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true);
    value
        .serialize(&serializer)
        .map_err(|e| Error::internal(format!("could not convert a result for JS: {e}")))
}

/// The name of the value serde wanted, as a JS developer says it.
fn js_expected(expected: &str) -> String {
    let e = expected.trim();
    match e {
        "f64" | "f32" => "a number".into(),
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number of at least 0".into(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number".into(),
        "a sequence" => "an array".into(),
        "a map" => "an object".into(),
        _ if e.starts_with("struct ") => "an object".into(),
        _ => e.to_string(),
    }
}

/// The kind of value serde found (`floating point `5.0``, `map`), as a JS developer says it.
fn js_found(unexpected: &str) -> String {
    let u = unexpected.trim();
    let kinds = [
        ("floating point", "a number"),
        ("integer", "a number"),
        ("string", "a string"),
        ("boolean", "a boolean"),
        ("map", "an object"),
        ("sequence", "an array"),
        ("unit value", "null"),
        ("unit", "null"),
        ("Option value", "null"),
        ("char", "a string"),
        ("byte array", "bytes"),
        ("bytes", "bytes"),
    ];
    kinds
        .iter()
        .find(|(prefix, _)| u.starts_with(prefix))
        .map_or_else(|| u.to_string(), |(_, kind)| (*kind).to_string())
}

/// What a JS value is, as a JS developer says it ("a number", "an array", "null").
fn kind_of(value: &JsValue) -> String {
    let kind = if value.is_null() {
        "null"
    } else if value.is_undefined() {
        "undefined"
    } else if value.is_array() {
        "an array"
    } else if value.is_function() {
        "a function"
    } else if value.is_object() {
        "an object"
    } else if value.is_string() {
        "a string"
    } else if value.as_bool().is_some() {
        "a boolean"
    } else if value.as_f64().is_some() {
        "a number"
    } else if value.is_bigint() {
        "a bigint"
    } else {
        "a symbol"
    };
    kind.to_string()
}

/// The first `backquoted` word of a serde message.
fn quoted(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(&message[start..end])
}

/// Joins a parent path and a child (`requests` + `[3].prompt`, `` + `prompt`).
fn join_path(parent: &str, child: &str) -> String {
    match (parent.is_empty(), child.starts_with('[')) {
        (true, _) => child.to_string(),
        (false, true) => format!("{parent}{child}"),
        (false, false) if child.is_empty() => parent.to_string(),
        (false, false) => format!("{parent}.{child}"),
    }
}

/// Turns serde's message about the value at `path` into (field, sentence): "missing field
/// `prompt`" names `prompt`; "invalid type: floating point `5.0`, expected a string" becomes
/// "expected a string, got a number".
fn explain(path: &str, message: &str, found_js: &str) -> (String, String) {
    let message = message.trim().trim_start_matches("Error: ");
    if message.starts_with("data did not match any variant of untagged enum OptionValue") {
        return (
            path.to_string(),
            format!(
                "expected a boolean, a number, a string, null or an array of these, got {found_js}"
            ),
        );
    }
    // serde-wasm-bindgen reads objects with Reflect; on a primitive that is a TypeError.
    if message.starts_with("TypeError") {
        return (
            path.to_string(),
            format!("has the wrong type: got {found_js}"),
        );
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        let name = quoted(rest).unwrap_or(rest);
        return (join_path(path, name), "is required".to_string());
    }
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let name = quoted(rest).unwrap_or(rest);
        let known = rest
            .split_once(", expected ")
            .map(|(_, k)| format!("; expected {}", k.replace('`', "")))
            .unwrap_or_default();
        return (
            join_path(path, name),
            format!("is not a known field{known}"),
        );
    }
    for kind in ["invalid type: ", "invalid value: "] {
        if let Some((found, expected)) = message
            .strip_prefix(kind)
            .and_then(|rest| rest.rsplit_once(", expected "))
        {
            let found = if kind == "invalid type: " {
                // What JS holds there says it best; serde's words when the walk found nothing.
                if found_js == "undefined" {
                    js_found(found)
                } else {
                    found_js.to_string()
                }
            } else {
                quoted(found).unwrap_or(found).to_string()
            };
            return (
                path.to_string(),
                format!("expected {}, got {found}", js_expected(expected)),
            );
        }
    }
    if let Some((found, expected)) = message
        .strip_prefix("unknown variant ")
        .and_then(|rest| rest.split_once(", expected "))
    {
        let found = quoted(found).unwrap_or(found);
        return (
            path.to_string(),
            format!("expected {}, got \"{found}\"", expected.replace('`', "\"")),
        );
    }
    (path.to_string(), message.to_string())
}

/// Reads a JS value as `T`; an error names the exact field, under `prefix` (`""` for an
/// argument whose fields are named alone, `requests` for a batch), or `whole` when the
/// argument itself is wrong.
fn from_js<T: DeserializeOwned>(value: JsValue, prefix: &str, whole: &str) -> Result<T> {
    let deserializer = serde_wasm_bindgen::Deserializer::from(value.clone());
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let mut path = prefix.to_string();
        // The value at fault, for messages that do not say what they found.
        let mut at = value;
        for segment in e.path().iter() {
            match segment {
                serde_path_to_error::Segment::Seq { index } => {
                    path.push_str(&format!("[{index}]"));
                    at = Reflect::get(&at, &JsValue::from(*index as u32)).unwrap_or_default();
                }
                serde_path_to_error::Segment::Map { key } => {
                    path = join_path(&path, key);
                    at = Reflect::get(&at, &JsValue::from_str(key)).unwrap_or_default();
                }
                serde_path_to_error::Segment::Enum { variant } => path = join_path(&path, variant),
                serde_path_to_error::Segment::Unknown => {}
            }
        }
        let (field, sentence) = explain(&path, &e.inner().to_string(), &kind_of(&at));
        let field = if field.is_empty() {
            whole.to_string()
        } else {
            field
        };
        Error::invalid(field, sentence)
    })
}

/// `exportOtlp()` as OTLP/JSON, built a page of tasks at a time.
async fn otlp_json(engine: &Engine<AnyStore>) -> Result<JsValue> {
    let resource_spans = Array::new();
    engine
        .trace_pages(|page| {
            // A task at a time: the JSON tree of a page is many times its spans' size.
            for task in &page {
                let doc = crate::otlp::encode_tasks_json(std::slice::from_ref(task));
                for entry in doc["resourceSpans"].as_array().into_iter().flatten() {
                    resource_spans.push(&to_js(entry)?);
                }
            }
            Ok(())
        })
        .await?;
    let doc = js_sys::Object::new();
    set(&doc, "resourceSpans", &resource_spans)?;
    Ok(doc.into())
}

/// An export document's first fields: `format`, `version`, `exportedAt`.
fn export_head(start: &ExportStart) -> Result<js_sys::Object> {
    let head = js_sys::Object::new();
    set(&head, "format", &EXPORT_FORMAT.into())?;
    set(&head, "version", &EXPORT_VERSION.into())?;
    set(&head, "exportedAt", &start.exported_at.into())?;
    Ok(head)
}

/// Sets `target[name]`.
fn set(target: &js_sys::Object, name: &str, value: &JsValue) -> Result<()> {
    Reflect::set(target, &name.into(), value)
        .map(|_| ())
        .map_err(|_| Error::internal(format!("could not set {name}")))
}

/// Whether `value` is a `Blob` (a `File` is one): what has `stream()` and a `size`, so
/// that one from another realm (a worker's message) counts too.
fn is_blob(value: &JsValue) -> bool {
    value.is_object()
        && Reflect::get(value, &"stream".into()).is_ok_and(|s| s.is_function())
        && Reflect::get(value, &"size".into()).is_ok_and(|s| s.as_f64().is_some())
}

/// Rejects an argument that is not a plain object (`optimize(["a fox"])`), naming it `whole`.
fn expect_object(value: &JsValue, whole: &str) -> Result<()> {
    if value.is_object() && !value.is_array() && !value.is_function() {
        return Ok(());
    }
    Err(Error::invalid(
        whole,
        format!("expected an object, got {}", kind_of(value)),
    ))
}

/// Rejects strings that are not valid UTF-16 (lone surrogates), which would otherwise be
/// replaced silently on the way into Rust.
fn check_utf16(object: &JsValue, key: &str, field: &str) -> Result<()> {
    if !object.is_object() {
        return Ok(());
    }
    let value = Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED);
    if let Some(s) = value.dyn_ref::<JsString>() {
        if !s.is_valid_utf16() {
            return Err(Error::invalid(
                field,
                "contains an unpaired surrogate (invalid UTF-16)",
            ));
        }
    }
    Ok(())
}

/// Rejects keys of `object` not in `allowed` (a typo like `promt` should not pass silently).
fn reject_unknown(object: &JsValue, allowed: &[&str], prefix: &str) -> Result<()> {
    let Some(obj) = object.dyn_ref::<js_sys::Object>() else {
        return Ok(());
    };
    if object.is_array() || object.is_function() {
        return Ok(());
    }
    for key in js_sys::Object::keys(obj).iter() {
        let key = key.as_string().unwrap_or_default();
        if !allowed.contains(&key.as_str()) {
            let field = format!("{prefix}{key}");
            return Err(Error::invalid(
                field,
                format!(
                    "is not a known field; expected one of: {}",
                    allowed.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

const OPTIMIZE_FIELDS: &[&str] = &[
    "prompt", "category", "model", "options", "taskId", "task_id", "metadata",
];
const FEEDBACK_FIELDS: &[&str] = &[
    "spanId",
    "span_id",
    "taskId",
    "task_id",
    "reward",
    "feedbackText",
    "feedback_text",
    "metadata",
];
const QUERY_FIELDS: &[&str] = &[
    "category", "spanId", "span_id", "taskId", "task_id", "limit", "offset",
];
const OPEN_FIELDS: &[&str] = &[
    "dbName",
    "db_name",
    "inMemory",
    "in_memory",
    "autoTrainEvery",
    "auto_train_every",
    "exploration",
    "seed",
    "halfLifeDays",
    "half_life_days",
    "maxPromptChars",
    "max_prompt_chars",
    "blockedTimeoutMs",
    "blocked_timeout_ms",
];

fn get_number(object: &JsValue, key: &str) -> Option<f64> {
    Reflect::get(object, &JsValue::from_str(key))
        .ok()
        .and_then(|v| v.as_f64())
}

fn object_or_empty(value: JsValue) -> JsValue {
    if value.is_undefined() || value.is_null() {
        js_sys::Object::new().into()
    } else {
        value
    }
}

fn promise<F>(future: F) -> Promise
where
    F: std::future::Future<Output = Result<JsValue>> + 'static,
{
    future_to_promise(async move { future.await.map_err(to_js_error) })
}

/// Options of `LightPrompt.open`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OpenOptions {
    #[serde(default, alias = "db_name")]
    db_name: Option<String>,
    #[serde(default, alias = "in_memory")]
    in_memory: Option<bool>,
    #[serde(default, alias = "auto_train_every")]
    auto_train_every: Option<u32>,
    #[serde(default)]
    exploration: Option<f64>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default, alias = "half_life_days")]
    half_life_days: Option<f64>,
    #[serde(default, alias = "max_prompt_chars")]
    max_prompt_chars: Option<usize>,
    #[serde(default, alias = "blocked_timeout_ms")]
    blocked_timeout_ms: Option<u32>,
}

/// Options every long call takes (`onProgress`, `signal`).
const PROGRESS_FIELDS: &[&str] = &["onProgress", "signal"];
/// Options of `importData`.
const IMPORT_FIELDS: &[&str] = &["replace", "onProgress", "signal"];

/// Checks a long call's options (`prefix` names them in errors, e.g. `options.`) and reads
/// its progress callback and signal.
fn call_options(options: &JsValue, allowed: &[&str], prefix: &str) -> Result<Control> {
    if !options.is_undefined() && !options.is_null() && !options.is_object() {
        return Err(Error::invalid(
            prefix.trim_end_matches('.'),
            "expected an object",
        ));
    }
    reject_unknown(options, allowed, prefix)?;
    Control::from_options(options, prefix)
}

/// The engine's view of a control: nothing to do when the caller asked for nothing.
fn as_progress(control: &Control) -> &dyn Progress {
    if control.is_idle() {
        &NoProgress
    } else {
        control
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RewardSignals {
    #[serde(alias = "quality_score")]
    quality_score: f64,
    #[serde(default)]
    rating: Option<f64>,
    #[serde(default)]
    satisfied: Option<bool>,
    #[serde(default, alias = "used_result")]
    used_result: Option<bool>,
}

/// The prompt tuner: optimize, rate, learn — persisted in IndexedDB.
#[wasm_bindgen]
pub struct LightPrompt {
    engine: Rc<Engine<AnyStore>>,
    /// The other tabs on the same database (IndexedDB only).
    sync: Option<Rc<tabs::TabSync>>,
}

#[wasm_bindgen]
impl LightPrompt {
    /// Opens a tuner. Uses IndexedDB (database `dbName`, default `"lightprompt"`) unless
    /// `inMemory` is set or IndexedDB is missing (Node, some private modes).
    #[wasm_bindgen(unchecked_return_type = "Promise<LightPrompt>")]
    pub fn open(
        #[wasm_bindgen(unchecked_param_type = "LightPromptOptions")] options: Option<JsValue>,
    ) -> Promise {
        promise(async move {
            let options = object_or_empty(options.unwrap_or(JsValue::UNDEFINED));
            reject_unknown(&options, OPEN_FIELDS, "")?;
            let o: OpenOptions = from_js(options, "", "options")?;
            let defaults = EngineConfig::default();
            let config = EngineConfig {
                exploration: o.exploration.unwrap_or(defaults.exploration),
                auto_train_every: o.auto_train_every.unwrap_or(defaults.auto_train_every),
                seed: o.seed,
                max_prompt_chars: o.max_prompt_chars.unwrap_or(defaults.max_prompt_chars),
                half_life_days: o.half_life_days.or(defaults.half_life_days),
            };
            config.validate()?;
            let name = o.db_name.unwrap_or_else(|| "lightprompt".to_string());
            if name.is_empty() || name.len() > 200 {
                return Err(Error::invalid("dbName", "must be 1 to 200 characters"));
            }
            let timeout = o
                .blocked_timeout_ms
                .unwrap_or(crate::store::idb::DEFAULT_BLOCKED_TIMEOUT_MS);
            let store = AnyStore::open(&name, o.in_memory.unwrap_or(false), timeout).await?;
            let shared = store.kind_name() == "indexeddb";
            let engine = Rc::new(Engine::open(store, config, crate::engine::system_clock()).await?);
            // Training runs under a lock shared by every tab; feedback leaves it to us.
            engine.set_external_training(true);
            let sync = if shared {
                tabs::TabSync::join(&name, &engine).map(Rc::new)
            } else {
                None
            };
            Ok(JsValue::from(LightPrompt { engine, sync }))
        })
    }

    /// Optimizes a prompt and records it as a span.
    #[wasm_bindgen(unchecked_return_type = "Promise<OptimizeResult>")]
    pub fn optimize(
        &self,
        #[wasm_bindgen(unchecked_param_type = "OptimizeRequest")] request: JsValue,
    ) -> Promise {
        let engine = self.engine.clone();
        promise(async move {
            expect_object(&request, "request")?;
            check_utf16(&request, "prompt", "prompt")?;
            reject_unknown(&request, OPTIMIZE_FIELDS, "")?;
            let req: OptimizeRequest = from_js(request, "", "request")?;
            to_js(&engine.optimize(&req).await?)
        })
    }

    /// Optimizes many prompts; their spans are written in one transaction, all or nothing.
    /// `onProgress(done, total)` counts requests; an aborted `signal` stores nothing.
    #[wasm_bindgen(js_name = optimizeBatch, unchecked_return_type = "Promise<OptimizeResult[]>")]
    pub fn optimize_batch(
        &self,
        #[wasm_bindgen(unchecked_param_type = "OptimizeRequest[]")] requests: JsValue,
        #[wasm_bindgen(unchecked_param_type = "ProgressOptions")] options: Option<JsValue>,
    ) -> Promise {
        let engine = self.engine.clone();
        promise(async move {
            let options = options.unwrap_or(JsValue::UNDEFINED);
            let control = call_options(&options, PROGRESS_FIELDS, "options.")?;
            let Some(array) = requests.dyn_ref::<js_sys::Array>() else {
                return Err(Error::invalid("requests", "must be an array"));
            };
            for (i, item) in array.iter().enumerate() {
                expect_object(&item, &format!("requests[{i}]"))?;
                check_utf16(&item, "prompt", &format!("requests[{i}].prompt"))?;
                reject_unknown(&item, OPTIMIZE_FIELDS, &format!("requests[{i}]."))?;
            }
            let reqs: Vec<OptimizeRequest> = from_js(requests, "requests", "requests")?;
            to_js(
                &engine
                    .optimize_batch_with(&reqs, as_progress(&control))
                    .await?,
            )
        })
    }

    /// Records feedback on a span; returns the reward and updates the policy at once.
    #[wasm_bindgen(unchecked_return_type = "Promise<FeedbackResult>")]
    pub fn feedback(
        &self,
        #[wasm_bindgen(unchecked_param_type = "FeedbackRequest")] request: JsValue,
    ) -> Promise {
        let engine = self.engine.clone();
        let sync = self.sync.clone();
        promise(async move {
            expect_object(&request, "request")?;
            check_utf16(&request, "feedbackText", "feedbackText")?;
            check_utf16(&request, "feedback_text", "feedbackText")?;
            reject_unknown(&request, FEEDBACK_FIELDS, "")?;
            let req: FeedbackRequest = from_js(request, "", "request")?;
            let result = engine.feedback(&req).await?;
            let due = result.training_due;
            let out = to_js(&result)?;
            if due {
                // The reward is stored whatever happens here: report a failed training, don't throw.
                let idle = Rc::new(Control::idle());
                match tabs::train_shared(engine.clone(), sync, idle, false).await {
                    Ok(report) => {
                        if let Some(v) = get_number(&report, "policyVersion") {
                            let _ = Reflect::set(&out, &"policyVersion".into(), &JsValue::from(v));
                        }
                        let _ = Reflect::set(&out, &"trained".into(), &report);
                    }
                    Err(e) => {
                        let _ = Reflect::set(
                            &out,
                            &"trainError".into(),
                            &JsValue::from_str(&e.to_string()),
                        );
                    }
                }
                let _ = Reflect::delete_property(
                    out.unchecked_ref::<js_sys::Object>(),
                    &"trainingDue".into(),
                );
            }
            Ok(out)
        })
    }

    /// Totals, averages, the policy version (the seed's `/training/status`).
    #[wasm_bindgen(js_name = trainingStatus, unchecked_return_type = "Promise<TrainingStatus>")]
    pub fn training_status(&self) -> Promise {
        let engine = self.engine.clone();
        promise(async move { to_js(&engine.training_status()?) })
    }

    /// Rebuilds the policy from every stored span and reward (the seed's manual trigger).
    /// `onProgress(done, total)` counts stages; an aborted `signal` keeps the old policy.
    #[wasm_bindgen(unchecked_return_type = "Promise<TrainReport>")]
    pub fn train(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ProgressOptions")] options: Option<JsValue>,
    ) -> Promise {
        let engine = self.engine.clone();
        let sync = self.sync.clone();
        promise(async move {
            let options = options.unwrap_or(JsValue::UNDEFINED);
            let control = call_options(&options, PROGRESS_FIELDS, "options.")?;
            tabs::train_shared(engine, sync, Rc::new(control), true).await
        })
    }

    /// Learned keywords and patterns for a category and model, with a confidence.
    #[wasm_bindgen(js_name = learnedOptimizations, unchecked_return_type = "Promise<LearnedOptimizations>")]
    pub fn learned_optimizations(&self, category: String, model: Option<String>) -> Promise {
        let engine = self.engine.clone();
        promise(async move { to_js(&engine.learned_optimizations(&category, model.as_deref())?) })
    }

    /// Off-policy estimates: the learned policy (as configured, and greedy) against the
    /// rule-only baseline. `onProgress(done, total)` counts stages.
    #[wasm_bindgen(unchecked_return_type = "Promise<Evaluation>")]
    pub fn evaluate(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ProgressOptions")] options: Option<JsValue>,
    ) -> Promise {
        let engine = self.engine.clone();
        promise(async move {
            let options = options.unwrap_or(JsValue::UNDEFINED);
            let control = call_options(&options, PROGRESS_FIELDS, "options.")?;
            to_js(&engine.evaluate_with(as_progress(&control)).await?)
        })
    }

    /// A page of spans, newest first.
    #[wasm_bindgen(unchecked_return_type = "Promise<Span[]>")]
    pub fn spans(
        &self,
        #[wasm_bindgen(unchecked_param_type = "QueryRequest")] query: Option<JsValue>,
    ) -> Promise {
        let engine = self.engine.clone();
        promise(async move {
            let query = object_or_empty(query.unwrap_or(JsValue::UNDEFINED));
            reject_unknown(&query, QUERY_FIELDS, "")?;
            let q: QueryRequest = from_js(query, "", "query")?;
            to_js(&engine.spans(&q).await?)
        })
    }

    /// A page of rewards, newest first.
    #[wasm_bindgen(unchecked_return_type = "Promise<Reward[]>")]
    pub fn rewards(
        &self,
        #[wasm_bindgen(unchecked_param_type = "QueryRequest")] query: Option<JsValue>,
    ) -> Promise {
        let engine = self.engine.clone();
        promise(async move {
            let query = object_or_empty(query.unwrap_or(JsValue::UNDEFINED));
            reject_unknown(&query, QUERY_FIELDS, "")?;
            let q: QueryRequest = from_js(query, "", "query")?;
            to_js(&engine.rewards(&q).await?)
        })
    }

    /// Everything as a versioned JSON document.
    #[wasm_bindgen(js_name = exportData, unchecked_return_type = "Promise<ExportDocument>")]
    pub fn export_data(&self) -> Promise {
        let engine = self.engine.clone();
        promise(async move {
            // Built a page of spans at a time: wasm holds one page, never the history.
            let start = engine.export_start().await?;
            let doc = export_head(&start)?;
            let spans = Array::new();
            engine
                .export_span_pages(|page| {
                    for span in &page {
                        spans.push(&to_js(span)?);
                    }
                    Ok(())
                })
                .await?;
            set(&doc, "spans", &spans)?;
            set(&doc, "rewards", &to_js(&start.rewards)?)?;
            set(&doc, "policies", &to_js(&start.policies)?)?;
            Ok(doc.into())
        })
    }

    /// The start of `exportStream()` (in the JS entry): the document's header fields, its
    /// rewards and policies, and its time.
    #[wasm_bindgen(js_name = _exportStart, skip_typescript)]
    pub fn export_stream_start(&self) -> Promise {
        let engine = self.engine.clone();
        promise(async move {
            let start = engine.export_start().await?;
            let head = export_head(&start)?;
            set(&head, "rewards", &to_js(&start.rewards)?)?;
            set(&head, "policies", &to_js(&start.policies)?)?;
            Ok(head.into())
        })
    }

    /// A page of `exportStream()`'s spans after `after` (`{ createdAt, spanId }` of the last
    /// one, or null): `{ spans, after }`, `after` null on the last page.
    #[wasm_bindgen(js_name = _exportSpans, skip_typescript)]
    pub fn export_stream_spans(&self, after: JsValue) -> Promise {
        let engine = self.engine.clone();
        promise(async move {
            let cursor = if after.is_null() || after.is_undefined() {
                None
            } else {
                Some(SpanCursor {
                    created_at: Reflect::get(&after, &"createdAt".into())
                        .unwrap_or_default()
                        .as_f64()
                        .ok_or_else(|| Error::invalid("after.createdAt", "expected a number"))?,
                    span_id: Reflect::get(&after, &"spanId".into())
                        .unwrap_or_default()
                        .as_string()
                        .ok_or_else(|| Error::invalid("after.spanId", "expected a string"))?,
                })
            };
            let page = engine.export_spans(cursor.as_ref(), EXPORT_PAGE).await?;
            let out = js_sys::Object::new();
            let next = match page.last() {
                Some(last) if page.len() == EXPORT_PAGE => {
                    let next = js_sys::Object::new();
                    set(&next, "createdAt", &last.created_at.into())?;
                    set(&next, "spanId", &last.span_id.as_str().into())?;
                    next.into()
                }
                _ => JsValue::NULL,
            };
            set(&out, "spans", &to_js(&page)?)?;
            set(&out, "after", &next)?;
            Ok(out.into())
        })
    }

    /// Imports a document: an object, its JSON text, or a `Blob`/`File` of the text, read
    /// a chunk of records at a time (wasm never holds the whole document). Everything is
    /// checked before the one transaction that writes it; `{ replace: true }` drops what was
    /// stored before. `onProgress(done, total)` counts records or bytes read; an aborted
    /// `signal` before the write stores nothing.
    #[wasm_bindgen(js_name = importData, unchecked_return_type = "Promise<ImportReport>")]
    pub fn import_data(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ExportDocument | string | Blob")] document: JsValue,
        #[wasm_bindgen(unchecked_param_type = "ImportOptions")] options: Option<JsValue>,
    ) -> Promise {
        let engine = self.engine.clone();
        promise(async move {
            let options = options.unwrap_or(JsValue::UNDEFINED);
            let control = call_options(&options, IMPORT_FIELDS, "options.")?;
            let replace = match Reflect::get(&options, &"replace".into()) {
                Ok(v) if v.is_undefined() || v.is_null() => false,
                Ok(v) => v
                    .as_bool()
                    .ok_or_else(|| Error::invalid("options.replace", "expected a boolean"))?,
                Err(_) => false,
            };
            let progress = as_progress(&control);
            let report = if let Some(text) = document.dyn_ref::<JsString>() {
                let mut source = import::TextSource::string(text.clone());
                engine.import_from(&mut source, replace, progress).await?
            } else if is_blob(&document) {
                let mut source = import::TextSource::blob(&document)?;
                engine.import_from(&mut source, replace, progress).await?
            } else if document.is_object() && !Array::is_array(&document) {
                let mut source = import::ObjectSource::new(document)?;
                engine.import_from(&mut source, replace, progress).await?
            } else {
                return Err(Error::invalid(
                    "document",
                    "must be an export document, its JSON text, or a Blob or File of it",
                ));
            };
            to_js(&report)
        })
    }
    /// Spans and rewards as OTLP traces with Agent Lightning's attributes: OTLP/JSON, or
    /// with `{ encoding: "protobuf" }` the protobuf bytes `/v1/traces` takes.
    #[wasm_bindgen(js_name = exportOtlp, unchecked_return_type = "Promise<OtlpDocument | Uint8Array>")]
    pub fn export_otlp(
        &self,
        #[wasm_bindgen(unchecked_param_type = "OtlpExportOptions")] options: Option<JsValue>,
    ) -> Promise {
        let engine = self.engine.clone();
        promise(async move {
            let options = object_or_empty(options.unwrap_or(JsValue::UNDEFINED));
            reject_unknown(&options, &["encoding"], "")?;
            let encoding = Reflect::get(&options, &"encoding".into()).unwrap_or(JsValue::UNDEFINED);
            // Encoded a page of tasks at a time, each page handed to JS at once: wasm holds
            // one page, never every span.
            match encoding.as_string().as_deref() {
                None if encoding.is_undefined() => otlp_json(&engine).await,
                Some("json") => otlp_json(&engine).await,
                Some("protobuf") => {
                    let mut pieces = Vec::new();
                    let mut length = 0;
                    engine
                        .trace_pages(|page| {
                            let bytes = crate::otlp::encode_tasks_protobuf(&page);
                            length += bytes.len() as u32;
                            pieces.push(js_sys::Uint8Array::from(bytes.as_slice()));
                            Ok(())
                        })
                        .await?;
                    let out = js_sys::Uint8Array::new_with_length(length);
                    let mut at = 0;
                    for piece in pieces {
                        out.set(&piece, at);
                        at += piece.length();
                    }
                    Ok(out.into())
                }
                _ => Err(Error::invalid(
                    "encoding",
                    "must be \"json\" (the default) or \"protobuf\"",
                )),
            }
        })
    }

    /// Sends every task to an Agent Lightning store (`agl store`): one rollout per task,
    /// spans and rewards as OTLP protobuf; a later send adds only what is new.
    #[wasm_bindgen(js_name = sendToAgentLightning, unchecked_return_type = "Promise<AglSendResult>")]
    pub fn send_to_agent_lightning(
        &self,
        #[wasm_bindgen(unchecked_param_type = "AglSendOptions")] options: JsValue,
    ) -> Promise {
        agl::send(self.engine.clone(), options)
    }

    /// Sets the reward function used when feedback has no explicit `reward` (`null` restores
    /// the seed's formula). A throw or a non-finite result rejects the feedback.
    #[wasm_bindgen(js_name = setRewardFunction)]
    pub fn set_reward_function(
        &self,
        #[wasm_bindgen(unchecked_param_type = "((input: RewardInput) => number) | null")]
        f: JsValue,
    ) -> std::result::Result<(), JsValue> {
        if f.is_null() || f.is_undefined() {
            self.engine.set_reward_fn(None);
            return Ok(());
        }
        let Some(function) = f.dyn_ref::<Function>().cloned() else {
            return Err(to_js_error(Error::invalid(
                "rewardFunction",
                "must be a function or null",
            )));
        };
        let reward_fn: RewardFn = Rc::new(move |input| {
            let arg = to_js(input)?;
            let out = function.call1(&JsValue::NULL, &arg).map_err(|e| {
                let message = e
                    .dyn_ref::<js_sys::Error>()
                    .map(|e| String::from(e.message()))
                    .or_else(|| e.as_string())
                    .unwrap_or_else(|| "unknown error".to_string());
                Error::new(
                    ErrorCode::Callback,
                    format!("the reward function threw: {message}"),
                )
            })?;
            out.as_f64().ok_or_else(|| {
                Error::new(
                    ErrorCode::Callback,
                    "the reward function must return a number",
                )
            })
        });
        self.engine.set_reward_fn(Some(reward_fn));
        Ok(())
    }

    /// Removes every span, reward and policy; forgets what was learned.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn clear(&self) -> Promise {
        let engine = self.engine.clone();
        promise(async move {
            engine.clear().await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Closes the database; every later call rejects with code `Closed`.
    pub fn close(&self) {
        if let Some(s) = &self.sync {
            s.leave();
        }
        self.engine.close();
        self.engine.store().close();
    }

    /// `"indexeddb"` or `"memory"`.
    #[wasm_bindgen(getter, unchecked_return_type = "StorageKind")]
    pub fn storage(&self) -> String {
        self.engine.store().kind_name().to_string()
    }
}

/// The seed's reward formula, pure: `base = quality/100·2 − 1`; with a rating,
/// `0.4·base + 0.6·(rating/5·2 − 1)`; satisfied +0.2, used +0.1 (capped at 1); clamped to
/// [−1, 1]. Throws `NotInitialized` until a first `open()` or `init()` has loaded the wasm.
#[wasm_bindgen(js_name = calculateReward)]
pub fn calculate_reward_js(
    #[wasm_bindgen(unchecked_param_type = "RewardSignals")] input: JsValue,
) -> std::result::Result<f64, JsValue> {
    let s: RewardSignals = from_js(input, "", "input").map_err(to_js_error)?;
    crate::reward::validate_quality(s.quality_score, "qualityScore").map_err(to_js_error)?;
    if let Some(r) = s.rating {
        crate::reward::validate_rating(r, "rating").map_err(to_js_error)?;
    }
    Ok(calculate_reward(&FeedbackSignals {
        quality_score: s.quality_score,
        rating: s.rating,
        satisfied: s.satisfied,
        used_result: s.used_result,
    }))
}

/// Categories, their facets, and every model with its aliases and options: what a UI
/// needs to build pickers. Throws `NotInitialized` until a first `open()` or `init()`.
#[wasm_bindgen(js_name = supportedModels, unchecked_return_type = "Catalog")]
pub fn supported_models() -> std::result::Result<JsValue, JsValue> {
    to_js(&types::catalog()).map_err(to_js_error)
}

/// The library version. Throws `NotInitialized` until a first `open()` or `init()`.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
