//! Storage: one async trait, an in-memory store, and (in the browser) IndexedDB. Both pass
//! the same conformance suite (`tests/conformance/`).

pub mod memory;
pub mod record;

#[cfg(target_arch = "wasm32")]
pub mod idb;

use crate::error::Result;
use crate::prompt::Category;
use crate::span::{Reward, Span, TrainingSpan};
use serde::{Deserialize, Serialize};

pub use memory::MemoryStore;

/// Which kind of store holds the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    /// IndexedDB: persists across reloads.
    IndexedDb,
    /// Memory: gone when the page closes.
    Memory,
}

impl StorageKind {
    /// `"indexeddb"` or `"memory"`.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageKind::IndexedDb => "indexeddb",
            StorageKind::Memory => "memory",
        }
    }
}

/// A page of records, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    /// Only this category.
    pub category: Option<Category>,
    /// Only rewards of this span (ignored for spans).
    pub span_id: Option<String>,
    /// Only spans of this task (ignored for rewards).
    pub task_id: Option<String>,
    /// Most records returned.
    pub limit: usize,
    /// Records skipped first.
    pub offset: usize,
}

/// A stored policy: its version and the learner's state, opaque to the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicySnapshot {
    /// Version, increasing with every full training.
    pub version: u32,
    /// When it was trained (ms since the epoch).
    pub created_at: f64,
    /// Spans it was trained on.
    pub spans_used: u64,
    /// Rewards it was trained on.
    pub rewards_used: u64,
    /// The learner's state.
    pub state: serde_json::Value,
}

/// Everything in a store, for export and import.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dataset {
    /// All spans.
    pub spans: Vec<Span>,
    /// All rewards.
    pub rewards: Vec<Reward>,
    /// All policy snapshots.
    pub policies: Vec<PolicySnapshot>,
}

/// What an import wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    /// Spans written.
    pub spans_added: u64,
    /// Spans already present (same id), left as they were.
    pub spans_skipped: u64,
    /// Rewards written.
    pub rewards_added: u64,
    /// Rewards already present, left as they were.
    pub rewards_skipped: u64,
    /// Policy snapshots written.
    pub policies_added: u64,
}

/// Record counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Spans.
    pub spans: u64,
    /// Rewards.
    pub rewards: u64,
}

/// Where spans, rewards, policy snapshots and settings live.
///
/// Contract (checked by the conformance suite): writes are atomic — a call that fails
/// stores nothing; ids are unique (`Duplicate` otherwise); listings are newest first by
/// `createdAt`, ties broken by id; a completed write is visible to every later read.
/// Futures need not be `Send`: IndexedDB lives on one thread.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// Which kind of store this is.
    fn kind(&self) -> StorageKind;

    /// Adds spans, all or nothing; an id already stored (or repeated) is `Duplicate`.
    async fn add_spans(&self, spans: &[Span]) -> Result<()>;

    /// Adds a reward; its span must exist (`NotFound`) and its id must be new (`Duplicate`).
    async fn add_reward(&self, reward: &Reward) -> Result<()>;

    /// One span by id.
    async fn span(&self, span_id: &str) -> Result<Option<Span>>;

    /// Spans by id, in the order asked; ids not stored are left out.
    async fn spans_by_id(&self, span_ids: &[String]) -> Result<Vec<Span>>;

    /// [`Store::spans_by_id`] with only the fields learning reads: what training from
    /// scratch needs, the rated spans, without reading every span ever stored.
    async fn training_spans_by_id(&self, span_ids: &[String]) -> Result<Vec<TrainingSpan>> {
        Ok(self
            .spans_by_id(span_ids)
            .await?
            .iter()
            .map(TrainingSpan::from)
            .collect())
    }

    /// A page of spans, newest first.
    async fn spans(&self, query: &Query) -> Result<Vec<Span>>;

    /// A page of rewards, newest first.
    async fn rewards(&self, query: &Query) -> Result<Vec<Reward>>;

    /// Every span, oldest first.
    async fn all_spans(&self) -> Result<Vec<Span>>;

    /// Up to `limit` spans, oldest first (`createdAt`, then id), starting after `after`
    /// (from the first when `None`): all of them a page at a time, for exports that must
    /// not hold the whole history at once.
    async fn spans_after(&self, after: Option<&SpanCursor>, limit: usize) -> Result<Vec<Span>>;

    /// Up to `limit` spans of the tasks after `after_task` (from the first when `None`), in
    /// task id order (then span id): every task a page at a time, for trace exports. The
    /// last task of a full page may go on in the next.
    async fn spans_by_task_after(
        &self,
        after_task: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Span>>;

    /// Every reward, oldest first.
    async fn all_rewards(&self) -> Result<Vec<Reward>>;

    /// Rewards created at or after `created_at` (ms), oldest first.
    async fn rewards_since(&self, created_at: f64) -> Result<Vec<Reward>>;

    /// Number of spans, of one category or all.
    async fn count_spans(&self, category: Option<Category>) -> Result<u64>;

    /// Number of rewards.
    async fn count_rewards(&self) -> Result<u64>;

    /// Stores a policy snapshot (replacing one of the same version).
    async fn put_policy(&self, snapshot: &PolicySnapshot) -> Result<()>;

    /// The snapshot with the highest version.
    async fn latest_policy(&self) -> Result<Option<PolicySnapshot>>;

    /// Every policy snapshot, oldest version first.
    async fn all_policies(&self) -> Result<Vec<PolicySnapshot>>;

    /// A setting.
    async fn meta(&self, key: &str) -> Result<Option<serde_json::Value>>;

    /// Stores a setting.
    async fn put_meta(&self, key: &str, value: &serde_json::Value) -> Result<()>;

    /// An import being put together: [`Store::stage`] takes it a chunk at a time, in the
    /// store's own form, and nothing is visible until [`Store::commit_import`].
    type Staging: Default;

    /// Adds a chunk of records to an import (converted to the store's form now, so that
    /// the caller need not keep them).
    fn stage(&self, staging: &mut Self::Staging, chunk: Dataset) -> Result<()>;

    /// Writes a staged import in one transaction. With `replace`, everything stored before
    /// is removed first; otherwise records whose id is already stored are kept as they
    /// are. A reward whose span is neither staged nor kept is `NotFound`, and nothing is
    /// written.
    async fn commit_import(&self, staging: Self::Staging, replace: bool) -> Result<ImportReport>;

    /// Writes a dataset in one transaction: [`Store::stage`] then [`Store::commit_import`].
    async fn import(&self, data: &Dataset, replace: bool) -> Result<ImportReport> {
        let mut staging = Self::Staging::default();
        self.stage(&mut staging, data.clone())?;
        self.commit_import(staging, replace).await
    }

    /// Removes every span, reward and policy snapshot (settings stay).
    async fn clear(&self) -> Result<()>;
}

