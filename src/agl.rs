//! Sending to an Agent Lightning store, the pure part: what to create, what is already
//! there, what to send and what to remember. The HTTP calls are the browser layer's
//! (`wasm/agl.rs`); everything they send or read is built or parsed here.
//!
//! One rollout per lightprompt task, created through the store's API (the store issues
//! rollout and attempt ids), with one attempt: Agent Lightning's attempts are retries, so
//! every optimization of a task goes into that one attempt. The rollout's `metadata`
//! remembers the task (`lightprompt.taskId`), its attempt (`lightprompt.attemptId`) and what
//! was sent (`lightprompt.sent`), so a
//! later send finds the rollout again and skips tasks with nothing new. A task whose record
//! differs is compared span by span with what the store holds, which makes a send that
//! stopped part-way safe to repeat: nothing is sent twice.

use crate::error::{Error, ErrorCode, Result};
use crate::otlp::{Batch, Destination, SpanKind, TaskTrace, TraceSpan};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};

/// The key of lightprompt's entry in a rollout's metadata.
pub const META_KEY: &str = "lightprompt";
/// Rollouts read per page when looking for lightprompt's.
pub const ROLLOUT_PAGE: usize = 200;
/// Most spans in one `/v1/traces` request.
pub const SPANS_PER_REQUEST: usize = 500;

/// What a rollout's metadata says was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sent {
    /// Spans and rewards of the task in the store.
    pub items: u64,
    /// The highest sequence number among them.
    pub last_sequence: u64,
}

/// A lightprompt rollout found in the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Remote {
    /// The store's rollout id.
    pub rollout_id: String,
    /// The store's attempt id (the rollout's latest attempt), if the listing had it.
    pub attempt_id: Option<String>,
    /// The rollout's status (`preparing`, `running`, `succeeded`, ...).
    pub status: String,
    /// The rollout's whole metadata, kept when lightprompt's entry is updated.
    pub metadata: Value,
    /// What was sent, per lightprompt's entry.
    pub sent: Option<Sent>,
}

/// What a send does with one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The store has it all and the rollout succeeded.
    UpToDate,
    /// Everything was sent, but the rollout is not marked succeeded.
    Finish,
    /// Compare with the spans the store holds, send what is missing, then finish.
    Check,
    /// No rollout yet: create one, send everything, finish.
    Create,
}

fn bad_reply(what: &str, detail: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::UnsupportedVersion,
        format!("the store's reply to {what} is not what Agent Lightning 0.3 sends: {detail}"),
    )
}

/// Reads one page of `GET /v1/agl/rollouts`: lightprompt's rollouts by task id (other
/// rollouts are skipped) and the number of items on the page (the listing ends when a page
/// is short). The first rollout of a task wins, should a lost reply have made two.
pub fn read_rollouts(page: &Value, found: &mut BTreeMap<String, Remote>) -> Result<usize> {
    let items = page
        .get("items")
        .and_then(Value::as_array)
        .ok_or_else(|| bad_reply("GET /v1/agl/rollouts", "no `items` list"))?;
    for item in items {
        let Some(task_id) = item
            .pointer(&format!("/metadata/{META_KEY}/taskId"))
            .and_then(Value::as_str)
        else {
            continue;
        };
        let rollout_id = item
            .get("rollout_id")
            .and_then(Value::as_str)
            .ok_or_else(|| bad_reply("GET /v1/agl/rollouts", "a rollout without `rollout_id`"))?;
        let sent = item
            .pointer(&format!("/metadata/{META_KEY}/sent"))
            .and_then(|v| serde_json::from_value::<Sent>(v.clone()).ok());
        // The attempt lightprompt recorded, else (a first send cut short) the latest one.
        let attempt_id = item
            .pointer(&format!("/metadata/{META_KEY}/attemptId"))
            .or_else(|| item.pointer("/attempt/attempt_id"))
            .and_then(Value::as_str)
            .map(str::to_string);
        found.entry(task_id.to_string()).or_insert_with(|| Remote {
            rollout_id: rollout_id.to_string(),
            attempt_id,
            status: item
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            metadata: item.get("metadata").cloned().unwrap_or_else(|| json!({})),
            sent,
        });
    }
    Ok(items.len())
}

/// What the task's record in the store should say once everything is sent.
pub fn sent_of(task: &TaskTrace) -> Sent {
    Sent {
        items: task.spans.len() as u64,
        last_sequence: task.spans.iter().map(|s| s.sequence).max().unwrap_or(0),
    }
}

/// Decides what to do with a task.
pub fn step(task: &TaskTrace, remote: Option<&Remote>) -> Step {
    match remote {
        None => Step::Create,
        Some(r) if r.sent != Some(sent_of(task)) => Step::Check,
        Some(r) if r.status != "succeeded" => Step::Finish,
        Some(_) => Step::UpToDate,
    }
}

