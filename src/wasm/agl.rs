//! `sendToAgentLightning`: the HTTP half of a send to an Agent Lightning store, through the
//! global `fetch` (browsers, workers and Node 18+ alike). What to send and what the replies
//! mean is decided by the pure `crate::agl`; this file only makes the requests, in order:
//! health, the rollout listing, span listings where needed, rollout creation, `/v1/traces`,
//! then marking attempts and rollouts succeeded (last, so a send cut short is redone).

use super::store::AnyStore;
use super::{reject_unknown, to_js, to_js_error};
use crate::agl::{self, Outgoing, Remote, Step};
use crate::engine::Engine;
use crate::error::{Error, ErrorCode};
use crate::otlp::TaskTrace;
use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_name = fetch)]
    fn global_fetch(url: &str, init: &JsValue) -> std::result::Result<Promise, JsValue>;
}

#[wasm_bindgen(typescript_custom_section)]
const AGL_TYPES: &'static str = r#"
/** Options of `sendToAgentLightning`. */
export interface AglSendOptions {
  /** The store, e.g. "http://127.0.0.1:4747" (`agl store`; from a page add `--cors-origin`). */
  storeUrl: string;
  /** Aborts the send (rejects with code "Aborted"); what was sent stays and is not resent. */
  signal?: AbortSignal;
  /** Called as the send goes on. */
  onProgress?: (progress: AglProgress) => void;
}

export interface AglProgress {
  phase: "connecting" | "checking" | "creating" | "sending" | "finishing" | "done";
  /** Steps done and to do in this phase (spans and rewards while sending). */
  done: number;
  total: number;
}

/** What a send added to the store (a repeated send adds only what is new). */
export interface AglSendResult {
  /** Rollouts created (one per task new to the store). */
  rollouts: number;
  /** Optimization spans sent. */
  spans: number;
  /** Reward spans sent. */
  rewards: number;
  /** Tasks lightprompt holds. */
  tasks: number;
  /** Tasks the store already had completely. */
  upToDate: number;
}
"#;

/// An error, and for a refused request its HTTP status and body (set on the JS error).
struct Fail(Error, Option<(u16, String)>);

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        Fail(e, None)
    }
}

impl Fail {
    fn into_js(self) -> JsValue {
        let err = to_js_error(self.0);
        if let Some((status, body)) = self.1 {
            let _ = Reflect::set(&err, &"status".into(), &JsValue::from(status));
            let _ = Reflect::set(&err, &"body".into(), &JsValue::from_str(&body));
        }
        err
    }
}

type R<T> = std::result::Result<T, Fail>;

enum Body {
    None,
    Json(Value),
    Protobuf(Vec<u8>),
}

/// One store, one send.
struct Client {
    base: String,
    signal: JsValue,
    progress: Option<Function>,
}

fn js_message(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| {
            let mut m = String::from(e.message());
            // Node's fetch hides the cause (ECONNREFUSED) one level down.
            if let Ok(cause) = Reflect::get(e, &"cause".into()) {
                if let Some(c) = cause.dyn_ref::<js_sys::Error>() {
                    m = format!("{m} ({})", String::from(c.message()));
                }
            }
            m
        })
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "unknown error".to_string())
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

impl Client {
    fn aborted(&self) -> bool {
        !self.signal.is_undefined()
            && Reflect::get(&self.signal, &"aborted".into())
                .ok()
                .and_then(|v| v.as_bool())
                .unwrap_or(false)
    }

    fn check_abort(&self) -> R<()> {
        if self.aborted() {
            Err(Error::new(
                ErrorCode::Aborted,
                "the send to Agent Lightning was aborted",
            )
            .into())
        } else {
            Ok(())
        }
    }

    fn progress(&self, phase: &str, done: usize, total: usize) {
        if let Some(f) = &self.progress {
            let p = Object::new();
            let _ = Reflect::set(&p, &"phase".into(), &JsValue::from_str(phase));
            let _ = Reflect::set(&p, &"done".into(), &JsValue::from(done as f64));
            let _ = Reflect::set(&p, &"total".into(), &JsValue::from(total as f64));
            // A progress callback that throws must not break the send.
            let _ = f.call1(&JsValue::NULL, &p);
        }
    }

