//! Spans and rewards as OpenTelemetry traces in Agent Lightning's conventions, as OTLP/JSON
//! or OTLP/protobuf (what an Agent Lightning store's `/v1/traces` accepts).
//!
//! One resource per task (an Agent Lightning rollout). Each optimization is a span named
//! `lightprompt.optimize.{category}` carrying `gen_ai.prompt` (the original prompt) and
//! `gen_ai.completion` (the optimized one), so Agent Lightning's triplet adapter sees one
//! call per optimization. Each reward is a child span named `agentlightning.annotation` with
//! the reward as dimension `primary` (`agentlightning.reward.0.name` / `.value`), as Agent
//! Lightning 0.3 writes and reads them.
//!
//! Sequence numbers are the ones stored with each record (old records get theirs from their
//! time), so the last reward by sequence is the last one given. Times are integer
//! nanoseconds, laid out per task in sequence order so that no span starts before the
//! previous one ended: Agent Lightning rebuilds a tree from times and would otherwise nest
//! spans that merely share a millisecond. An optimization keeps its own times (moved later
//! only to avoid an overlap); its rewards are instants in the millisecond after it, the
//! latest rating earliest, because Agent Lightning's triplet adapter credits each call with
//! the first reward that follows it — so each optimization's triplet carries its latest
//! rating even when it was given after later optimizations of the task. When a reward was
//! given is its `lightprompt.created_at_unix_nano`. The layout of a record depends only on
//! the records before it, so a later export lays out the records already sent the same way.

use crate::span::{micros, Reward, Span};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// OTLP span kind INTERNAL.
const KIND_INTERNAL: u64 = 1;
/// OTLP status code OK.
const STATUS_OK: u64 = 1;
/// The smallest step between two spans of a task. Agent Lightning keeps times as float
/// seconds (about 0.24 µs resolution today), so a nanosecond apart would read as equal.
const STEP_NS: u64 = 1_000;
/// Room after each optimization for the instants of its rewards: up to 999 ratings of one
/// span get distinct times; the next optimization of the task starts after it.
const REWARD_WINDOW_NS: u64 = 1_000_000;
/// The name Agent Lightning 0.3 gives reward spans (its `emit_reward`).
pub const REWARD_SPAN_NAME: &str = "agentlightning.annotation";
/// The prefix of optimization span names (`TracerTraceToTriplet(llm_call_match=...)`).
pub const OPTIMIZE_SPAN_PREFIX: &str = "lightprompt.optimize";

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// A string.
    Str(String),
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// A float.
    Double(f64),
}

/// Whether a trace span is an optimization or a reward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// A lightprompt span (an optimization).
    Optimization,
    /// A reward.
    Reward,
}

/// One span as exported.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSpan {
    /// 16 hex digits: the span id, or the reward id for a reward.
    pub span_id: String,
    /// For a reward, the span it rates.
    pub parent_span_id: Option<String>,
    /// The span name.
    pub name: String,
    /// Optimization or reward.
    pub kind: SpanKind,
    /// The sequence number (`agentlightning.span_sequence_id`).
    pub sequence: u64,
    /// Start, nanoseconds since the Unix epoch.
    pub start_ns: u64,
    /// End, nanoseconds since the Unix epoch.
    pub end_ns: u64,
    /// Attributes, in order.
    pub attributes: Vec<(String, AttrValue)>,
}

/// The spans of one task, in sequence order.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskTrace {
    /// 32 hex digits (the trace id).
    pub task_id: String,
    /// Category of the task's first span (or reward, when its spans are missing).
    pub category: String,
    /// Model of the task's first span.
    pub model: String,
    /// Spans and rewards, by sequence.
    pub spans: Vec<TraceSpan>,
}

/// Where a task goes: the rollout and attempt ids written on its resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Destination<'a> {
    /// `agentlightning.rollout_id`.
    pub rollout_id: &'a str,
    /// `agentlightning.attempt_id`.
    pub attempt_id: &'a str,
}