/// Where a page of [`Store::spans_after`] ended: the last span's `createdAt` and id.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanCursor {
    /// `createdAt` of the last span returned.
    pub created_at: f64,
    /// Its id.
    pub span_id: String,
}

impl SpanCursor {
    /// The cursor after `span`.
    pub fn after(span: &Span) -> SpanCursor {
        SpanCursor {
            created_at: span.created_at,
            span_id: span.span_id.clone(),
        }
    }
}

/// Orders records newest first: `createdAt` descending, then id descending.
pub(crate) fn newest_first(a: (f64, &str), b: (f64, &str)) -> std::cmp::Ordering {
    b.0.total_cmp(&a.0).then_with(|| b.1.cmp(a.1))
}

/// A shared store is a store: several engines (or an engine and a test) can use one.
impl<S: Store> Store for std::rc::Rc<S> {
    fn kind(&self) -> StorageKind {
        (**self).kind()
    }
    async fn add_spans(&self, spans: &[Span]) -> Result<()> {
        (**self).add_spans(spans).await
    }
    async fn add_reward(&self, reward: &Reward) -> Result<()> {
        (**self).add_reward(reward).await
    }
    async fn span(&self, span_id: &str) -> Result<Option<Span>> {
        (**self).span(span_id).await
    }
    async fn spans_by_id(&self, span_ids: &[String]) -> Result<Vec<Span>> {
        (**self).spans_by_id(span_ids).await
    }
    async fn spans(&self, query: &Query) -> Result<Vec<Span>> {
        (**self).spans(query).await
    }
    async fn rewards(&self, query: &Query) -> Result<Vec<Reward>> {
        (**self).rewards(query).await
    }
    async fn all_spans(&self) -> Result<Vec<Span>> {
        (**self).all_spans().await
    }
    async fn all_rewards(&self) -> Result<Vec<Reward>> {
        (**self).all_rewards().await
    }
    async fn spans_after(&self, after: Option<&SpanCursor>, limit: usize) -> Result<Vec<Span>> {
        (**self).spans_after(after, limit).await
    }
    async fn spans_by_task_after(
        &self,
        after_task: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Span>> {
        (**self).spans_by_task_after(after_task, limit).await
    }
    async fn training_spans_by_id(&self, span_ids: &[String]) -> Result<Vec<TrainingSpan>> {
        (**self).training_spans_by_id(span_ids).await
    }
    async fn rewards_since(&self, created_at: f64) -> Result<Vec<Reward>> {
        (**self).rewards_since(created_at).await
    }
    async fn count_spans(&self, category: Option<Category>) -> Result<u64> {
        (**self).count_spans(category).await
    }
    async fn count_rewards(&self) -> Result<u64> {
        (**self).count_rewards().await
    }
    async fn put_policy(&self, snapshot: &PolicySnapshot) -> Result<()> {
        (**self).put_policy(snapshot).await
    }
    async fn latest_policy(&self) -> Result<Option<PolicySnapshot>> {
        (**self).latest_policy().await
    }
    async fn all_policies(&self) -> Result<Vec<PolicySnapshot>> {
        (**self).all_policies().await
    }
    async fn meta(&self, key: &str) -> Result<Option<serde_json::Value>> {
        (**self).meta(key).await
    }
    async fn put_meta(&self, key: &str, value: &serde_json::Value) -> Result<()> {
        (**self).put_meta(key, value).await
    }
    type Staging = S::Staging;
    fn stage(&self, staging: &mut Self::Staging, chunk: Dataset) -> Result<()> {
        (**self).stage(staging, chunk)
    }
    async fn commit_import(&self, staging: Self::Staging, replace: bool) -> Result<ImportReport> {
        (**self).commit_import(staging, replace).await
    }
    async fn clear(&self) -> Result<()> {
        (**self).clear().await
    }
}