    /// Makes a request; returns the status and the body text (or `Refused` when not 2xx).
    async fn request(&self, method: &str, path: &str, body: Body) -> R<(u16, String)> {
        self.check_abort()?;
        let url = format!("{}{path}", self.base);
        let init = Object::new();
        let headers = Object::new();
        let _ = Reflect::set(&init, &"method".into(), &JsValue::from_str(method));
        match body {
            Body::None => {}
            Body::Json(v) => {
                let _ = Reflect::set(&headers, &"content-type".into(), &"application/json".into());
                let _ = Reflect::set(&init, &"body".into(), &JsValue::from_str(&v.to_string()));
            }
            Body::Protobuf(bytes) => {
                let _ = Reflect::set(
                    &headers,
                    &"content-type".into(),
                    &"application/x-protobuf".into(),
                );
                let array = Uint8Array::from(bytes.as_slice());
                let _ = Reflect::set(&init, &"body".into(), &array);
            }
        }
        let _ = Reflect::set(&init, &"headers".into(), &headers);
        if !self.signal.is_undefined() {
            let _ = Reflect::set(&init, &"signal".into(), &self.signal);
        }
        let unreachable = |e: JsValue| -> Fail {
            if self.aborted() {
                return Error::new(
                    ErrorCode::Aborted,
                    "the send to Agent Lightning was aborted",
                )
                .into();
            }
            Error::new(
                ErrorCode::Unreachable,
                format!(
                    "could not reach the Agent Lightning store at {}: {}. Is `agl store` running \
                     there? From a web page the store must also allow the page's origin \
                     (`agl store --cors-origin ORIGIN`).",
                    self.base,
                    js_message(&e)
                ),
            )
            .with_field("storeUrl")
            .into()
        };
        let response = JsFuture::from(global_fetch(&url, &init).map_err(unreachable)?)
            .await
            .map_err(unreachable)?;
        let status = Reflect::get(&response, &"status".into())
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0) as u16;
        let text_fn: Function = Reflect::get(&response, &"text".into())
            .ok()
            .and_then(|f| f.dyn_into().ok())
            .ok_or_else(|| Error::internal("fetch returned something that is not a Response"))?;
        let text = match text_fn.call0(&response) {
            Ok(p) => match p.dyn_into::<Promise>() {
                Ok(p) => JsFuture::from(p)
                    .await
                    .map_err(unreachable)?
                    .as_string()
                    .unwrap_or_default(),
                Err(_) => String::new(),
            },
            Err(e) => return Err(unreachable(e)),
        };
        if !(200..300).contains(&status) {
            let body = truncate(&text, 2_000);
            return Err(Fail(
                Error::new(
                    ErrorCode::Refused,
                    format!(
                        "the Agent Lightning store refused {method} {path}: HTTP {status}: {}",
                        truncate(&text, 500)
                    ),
                ),
                Some((status, body)),
            ));
        }
        Ok((status, text))
    }

    async fn json(&self, method: &str, path: &str, body: Body) -> R<Value> {
        let (_, text) = self.request(method, path, body).await?;
        serde_json::from_str(&text).map_err(|e| {
            Error::new(
                ErrorCode::UnsupportedVersion,
                format!("the store's reply to {method} {path} is not JSON: {e}"),
            )
            .into()
        })
    }

    /// Checks that this is an Agent Lightning 0.3 store (0.2 has no `/v1/agl` API).
    async fn check_version(&self) -> R<()> {
        match self.json("GET", "/v1/agl/health", Body::None).await {
            Ok(v) if v.get("status").and_then(Value::as_str) == Some("ok") => Ok(()),
            Ok(v) => Err(Error::new(
                ErrorCode::UnsupportedVersion,
                format!(
                    "{} answers /v1/agl/health with {}, not an Agent Lightning 0.3 store",
                    self.base,
                    truncate(&v.to_string(), 200)
                ),
            )
            .into()),
            Err(Fail(e, Some((404, _)))) if e.code == ErrorCode::Refused => {
                let old = self.request("GET", "/health", Body::None).await.is_ok();
                Err(Error::new(
                    ErrorCode::UnsupportedVersion,
                    if old {
                        format!(
                            "{} is an Agent Lightning store older than 0.3 (it has no /v1/agl \
                             API); lightprompt sends to agentlightning 0.3",
                            self.base
                        )
                    } else {
                        format!(
                            "{} has no /v1/agl/health: not an Agent Lightning 0.3 store",
                            self.base
                        )
                    },
                )
                .into())
            }
            Err(e) => Err(e),
        }
    }

    async fn rollouts(&self) -> R<BTreeMap<String, Remote>> {
        let mut found = BTreeMap::new();
        let mut offset = 0;
        loop {
            let page = self
                .json(
                    "GET",
                    &format!(
                        "/v1/agl/rollouts?limit={}&offset={offset}",
                        agl::ROLLOUT_PAGE
                    ),
                    Body::None,
                )
                .await?;
            let n = agl::read_rollouts(&page, &mut found)?;
            if n < agl::ROLLOUT_PAGE {
                return Ok(found);
            }
            offset += n;
        }
    }

    async fn span_ids(&self, rollout_id: &str) -> R<HashSet<String>> {
        const PAGE: usize = 1_000;
        let mut ids = HashSet::new();
        let mut offset = 0;
        let id = String::from(js_sys::encode_uri_component(rollout_id));
        loop {
            let page = self
                .json(
                    "GET",
                    &format!("/v1/agl/spans?rollout_id={id}&limit={PAGE}&offset={offset}"),
                    Body::None,
                )
                .await?;
            let n = agl::read_span_ids(&page, &mut ids)?;
            if n < PAGE {
                return Ok(ids);
            }
            offset += n;
        }
    }

    async fn latest_attempt(&self, rollout_id: &str) -> R<String> {
        let id = String::from(js_sys::encode_uri_component(rollout_id));
        let reply = self
            .json(
                "GET",
                &format!("/v1/agl/rollouts/{id}/attempts/latest"),
                Body::None,
            )
            .await?;
        Ok(agl::read_attempt(&reply)?)
    }
}

