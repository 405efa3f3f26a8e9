//! IndexedDB: the store that persists in the browser.
//!
//! Schema (version [`SCHEMA_VERSION`]; the builder deletes any store a version does not list, so
//! every version lists every store):
//!
//! | store | key | indexes |
//! |---|---|---|
//! | `spans` | `spanId` | `taskId`, `category`, `createdAt`, `category_createdAt` |
//! | `rewards` | `rewardId` | `spanId`, `category`, `createdAt` |
//! | `policy` | `version` | |
//! | `meta` | out-of-line key | |
//!
//! Every write is one transaction, awaited to its end: a transaction that aborted is an
//! error, never `Ok`, and its cause (the transaction's `error`, e.g. `QuotaExceededError`
//! when the commit itself fails) becomes the error code.
//!
//! Built on `idb`, the crate rexie wraps: rexie hides the transaction, so an abort at commit
//! could not be told apart from any other (a full quota looked like a generic failure). The
//! small `db` module below keeps rexie's shape over `idb`.

use super::record::{StoredSpan, StoredTrainingSpan};
use super::{
    newest_first, Dataset, ImportReport, PolicySnapshot, Query, SpanCursor, StorageKind, Store,
};
use crate::error::{Error, ErrorCode, Result};
use crate::prompt::Category;
use crate::span::{LearningRecord, Reward, Span, TrainingSpan};
use db::{Rexie, Transaction};
use idb::builder::{DatabaseBuilder, IndexBuilder, ObjectStoreBuilder};
use idb::{CursorDirection as Direction, KeyPath, KeyRange, TransactionMode, TransactionResult};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};

/// The schema version this build writes.
///
/// History: 1 — the four stores and their first indexes; 2 — a `model` index on spans and
/// rewards (per-model statistics); 3 — spans are written in compact form
/// ([`super::record`]; the full spans stored before are read as they are, and an older build
/// asked to open the database fails with `VersionError` instead of misreading it). Opening an
/// older database upgrades it in place; nothing is lost (tested with version-1 and version-2
/// databases in `tests/reliability/`).
pub const SCHEMA_VERSION: u32 = 3;

/// How long an open may stay blocked by another tab's old connection before it fails with
/// `Blocked` (the default of `LightPrompt.open({ blockedTimeoutMs })`).
pub const DEFAULT_BLOCKED_TIMEOUT_MS: u32 = 5000;

const SPANS: &str = "spans";
const REWARDS: &str = "rewards";
const POLICY: &str = "policy";
const META: &str = "meta";
/// Gets in flight at once when reading records by id.
const GET_CHUNK: usize = 1024;

/// The IndexedDB store.
#[derive(Debug)]
pub struct IdbStore {
    db: std::cell::RefCell<Option<Rexie>>,
    name: String,
    /// Set when another tab asked to upgrade the database and this connection closed.
    superseded: std::rc::Rc<std::cell::Cell<bool>>,
}

/// Maps an IndexedDB failure to a typed error by its DOMException name.
pub fn map_error(e: idb::Error, doing: &str) -> Error {
    let (name, detail) = match &e {
        idb::Error::DomException(d) => (d.name(), d.message()),
        inner => (dom_name(inner).unwrap_or_default(), inner.to_string()),
    };
    from_dom_name(&name, &format!("{doing}: {detail}"))
}

/// Maps a DOMException name to an error code.
pub fn from_dom_name(name: &str, message: &str) -> Error {
    let code = match name {
        "QuotaExceededError" => ErrorCode::QuotaExceeded,
        "ConstraintError" => ErrorCode::Duplicate,
        "VersionError" => ErrorCode::VersionError,
        "InvalidStateError" => ErrorCode::Closed,
        "NotFoundError" => ErrorCode::Storage,
        "SecurityError" | "UnknownError" | "NotAllowedError" => ErrorCode::Unavailable,
        _ => ErrorCode::Storage,
    };
    let hint = match code {
        ErrorCode::QuotaExceeded => {
            " The browser's storage quota is full: export your data, then clear old history."
        }
        _ => "",
    };
    Error::new(code, format!("{message}{hint}"))
}

/// The DOMException name inside an idb error that carries a JS value.
fn dom_name(e: &idb::Error) -> Option<String> {
    let value: &JsValue = match e {
        idb::Error::AddFailed(v)
        | idb::Error::ClearFailed(v)
        | idb::Error::CountFailed(v)
        | idb::Error::DeleteFailed(v)
        | idb::Error::GetAllFailed(v)
        | idb::Error::GetAllKeysFailed(v)
        | idb::Error::GetFailed(v)
        | idb::Error::IndexedDbOpenFailed(v)
        | idb::Error::IndexedDbNotFound(v)
        | idb::Error::TransactionOpenFailed(v) => v,
        _ => return None,
    };
    value.dyn_ref::<web_sys::DomException>().map(|d| d.name())
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue> {
    let serializer = serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true);
    value
        .serialize(&serializer)
        .map_err(|e| Error::internal(format!("could not convert a record for IndexedDB: {e}")))
}