/// A part of a task to encode: its resource ids and the spans to include.
#[derive(Debug, Clone)]
pub struct Batch<'a> {
    /// The task.
    pub task: &'a TaskTrace,
    /// The ids of its resource.
    pub destination: Destination<'a>,
    /// The spans, a subset of `task.spans` in order.
    pub spans: Vec<&'a TraceSpan>,
}

/// Nanoseconds since the Unix epoch of a millisecond time, exact for whole and
/// sub-millisecond values down to the microsecond.
pub fn nanos(ms: f64) -> u64 {
    micros(ms).saturating_mul(1_000)
}

fn s(v: impl Into<String>) -> AttrValue {
    AttrValue::Str(v.into())
}

fn int(v: u64) -> AttrValue {
    AttrValue::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

fn optimization_attributes(x: &Span, sequence: u64) -> Vec<(String, AttrValue)> {
    let mut a = vec![
        ("agentlightning.span_sequence_id".into(), int(sequence)),
        ("gen_ai.system".into(), s("lightprompt")),
        ("gen_ai.operation.name".into(), s("optimize")),
        ("gen_ai.request.model".into(), s(&x.model)),
        ("gen_ai.response.id".into(), s(&x.span_id)),
        ("gen_ai.prompt.0.role".into(), s("user")),
        ("gen_ai.prompt.0.content".into(), s(&x.original_prompt)),
        ("gen_ai.completion.0.role".into(), s("assistant")),
        ("gen_ai.completion.0.content".into(), s(&x.optimized_prompt)),
        ("lightprompt.task_id".into(), s(&x.task_id)),
        ("lightprompt.span_name".into(), s(&x.name)),
        ("lightprompt.category".into(), s(x.category.as_str())),
        (
            "lightprompt.original_quality_score".into(),
            AttrValue::Double(x.original_quality_score),
        ),
        (
            "lightprompt.quality_score".into(),
            AttrValue::Double(x.quality_score),
        ),
        (
            "lightprompt.policy_version".into(),
            int(u64::from(x.policy_version)),
        ),
        (
            "lightprompt.created_at_unix_nano".into(),
            int(nanos(x.created_at)),
        ),
        (
            "lightprompt.edits".into(),
            s(x.edits
                .iter()
                .map(|e| e.id.as_str())
                .collect::<Vec<_>>()
                .join(",")),
        ),
    ];
    if let Some(m) = &x.requested_model {
        a.push(("lightprompt.requested_model".into(), s(m)));
    }
    if let Some(n) = &x.negative_prompt {
        a.push(("lightprompt.negative_prompt".into(), s(n)));
    }
    for (i, e) in x.edits.iter().enumerate() {
        a.push((format!("lightprompt.edit.{i}.id"), s(&e.id)));
        a.push((
            format!("lightprompt.edit.{i}.propensity"),
            AttrValue::Double(e.propensity),
        ));
    }
    a
}

fn reward_attributes(r: &Reward, sequence: u64) -> Vec<(String, AttrValue)> {
    let source = match r.source {
        crate::span::RewardSource::Explicit => "explicit",
        crate::span::RewardSource::Computed => "computed",
        crate::span::RewardSource::Custom => "custom",
    };
    let mut a = vec![
        ("agentlightning.span_sequence_id".into(), int(sequence)),
        ("agentlightning.reward.0.name".into(), s("primary")),
        (
            "agentlightning.reward.0.value".into(),
            AttrValue::Double(r.value),
        ),
        ("lightprompt.task_id".into(), s(&r.task_id)),
        ("lightprompt.span_id".into(), s(&r.span_id)),
        ("lightprompt.reward.source".into(), s(source)),
        (
            "lightprompt.quality_score".into(),
            AttrValue::Double(r.quality_score),
        ),
        (
            "lightprompt.created_at_unix_nano".into(),
            int(nanos(r.created_at)),
        ),
    ];
    if let Some(v) = r.rating {
        a.push(("lightprompt.rating".into(), AttrValue::Double(v)));
    }
    if let Some(v) = r.satisfied {
        a.push(("lightprompt.satisfied".into(), AttrValue::Bool(v)));
    }
    if let Some(v) = r.used_result {
        a.push(("lightprompt.used_result".into(), AttrValue::Bool(v)));
    }
    if let Some(v) = &r.feedback_text {
        a.push(("lightprompt.feedback_text".into(), s(v)));
    }
    a
}

enum Record<'a> {
    Span(&'a Span),
    Reward(&'a Reward),
}

impl Record<'_> {
    fn created_at(&self) -> f64 {
        match self {
            Record::Span(x) => x.created_at,
            Record::Reward(r) => r.created_at,
        }
    }
    /// The stored sequence, or (old data) one from the time; see `span::next_sequence`.
    fn sort_key(&self) -> (u64, u8, &str) {
        match self {
            Record::Span(x) => (
                x.sequence.unwrap_or_else(|| micros(x.created_at)),
                0,
                x.span_id.as_str(),
            ),
            Record::Reward(r) => (
                r.sequence.unwrap_or_else(|| micros(r.created_at)),
                1,
                r.reward_id.as_str(),
            ),
        }
    }
}

/// Groups spans and rewards by task, numbers and lays them out. Tasks come in task-id order.
pub fn tasks(spans: &[Span], rewards: &[Reward]) -> Vec<TaskTrace> {
    let mut by_task: BTreeMap<&str, Vec<Record>> = BTreeMap::new();
    for x in spans {
        by_task
            .entry(x.task_id.as_str())
            .or_default()
            .push(Record::Span(x));
    }
    for r in rewards {
        by_task
            .entry(r.task_id.as_str())
            .or_default()
            .push(Record::Reward(r));
    }
    by_task
        .into_iter()
        .map(|(task_id, mut records)| {
            records.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
            let (category, model) = records
                .iter()
                .find_map(|r| match r {
                    Record::Span(x) => Some((x.category.as_str(), x.model.as_str())),
                    Record::Reward(_) => None,
                })
                .or_else(|| match records.first() {
                    Some(Record::Reward(r)) => Some((r.category.as_str(), r.model.as_str())),
                    _ => None,
                })
                .unwrap_or(("", ""));
            let mut out = Vec::with_capacity(records.len());
            let mut last_sequence = 0u64;
            // The earliest a span may start: after the previous one and its rewards' window.
            let mut cursor = 0u64;
            // Per optimization: its end and how many of its rewards are placed.
            let mut rated: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
            for record in &records {
                // Old records numbered by time may tie; keep them strictly increasing.
                let sequence = record.sort_key().0.max(last_sequence.saturating_add(1));
                last_sequence = sequence;
                match record {
                    Record::Span(x) => {
                        let honest_end = nanos(x.created_at);
                        let honest_start = nanos(x.created_at - x.duration_ms.max(0.0));
                        let start = honest_start.max(cursor);
                        let end = honest_end.max(start.saturating_add(STEP_NS));
                        cursor = end.saturating_add(REWARD_WINDOW_NS);
                        rated.insert(x.span_id.as_str(), (end, 0));
                        out.push(TraceSpan {
                            span_id: x.span_id.clone(),
                            parent_span_id: None,
                            name: format!("{OPTIMIZE_SPAN_PREFIX}.{}", x.category.as_str()),
                            kind: SpanKind::Optimization,
                            sequence,
                            start_ns: start,
                            end_ns: end,
                            attributes: optimization_attributes(x, sequence),
                        });
                    }
                    Record::Reward(r) => {
                        let at = match rated.get_mut(r.span_id.as_str()) {
                            // In the window after the span it rates, later ratings earlier:
                            // Agent Lightning credits a call with the first reward after it.
                            Some((end, placed)) => {
                                *placed += 1;
                                let back = (*placed * STEP_NS).min(REWARD_WINDOW_NS - STEP_NS);
                                end.saturating_add(REWARD_WINDOW_NS - back)
                            }
                            // Its span is not exported (cannot happen with validated data).
                            None => {
                                let at = nanos(record.created_at()).max(cursor);
                                cursor = at.saturating_add(STEP_NS);
                                at
                            }
                        };
                        out.push(TraceSpan {
                            span_id: r.reward_id.clone(),
                            parent_span_id: Some(r.span_id.clone()),
                            name: REWARD_SPAN_NAME.to_string(),
                            kind: SpanKind::Reward,
                            sequence,
                            start_ns: at,
                            end_ns: at,
                            attributes: reward_attributes(r, sequence),
                        });
                    }
                }
            }
            TaskTrace {
                task_id: task_id.to_string(),
                category: category.to_string(),
                model: model.to_string(),
                spans: out,
            }
        })
        .collect()
}

fn resource_attributes(task: &TaskTrace, d: &Destination) -> Vec<(String, AttrValue)> {
    vec![
        ("service.name".into(), s("lightprompt")),
        ("agentlightning.rollout_id".into(), s(d.rollout_id)),
        ("agentlightning.attempt_id".into(), s(d.attempt_id)),
        ("lightprompt.task_id".into(), s(&task.task_id)),
    ]
}

/// Every task, whole, with the task id standing for the rollout and attempt ids (a file
/// export has no store to issue them; a send uses the store's).
fn whole(tasks: &[TaskTrace]) -> Vec<Batch<'_>> {
    tasks
        .iter()
        .map(|t| Batch {
            task: t,
            destination: Destination {
                rollout_id: &t.task_id,
                attempt_id: &t.task_id,
            },
            spans: t.spans.iter().collect(),
        })
        .collect()
}

