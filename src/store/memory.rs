//! An in-memory [`Store`]: for Node, private browsing modes without IndexedDB, and tests.

use super::{
    newest_first, Dataset, ImportReport, PolicySnapshot, Query, SpanCursor, StorageKind, Store,
};
use crate::error::{Error, ErrorCode, Result};
use crate::prompt::Category;
use crate::span::{Reward, Span};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Default)]
struct Tables {
    spans: HashMap<String, Span>,
    rewards: HashMap<String, Reward>,
    policies: BTreeMap<u32, PolicySnapshot>,
    meta: BTreeMap<String, serde_json::Value>,
}

/// Keeps everything in memory. Cheap to clone records out; never holds a borrow across an
/// await (its futures complete immediately).
#[derive(Debug, Default)]
pub struct MemoryStore {
    tables: RefCell<Tables>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

fn page<T: Clone>(mut items: Vec<T>, query: &Query) -> Vec<T> {
    let end = items.len().min(query.offset.saturating_add(query.limit));
    if query.offset >= items.len() {
        return Vec::new();
    }
    items.truncate(end);
    items.drain(..query.offset);
    items
}

impl Store for MemoryStore {
    fn kind(&self) -> StorageKind {
        StorageKind::Memory
    }

    async fn add_spans(&self, spans: &[Span]) -> Result<()> {
        let mut t = self.tables.borrow_mut();
        // Check everything before writing anything: all or nothing.
        let mut seen = std::collections::HashSet::with_capacity(spans.len());
        for span in spans {
            if t.spans.contains_key(&span.span_id) || !seen.insert(span.span_id.as_str()) {
                return Err(Error::new(
                    ErrorCode::Duplicate,
                    format!("spanId: span {} already exists", span.span_id),
                ));
            }
        }
        for span in spans {
            t.spans.insert(span.span_id.clone(), span.clone());
        }
        Ok(())
    }

    async fn add_reward(&self, reward: &Reward) -> Result<()> {
        let mut t = self.tables.borrow_mut();
        if !t.spans.contains_key(&reward.span_id) {
            return Err(Error::not_found(
                "spanId",
                format!("no span {}", reward.span_id),
            ));
        }
        if t.rewards.contains_key(&reward.reward_id) {
            return Err(Error::new(
                ErrorCode::Duplicate,
                format!("rewardId: reward {} already exists", reward.reward_id),
            ));
        }
        t.rewards.insert(reward.reward_id.clone(), reward.clone());
        Ok(())
    }

    async fn span(&self, span_id: &str) -> Result<Option<Span>> {
        Ok(self.tables.borrow().spans.get(span_id).cloned())
    }

    async fn spans_by_id(&self, span_ids: &[String]) -> Result<Vec<Span>> {
        let t = self.tables.borrow();
        Ok(span_ids
            .iter()
            .filter_map(|id| t.spans.get(id).cloned())
            .collect())
    }

    async fn spans(&self, query: &Query) -> Result<Vec<Span>> {
        let t = self.tables.borrow();
        let mut found: Vec<&Span> = t
            .spans
            .values()
            .filter(|s| query.category.is_none_or(|c| s.category == c))
            .filter(|s| query.task_id.as_ref().is_none_or(|id| &s.task_id == id))
            .collect();
        found.sort_by(|a, b| newest_first((a.created_at, &a.span_id), (b.created_at, &b.span_id)));
        Ok(page(found, query).into_iter().cloned().collect())
    }

    async fn rewards(&self, query: &Query) -> Result<Vec<Reward>> {
        let t = self.tables.borrow();
        let mut found: Vec<&Reward> = t
            .rewards
            .values()
            .filter(|r| query.category.is_none_or(|c| r.category == c))
            .filter(|r| query.span_id.as_ref().is_none_or(|id| &r.span_id == id))
            .collect();
        found.sort_by(|a, b| {
            newest_first((a.created_at, &a.reward_id), (b.created_at, &b.reward_id))
        });
        Ok(page(found, query).into_iter().cloned().collect())
    }

    async fn all_spans(&self) -> Result<Vec<Span>> {
        let t = self.tables.borrow();
        let mut all: Vec<Span> = t.spans.values().cloned().collect();
        all.sort_by(|a, b| newest_first((b.created_at, &b.span_id), (a.created_at, &a.span_id)));
        Ok(all)
    }