fn from_js<T: DeserializeOwned>(value: JsValue, what: &str) -> Result<T> {
    serde_wasm_bindgen::from_value(value).map_err(|e| unreadable(what, e))
}

/// The error for a stored record that cannot be read.
fn unreadable(what: &str, cause: impl std::fmt::Display) -> Error {
    Error::storage(format!("a stored {what} is unreadable: {cause}"))
}

/// A record as read back from IndexedDB.
trait FromStored: Sized {
    /// Converts a stored value; an unreadable one is a `Storage` error.
    fn from_stored(value: JsValue) -> Result<Self>;
}

impl FromStored for Span {
    /// Compact records (with a version `v`) and the full ones stored before them.
    fn from_stored(value: JsValue) -> Result<Span> {
        let compact = js_sys::Reflect::get(&value, &key("v")).is_ok_and(|v| !v.is_undefined());
        if compact {
            from_js::<StoredSpan>(value, "span")?
                .into_span()
                .map_err(|e| unreadable("span", e))
        } else {
            from_js(value, "span")
        }
    }
}

impl FromStored for TrainingSpan {
    fn from_stored(value: JsValue) -> Result<TrainingSpan> {
        from_js::<StoredTrainingSpan>(value, "span")?
            .into_training()
            .map_err(|e| unreadable("span", e))
    }
}

impl FromStored for Reward {
    fn from_stored(value: JsValue) -> Result<Reward> {
        from_js(value, "reward")
    }
}

impl FromStored for PolicySnapshot {
    fn from_stored(value: JsValue) -> Result<PolicySnapshot> {
        from_js(value, "policy")
    }
}

/// A span in its stored (compact) form.
fn span_to_js(span: &Span) -> Result<JsValue> {
    to_js(&StoredSpan::from(span))
}

fn key(s: &str) -> JsValue {
    JsValue::from_str(s)
}

fn range(r: std::result::Result<KeyRange, idb::Error>) -> Result<KeyRange> {
    r.map_err(|e| Error::internal(format!("key range: {e}")))
}

/// Ends a transaction: `Ok` only if it committed.
async fn finish(tx: Transaction, doing: &str) -> Result<()> {
    match tx.done().await {
        Ok((TransactionResult::Committed, _)) => Ok(()),
        Ok((TransactionResult::Aborted, Some((name, message)))) => Err(from_dom_name(
            &name,
            &format!(
                "{doing}: the transaction was aborted ({name}: {message}); nothing was written."
            ),
        )),
        Ok((TransactionResult::Aborted, None)) => Err(Error::storage(format!(
            "{doing}: the transaction was aborted; nothing was written"
        ))),
        Err(e) => Err(map_error(e, doing)),
    }
}

impl IdbStore {
    /// Opens (creating or upgrading) the database `name`.
    pub async fn open(name: &str) -> Result<IdbStore> {
        IdbStore::open_with_timeout(name, DEFAULT_BLOCKED_TIMEOUT_MS).await
    }

