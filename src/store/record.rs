//! The compact form a [`Span`] takes in storage (record version [`RECORD_VERSION`]).
//!
//! A span as the API shows it repeats itself: every applied edit copies the id, propensity
//! and "learned" flag of the decision that chose it, and its text is also in the optimized
//! prompt; the name, the facet and the sequence number follow from other fields. A stored
//! record keeps each fact once and leaves out what can be derived, and [`StoredSpan::from`]
//! checks every derivation as it writes: whatever does not derive (an imported span with a
//! name of its own, an edit whose text is not in the prompt) is kept as it is. Reading back
//! therefore gives the very span written (tested on every span of the coherence suite and on
//! arbitrary spans).
//!
//! | key | field | left out when |
//! |---|---|---|
//! | `v` | record version (3) | never |
//! | `spanId`, `taskId`, `category`, `model`, `createdAt` | as on [`Span`] (the indexes' key paths) | never |
//! | `n` | name | it is `prompt_optimization_{category}` |
//! | `rm` | requested model | absent |
//! | `p`, `np` | original and negative prompt | `np` absent |
//! | `o` / `oa` | the optimized prompt / what it adds to `p` | `o` when it begins with `p` |
//! | `pa` | parameters | empty |
//! | `s0`, `s` | original and optimized score | never |
//! | `d` | decisions: `[action, propensity, eligible, slot, learned, offered]`, the action without its category's prefix (other ids start with `=`) | trailing defaults (slot when the action names it, `0`, `[]`) |
//! | `e` | edits: `[decision index or id, text, facet, propensity, learned]`, the text as offset and length in the optimized prompt (length negated: capitalized there), a string, or nothing when it is the action id's part after `:` | trailing defaults |
//! | `k` | keywords, each as offset and length in the optimized prompt or a string | empty |
//! | `pv` | policy version | 0 |
//! | `ms` | duration | 0 |
//! | `q` / `nq` | sequence / "has none" | the sequence is `createdAt` in microseconds |
//! | `op`, `md` | options, metadata | empty |
//!
//! Records stored before this form (no `v`) are full spans, read as they are.

use crate::prompt::adapters::capitalize;
use crate::prompt::optimize::{AppliedEdit, Decision, ASPECT_RATIO_SLOT, KEYWORD_SLOT};
use crate::prompt::{Category, Facet, Options};
use crate::span::{micros, Metadata, Span, TrainingSpan};
use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

/// Version of the compact record; full records (no `v`) came before it.
pub const RECORD_VERSION: u32 = 3;

/// A span as stored: see the module documentation for its keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSpan {
    #[serde(rename = "v")]
    version: u32,
    #[serde(rename = "spanId")]
    span_id: String,
    #[serde(rename = "taskId")]
    task_id: String,
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    category: Category,
    model: String,
    #[serde(rename = "rm", default, skip_serializing_if = "Option::is_none")]
    requested_model: Option<String>,
    #[serde(rename = "p")]
    original_prompt: String,
    #[serde(rename = "o", default, skip_serializing_if = "Option::is_none")]
    optimized_prompt: Option<String>,
    #[serde(rename = "oa", default, skip_serializing_if = "Option::is_none")]
    appended: Option<String>,
    #[serde(rename = "np", default, skip_serializing_if = "Option::is_none")]
    negative_prompt: Option<String>,
    #[serde(rename = "pa", default, skip_serializing_if = "BTreeMap::is_empty")]
    parameters: BTreeMap<String, serde_json::Value>,
    #[serde(rename = "s0")]
    original_quality_score: f64,
    #[serde(rename = "s")]
    quality_score: f64,
    #[serde(rename = "d", default, skip_serializing_if = "Vec::is_empty")]
    decisions: Vec<StoredDecision>,
    #[serde(rename = "e", default, skip_serializing_if = "Vec::is_empty")]
    edits: Vec<StoredEdit>,
    #[serde(
        rename = "k",
        default,
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "serialize_keywords",
        deserialize_with = "deserialize_keywords"
    )]
    keywords: Vec<StoredKeyword>,
    #[serde(rename = "pv", default, skip_serializing_if = "is_zero_u32")]
    policy_version: u32,
    #[serde(rename = "createdAt")]
    created_at: f64,
    #[serde(rename = "ms", default, skip_serializing_if = "is_zero_f64")]
    duration_ms: f64,
    #[serde(rename = "q", default, skip_serializing_if = "Option::is_none")]
    sequence: Option<u64>,
    #[serde(rename = "nq", default, skip_serializing_if = "is_false")]
    no_sequence: bool,
    #[serde(rename = "op", default, skip_serializing_if = "BTreeMap::is_empty")]
    options: Options,
    #[serde(rename = "md", default, skip_serializing_if = "BTreeMap::is_empty")]
    metadata: Metadata,
}

