//! Spans and rewards as OTLP/JSON traces with Agent Lightning's attribute conventions, so
//! the data can move to Agent Lightning or any OpenTelemetry backend.
//!
//! One `resourceSpans` entry per task (an Agent Lightning rollout), carrying
//! `agentlightning.rollout_id`. Each optimization is a span; each reward is a child span named
//! `agentlightning.reward` with `agentlightning.reward.0.name` / `.value` attributes.

use crate::span::{Reward, Span};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// OTLP span kind INTERNAL.
const KIND_INTERNAL: u32 = 1;

fn attr(key: &str, value: Value) -> Value {
    let v = match value {
        Value::String(s) => json!({ "stringValue": s }),
        Value::Bool(b) => json!({ "boolValue": b }),
        Value::Number(n) if n.is_i64() || n.is_u64() => json!({ "intValue": n.to_string() }),
        Value::Number(n) => json!({ "doubleValue": n }),
        Value::Null => json!({ "stringValue": "" }),
        other => json!({ "stringValue": other.to_string() }),
    };
    json!({ "key": key, "value": v })
}

/// Milliseconds since the epoch as OTLP's decimal nanoseconds.
fn nanos(ms: f64) -> String {
    let ms = if ms.is_finite() && ms > 0.0 { ms } else { 0.0 };
    format!("{}", (ms * 1_000_000.0).round() as u128)
}