    /// Opens `name`, failing with `Blocked` if another tab's connection to an older version
    /// keeps the upgrade waiting longer than `blocked_timeout_ms`.
    pub async fn open_with_timeout(name: &str, blocked_timeout_ms: u32) -> Result<IdbStore> {
        let index = |name: &str| IndexBuilder::new(name.to_string(), KeyPath::new_single(name));
        let build = DatabaseBuilder::new(name)
            .version(SCHEMA_VERSION)
            .add_object_store(
                ObjectStoreBuilder::new(SPANS)
                    .key_path(Some(KeyPath::new_single("spanId")))
                    .add_index(index("taskId"))
                    .add_index(index("category"))
                    .add_index(index("createdAt"))
                    .add_index(IndexBuilder::new(
                        "category_createdAt".to_string(),
                        KeyPath::new_array(["category", "createdAt"]),
                    ))
                    .add_index(index("model")),
            )
            .add_object_store(
                ObjectStoreBuilder::new(REWARDS)
                    .key_path(Some(KeyPath::new_single("rewardId")))
                    .add_index(index("spanId"))
                    .add_index(index("category"))
                    .add_index(index("createdAt"))
                    .add_index(index("model")),
            )
            .add_object_store(
                ObjectStoreBuilder::new(POLICY).key_path(Some(KeyPath::new_single("version"))),
            )
            .add_object_store(ObjectStoreBuilder::new(META))
            .build();
        let opened = first_of(Box::pin(build), Box::pin(sleep(blocked_timeout_ms))).await;
        let mut db = match opened {
            Either::Left(result) => result.map_err(|e| map_error(e, "opening IndexedDB"))?,
            Either::Right(()) => {
                return Err(Error::new(
                    ErrorCode::Blocked,
                    format!(
                        "opening IndexedDB: another tab keeps an older version of {name:?} open; \
                         close or reload the other lightprompt tabs (waited {blocked_timeout_ms} ms)"
                    ),
                ))
            }
        };
        // Another tab wants a newer version: close so it is not blocked, and say so.
        let superseded = std::rc::Rc::new(std::cell::Cell::new(false));
        let flag = superseded.clone();
        db.on_version_change(move |event| {
            use idb::event::DatabaseEvent;
            if let Ok(database) = event.database() {
                database.close();
            }
            flag.set(true);
            notify_version_change();
        });
        Ok(IdbStore {
            db: std::cell::RefCell::new(Some(Rexie(db))),
            name: name.to_string(),
            superseded,
        })
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Closes the connection; later calls fail with `Closed`.
    pub fn close(&self) {
        if let Some(db) = self.db.borrow_mut().take() {
            db.close();
        }
    }

    /// Deletes a database (waits until no connection holds it).
    pub async fn delete(name: &str) -> Result<()> {
        let factory = idb::Factory::new().map_err(|e| map_error(e, "deleting the database"))?;
        factory
            .delete(name)
            .map_err(|e| map_error(e, "deleting the database"))?
            .await
            .map_err(|e| map_error(e, "deleting the database"))
    }

    fn tx(&self, stores: &[&str], mode: TransactionMode) -> Result<Transaction> {
        if self.superseded.get() {
            return Err(Error::new(
                ErrorCode::Closed,
                "another tab upgraded the database and this connection closed; reload the page",
            ));
        }
        let db = self.db.borrow();
        let db = db
            .as_ref()
            .ok_or_else(|| Error::new(ErrorCode::Closed, "the database connection is closed"))?;
        db.transaction(stores, mode)
            .map_err(|e| map_error(e, "starting a transaction"))
    }

    /// Spans by id, in the order asked, missing ids left out. The gets are issued in chunks,
    /// every request of a chunk in flight at once: scattered ids (the rated spans among all
    /// of them) cost one read each, not a scan of the range between them.
    async fn by_id<T: FromStored + Clone + LearningRecord>(
        &self,
        span_ids: &[String],
    ) -> Result<Vec<T>> {
        if span_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut unique: Vec<&str> = span_ids.iter().map(String::as_str).collect();
        unique.sort_unstable();
        unique.dedup();
        let tx = self.tx(&[SPANS], TransactionMode::ReadOnly)?;
        let store = tx.store(SPANS).map_err(|e| map_error(e, "reading spans"))?;
        let mut found: std::collections::HashMap<String, T> =
            std::collections::HashMap::with_capacity(unique.len());
        for chunk in unique.chunks(GET_CHUNK) {
            let values = store
                .get_many(chunk.iter().map(|id| key(id)))
                .await
                .map_err(|e| map_error(e, "reading spans"))?;
            for v in values.into_iter().flatten() {
                if !v.is_undefined() {
                    let record = T::from_stored(v)?;
                    found.insert(record.span_id().to_string(), record);
                }
            }
        }
        Ok(span_ids
            .iter()
            .filter_map(|id| found.get(id).cloned())
            .collect())
    }

    async fn read_all<T: FromStored>(
        &self,
        store: &str,
        index: Option<&str>,
        range: Option<KeyRange>,
        what: &str,
    ) -> Result<Vec<T>> {
        let tx = self.tx(&[store], TransactionMode::ReadOnly)?;
        let s = tx.store(store).map_err(|e| map_error(e, what))?;
        let values = match index {
            Some(i) => {
                s.index(i)
                    .map_err(|e| map_error(e, what))?
                    .get_all(range, None)
                    .await
            }
            None => s.get_all(range, None).await,
        }
        .map_err(|e| map_error(e, what))?;
        values.into_iter().map(T::from_stored).collect()
    }

    /// A page newest first through a cursor on `index` walking backwards.
    async fn page<T: FromStored>(
        &self,
        store: &str,
        index: &str,
        range: Option<KeyRange>,
        query: &Query,
        what: &str,
    ) -> Result<Vec<T>> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let tx = self.tx(&[store], TransactionMode::ReadOnly)?;
        let s = tx.store(store).map_err(|e| map_error(e, what))?;
        let idx = s.index(index).map_err(|e| map_error(e, what))?;
        let limit = u32::try_from(query.limit).unwrap_or(u32::MAX);
        let offset = u32::try_from(query.offset).unwrap_or(u32::MAX);
        let pairs = idx
            .scan(
                range,
                Some(limit),
                (offset > 0).then_some(offset),
                Some(Direction::Prev),
            )
            .await
            .map_err(|e| map_error(e, what))?;
        pairs.into_iter().map(|(_, v)| T::from_stored(v)).collect()
    }
}

fn category_range(c: Category) -> Result<KeyRange> {
    let lower = js_sys::Array::of2(&key(c.as_str()), &JsValue::from_f64(f64::NEG_INFINITY));
    let upper = js_sys::Array::of2(&key(c.as_str()), &JsValue::from_f64(f64::INFINITY));
    range(KeyRange::bound(&lower, &upper, None, None))
}

impl Store for IdbStore {
    fn kind(&self) -> StorageKind {
        StorageKind::IndexedDb
    }