/// The fields of a stored span that learning reads, in either form: the prompts and
/// parameters are never converted.
#[derive(Debug, Clone, Deserialize)]
pub struct StoredTrainingSpan {
    #[serde(rename = "v", default)]
    version: u32,
    #[serde(rename = "spanId")]
    span_id: String,
    category: Category,
    model: String,
    #[serde(rename = "d", default)]
    compact_decisions: Vec<StoredDecision>,
    #[serde(default)]
    decisions: Vec<Decision>,
    #[serde(rename = "k", default, deserialize_with = "deserialize_keywords")]
    compact_keywords: Vec<StoredKeyword>,
    #[serde(default)]
    keywords: Vec<String>,
    // The optimized prompt, which compact keywords may point into.
    #[serde(rename = "p", default)]
    original_prompt: String,
    #[serde(rename = "o", default)]
    optimized_prompt: Option<String>,
    #[serde(rename = "oa", default)]
    appended: Option<String>,
}

impl StoredTrainingSpan {
    /// What learning reads of the span, or what makes the record unreadable.
    pub fn into_training(self) -> Result<TrainingSpan, String> {
        let (decisions, keywords) = if self.version >= RECORD_VERSION {
            let category = self.category;
            let decisions = self
                .compact_decisions
                .into_iter()
                .map(|d| d.into_decision(category))
                .collect();
            let optimized =
                optimized_prompt(&self.original_prompt, self.optimized_prompt, self.appended)?;
            (decisions, keywords(self.compact_keywords, &optimized)?)
        } else {
            (self.decisions, self.keywords)
        };
        Ok(TrainingSpan {
            span_id: self.span_id,
            category: self.category,
            model: self.model,
            decisions,
            keywords,
        })
    }
}

/// The optimized prompt from `o`, or from `p` and what `oa` adds to it.
fn optimized_prompt(
    original: &str,
    optimized: Option<String>,
    appended: Option<String>,
) -> Result<String, String> {
    match (optimized, appended) {
        (Some(o), None) => Ok(o),
        (None, Some(rest)) => Ok(format!("{original}{rest}")),
        _ => Err("it needs exactly one of o and oa".to_string()),
    }
}

/// One keyword: at an offset and length in the optimized prompt (two numbers), or its own
/// text.
#[derive(Debug, Clone, PartialEq)]
enum StoredKeyword {
    InPrompt(u32, u32),
    Own(String),
}

impl StoredKeyword {
    fn new(keyword: &str, prompt: &str) -> StoredKeyword {
        match edit_text_in(prompt, keyword) {
            EditText::InPrompt(o, n) => StoredKeyword::InPrompt(o, n),
            _ => StoredKeyword::Own(keyword.to_string()),
        }
    }
}

/// The keywords of a record, read against its optimized prompt.
fn keywords(stored: Vec<StoredKeyword>, prompt: &str) -> Result<Vec<String>, String> {
    stored
        .into_iter()
        .map(|k| match k {
            StoredKeyword::Own(t) => Ok(t),
            StoredKeyword::InPrompt(o, n) => text_at(prompt, o, n)
                .map(str::to_string)
                .ok_or_else(|| "a keyword lies outside the prompt".to_string()),
        })
        .collect()
}