fn json_value(v: &AttrValue) -> Value {
    match v {
        AttrValue::Str(x) => json!({ "stringValue": x }),
        AttrValue::Bool(x) => json!({ "boolValue": x }),
        AttrValue::Int(x) => json!({ "intValue": x.to_string() }),
        // OTLP/JSON has no NaN; lightprompt never stores one, but stay valid regardless.
        AttrValue::Double(x) if x.is_finite() => json!({ "doubleValue": x }),
        AttrValue::Double(_) => json!({ "stringValue": "NaN" }),
    }
}

fn json_attributes(attributes: &[(String, AttrValue)]) -> Value {
    Value::Array(
        attributes
            .iter()
            .map(|(k, v)| json!({ "key": k, "value": json_value(v) }))
            .collect(),
    )
}

/// Encodes batches as an OTLP/JSON document (`{ resourceSpans: [...] }`).
pub fn encode_json(batches: &[Batch]) -> Value {
    let version = env!("CARGO_PKG_VERSION");
    let resource_spans: Vec<Value> = batches
        .iter()
        .map(|b| {
            let spans: Vec<Value> = b
                .spans
                .iter()
                .map(|x| {
                    let mut v = json!({
                        "traceId": b.task.task_id,
                        "spanId": x.span_id,
                        "name": x.name,
                        "kind": KIND_INTERNAL,
                        "startTimeUnixNano": x.start_ns.to_string(),
                        "endTimeUnixNano": x.end_ns.to_string(),
                        "attributes": json_attributes(&x.attributes),
                        "status": { "code": STATUS_OK },
                    });
                    if let (Some(p), Some(o)) = (&x.parent_span_id, v.as_object_mut()) {
                        o.insert("parentSpanId".into(), json!(p));
                    }
                    v
                })
                .collect();
            json!({
                "resource": { "attributes": json_attributes(&resource_attributes(b.task, &b.destination)) },
                "scopeSpans": [{
                    "scope": { "name": "lightprompt", "version": version },
                    "spans": spans,
                }],
            })
        })
        .collect();
    json!({ "resourceSpans": resource_spans })
}