/// The body of `POST /v1/agl/rollouts` for a task.
pub fn rollout_request(task: &TaskTrace) -> Value {
    json!({
        "input": { "taskId": task.task_id, "category": task.category, "model": task.model },
        "metadata": { META_KEY: { "taskId": task.task_id } },
    })
}

/// Reads the reply of `POST /v1/agl/rollouts`: (rollout id, attempt id, metadata).
pub fn read_created(reply: &Value) -> Result<(String, String, Value)> {
    let rollout = reply.get("rollout_id").and_then(Value::as_str);
    let attempt = reply.pointer("/attempt/attempt_id").and_then(Value::as_str);
    match (rollout, attempt) {
        (Some(r), Some(a)) => Ok((
            r.to_string(),
            a.to_string(),
            reply.get("metadata").cloned().unwrap_or_else(|| json!({})),
        )),
        _ => Err(bad_reply(
            "POST /v1/agl/rollouts",
            "no `rollout_id` and `attempt.attempt_id`",
        )),
    }
}

/// Reads the reply of `GET /v1/agl/rollouts/{id}/attempts/latest`: the attempt id.
pub fn read_attempt(reply: &Value) -> Result<String> {
    reply
        .get("attempt_id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| bad_reply("GET …/attempts/latest", "no `attempt_id`"))
}

/// Reads `GET /v1/agl/spans`: the ids of the spans the store holds, and the page length.
pub fn read_span_ids(page: &Value, ids: &mut HashSet<String>) -> Result<usize> {
    let items = page
        .get("items")
        .and_then(Value::as_array)
        .ok_or_else(|| bad_reply("GET /v1/agl/spans", "no `items` list"))?;
    for item in items {
        if let Some(id) = item.get("span_id").and_then(Value::as_str) {
            ids.insert(id.to_string());
        }
    }
    Ok(items.len())
}

/// The spans of a task the store does not hold.
pub fn missing<'a>(task: &'a TaskTrace, present: &HashSet<String>) -> Vec<&'a TraceSpan> {
    task.spans
        .iter()
        .filter(|s| !present.contains(&s.span_id))
        .collect()
}

/// Counts optimizations and rewards.
pub fn count(spans: &[&TraceSpan]) -> (u64, u64) {
    let rewards = spans.iter().filter(|s| s.kind == SpanKind::Reward).count() as u64;
    (spans.len() as u64 - rewards, rewards)
}

/// The rollout's metadata after a send: what was there, with lightprompt's entry (task,
/// attempt, what was sent) updated.
pub fn finished_metadata(task: &TaskTrace, attempt_id: &str, previous: &Value) -> Value {
    let mut metadata = match previous {
        Value::Object(m) => m.clone(),
        _ => serde_json::Map::new(),
    };
    metadata.insert(
        META_KEY.to_string(),
        json!({ "taskId": task.task_id, "attemptId": attempt_id, "sent": sent_of(task) }),
    );
    Value::Object(metadata)
}

/// One task's part of a send: the task, where it goes, and the spans to send.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    /// The task.
    pub task: &'a TaskTrace,
    /// The store's rollout id.
    pub rollout_id: String,
    /// The store's attempt id.
    pub attempt_id: String,
    /// The spans the store does not hold yet.
    pub spans: Vec<&'a TraceSpan>,
}