/// The `n` bytes at offset `o` of `prompt`, if they lie inside it on character boundaries.
fn text_at(prompt: &str, o: u32, n: u32) -> Option<&str> {
    let (o, n) = (o as usize, n as usize);
    prompt.get(o..o.saturating_add(n))
}

/// Keywords as one flat list: a string, or an offset followed by a length.
fn serialize_keywords<S: Serializer>(k: &[StoredKeyword], s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(None)?;
    for k in k {
        match k {
            StoredKeyword::InPrompt(o, n) => {
                seq.serialize_element(o)?;
                seq.serialize_element(n)?;
            }
            StoredKeyword::Own(t) => seq.serialize_element(t)?,
        }
    }
    seq.end()
}

fn deserialize_keywords<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<StoredKeyword>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<StoredKeyword>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("keywords: strings, or offsets each followed by a length")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element::<Scalar>()? {
                out.push(match item {
                    Scalar::Text(t) => StoredKeyword::Own(t),
                    Scalar::Number(o) => {
                        let n: f64 = seq.next_element()?.ok_or_else(|| {
                            de::Error::custom("a keyword's offset has no length after it")
                        })?;
                        StoredKeyword::InPrompt(whole(o, "offset")?, whole(n, "length")?)
                    }
                });
            }
            Ok(out)
        }
    }
    d.deserialize_seq(V)
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}
fn is_zero_f64(v: &f64) -> bool {
    *v == 0.0 && v.is_sign_positive()
}
fn is_false(v: &bool) -> bool {
    !*v
}

/// The slot a decision's action names: `{category}.{slot}.…` for rule edits, and the
/// aspect-ratio and learned-keyword actions by their prefixes.
fn slot_named_by(action: &str, category: Category) -> Option<&str> {
    if action.starts_with("aspectRatio:") {
        return Some(ASPECT_RATIO_SLOT);
    }
    if action.starts_with("keyword:") {
        return Some(KEYWORD_SLOT);
    }
    let rest = action.strip_prefix(category.as_str())?.strip_prefix('.')?;
    let (slot, _) = rest.split_once('.')?;
    (!slot.is_empty()).then_some(slot)
}

/// An action id without its category's prefix (`image.lighting.x` is `lighting.x` in an
/// image span); any other id is marked with a leading `=`, so the two never meet.
fn shorten_action(action: &str, category: Category) -> String {
    match action
        .strip_prefix(category.as_str())
        .and_then(|r| r.strip_prefix('.'))
    {
        Some(rest) if !rest.starts_with('=') => rest.to_string(),
        _ => format!("={action}"),
    }
}

/// The full action id of a stored one (see [`shorten_action`]).
fn expand_action(stored: &str, category: Category) -> String {
    match stored.strip_prefix('=') {
        Some(action) => action.to_string(),
        None => format!("{}.{stored}", category.as_str()),
    }
}

/// The facet an edit fills when nothing else is said: the facet its slot is named after
/// (the aspect ratio is composition), or the one an option edit (`option.{facet}`) names.
fn facet_named_by(slot_or_id: &str) -> Option<Facet> {
    if slot_or_id == ASPECT_RATIO_SLOT {
        return Some(Facet::Composition);
    }
    Facet::parse(slot_or_id.strip_prefix("option.").unwrap_or(slot_or_id))
}

/// One decision: `[action, propensity, eligible, slot, learned, offered]`, trailing defaults
/// left out (the slot is `""` when the action names it).
#[derive(Debug, Clone, PartialEq)]
struct StoredDecision {
    action: String,
    propensity: f64,
    eligible: u32,
    slot: String,
    learned: bool,
    offered: Vec<String>,
}

impl StoredDecision {
    fn new(d: &Decision, category: Category) -> StoredDecision {
        let derived = slot_named_by(&d.action, category) == Some(d.slot.as_str());
        StoredDecision {
            action: shorten_action(&d.action, category),
            propensity: d.propensity,
            eligible: d.eligible,
            slot: if derived {
                String::new()
            } else {
                d.slot.clone()
            },
            learned: d.learned,
            offered: d.offered.clone(),
        }
    }