/// The ids and metadata of a task's rollout once it exists.
struct Target {
    rollout_id: String,
    attempt_id: String,
    metadata: Value,
}

fn parse_options(options: &JsValue) -> R<Client> {
    if !options.is_object() {
        return Err(Error::invalid("options", "must be an object with `storeUrl`").into());
    }
    reject_unknown(
        options,
        &[
            "storeUrl",
            "store_url",
            "signal",
            "onProgress",
            "on_progress",
        ],
        "",
    )?;
    let get = |a: &str, b: &str| {
        let v = Reflect::get(options, &a.into()).unwrap_or(JsValue::UNDEFINED);
        if v.is_undefined() {
            Reflect::get(options, &b.into()).unwrap_or(JsValue::UNDEFINED)
        } else {
            v
        }
    };
    let url = get("storeUrl", "store_url")
        .as_string()
        .ok_or_else(|| Error::invalid("storeUrl", "is required: the store's address"))?;
    let base = agl::store_base(&url)?;
    let signal = get("signal", "signal");
    let signal = if signal.is_null() || signal.is_undefined() {
        JsValue::UNDEFINED
    } else if signal.is_object() && Reflect::has(&signal, &"aborted".into()).unwrap_or(false) {
        signal
    } else {
        return Err(Error::invalid("signal", "must be an AbortSignal").into());
    };
    let progress = get("onProgress", "on_progress");
    let progress = if progress.is_null() || progress.is_undefined() {
        None
    } else {
        Some(
            progress
                .dyn_into::<Function>()
                .map_err(|_| Error::invalid("onProgress", "must be a function"))?,
        )
    };
    Ok(Client {
        base,
        signal,
        progress,
    })
}