/// A minimal protobuf writer: just the wire types OTLP traces use.
mod pb {
    pub fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    fn key(out: &mut Vec<u8>, field: u32, wire: u8) {
        varint(out, (u64::from(field) << 3) | u64::from(wire));
    }
    pub fn uint(out: &mut Vec<u8>, field: u32, v: u64) {
        key(out, field, 0);
        varint(out, v);
    }
    pub fn fixed64(out: &mut Vec<u8>, field: u32, v: u64) {
        key(out, field, 1);
        out.extend_from_slice(&v.to_le_bytes());
    }
    pub fn double(out: &mut Vec<u8>, field: u32, v: f64) {
        key(out, field, 1);
        out.extend_from_slice(&v.to_le_bytes());
    }
    pub fn bytes(out: &mut Vec<u8>, field: u32, v: &[u8]) {
        key(out, field, 2);
        varint(out, v.len() as u64);
        out.extend_from_slice(v);
    }
    /// A nested message, written by `f` into a buffer first (its length comes before it).
    pub fn message(out: &mut Vec<u8>, field: u32, f: impl FnOnce(&mut Vec<u8>)) {
        let mut inner = Vec::new();
        f(&mut inner);
        bytes(out, field, &inner);
    }
}

/// Hex digits to bytes; lightprompt's ids are validated hex, anything else reads as 0.
fn hex_bytes(hex: &str) -> Vec<u8> {
    let digit = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
    hex.as_bytes()
        .chunks(2)
        .map(|p| (digit(p[0]) << 4) | p.get(1).map_or(0, |&c| digit(c)))
        .collect()
}