    async fn add_spans(&self, spans: &[Span]) -> Result<()> {
        if spans.is_empty() {
            return Ok(());
        }
        let mut seen = std::collections::HashSet::with_capacity(spans.len());
        if let Some(s) = spans.iter().find(|s| !seen.insert(s.span_id.as_str())) {
            return Err(Error::new(
                ErrorCode::Duplicate,
                format!("spanId: span {} appears twice in the batch", s.span_id),
            ));
        }
        let values = spans.iter().map(span_to_js).collect::<Result<Vec<_>>>()?;
        let tx = self.tx(&[SPANS], TransactionMode::ReadWrite)?;
        let store = tx.store(SPANS).map_err(|e| map_error(e, "writing spans"))?;
        // `add` (not `put`): a stored id fails the request, which aborts the whole batch.
        let written = store
            .write_all(values.into_iter().map(|v| (v, None)), false)
            .await;
        let ended = finish(tx, "writing spans").await;
        match (written, ended) {
            (Ok(()), Ok(())) => Ok(()),
            (Err(e), _) => {
                let err = map_error(e, "writing spans");
                if err.code == ErrorCode::Duplicate || err.code == ErrorCode::Storage {
                    // An abort caused by an earlier request shows up as AbortError on the
                    // last one: look for the stored id that caused it.
                    let ids: Vec<String> = spans.iter().map(|s| s.span_id.clone()).collect();
                    if let Some(existing) = self.spans_by_id(&ids).await?.first() {
                        return Err(Error::new(
                            ErrorCode::Duplicate,
                            format!("spanId: span {} already exists", existing.span_id),
                        ));
                    }
                }
                Err(err)
            }
            (Ok(()), Err(e)) => Err(e),
        }
    }

    async fn add_reward(&self, reward: &Reward) -> Result<()> {
        let value = to_js(reward)?;
        let tx = self.tx(&[SPANS, REWARDS], TransactionMode::ReadWrite)?;
        let spans = tx
            .store(SPANS)
            .map_err(|e| map_error(e, "writing a reward"))?;
        let exists = spans
            .key_exists(key(&reward.span_id))
            .await
            .map_err(|e| map_error(e, "writing a reward"))?;
        if !exists {
            let _ = tx.abort().await;
            return Err(Error::not_found(
                "spanId",
                format!("no span {}", reward.span_id),
            ));
        }
        let rewards = tx
            .store(REWARDS)
            .map_err(|e| map_error(e, "writing a reward"))?;
        let added = rewards.add(&value, None).await;
        if let Err(e) = added {
            let _ = tx.done().await;
            let err = map_error(e, "writing a reward");
            return Err(if err.code == ErrorCode::Duplicate {
                Error::new(
                    ErrorCode::Duplicate,
                    format!("rewardId: reward {} already exists", reward.reward_id),
                )
            } else {
                err
            });
        }
        finish(tx, "writing a reward").await
    }

    async fn span(&self, span_id: &str) -> Result<Option<Span>> {
        let tx = self.tx(&[SPANS], TransactionMode::ReadOnly)?;
        let store = tx
            .store(SPANS)
            .map_err(|e| map_error(e, "reading a span"))?;
        match store
            .get(key(span_id))
            .await
            .map_err(|e| map_error(e, "reading a span"))?
        {
            Some(v) if !v.is_undefined() => Ok(Some(Span::from_stored(v)?)),
            _ => Ok(None),
        }
    }

    async fn spans_by_id(&self, span_ids: &[String]) -> Result<Vec<Span>> {
        self.by_id(span_ids).await
    }

    async fn training_spans_by_id(&self, span_ids: &[String]) -> Result<Vec<TrainingSpan>> {
        // Only the fields learning reads cross into wasm: the prompts stay in JS.
        self.by_id(span_ids).await
    }

    async fn spans(&self, query: &Query) -> Result<Vec<Span>> {
        if let Some(task) = &query.task_id {
            let mut all: Vec<Span> = self
                .read_all(
                    SPANS,
                    Some("taskId"),
                    Some(range(KeyRange::only(&key(task)))?),
                    "span",
                )
                .await?;
            all.retain(|s| query.category.is_none_or(|c| s.category == c));
            all.sort_by(|a, b| {
                newest_first((a.created_at, &a.span_id), (b.created_at, &b.span_id))
            });
            return Ok(all
                .into_iter()
                .skip(query.offset)
                .take(query.limit)
                .collect());
        }
        match query.category {
            Some(c) => {
                self.page(
                    SPANS,
                    "category_createdAt",
                    Some(category_range(c)?),
                    query,
                    "span",
                )
                .await
            }
            None => self.page(SPANS, "createdAt", None, query, "span").await,
        }
    }