/// Builds the OTLP/JSON document (`{ resourceSpans: [...] }`).
pub fn export_otlp(spans: &[Span], rewards: &[Reward]) -> Value {
    let mut by_task: BTreeMap<&str, (Vec<&Span>, Vec<&Reward>)> = BTreeMap::new();
    for s in spans {
        by_task.entry(s.task_id.as_str()).or_default().0.push(s);
    }
    for r in rewards {
        by_task.entry(r.task_id.as_str()).or_default().1.push(r);
    }
    let version = env!("CARGO_PKG_VERSION");
    let resource_spans: Vec<Value> = by_task
        .into_iter()
        .map(|(task, (spans, rewards))| {
            let mut out = Vec::new();
            let mut sequence = 0u64;
            for s in &spans {
                sequence += 1;
                let mut attributes = vec![
                    attr("agentlightning.rollout_id", json!(task)),
                    attr("agentlightning.attempt_id", json!(s.span_id)),
                    attr("agentlightning.span_sequence_id", json!(sequence)),
                    attr("lightprompt.category", json!(s.category.as_str())),
                    attr("gen_ai.request.model", json!(s.model)),
                    attr("lightprompt.original_prompt", json!(s.original_prompt)),
                    attr("lightprompt.optimized_prompt", json!(s.optimized_prompt)),
                    attr(
                        "lightprompt.original_quality_score",
                        json!(s.original_quality_score),
                    ),
                    attr("lightprompt.quality_score", json!(s.quality_score)),
                    attr("lightprompt.policy_version", json!(s.policy_version)),
                    attr(
                        "lightprompt.edits",
                        json!(s
                            .edits
                            .iter()
                            .map(|e| e.id.as_str())
                            .collect::<Vec<_>>()
                            .join(",")),
                    ),
                ];
                if let Some(n) = &s.negative_prompt {
                    attributes.push(attr("lightprompt.negative_prompt", json!(n)));
                }
                for (i, e) in s.edits.iter().enumerate() {
                    attributes.push(attr(&format!("lightprompt.edit.{i}.id"), json!(e.id)));
                    attributes.push(attr(
                        &format!("lightprompt.edit.{i}.propensity"),
                        json!(e.propensity),
                    ));
                }
                out.push(json!({
                    "traceId": task,
                    "spanId": s.span_id,
                    "name": s.name,
                    "kind": KIND_INTERNAL,
                    "startTimeUnixNano": nanos(s.created_at - s.duration_ms),
                    "endTimeUnixNano": nanos(s.created_at),
                    "attributes": attributes,
                    "status": { "code": 1 },
                }));
            }
            for r in &rewards {
                sequence += 1;
                let mut attributes = vec![
                    attr("agentlightning.rollout_id", json!(task)),
                    attr("agentlightning.attempt_id", json!(r.span_id)),
                    attr("agentlightning.span_sequence_id", json!(sequence)),
                    attr("agentlightning.reward.0.name", json!("user_feedback")),
                    attr("agentlightning.reward.0.value", json!(r.value)),
                    attr(
                        "lightprompt.reward.source",
                        serde_json::to_value(r.source).unwrap_or(Value::Null),
                    ),
                    attr("lightprompt.quality_score", json!(r.quality_score)),
                ];
                if let Some(v) = r.rating {
                    attributes.push(attr("lightprompt.rating", json!(v)));
                }
                if let Some(v) = r.satisfied {
                    attributes.push(attr("lightprompt.satisfied", json!(v)));
                }
                if let Some(v) = r.used_result {
                    attributes.push(attr("lightprompt.used_result", json!(v)));
                }
                if let Some(v) = &r.feedback_text {
                    attributes.push(attr("lightprompt.feedback_text", json!(v)));
                }
                out.push(json!({
                    "traceId": task,
                    "spanId": r.reward_id,
                    "parentSpanId": r.span_id,
                    "name": "agentlightning.reward",
                    "kind": KIND_INTERNAL,
                    "startTimeUnixNano": nanos(r.created_at),
                    "endTimeUnixNano": nanos(r.created_at),
                    "attributes": attributes,
                    "status": { "code": 1 },
                }));
            }
            json!({
                "resource": { "attributes": [
                    attr("service.name", json!("lightprompt")),
                    attr("agentlightning.rollout_id", json!(task)),
                ] },
                "scopeSpans": [{
                    "scope": { "name": "lightprompt", "version": version },
                    "spans": out,
                }],
            })
        })
        .collect();
    json!({ "resourceSpans": resource_spans })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::Category;
    use crate::span::RewardSource;

    #[test]
    fn rewards_become_agent_lightning_reward_spans() {
        let span: Span = serde_json::from_value(json!({
            "spanId": "00000000000000a1", "taskId": "000000000000000000000000000000b2",
            "name": "prompt_optimization_image", "category": "image", "model": "sdxl",
            "originalPrompt": "a fox", "optimizedPrompt": "a fox, golden hour",
            "originalQualityScore": 20.0, "qualityScore": 40.0, "edits": [],
            "policyVersion": 2, "createdAt": 1000.5, "durationMs": 0.5
        }))
        .unwrap();
        let reward = Reward {
            reward_id: "00000000000000c3".into(),
            span_id: span.span_id.clone(),
            task_id: span.task_id.clone(),
            category: Category::Image,
            model: "sdxl".into(),
            value: 0.88,
            source: RewardSource::Computed,
            quality_score: 40.0,
            rating: Some(5.0),
            satisfied: None,
            used_result: Some(true),
            feedback_text: None,
            metadata: Default::default(),
            created_at: 2000.0,
        };
        let doc = export_otlp(&[span], &[reward]);
        let spans = &doc["resourceSpans"][0]["scopeSpans"][0]["spans"];
        assert_eq!(spans.as_array().unwrap().len(), 2);
        assert_eq!(spans[0]["startTimeUnixNano"], "1000000000");
        assert_eq!(spans[1]["name"], "agentlightning.reward");
        assert_eq!(spans[1]["parentSpanId"], "00000000000000a1");
        let attrs = spans[1]["attributes"].as_array().unwrap();
        let value = attrs
            .iter()
            .find(|a| a["key"] == "agentlightning.reward.0.value")
            .unwrap();
        assert_eq!(value["value"]["doubleValue"], 0.88);
        let rollout = attrs
            .iter()
            .find(|a| a["key"] == "agentlightning.rollout_id")
            .unwrap();
        assert_eq!(
            rollout["value"]["stringValue"],
            "000000000000000000000000000000b2"
        );
    }
}