fn pb_attributes(out: &mut Vec<u8>, field: u32, attributes: &[(String, AttrValue)]) {
    // KeyValue { key = 1; AnyValue value = 2 }; AnyValue { string 1, bool 2, int64 3, double 4 }
    for (k, v) in attributes {
        pb::message(out, field, |kv| {
            pb::bytes(kv, 1, k.as_bytes());
            pb::message(kv, 2, |any| match v {
                AttrValue::Str(x) => pb::bytes(any, 1, x.as_bytes()),
                AttrValue::Bool(x) => pb::uint(any, 2, u64::from(*x)),
                // int64 is written as its two's-complement u64 (negative values use 10 bytes).
                AttrValue::Int(x) => pb::uint(any, 3, *x as u64),
                AttrValue::Double(x) => pb::double(any, 4, *x),
            });
        });
    }
}

/// Encodes batches as an OTLP `ExportTraceServiceRequest` in protobuf.
pub fn encode_protobuf(batches: &[Batch]) -> Vec<u8> {
    let version = env!("CARGO_PKG_VERSION");
    let mut out = Vec::new();
    for b in batches {
        // ExportTraceServiceRequest.resource_spans = 1
        pb::message(&mut out, 1, |rs| {
            // ResourceSpans.resource = 1 { attributes = 1 }
            pb::message(rs, 1, |res| {
                pb_attributes(res, 1, &resource_attributes(b.task, &b.destination))
            });
            // ResourceSpans.scope_spans = 2 { scope = 1 { name 1, version 2 }, spans = 2 }
            pb::message(rs, 2, |ss| {
                pb::message(ss, 1, |scope| {
                    pb::bytes(scope, 1, b"lightprompt");
                    pb::bytes(scope, 2, version.as_bytes());
                });
                let trace_id = hex_bytes(&b.task.task_id);
                for x in &b.spans {
                    pb::message(ss, 2, |sp| {
                        pb::bytes(sp, 1, &trace_id);
                        pb::bytes(sp, 2, &hex_bytes(&x.span_id));
                        if let Some(p) = &x.parent_span_id {
                            pb::bytes(sp, 4, &hex_bytes(p));
                        }
                        pb::bytes(sp, 5, x.name.as_bytes());
                        pb::uint(sp, 6, KIND_INTERNAL);
                        pb::fixed64(sp, 7, x.start_ns);
                        pb::fixed64(sp, 8, x.end_ns);
                        pb_attributes(sp, 9, &x.attributes);
                        // Span.status = 15 { code = 3 }
                        pb::message(sp, 15, |st| pb::uint(st, 3, STATUS_OK));
                    });
                }
            });
        });
    }
    out
}