    fn into_decision(self, category: Category) -> Decision {
        let action = expand_action(&self.action, category);
        let slot = if self.slot.is_empty() {
            slot_named_by(&action, category)
                .unwrap_or_default()
                .to_string()
        } else {
            self.slot
        };
        Decision {
            slot,
            action,
            propensity: self.propensity,
            learned: self.learned,
            eligible: self.eligible,
            offered: self.offered,
        }
    }
}

impl Serialize for StoredDecision {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let len = if !self.offered.is_empty() {
            6
        } else if self.learned {
            5
        } else if !self.slot.is_empty() {
            4
        } else {
            3
        };
        let mut seq = s.serialize_seq(Some(len))?;
        seq.serialize_element(&self.action)?;
        seq.serialize_element(&self.propensity)?;
        seq.serialize_element(&self.eligible)?;
        if len > 3 {
            seq.serialize_element(&self.slot)?;
        }
        if len > 4 {
            seq.serialize_element(&u8::from(self.learned))?;
        }
        if len > 5 {
            seq.serialize_element(&self.offered)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for StoredDecision {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StoredDecision;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a decision [action, propensity, eligible, …]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StoredDecision, A::Error> {
                let missing = |i| de::Error::invalid_length(i, &"at least 3 elements");
                let action: String = seq.next_element()?.ok_or_else(|| missing(0))?;
                let propensity: f64 = seq.next_element()?.ok_or_else(|| missing(1))?;
                let eligible: u32 = seq.next_element()?.ok_or_else(|| missing(2))?;
                let slot: String = seq.next_element()?.unwrap_or_default();
                let learned: u8 = seq.next_element()?.unwrap_or_default();
                let offered: Vec<String> = seq.next_element()?.unwrap_or_default();
                Ok(StoredDecision {
                    action,
                    propensity,
                    eligible,
                    slot,
                    learned: learned != 0,
                    offered,
                })
            }
        }
        d.deserialize_seq(V)
    }
}

/// Where an edit's id, propensity and "learned" flag come from.
#[derive(Debug, Clone, PartialEq)]
enum EditSource {
    /// The decision at this index chose it.
    Decision(u32),
    /// No decision did (an option edit): its id.
    Id(String),
}

/// Where an edit's text is.
#[derive(Debug, Clone, PartialEq)]
enum EditText {
    /// At this byte offset and length in the optimized prompt.
    InPrompt(u32, u32),
    /// There, with its first letter capitalized (a sentence the adapter began with it);
    /// written with the length negated.
    Capitalized(u32, u32),
    /// The part of its decision's action id after `:` (`aspectRatio:16:9` adds `16:9`);
    /// written as nothing.
    FromAction,
    /// Here (the prompt does not hold it verbatim).
    Own(String),
}

/// One edit: `[source, text, facet, propensity, learned]`, where the text is two numbers
/// (offset, length in the optimized prompt) or a string, the facet is `""` when the source
/// names it, and propensity and learned are written only for an edit no decision chose and
/// only when they are not 1 and false.
#[derive(Debug, Clone, PartialEq)]
struct StoredEdit {
    source: EditSource,
    text: EditText,
    facet: Option<Facet>,
    propensity: f64,
    learned: bool,
}

impl Serialize for StoredEdit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let own =
            matches!(self.source, EditSource::Id(_)) && (self.propensity != 1.0 || self.learned);
        let facet_follows = self.facet.is_some() || own;
        let mut seq = s.serialize_seq(None)?;
        match &self.source {
            EditSource::Decision(i) => seq.serialize_element(i)?,
            EditSource::Id(id) => seq.serialize_element(id)?,
        }
        match &self.text {
            EditText::InPrompt(o, n) => {
                seq.serialize_element(o)?;
                seq.serialize_element(n)?;
            }
            EditText::Capitalized(o, n) => {
                seq.serialize_element(o)?;
                seq.serialize_element(&-i64::from(*n))?;
            }
            EditText::Own(t) => seq.serialize_element(t)?,
            // A facet follows: the text's place must be filled.
            EditText::FromAction if facet_follows => seq.serialize_element(&Option::<()>::None)?,
            EditText::FromAction => {}
        }
        if facet_follows {
            seq.serialize_element(self.facet.map_or("", Facet::as_str))?;
        }
        if own {
            seq.serialize_element(&self.propensity)?;
            seq.serialize_element(&u8::from(self.learned))?;
        }
        seq.end()
    }
}