async fn run(engine: Rc<Engine<AnyStore>>, options: JsValue) -> R<JsValue> {
    let client = parse_options(&options)?;
    let traces: Vec<TaskTrace> = engine.traces().await?;
    client.progress("connecting", 0, 1);
    client.check_version().await?;
    let remote = client.rollouts().await?;
    client.progress("connecting", 1, 1);

    let found: Vec<Option<&Remote>> = traces.iter().map(|t| remote.get(&t.task_id)).collect();
    let steps: Vec<Step> = traces
        .iter()
        .zip(&found)
        .map(|(t, r)| agl::step(t, *r))
        .collect();
    let up_to_date = steps.iter().filter(|s| **s == Step::UpToDate).count();

    // What the store holds of the tasks whose record differs from ours.
    let checks = steps.iter().filter(|s| **s == Step::Check).count();
    let mut present: BTreeMap<usize, HashSet<String>> = BTreeMap::new();
    for (i, (step, r)) in steps.iter().zip(&found).enumerate() {
        if let (Step::Check, Some(r)) = (step, r) {
            client.progress("checking", present.len(), checks);
            present.insert(i, client.span_ids(&r.rollout_id).await?);
        }
    }

    let creates = steps.iter().filter(|s| **s == Step::Create).count();
    let mut created = 0usize;
    let mut targets: BTreeMap<usize, Target> = BTreeMap::new();
    for (i, ((t, step), r)) in traces.iter().zip(&steps).zip(&found).enumerate() {
        let target = match (step, r) {
            (Step::UpToDate, _) => continue,
            (Step::Create, _) | (_, None) => {
                client.progress("creating", created, creates);
                let reply = client
                    .json(
                        "POST",
                        "/v1/agl/rollouts",
                        Body::Json(agl::rollout_request(t)),
                    )
                    .await?;
                created += 1;
                let (rollout_id, attempt_id, metadata) = agl::read_created(&reply)?;
                Target {
                    rollout_id,
                    attempt_id,
                    metadata,
                }
            }
            (Step::Check | Step::Finish, Some(r)) => {
                let attempt_id = match &r.attempt_id {
                    Some(a) => a.clone(),
                    None => client.latest_attempt(&r.rollout_id).await?,
                };
                Target {
                    rollout_id: r.rollout_id.clone(),
                    attempt_id,
                    metadata: r.metadata.clone(),
                }
            }
        };
        targets.insert(i, target);
    }
    if creates > 0 {
        client.progress("creating", created, creates);
    }

    let empty = HashSet::new();
    let outgoing: Vec<Outgoing> = targets
        .iter()
        .filter(|(i, _)| steps.get(**i) != Some(&Step::Finish))
        .filter_map(|(i, target)| {
            let task = traces.get(*i)?;
            Some(Outgoing {
                task,
                rollout_id: target.rollout_id.clone(),
                attempt_id: target.attempt_id.clone(),
                spans: agl::missing(task, present.get(i).unwrap_or(&empty)),
            })
        })
        .filter(|o| !o.spans.is_empty())
        .collect();
    let total: usize = outgoing.iter().map(|o| o.spans.len()).sum();
    let (mut spans, mut rewards) = (0u64, 0u64);
    let mut done = 0usize;
    client.progress("sending", 0, total);
    for request in agl::requests(&outgoing, agl::SPANS_PER_REQUEST) {
        let bytes = crate::otlp::encode_protobuf(&request);
        client
            .request("POST", "/v1/traces", Body::Protobuf(bytes))
            .await?;
        for batch in &request {
            let (s, r) = agl::count(&batch.spans);
            spans += s;
            rewards += r;
            done += batch.spans.len();
        }
        client.progress("sending", done, total);
    }

    // Last: a send that stops before this is redone (and deduplicated) the next time.
    let finishing = targets.len();
    for (n, (i, target)) in targets.iter().enumerate() {
        let Some(task) = traces.get(*i) else { continue };
        client.progress("finishing", n, finishing);
        let r = String::from(js_sys::encode_uri_component(&target.rollout_id));
        let a = String::from(js_sys::encode_uri_component(&target.attempt_id));
        client
            .json(
                "POST",
                &format!("/v1/agl/rollouts/{r}/attempts/{a}"),
                Body::Json(json!({ "status": "succeeded" })),
            )
            .await?;
        client
            .json(
                "POST",
                &format!("/v1/agl/rollouts/{r}"),
                Body::Json(json!({
                    "status": "succeeded",
                    "metadata": agl::finished_metadata(task, &target.attempt_id, &target.metadata),
                })),
            )
            .await?;
    }
    client.progress("done", 1, 1);
    Ok(to_js(&json!({
        "rollouts": created,
        "spans": spans,
        "rewards": rewards,
        "tasks": traces.len(),
        "upToDate": up_to_date,
    }))?)
}

/// Sends every task's spans and rewards to the store at `options.storeUrl`.
pub fn send(engine: Rc<Engine<AnyStore>>, options: JsValue) -> Promise {
    future_to_promise(async move { run(engine, options).await.map_err(Fail::into_js) })
}