    async fn rewards(&self, query: &Query) -> Result<Vec<Reward>> {
        let filter = match (&query.span_id, query.category) {
            (Some(id), _) => Some(("spanId", id.clone())),
            (None, Some(c)) => Some(("category", c.as_str().to_string())),
            (None, None) => None,
        };
        if let Some((index, value)) = filter {
            let mut all: Vec<Reward> = self
                .read_all(
                    REWARDS,
                    Some(index),
                    Some(range(KeyRange::only(&key(&value)))?),
                    "reward",
                )
                .await?;
            all.retain(|r| query.category.is_none_or(|c| r.category == c));
            all.sort_by(|a, b| {
                newest_first((a.created_at, &a.reward_id), (b.created_at, &b.reward_id))
            });
            return Ok(all
                .into_iter()
                .skip(query.offset)
                .take(query.limit)
                .collect());
        }
        self.page(REWARDS, "createdAt", None, query, "reward").await
    }

    async fn all_spans(&self) -> Result<Vec<Span>> {
        self.read_all(SPANS, Some("createdAt"), None, "span").await
    }

    async fn spans_after(&self, after: Option<&SpanCursor>, limit: usize) -> Result<Vec<Span>> {
        let what = "span";
        let count = u32::try_from(limit).unwrap_or(u32::MAX);
        let tx = self.tx(&[SPANS], TransactionMode::ReadOnly)?;
        let s = tx.store(SPANS).map_err(|e| map_error(e, what))?;
        let idx = s.index("createdAt").map_err(|e| map_error(e, what))?;
        let Some(after) = after else {
            let values = idx
                .get_all(None, Some(count))
                .await
                .map_err(|e| map_error(e, what))?;
            return values.into_iter().map(Span::from_stored).collect();
        };
        let at = JsValue::from_f64(after.created_at);
        // Spans sharing the cursor's time come first, in id order, and those up to the
        // cursor's id were returned already: counting the tie bounds the read.
        let ties = idx
            .count(Some(range(KeyRange::only(&at))?))
            .await
            .map_err(|e| map_error(e, what))?;
        let values = idx
            .get_all(
                Some(range(KeyRange::lower_bound(&at, Some(false)))?),
                Some(count.saturating_add(ties)),
            )
            .await
            .map_err(|e| map_error(e, what))?;
        let mut out = Vec::with_capacity(limit.min(values.len()));
        for v in values {
            if out.len() == limit {
                break;
            }
            let span = Span::from_stored(v)?;
            if span.created_at > after.created_at || span.span_id > after.span_id {
                out.push(span);
            }
        }
        Ok(out)
    }