/// A number or a string, as the first two elements of an edit may be.
enum Scalar {
    Number(f64),
    Text(String),
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar::Number(v as f64))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Number(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar::Number(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Text(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar::Text(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// An index, offset or length (of an edit or a keyword): a whole number of 32 bits.
fn whole<E: de::Error>(n: f64, what: &str) -> Result<u32, E> {
    if n.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(&n) {
        Ok(n as u32)
    } else {
        Err(E::custom(format!(
            "{what} {n} is not a whole number of 32 bits"
        )))
    }
}

impl<'de> Deserialize<'de> for StoredEdit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StoredEdit;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an edit [source, text, …]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StoredEdit, A::Error> {
                let missing = |i| de::Error::invalid_length(i, &"at least 1 element");
                let source = match seq.next_element::<Scalar>()?.ok_or_else(|| missing(0))? {
                    Scalar::Number(n) => EditSource::Decision(whole(n, "decision index")?),
                    Scalar::Text(id) => EditSource::Id(id),
                };
                let text = match seq.next_element::<Option<Scalar>>()? {
                    Some(Some(Scalar::Number(o))) => {
                        let n: f64 = seq.next_element()?.ok_or_else(|| missing(2))?;
                        let o = whole(o, "offset")?;
                        if n < 0.0 {
                            EditText::Capitalized(o, whole(-n, "length")?)
                        } else {
                            EditText::InPrompt(o, whole(n, "length")?)
                        }
                    }
                    Some(Some(Scalar::Text(t))) => EditText::Own(t),
                    _ => EditText::FromAction,
                };
                let facet = match seq.next_element::<String>()? {
                    Some(f) if !f.is_empty() => Some(Facet::parse(&f).ok_or_else(|| {
                        de::Error::custom(format!("an edit's facet {f:?} is unknown"))
                    })?),
                    _ => None,
                };
                let propensity: f64 = seq.next_element()?.unwrap_or(1.0);
                let learned: u8 = seq.next_element()?.unwrap_or_default();
                Ok(StoredEdit {
                    source,
                    text,
                    facet,
                    propensity,
                    learned: learned != 0,
                })
            }
        }
        d.deserialize_seq(V)
    }
}

impl From<&Span> for StoredSpan {
    fn from(s: &Span) -> StoredSpan {
        let decisions: Vec<StoredDecision> = s
            .decisions
            .iter()
            .map(|d| StoredDecision::new(d, s.category))
            .collect();
        let edits = s
            .edits
            .iter()
            .map(|e| stored_edit(e, s))
            .collect::<Vec<_>>();
        let derived_sequence = s.sequence == Some(micros(s.created_at));
        let appended = s
            .optimized_prompt
            .strip_prefix(s.original_prompt.as_str())
            .filter(|_| !s.original_prompt.is_empty())
            .map(str::to_string);
        StoredSpan {
            version: RECORD_VERSION,
            span_id: s.span_id.clone(),
            task_id: s.task_id.clone(),
            name: (s.name != Span::name_for(s.category)).then(|| s.name.clone()),
            category: s.category,
            model: s.model.clone(),
            requested_model: s.requested_model.clone(),
            original_prompt: s.original_prompt.clone(),
            optimized_prompt: appended.is_none().then(|| s.optimized_prompt.clone()),
            appended,
            negative_prompt: s.negative_prompt.clone(),
            parameters: s.parameters.clone(),
            original_quality_score: s.original_quality_score,
            quality_score: s.quality_score,
            decisions,
            edits,
            keywords: s
                .keywords
                .iter()
                .map(|k| StoredKeyword::new(k, &s.optimized_prompt))
                .collect(),
            policy_version: s.policy_version,
            created_at: s.created_at,
            duration_ms: s.duration_ms,
            sequence: if derived_sequence { None } else { s.sequence },
            no_sequence: s.sequence.is_none(),
            options: s.options.clone(),
            metadata: s.metadata.clone(),
        }
    }
}

/// An edit in stored form: its decision when one chose it with the same propensity and
/// flag, its text by position when the optimized prompt holds it verbatim, its facet only
/// when the slot (or the option id) does not name it.
fn stored_edit(e: &AppliedEdit, s: &Span) -> StoredEdit {
    let decision = s
        .decisions
        .iter()
        .position(|d| {
            d.action == e.id
                && d.propensity.to_bits() == e.propensity.to_bits()
                && d.learned == e.learned
        })
        .filter(|&i| u32::try_from(i).is_ok());
    let (source, named_facet) = match decision {
        Some(i) => (
            EditSource::Decision(i as u32),
            facet_named_by(&s.decisions[i].slot),
        ),
        None => (EditSource::Id(e.id.clone()), facet_named_by(&e.id)),
    };
    let action_text = decision.and_then(|i| s.decisions[i].action.split_once(':'));
    let text = if action_text.is_some_and(|(_, t)| t == e.text) {
        EditText::FromAction
    } else {
        edit_text_in(&s.optimized_prompt, &e.text)
    };
    StoredEdit {
        source,
        text,
        facet: (named_facet != Some(e.facet)).then_some(e.facet),
        propensity: e.propensity,
        learned: e.learned,
    }
}

/// Where `text` is in `prompt`: verbatim, or capitalized as the adapters begin a sentence
/// with it (their own [`capitalize`]; checked to read back exactly), else its own.
fn edit_text_in(prompt: &str, text: &str) -> EditText {
    let place = |found: Option<usize>, len: usize| {
        Some((u32::try_from(found?).ok()?, u32::try_from(len).ok()?))
    };
    if text.is_empty() {
        return EditText::Own(String::new());
    }
    if let Some((o, n)) = place(prompt.find(text), text.len()) {
        return EditText::InPrompt(o, n);
    }
    let capital = capitalize(text);
    if capital != text && decapitalize(&capital) == text {
        if let Some((o, n)) = place(prompt.find(capital.as_str()), capital.len()) {
            return EditText::Capitalized(o, n);
        }
    }
    EditText::Own(text.to_string())
}

/// The first letter of `text` in lower case: what [`capitalize`] undoes.
fn decapitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map_or_else(String::new, |c| c.to_lowercase().chain(chars).collect())
}