/// Splits what is to be sent into requests of at most `limit` spans (a task may span
/// several requests; every request names its rollouts, which exist by then).
pub fn requests<'a>(outgoing: &'a [Outgoing<'a>], limit: usize) -> Vec<Vec<Batch<'a>>> {
    let limit = limit.max(1);
    let mut out: Vec<Vec<Batch>> = Vec::new();
    let mut current: Vec<Batch> = Vec::new();
    let mut room = limit;
    for o in outgoing {
        for chunk in o.spans.chunks(limit) {
            if chunk.len() > room {
                out.push(std::mem::take(&mut current));
                room = limit;
            }
            room -= chunk.len();
            current.push(Batch {
                task: o.task,
                destination: Destination {
                    rollout_id: &o.rollout_id,
                    attempt_id: &o.attempt_id,
                },
                spans: chunk.to_vec(),
            });
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Checks and normalizes a store URL: `http(s)://host[:port][/prefix]`, no trailing slash.
pub fn store_base(url: &str) -> Result<String> {
    let trimmed = url.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("http://")
        .or_else(|| trimmed.strip_prefix("https://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') && !r.contains(['?', '#', ' ']) => {
            Ok(trimmed.to_string())
        }
        _ => Err(Error::invalid(
            "storeUrl",
            format!(
                "must be an http:// or https:// address such as http://127.0.0.1:4747, got {:?}",
                crate::prompt::category::truncate_for_message(url)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::{Reward, RewardSource, Span};

    fn task() -> TaskTrace {
        let s: Span = serde_json::from_value(json!({
            "spanId": "00000000000000a1", "taskId": "000000000000000000000000000000b2",
            "name": "prompt_optimization_text", "category": "text", "model": "claude",
            "originalPrompt": "explain", "optimizedPrompt": "You are a teacher. Explain.",
            "originalQualityScore": 20.0, "qualityScore": 40.0, "edits": [],
            "policyVersion": 0, "createdAt": 1000.0, "sequence": 1
        }))
        .unwrap();
        let r = Reward {
            reward_id: "00000000000000c1".into(),
            span_id: s.span_id.clone(),
            task_id: s.task_id.clone(),
            category: s.category,
            model: s.model.clone(),
            value: 0.5,
            source: RewardSource::Explicit,
            quality_score: 40.0,
            rating: None,
            satisfied: None,
            used_result: None,
            feedback_text: None,
            metadata: Default::default(),
            created_at: 1001.0,
            sequence: Some(9),
        };
        crate::otlp::tasks(&[s], &[r]).remove(0)
    }

    #[test]
    fn finds_lightprompt_rollouts_and_decides() {
        let t = task();
        let page = json!({ "items": [
            { "rollout_id": "ro-other", "metadata": {}, "status": "running" },
            { "rollout_id": "ro-1", "status": "running",
              "metadata": { "lightprompt": { "taskId": t.task_id }, "team": "x" },
              "attempt": { "attempt_id": "at-1" } },
            { "rollout_id": "ro-3", "status": "running",
              "metadata": { "lightprompt": { "taskId": "t3", "attemptId": "at-mine" } },
              "attempt": { "attempt_id": "at-retry" } },
            { "rollout_id": "ro-2", "status": "running",
              "metadata": { "lightprompt": { "taskId": t.task_id } } },
        ]});
        let mut found = BTreeMap::new();
        assert_eq!(read_rollouts(&page, &mut found).unwrap(), 4);
        assert_eq!(found["t3"].attempt_id.as_deref(), Some("at-mine"));
        let r = &found[&t.task_id];
        assert_eq!(r.rollout_id, "ro-1");
        assert_eq!(r.attempt_id.as_deref(), Some("at-1"));
        assert_eq!(step(&t, None), Step::Create);
        assert_eq!(step(&t, Some(r)), Step::Check);
        let meta = finished_metadata(&t, "at-1", &r.metadata);
        assert_eq!(meta["lightprompt"]["attemptId"], "at-1");
        assert_eq!(meta["team"], "x");
        assert_eq!(meta["lightprompt"]["sent"]["items"], 2);
        assert_eq!(meta["lightprompt"]["sent"]["lastSequence"], 9);
        let mut done = r.clone();
        done.sent = Some(sent_of(&t));
        assert_eq!(step(&t, Some(&done)), Step::Finish);
        done.status = "succeeded".into();
        assert_eq!(step(&t, Some(&done)), Step::UpToDate);
        assert!(read_rollouts(&json!({}), &mut found).is_err());
    }

    #[test]
    fn sends_only_what_is_missing_in_bounded_requests() {
        let t = task();
        let present: HashSet<String> = ["00000000000000a1".to_string()].into();
        let m = missing(&t, &present);
        assert_eq!(count(&m), (0, 1));
        let all = missing(&t, &HashSet::new());
        assert_eq!(count(&all), (1, 1));
        let outgoing = vec![
            Outgoing {
                task: &t,
                rollout_id: "ro-1".into(),
                attempt_id: "at-1".into(),
                spans: all.clone(),
            },
            Outgoing {
                task: &t,
                rollout_id: "ro-2".into(),
                attempt_id: "at-2".into(),
                spans: all,
            },
        ];
        let reqs = requests(&outgoing, 3);
        assert_eq!(reqs.len(), 2);
        let sizes: Vec<usize> = reqs
            .iter()
            .map(|r| r.iter().map(|b| b.spans.len()).sum())
            .collect();
        assert_eq!(sizes, [2, 2]);
        assert_eq!(requests(&outgoing, 1).len(), 4);
    }

    #[test]
    fn store_urls() {
        assert_eq!(
            store_base("http://127.0.0.1:4747/").unwrap(),
            "http://127.0.0.1:4747"
        );
        assert!(store_base("https://agl.example.com/base").is_ok());
        for bad in ["", "127.0.0.1:4747", "ftp://x", "http://", "http:///x"] {
            let e = store_base(bad).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("storeUrl"));
        }
        let created = json!({ "rollout_id": "ro-1", "attempt": { "attempt_id": "at-1" } });
        assert_eq!(read_created(&created).unwrap().0, "ro-1");
        assert!(read_created(&json!({})).is_err());
        assert_eq!(
            read_attempt(&json!({ "attempt_id": "at-2" })).unwrap(),
            "at-2"
        );
    }
}