    async fn spans_by_task_after(
        &self,
        after_task: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Span>> {
        let what = "span";
        let tx = self.tx(&[SPANS], TransactionMode::ReadOnly)?;
        let s = tx.store(SPANS).map_err(|e| map_error(e, what))?;
        let idx = s.index("taskId").map_err(|e| map_error(e, what))?;
        let from = after_task
            .map(|t| range(KeyRange::lower_bound(&key(t), Some(true))))
            .transpose()?;
        let values = idx
            .get_all(from, Some(u32::try_from(limit).unwrap_or(u32::MAX)))
            .await
            .map_err(|e| map_error(e, what))?;
        values.into_iter().map(Span::from_stored).collect()
    }

    async fn all_rewards(&self) -> Result<Vec<Reward>> {
        self.read_all(REWARDS, Some("createdAt"), None, "reward")
            .await
    }

    async fn rewards_since(&self, created_at: f64) -> Result<Vec<Reward>> {
        let r = range(KeyRange::lower_bound(
            &JsValue::from_f64(created_at),
            Some(false),
        ))?;
        self.read_all(REWARDS, Some("createdAt"), Some(r), "reward")
            .await
    }

    async fn count_spans(&self, category: Option<Category>) -> Result<u64> {
        let tx = self.tx(&[SPANS], TransactionMode::ReadOnly)?;
        let store = tx
            .store(SPANS)
            .map_err(|e| map_error(e, "counting spans"))?;
        let n = match category {
            Some(c) => {
                store
                    .index("category")
                    .map_err(|e| map_error(e, "counting spans"))?
                    .count(Some(range(KeyRange::only(&key(c.as_str())))?))
                    .await
            }
            None => store.count(None).await,
        }
        .map_err(|e| map_error(e, "counting spans"))?;
        Ok(u64::from(n))
    }

    async fn count_rewards(&self) -> Result<u64> {
        let tx = self.tx(&[REWARDS], TransactionMode::ReadOnly)?;
        let store = tx
            .store(REWARDS)
            .map_err(|e| map_error(e, "counting rewards"))?;
        Ok(u64::from(
            store
                .count(None)
                .await
                .map_err(|e| map_error(e, "counting rewards"))?,
        ))
    }

    async fn put_policy(&self, snapshot: &PolicySnapshot) -> Result<()> {
        let value = to_js(snapshot)?;
        let tx = self.tx(&[POLICY], TransactionMode::ReadWrite)?;
        let store = tx
            .store(POLICY)
            .map_err(|e| map_error(e, "writing the policy"))?;
        store
            .put(&value, None)
            .await
            .map_err(|e| map_error(e, "writing the policy"))?;
        finish(tx, "writing the policy").await
    }

    async fn latest_policy(&self) -> Result<Option<PolicySnapshot>> {
        let tx = self.tx(&[POLICY], TransactionMode::ReadOnly)?;
        let store = tx
            .store(POLICY)
            .map_err(|e| map_error(e, "reading the policy"))?;
        let last = store
            .scan(None, Some(1), None, Some(Direction::Prev))
            .await
            .map_err(|e| map_error(e, "reading the policy"))?;
        last.into_iter()
            .next()
            .map(|(_, v)| from_js(v, "policy"))
            .transpose()
    }

    async fn all_policies(&self) -> Result<Vec<PolicySnapshot>> {
        self.read_all(POLICY, None, None, "policy").await
    }

    async fn meta(&self, name: &str) -> Result<Option<serde_json::Value>> {
        let tx = self.tx(&[META], TransactionMode::ReadOnly)?;
        let store = tx
            .store(META)
            .map_err(|e| map_error(e, "reading a setting"))?;
        match store
            .get(key(name))
            .await
            .map_err(|e| map_error(e, "reading a setting"))?
        {
            Some(v) if !v.is_undefined() => Ok(Some(from_js(v, "setting")?)),
            _ => Ok(None),
        }
    }

    async fn put_meta(&self, name: &str, value: &serde_json::Value) -> Result<()> {
        let v = to_js(value)?;
        let tx = self.tx(&[META], TransactionMode::ReadWrite)?;
        let store = tx
            .store(META)
            .map_err(|e| map_error(e, "writing a setting"))?;
        store
            .put(&v, Some(&key(name)))
            .await
            .map_err(|e| map_error(e, "writing a setting"))?;
        finish(tx, "writing a setting").await
    }

    type Staging = IdbStaging;

    fn stage(&self, staging: &mut IdbStaging, chunk: Dataset) -> Result<()> {
        for span in &chunk.spans {
            staging
                .spans
                .push((span.span_id.clone(), span_to_js(span)?));
        }
        for reward in &chunk.rewards {
            staging.rewards.push((
                reward.reward_id.clone(),
                reward.span_id.clone(),
                to_js(reward)?,
            ));
        }
        for policy in &chunk.policies {
            staging.policies.push((policy.version, to_js(policy)?));
        }
        Ok(())
    }

    async fn commit_import(&self, staging: IdbStaging, replace: bool) -> Result<ImportReport> {
        let tx = self.tx(&[SPANS, REWARDS, POLICY], TransactionMode::ReadWrite)?;
        let doing = "importing";
        let s_store = tx.store(SPANS).map_err(|e| map_error(e, doing))?;
        let r_store = tx.store(REWARDS).map_err(|e| map_error(e, doing))?;
        let p_store = tx.store(POLICY).map_err(|e| map_error(e, doing))?;
        let outcome: Result<ImportReport> = async {
            if replace {
                s_store.clear().await.map_err(|e| map_error(e, doing))?;
                r_store.clear().await.map_err(|e| map_error(e, doing))?;
                p_store.clear().await.map_err(|e| map_error(e, doing))?;
            }
            let existing_spans: std::collections::HashSet<String> = s_store
                .get_all_keys(None, None)
                .await
                .map_err(|e| map_error(e, doing))?
                .into_iter()
                .filter_map(|k| k.as_string())
                .collect();
            let existing_rewards: std::collections::HashSet<String> = r_store
                .get_all_keys(None, None)
                .await
                .map_err(|e| map_error(e, doing))?
                .into_iter()
                .filter_map(|k| k.as_string())
                .collect();
            let existing_policies: std::collections::HashSet<u32> = p_store
                .get_all_keys(None, None)
                .await
                .map_err(|e| map_error(e, doing))?
                .into_iter()
                .filter_map(|k| k.as_f64())
                .map(|v| v as u32)
                .collect();
            let mut report = ImportReport::default();
            let mut span_ids: std::collections::HashSet<&str> =
                existing_spans.iter().map(String::as_str).collect();
            let mut new_spans = Vec::new();
            for (id, v) in &staging.spans {
                if span_ids.insert(id.as_str()) {
                    new_spans.push((v.clone(), None));
                    report.spans_added += 1;
                } else {
                    report.spans_skipped += 1;
                }
            }
            let mut new_rewards = Vec::new();
            let mut reward_ids: std::collections::HashSet<&str> =
                existing_rewards.iter().map(String::as_str).collect();
            for (reward_id, span_id, v) in &staging.rewards {
                if !span_ids.contains(span_id.as_str()) {
                    return Err(Error::not_found(
                        "rewards",
                        format!("reward {reward_id} refers to missing span {span_id}"),
                    ));
                }
                if reward_ids.insert(reward_id.as_str()) {
                    new_rewards.push((v.clone(), None));
                    report.rewards_added += 1;
                } else {
                    report.rewards_skipped += 1;
                }
            }
            let mut new_policies = Vec::new();
            for (version, v) in &staging.policies {
                if !existing_policies.contains(version) {
                    new_policies.push((v.clone(), None));
                    report.policies_added += 1;
                }
            }
            s_store
                .write_all(new_spans.into_iter(), false)
                .await
                .map_err(|e| map_error(e, doing))?;
            r_store
                .write_all(new_rewards.into_iter(), false)
                .await
                .map_err(|e| map_error(e, doing))?;
            p_store
                .write_all(new_policies.into_iter(), true)
                .await
                .map_err(|e| map_error(e, doing))?;
            Ok(report)
        }
        .await;
        match outcome {
            Ok(report) => {
                finish(tx, doing).await?;
                Ok(report)
            }
            Err(e) => {
                // Undo everything this transaction did (the clears included).
                let _ = tx.abort().await;
                Err(e)
            }
        }
    }

    async fn clear(&self) -> Result<()> {
        let tx = self.tx(&[SPANS, REWARDS, POLICY], TransactionMode::ReadWrite)?;
        for name in [SPANS, REWARDS, POLICY] {
            let store = tx.store(name).map_err(|e| map_error(e, "clearing"))?;
            store.clear().await.map_err(|e| map_error(e, "clearing"))?;
        }
        finish(tx, "clearing").await
    }
}

enum Either<A, B> {
    Left(A),
    Right(B),
}

/// Whichever of two futures finishes first.
async fn first_of<A: std::future::Future, B: std::future::Future>(
    mut a: std::pin::Pin<Box<A>>,
    mut b: std::pin::Pin<Box<B>>,
) -> Either<A::Output, B::Output> {
    std::future::poll_fn(move |cx| {
        if let std::task::Poll::Ready(x) = a.as_mut().poll(cx) {
            return std::task::Poll::Ready(Either::Left(x));
        }
        if let std::task::Poll::Ready(y) = b.as_mut().poll(cx) {
            return std::task::Poll::Ready(Either::Right(y));
        }
        std::task::Poll::Pending
    })
    .await
}

/// Resolves after `ms` milliseconds (`setTimeout` of the page or worker).
async fn sleep(ms: u32) {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let global = js_sys::global();
        if let Ok(set_timeout) = js_sys::Reflect::get(&global, &JsValue::from_str("setTimeout")) {
            if let Some(f) = set_timeout.dyn_ref::<js_sys::Function>() {
                let _ = f.call2(&global, &resolve, &JsValue::from(ms));
            }
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Dispatches `lightprompt-versionchange` on the global scope so the page can tell the user.
fn notify_version_change() {
    let global = js_sys::global();
    let Ok(ctor) = js_sys::Reflect::get(&global, &JsValue::from_str("Event")) else {
        return;
    };
    let Some(ctor) = ctor.dyn_ref::<js_sys::Function>() else {
        return;
    };
    let args = js_sys::Array::of1(&JsValue::from_str("lightprompt-versionchange"));
    if let Ok(event) = js_sys::Reflect::construct(ctor, &args) {
        if let Ok(dispatch) = js_sys::Reflect::get(&global, &JsValue::from_str("dispatchEvent")) {
            if let Some(f) = dispatch.dyn_ref::<js_sys::Function>() {
                let _ = f.call1(&global, &event);
            }
        }
    }
}

/// An import staged for IndexedDB: each record already in its stored form (held by the JS
/// engine, not in wasm memory) with the ids the commit checks.
#[derive(Default)]
pub struct IdbStaging {
    /// Span id and stored record.
    spans: Vec<(String, JsValue)>,
    /// Reward id, its span's id, and the stored record.
    rewards: Vec<(String, String, JsValue)>,
    /// Policy version and stored record.
    policies: Vec<(u32, JsValue)>,
}

/// Rexie's shape over `idb`, keeping the transaction reachable for its abort cause.
mod db {
    use idb::{
        CursorDirection, Database, Error, KeyRange, ObjectStore, Query, TransactionMode,
        TransactionResult,
    };
    use wasm_bindgen::JsValue;

    type Result<T> = std::result::Result<T, Error>;

    /// An open database.
    #[derive(Debug)]
    pub struct Rexie(pub Database);

    impl Rexie {
        pub fn transaction(&self, stores: &[&str], mode: TransactionMode) -> Result<Transaction> {
            let inner = self.0.transaction(stores, mode)?;
            // A handle on one store, kept to read the transaction's `error` after an abort.
            let probe = stores.first().map(|s| inner.object_store(s)).transpose()?;
            Ok(Transaction { inner, probe })
        }

        pub fn close(self) {
            self.0.close();
        }
    }

    /// A transaction.
    pub struct Transaction {
        inner: idb::Transaction,
        probe: Option<ObjectStore>,
    }

    impl Transaction {
        pub fn store(&self, name: &str) -> Result<Store> {
            Ok(Store(self.inner.object_store(name)?))
        }

        /// Waits for the end; on an abort also returns the cause (DOMException name, message).
        pub async fn done(self) -> Result<(TransactionResult, Option<(String, String)>)> {
            let probe = self.probe;
            let result = self.inner.await?;
            let cause = match (&result, probe) {
                (TransactionResult::Aborted, Some(store)) => {
                    store.transaction().error().map(|e| (e.name(), e.message()))
                }
                _ => None,
            };
            Ok((result, cause))
        }

        pub async fn abort(self) -> Result<()> {
            let _ = self.inner.abort()?.await;
            Ok(())
        }
    }

    fn query(range: Option<KeyRange>) -> Option<Query> {
        range.map(Query::from)
    }

    /// Walks a cursor: `limit` values after skipping `offset`.
    async fn walk(
        cursor: Option<idb::Cursor>,
        limit: Option<u32>,
        offset: Option<u32>,
    ) -> Result<Vec<(JsValue, JsValue)>> {
        let Some(cursor) = cursor else {
            return Ok(Vec::new());
        };
        let mut cursor = cursor.into_managed();
        if let Some(n) = offset.filter(|n| *n > 0) {
            cursor.advance(n).await?;
        }
        let mut out = Vec::new();
        while limit.is_none_or(|l| (out.len() as u32) < l) {
            match (cursor.key()?, cursor.value()?) {
                (Some(k), Some(v)) => {
                    out.push((k, v));
                    cursor.next(None).await?;
                }
                _ => break,
            }
        }
        Ok(out)
    }

    /// An object store in a transaction.
    pub struct Store(ObjectStore);

    impl Store {
        pub fn index(&self, name: &str) -> Result<StoreIndex> {
            Ok(StoreIndex(self.0.index(name)?))
        }
        pub async fn get(&self, key: JsValue) -> Result<Option<JsValue>> {
            self.0.get(key)?.await
        }
        /// One get per key, all issued before the first is awaited (one round trip for the
        /// lot), results in the order of the keys.
        pub async fn get_many(
            &self,
            keys: impl Iterator<Item = JsValue>,
        ) -> Result<Vec<Option<JsValue>>> {
            let pending = keys
                .map(|k| self.0.get(k).map(std::future::IntoFuture::into_future))
                .collect::<Result<Vec<_>>>()?;
            let mut out = Vec::with_capacity(pending.len());
            for request in pending {
                out.push(request.await?);
            }
            Ok(out)
        }
        pub async fn key_exists(&self, key: JsValue) -> Result<bool> {
            Ok(self.0.count(Some(Query::Key(key)))?.await? > 0)
        }
        pub async fn get_all(
            &self,
            range: Option<KeyRange>,
            limit: Option<u32>,
        ) -> Result<Vec<JsValue>> {
            self.0.get_all(query(range), limit)?.await
        }
        pub async fn get_all_keys(
            &self,
            range: Option<KeyRange>,
            limit: Option<u32>,
        ) -> Result<Vec<JsValue>> {
            self.0.get_all_keys(query(range), limit)?.await
        }
        pub async fn scan(
            &self,
            range: Option<KeyRange>,
            limit: Option<u32>,
            offset: Option<u32>,
            direction: Option<CursorDirection>,
        ) -> Result<Vec<(JsValue, JsValue)>> {
            walk(
                self.0.open_cursor(query(range), direction)?.await?,
                limit,
                offset,
            )
            .await
        }
        pub async fn add(&self, value: &JsValue, key: Option<&JsValue>) -> Result<JsValue> {
            self.0.add(value, key)?.await
        }
        /// Queues every write (`add`, or `put` with `overwrite`), then waits for the last:
        /// one round trip for the batch. A failing request aborts the transaction.
        pub async fn write_all(
            &self,
            items: impl Iterator<Item = (JsValue, Option<JsValue>)>,
            overwrite: bool,
        ) -> Result<()> {
            // Only the last request is awaited; the earlier ones stay plain requests (turning
            // them into futures and dropping those would detach their handlers).
            macro_rules! queue {
                ($method:ident) => {{
                    let mut last = None;
                    for (value, key) in items {
                        last = Some(self.0.$method(&value, key.as_ref())?);
                    }
                    if let Some(request) = last {
                        request.await?;
                    }
                }};
            }
            if overwrite {
                queue!(put);
            } else {
                queue!(add);
            }
            Ok(())
        }
        pub async fn put(&self, value: &JsValue, key: Option<&JsValue>) -> Result<JsValue> {
            self.0.put(value, key)?.await
        }
        pub async fn count(&self, range: Option<KeyRange>) -> Result<u32> {
            self.0.count(query(range))?.await
        }
        pub async fn clear(&self) -> Result<()> {
            self.0.clear()?.await
        }
    }

    /// An index in a transaction.
    pub struct StoreIndex(idb::Index);

    impl StoreIndex {
        pub async fn get_all(
            &self,
            range: Option<KeyRange>,
            limit: Option<u32>,
        ) -> Result<Vec<JsValue>> {
            self.0.get_all(query(range), limit)?.await
        }
        pub async fn scan(
            &self,
            range: Option<KeyRange>,
            limit: Option<u32>,
            offset: Option<u32>,
            direction: Option<CursorDirection>,
        ) -> Result<Vec<(JsValue, JsValue)>> {
            walk(
                self.0.open_cursor(query(range), direction)?.await?,
                limit,
                offset,
            )
            .await
        }
        pub async fn count(&self, range: Option<KeyRange>) -> Result<u32> {
            self.0.count(query(range))?.await
        }
    }
}