/// Builds the OTLP/JSON document (`{ resourceSpans: [...] }`) of everything.
pub fn export_otlp(spans: &[Span], rewards: &[Reward]) -> Value {
    encode_tasks_json(&tasks(spans, rewards))
}

/// The same traces as [`export_otlp`], as OTLP protobuf bytes.
pub fn export_otlp_protobuf(spans: &[Span], rewards: &[Reward]) -> Vec<u8> {
    encode_tasks_protobuf(&tasks(spans, rewards))
}

/// The OTLP/JSON document of `tasks`, each whole. The `resourceSpans` of consecutive
/// pages of tasks, joined, are the document of them all.
pub fn encode_tasks_json(tasks: &[TaskTrace]) -> Value {
    encode_json(&whole(tasks))
}

/// The OTLP protobuf bytes of `tasks`, each whole. The bytes of consecutive pages of
/// tasks, joined, are the message of them all (a repeated field concatenates).
pub fn encode_tasks_protobuf(tasks: &[TaskTrace]) -> Vec<u8> {
    encode_protobuf(&whole(tasks))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::Category;
    use crate::span::RewardSource;

    fn span(id: &str, created_at: f64, sequence: Option<u64>) -> Span {
        serde_json::from_value(json!({
            "spanId": id, "taskId": "000000000000000000000000000000b2",
            "name": "prompt_optimization_image", "category": "image", "model": "sdxl",
            "originalPrompt": "a fox", "optimizedPrompt": "a fox, golden hour",
            "originalQualityScore": 20.0, "qualityScore": 40.0, "edits": [],
            "policyVersion": 2, "createdAt": created_at, "durationMs": 0.5,
            "sequence": sequence
        }))
        .unwrap()
    }

    fn reward(id: &str, span: &Span, value: f64, created_at: f64, seq: Option<u64>) -> Reward {
        Reward {
            reward_id: id.into(),
            span_id: span.span_id.clone(),
            task_id: span.task_id.clone(),
            category: Category::Image,
            model: "sdxl".into(),
            value,
            source: RewardSource::Computed,
            quality_score: 40.0,
            rating: Some(5.0),
            satisfied: None,
            used_result: Some(true),
            feedback_text: None,
            metadata: Default::default(),
            created_at,
            sequence: seq,
        }
    }

    fn attr<'a>(x: &'a Value, key: &str) -> &'a Value {
        &x["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == key)
            .unwrap()["value"]
    }

    #[test]
    fn rewards_become_agent_lightning_annotation_spans() {
        let s = span("00000000000000a1", 1000.5, None);
        let r = reward("00000000000000c3", &s, 0.88, 2000.0, None);
        let doc = export_otlp(&[s], &[r]);
        let rs = &doc["resourceSpans"][0];
        let spans = &rs["scopeSpans"][0]["spans"];
        assert_eq!(spans.as_array().unwrap().len(), 2);
        assert_eq!(spans[0]["name"], "lightprompt.optimize.image");
        assert_eq!(spans[0]["startTimeUnixNano"], "1000000000");
        assert_eq!(spans[0]["endTimeUnixNano"], "1000500000");
        assert_eq!(
            attr(&spans[0], "gen_ai.prompt.0.content")["stringValue"],
            "a fox"
        );
        assert_eq!(
            attr(&spans[0], "gen_ai.completion.0.content")["stringValue"],
            "a fox, golden hour"
        );
        assert_eq!(spans[1]["name"], REWARD_SPAN_NAME);
        assert_eq!(spans[1]["parentSpanId"], "00000000000000a1");
        assert_eq!(
            attr(&spans[1], "agentlightning.reward.0.value")["doubleValue"],
            0.88
        );
        assert_eq!(
            attr(&spans[1], "agentlightning.reward.0.name")["stringValue"],
            "primary"
        );
        assert_eq!(
            attr(&rs["resource"], "agentlightning.rollout_id")["stringValue"],
            "000000000000000000000000000000b2"
        );
        // Old data: sequence numbers from the time, increasing.
        let a = attr(&spans[0], "agentlightning.span_sequence_id")["intValue"].clone();
        let b = attr(&spans[1], "agentlightning.span_sequence_id")["intValue"].clone();
        assert_eq!(a, "1000500");
        assert_eq!(b, "2000000");
    }

    #[test]
    fn stored_sequences_order_rewards_given_in_one_millisecond() {
        let s = span("00000000000000a1", 1000.0, Some(1_000_000));
        // Same millisecond; the id order is the opposite of the order given.
        let r1 = reward("00000000000000ff", &s, 0.2248, 1005.0, Some(1_005_000));
        let r2 = reward("0000000000000001", &s, 0.2, 1005.0, Some(1_005_001));
        let t = tasks(&[s], &[r2.clone(), r1.clone()]);
        let ids: Vec<&str> = t[0].spans.iter().map(|x| x.span_id.as_str()).collect();
        assert_eq!(
            ids,
            ["00000000000000a1", "00000000000000ff", "0000000000000001"]
        );
        assert_eq!(t[0].spans[2].sequence, 1_005_001);
        // Both instants are distinct and after the span, the later rating first.
        assert!(t[0].spans[2].start_ns > t[0].spans[0].end_ns);
        assert!(t[0].spans[1].start_ns > t[0].spans[2].end_ns);
    }

    #[test]
    fn spans_of_one_task_never_overlap() {
        // Two optimizations in the same millisecond, each rated in it too.
        let a = span("00000000000000a1", 5000.0, Some(1));
        let b = span("00000000000000a2", 5000.0, Some(3));
        let ra = reward("00000000000000c1", &a, 0.5, 5000.0, Some(2));
        let rb = reward("00000000000000c2", &b, -0.5, 5000.0, Some(4));
        let t = tasks(&[a, b], &[ra, rb]);
        let spans = &t[0].spans;
        for w in spans.windows(2) {
            assert!(w[1].start_ns > w[0].end_ns, "{w:?}");
            assert!(w[0].sequence < w[1].sequence);
        }
        for x in spans {
            assert!(x.end_ns >= x.start_ns);
        }
    }

    #[test]
    fn protobuf_wire_format() {
        let mut out = Vec::new();
        pb::varint(&mut out, 300);
        assert_eq!(out, [0xac, 0x02]);
        let mut out = Vec::new();
        pb::fixed64(&mut out, 7, 1);
        assert_eq!(out, [0x39, 1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(hex_bytes("00ff10"), [0x00, 0xff, 0x10]);
        let s = span("00000000000000a1", 1000.5, Some(7));
        let bytes = export_otlp_protobuf(std::slice::from_ref(&s), &[]);
        // resource_spans (field 1, length-delimited) comes first.
        assert_eq!(bytes[0], 0x0a);
        let window = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        assert!(window(b"lightprompt.optimize.image"));
        assert!(window(&[0xa1]));
        assert!(window(&1_000_000_000u64.to_le_bytes()));
    }

    #[test]
    fn nanos_are_exact_integers() {
        assert_eq!(nanos(1_764_633_600_123.0), 1_764_633_600_123_000_000);
        assert_eq!(nanos(0.001), 1_000);
        assert_eq!(nanos(-1.0), 0);
    }
}
