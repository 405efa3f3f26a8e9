//! The store behind a `LightPrompt`: IndexedDB, or memory where IndexedDB is missing.

use crate::error::{ErrorCode, Result};
use crate::prompt::Category;
use crate::span::{Reward, Span, TrainingSpan};
use crate::store::idb::{IdbStaging, IdbStore};
use crate::store::{
    Dataset, ImportReport, MemoryStore, PolicySnapshot, Query, SpanCursor, StorageKind, Store,
};
use wasm_bindgen::JsValue;

/// IndexedDB or memory.
pub enum AnyStore {
    /// Persistent.
    Idb(IdbStore),
    /// Gone with the page.
    Memory(MemoryStore),
}

/// An import staged for whichever store this is (the other part stays empty).
#[derive(Default)]
pub struct AnyStaging {
    idb: IdbStaging,
    memory: Dataset,
}

/// Whether this global scope has `indexedDB`.
fn has_indexed_db() -> bool {
    let global = js_sys::global();
    js_sys::Reflect::get(&global, &JsValue::from_str("indexedDB"))
        .map(|v| !v.is_undefined() && !v.is_null())
        .unwrap_or(false)
}

impl AnyStore {
    /// IndexedDB unless `in_memory`, or unless IndexedDB is missing or refuses to open
    /// (some private modes), in which case memory.
    pub async fn open(name: &str, in_memory: bool, blocked_timeout_ms: u32) -> Result<AnyStore> {
        if in_memory || !has_indexed_db() {
            return Ok(AnyStore::Memory(MemoryStore::new()));
        }
        match IdbStore::open_with_timeout(name, blocked_timeout_ms).await {
            Ok(s) => Ok(AnyStore::Idb(s)),
            Err(e) if e.code == ErrorCode::Unavailable => Ok(AnyStore::Memory(MemoryStore::new())),
            Err(e) => Err(e),
        }
    }

    /// `"indexeddb"` or `"memory"`.
    pub fn kind_name(&self) -> &'static str {
        self.kind().as_str()
    }

    /// Closes the IndexedDB connection, if any.
    pub fn close(&self) {
        if let AnyStore::Idb(s) = self {
            s.close();
        }
    }
}

macro_rules! both {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyStore::Idb($s) => $e,
            AnyStore::Memory($s) => $e,
        }
    };
}

impl Store for AnyStore {
    fn kind(&self) -> StorageKind {
        both!(self, s => s.kind())
    }
    async fn add_spans(&self, spans: &[Span]) -> Result<()> {
        both!(self, s => s.add_spans(spans).await)
    }
    async fn add_reward(&self, reward: &Reward) -> Result<()> {
        both!(self, s => s.add_reward(reward).await)
    }
    async fn span(&self, span_id: &str) -> Result<Option<Span>> {
        both!(self, s => s.span(span_id).await)
    }
    async fn spans_by_id(&self, span_ids: &[String]) -> Result<Vec<Span>> {
        both!(self, s => s.spans_by_id(span_ids).await)
    }
    async fn spans(&self, query: &Query) -> Result<Vec<Span>> {
        both!(self, s => s.spans(query).await)
    }
    async fn rewards(&self, query: &Query) -> Result<Vec<Reward>> {
        both!(self, s => s.rewards(query).await)
    }
    async fn all_spans(&self) -> Result<Vec<Span>> {
        both!(self, s => s.all_spans().await)
    }
    async fn all_rewards(&self) -> Result<Vec<Reward>> {
        both!(self, s => s.all_rewards().await)
    }
    async fn spans_after(&self, after: Option<&SpanCursor>, limit: usize) -> Result<Vec<Span>> {
        both!(self, s => s.spans_after(after, limit).await)
    }
    async fn spans_by_task_after(
        &self,
        after_task: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Span>> {
        both!(self, s => s.spans_by_task_after(after_task, limit).await)
    }
    async fn training_spans_by_id(&self, span_ids: &[String]) -> Result<Vec<TrainingSpan>> {
        both!(self, s => s.training_spans_by_id(span_ids).await)
    }
    async fn rewards_since(&self, created_at: f64) -> Result<Vec<Reward>> {
        both!(self, s => s.rewards_since(created_at).await)
    }
    async fn count_spans(&self, category: Option<Category>) -> Result<u64> {
        both!(self, s => s.count_spans(category).await)
    }
    async fn count_rewards(&self) -> Result<u64> {
        both!(self, s => s.count_rewards().await)
    }
    async fn put_policy(&self, snapshot: &PolicySnapshot) -> Result<()> {
        both!(self, s => s.put_policy(snapshot).await)
    }
    async fn latest_policy(&self) -> Result<Option<PolicySnapshot>> {
        both!(self, s => s.latest_policy().await)
    }
    async fn all_policies(&self) -> Result<Vec<PolicySnapshot>> {
        both!(self, s => s.all_policies().await)
    }
    async fn meta(&self, key: &str) -> Result<Option<serde_json::Value>> {
        both!(self, s => s.meta(key).await)
    }
    async fn put_meta(&self, key: &str, value: &serde_json::Value) -> Result<()> {
        both!(self, s => s.put_meta(key, value).await)
    }
    type Staging = AnyStaging;
    fn stage(&self, staging: &mut AnyStaging, chunk: Dataset) -> Result<()> {
        match self {
            AnyStore::Idb(s) => s.stage(&mut staging.idb, chunk),
            AnyStore::Memory(s) => s.stage(&mut staging.memory, chunk),
        }
    }
    async fn commit_import(&self, staging: AnyStaging, replace: bool) -> Result<ImportReport> {
        match self {
            AnyStore::Idb(s) => s.commit_import(staging.idb, replace).await,
            AnyStore::Memory(s) => s.commit_import(staging.memory, replace).await,
        }
    }
    async fn clear(&self) -> Result<()> {
        both!(self, s => s.clear().await)
    }
}