    async fn spans_after(&self, after: Option<&SpanCursor>, limit: usize) -> Result<Vec<Span>> {
        let t = self.tables.borrow();
        let oldest_first = |a: &&Span, b: &&Span| {
            newest_first((b.created_at, &b.span_id), (a.created_at, &a.span_id))
        };
        let mut found: Vec<&Span> = t
            .spans
            .values()
            .filter(|s| {
                after.is_none_or(|c| {
                    (s.created_at, s.span_id.as_str()) > (c.created_at, c.span_id.as_str())
                })
            })
            .collect();
        found.sort_by(oldest_first);
        Ok(found.into_iter().take(limit).cloned().collect())
    }

    async fn spans_by_task_after(
        &self,
        after_task: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Span>> {
        let t = self.tables.borrow();
        let mut found: Vec<&Span> = t
            .spans
            .values()
            .filter(|s| after_task.is_none_or(|after| s.task_id.as_str() > after))
            .collect();
        found.sort_by(|a, b| (&a.task_id, &a.span_id).cmp(&(&b.task_id, &b.span_id)));
        Ok(found.into_iter().take(limit).cloned().collect())
    }

    async fn all_rewards(&self) -> Result<Vec<Reward>> {
        self.rewards_since(f64::NEG_INFINITY).await
    }

    async fn rewards_since(&self, created_at: f64) -> Result<Vec<Reward>> {
        let t = self.tables.borrow();
        let mut found: Vec<Reward> = t
            .rewards
            .values()
            .filter(|r| r.created_at >= created_at)
            .cloned()
            .collect();
        found.sort_by(|a, b| {
            newest_first((b.created_at, &b.reward_id), (a.created_at, &a.reward_id))
        });
        Ok(found)
    }

    async fn count_spans(&self, category: Option<Category>) -> Result<u64> {
        let t = self.tables.borrow();
        Ok(match category {
            None => t.spans.len() as u64,
            Some(c) => t.spans.values().filter(|s| s.category == c).count() as u64,
        })
    }

    async fn count_rewards(&self) -> Result<u64> {
        Ok(self.tables.borrow().rewards.len() as u64)
    }

    async fn put_policy(&self, snapshot: &PolicySnapshot) -> Result<()> {
        self.tables
            .borrow_mut()
            .policies
            .insert(snapshot.version, snapshot.clone());
        Ok(())
    }

    async fn latest_policy(&self) -> Result<Option<PolicySnapshot>> {
        Ok(self.tables.borrow().policies.values().next_back().cloned())
    }

    async fn all_policies(&self) -> Result<Vec<PolicySnapshot>> {
        Ok(self.tables.borrow().policies.values().cloned().collect())
    }

    async fn meta(&self, key: &str) -> Result<Option<serde_json::Value>> {
        Ok(self.tables.borrow().meta.get(key).cloned())
    }

    async fn put_meta(&self, key: &str, value: &serde_json::Value) -> Result<()> {
        self.tables
            .borrow_mut()
            .meta
            .insert(key.to_string(), value.clone());
        Ok(())
    }

    type Staging = Dataset;

    fn stage(&self, staging: &mut Dataset, chunk: Dataset) -> Result<()> {
        staging.spans.extend(chunk.spans);
        staging.rewards.extend(chunk.rewards);
        staging.policies.extend(chunk.policies);
        Ok(())
    }

    async fn commit_import(&self, data: Dataset, replace: bool) -> Result<ImportReport> {
        let mut t = self.tables.borrow_mut();
        // Build the new state aside and swap it in: all or nothing.
        let mut next = Tables {
            meta: t.meta.clone(),
            ..Tables::default()
        };
        if !replace {
            next.spans = t.spans.clone();
            next.rewards = t.rewards.clone();
            next.policies = t.policies.clone();
        }
        let mut report = ImportReport::default();
        for span in data.spans {
            if next.spans.contains_key(&span.span_id) {
                report.spans_skipped += 1;
            } else {
                next.spans.insert(span.span_id.clone(), span);
                report.spans_added += 1;
            }
        }
        for reward in data.rewards {
            if !next.spans.contains_key(&reward.span_id) {
                return Err(Error::not_found(
                    "rewards",
                    format!(
                        "reward {} refers to missing span {}",
                        reward.reward_id, reward.span_id
                    ),
                ));
            }
            if next.rewards.contains_key(&reward.reward_id) {
                report.rewards_skipped += 1;
            } else {
                next.rewards.insert(reward.reward_id.clone(), reward);
                report.rewards_added += 1;
            }
        }
        for policy in data.policies {
            if let std::collections::btree_map::Entry::Vacant(slot) =
                next.policies.entry(policy.version)
            {
                slot.insert(policy);
                report.policies_added += 1;
            }
        }
        *t = next;
        Ok(report)
    }

    async fn clear(&self) -> Result<()> {
        let mut t = self.tables.borrow_mut();
        t.spans.clear();
        t.rewards.clear();
        t.policies.clear();
        Ok(())
    }
}