impl StoredSpan {
    /// The span this record holds, or what makes it unreadable.
    pub fn into_span(self) -> Result<Span, String> {
        let category = self.category;
        let optimized_prompt =
            optimized_prompt(&self.original_prompt, self.optimized_prompt, self.appended)?;
        let keywords = keywords(self.keywords, &optimized_prompt)?;
        let decisions: Vec<Decision> = self
            .decisions
            .into_iter()
            .map(|d| d.into_decision(category))
            .collect();
        let mut edits = Vec::with_capacity(self.edits.len());
        for (i, e) in self.edits.into_iter().enumerate() {
            let (id, propensity, learned, named_facet) = match e.source {
                EditSource::Decision(at) => {
                    let d = decisions.get(at as usize).ok_or_else(|| {
                        format!("edit {i} names decision {at}, which does not exist")
                    })?;
                    (
                        d.action.clone(),
                        d.propensity,
                        d.learned,
                        facet_named_by(&d.slot),
                    )
                }
                EditSource::Id(id) => {
                    let named = facet_named_by(&id);
                    (id, e.propensity, e.learned, named)
                }
            };
            let at = |o: u32, n: u32| {
                text_at(&optimized_prompt, o, n)
                    .ok_or_else(|| format!("edit {i}'s text lies outside the prompt"))
            };
            let text = match e.text {
                EditText::Own(t) => t,
                EditText::InPrompt(o, n) => at(o, n)?.to_string(),
                EditText::Capitalized(o, n) => decapitalize(at(o, n)?),
                EditText::FromAction => match id.split_once(':') {
                    Some((_, t)) => t.to_string(),
                    None => return Err(format!("edit {i}'s action {id:?} holds no text")),
                },
            };
            let facet = e
                .facet
                .or(named_facet)
                .ok_or_else(|| format!("edit {i} has no facet"))?;
            edits.push(AppliedEdit {
                id,
                facet,
                text,
                learned,
                propensity,
            });
        }
        Ok(Span {
            name: self.name.unwrap_or_else(|| Span::name_for(category)),
            sequence: if self.no_sequence {
                None
            } else {
                Some(self.sequence.unwrap_or_else(|| micros(self.created_at)))
            },
            span_id: self.span_id,
            task_id: self.task_id,
            category,
            model: self.model,
            requested_model: self.requested_model,
            original_prompt: self.original_prompt,
            optimized_prompt,
            negative_prompt: self.negative_prompt,
            parameters: self.parameters,
            original_quality_score: self.original_quality_score,
            quality_score: self.quality_score,
            edits,
            decisions,
            keywords,
            policy_version: self.policy_version,
            created_at: self.created_at,
            duration_ms: self.duration_ms,
            options: self.options,
            metadata: self.metadata,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Span {
        Span {
            span_id: "00000000000000aa".into(),
            task_id: "0000000000000000000000000000000b".into(),
            name: Span::name_for(Category::Image),
            category: Category::Image,
            model: "midjourney-v7".into(),
            requested_model: Some("mj".into()),
            original_prompt: "a fox".into(),
            optimized_prompt: "a fox, golden hour light --ar 16:9 --v 7".into(),
            negative_prompt: None,
            parameters: BTreeMap::new(),
            original_quality_score: 20.0,
            quality_score: 70.5,
            edits: vec![
                AppliedEdit {
                    id: "image.lighting.golden".into(),
                    facet: Facet::Lighting,
                    text: "golden hour light".into(),
                    learned: true,
                    propensity: 0.25,
                },
                AppliedEdit {
                    id: "aspectRatio:16:9".into(),
                    facet: Facet::Composition,
                    text: "16:9".into(),
                    learned: false,
                    propensity: 0.9,
                },
                AppliedEdit {
                    id: "option.style".into(),
                    facet: Facet::Style,
                    text: "in the style of a woodcut".into(),
                    learned: false,
                    propensity: 1.0,
                },
            ],
            decisions: vec![
                Decision {
                    slot: "lighting".into(),
                    action: "image.lighting.golden".into(),
                    propensity: 0.25,
                    learned: true,
                    eligible: 7,
                    offered: vec![],
                },
                Decision {
                    slot: "aspectRatio".into(),
                    action: "aspectRatio:16:9".into(),
                    propensity: 0.9,
                    learned: false,
                    eligible: 3,
                    offered: vec![],
                },
                Decision {
                    slot: "mood".into(),
                    action: "skip".into(),
                    propensity: 0.5,
                    learned: false,
                    eligible: 4,
                    offered: vec![],
                },
                Decision {
                    slot: "keyword".into(),
                    action: "keyword:film grain".into(),
                    propensity: 0.5,
                    learned: true,
                    eligible: 3,
                    offered: vec!["film grain".into(), "bokeh".into()],
                },
            ],
            keywords: vec!["golden hour".into()],
            policy_version: 2,
            created_at: 1_700_000_000_123.0,
            duration_ms: 0.25,
            sequence: Some(micros(1_700_000_000_123.0)),
            options: Options::new(),
            metadata: Metadata::new(),
        }
    }

    fn round_trip(s: &Span) -> (Span, String) {
        let stored = StoredSpan::from(s);
        let json = serde_json::to_string(&stored).unwrap();
        let back: StoredSpan = serde_json::from_str(&json).unwrap();
        (back.into_span().unwrap(), json)
    }

    #[test]
    fn a_stored_span_reads_back_as_written_and_keeps_each_fact_once() {
        let s = sample();
        let (back, json) = round_trip(&s);
        assert_eq!(back, s);
        // The edit chosen by decision 0 is a reference with its text's place in the prompt;
        // the option edit keeps its text; the skip keeps its slot.
        assert!(json.contains(r#"[0,7,17]"#), "{json}");
        assert!(
            json.contains(r#"["option.style","in the style of a woodcut"]"#),
            "{json}"
        );
        assert!(json.contains(r#"["=skip",0.5,4,"mood"]"#), "{json}");
        assert!(
            json.contains(r#"["lighting.golden",0.25,7,"",1]"#),
            "{json}"
        );
        assert!(!json.contains("golden hour light\""), "{json}");
        assert!(!json.contains("prompt_optimization"), "{json}");
        assert!(!json.contains("\"q\""), "{json}");
        // The optimized prompt is stored as what it adds; the aspect ratio's text is its id's.
        assert!(json.contains(r#""oa":", golden hour light"#), "{json}");
        assert!(!json.contains(r#""o":"#), "{json}");
        assert!(json.contains(r#"[1]"#), "{json}");
        // A keyword the prompt holds is its place there.
        assert!(json.contains(r#""k":[7,11]"#), "{json}");
    }

    #[test]
    fn a_capitalized_edit_is_found_where_the_adapter_began_a_sentence_with_it() {
        let mut s = sample();
        s.optimized_prompt = "A fox. Golden hour light. --ar 16:9".into();
        let (back, json) = round_trip(&s);
        assert_eq!(back, s);
        assert!(json.contains("[0,7,-17]"), "{json}");
        assert!(json.contains(r#""o":"A fox."#), "{json}");
        // A first letter whose capital does not lower back to it keeps its own text.
        s.edits[0].text = "ßig light".into();
        s.optimized_prompt = "a fox, SSig light".into();
        let (back, json) = round_trip(&s);
        assert_eq!(back, s);
        assert!(json.contains(r#"[0,"ßig light"]"#), "{json}");
    }

    #[test]
    fn what_does_not_derive_is_kept_as_it_is() {
        let mut s = sample();
        s.name = "imported".into();
        s.sequence = None;
        s.edits[0].facet = Facet::Mood; // not the facet its slot names
        s.edits[0].propensity = 0.3; // not its decision's
        s.decisions[0].slot = "color".into(); // not the slot its action names
        s.decisions[2].action = "image.=odd".into(); // would read as an escaped id
        s.edits[2].text = "not in the prompt".into();
        s.edits[2].learned = true;
        s.duration_ms = -0.0;
        let (back, _) = round_trip(&s);
        assert_eq!(back, s);
        s.sequence = Some(7);
        assert_eq!(round_trip(&s).0, s);
    }

    #[test]
    fn a_record_pointing_outside_its_prompt_is_unreadable_not_a_panic() {
        let json = serde_json::to_string(&StoredSpan::from(&sample()))
            .unwrap()
            .replace("[0,7,17]", "[0,7,999]");
        let stored: StoredSpan = serde_json::from_str(&json).unwrap();
        assert!(stored
            .into_span()
            .unwrap_err()
            .contains("outside the prompt"));
        let json = serde_json::to_string(&StoredSpan::from(&sample()))
            .unwrap()
            .replace("[0,7,17]", "[9,7,17]");
        let stored: StoredSpan = serde_json::from_str(&json).unwrap();
        assert!(stored.into_span().unwrap_err().contains("decision 9"));
    }

    #[test]
    fn training_reads_both_forms_alike() {
        let s = sample();
        let compact = serde_json::to_string(&StoredSpan::from(&s)).unwrap();
        let full = serde_json::to_string(&s).unwrap();
        for json in [compact, full] {
            let t: StoredTrainingSpan = serde_json::from_str(&json).unwrap();
            assert_eq!(t.into_training().unwrap(), TrainingSpan::from(&s));
        }
    }
}
