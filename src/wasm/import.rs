//! The documents `importData` reads, a part at a time: a JS object (its arrays walked a
//! chunk at a time), or JSON text in a `Blob`/`File` or a string, read through
//! [`DocumentReader`] so that the whole text never enters wasm memory.

use super::from_js;
use crate::document::{DocumentReader, Piece, RecordList};
use crate::engine::{DocumentPart, ImportSource, IMPORT_CHUNK};
use crate::error::{Error, Result};
use crate::store::Dataset;
use js_sys::{Array, Function, JsString, Reflect, Uint8Array};
use std::collections::VecDeque;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// UTF-16 units of a string read at a time.
const TEXT_SLICE: u32 = 1 << 20;

fn get(target: &JsValue, name: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// A document that is a JS object: the header first, then its lists a chunk at a time.
pub struct ObjectSource {
    doc: JsValue,
    /// Format and version are handed on first (0, 1), then the lists.
    header: u8,
    lists: [(RecordList, Array); 3],
    /// The list being read and the next index in it.
    list: usize,
    next: u32,
    read: u64,
    total: u64,
}

impl ObjectSource {
    /// Reads `doc`, which must be an object; a list that is there must be an array.
    pub fn new(doc: JsValue) -> Result<ObjectSource> {
        let list = |kind: RecordList| -> Result<(RecordList, Array)> {
            let value = get(&doc, kind.name());
            if value.is_undefined() || value.is_null() {
                return Ok((kind, Array::new()));
            }
            value
                .dyn_into::<Array>()
                .map(|a| (kind, a))
                .map_err(|_| Error::invalid(kind.name(), "must be an array"))
        };
        let lists = [
            list(RecordList::Spans)?,
            list(RecordList::Rewards)?,
            list(RecordList::Policies)?,
        ];
        let total = lists.iter().map(|(_, a)| u64::from(a.length())).sum();
        Ok(ObjectSource {
            doc,
            header: 0,
            lists,
            list: 0,
            next: 0,
            read: 0,
            total,
        })
    }
}

impl ImportSource for ObjectSource {
    fn position(&self) -> (u64, u64) {
        (self.read, self.total)
    }

    async fn next_part(&mut self) -> Result<Option<DocumentPart>> {
        while self.header < 2 {
            self.header += 1;
            let name = if self.header == 1 {
                "format"
            } else {
                "version"
            };
            let value = get(&self.doc, name);
            if value.is_undefined() {
                continue;
            }
            return Ok(Some(if self.header == 1 {
                DocumentPart::Format(from_js(value, "format", "format")?)
            } else {
                DocumentPart::Version(from_js(value, "version", "version")?)
            }));
        }
        while let Some((kind, array)) = self.lists.get(self.list) {
            if self.next >= array.length() {
                self.list += 1;
                self.next = 0;
                continue;
            }
            let end = array.length().min(self.next + IMPORT_CHUNK as u32);
            let mut data = Dataset::default();
            for i in self.next..end {
                let field = format!("{}[{i}]", kind.name());
                add_record(&mut data, *kind, array.get(i), &field)?;
            }
            self.read += u64::from(end - self.next);
            self.next = end;
            return Ok(Some(DocumentPart::Records(data)));
        }
        Ok(None)
    }
}

/// Converts one record of `list` into `data`, naming any bad field under `field`.
fn add_record(data: &mut Dataset, list: RecordList, value: JsValue, field: &str) -> Result<()> {
    match list {
        RecordList::Spans => data.spans.push(from_js(value, field, field)?),
        RecordList::Rewards => data.rewards.push(from_js(value, field, field)?),
        RecordList::Policies => data.policies.push(from_js(value, field, field)?),
    }
    Ok(())
}

/// Where JSON text comes from.
enum Text {
    /// A `Blob`'s stream reader.
    Stream(JsValue),
    /// A string, and how far it has been read (UTF-16 units).
    String(JsString, u32),
}

/// A document that is JSON text, in a `Blob` (a `File`) or a string.
pub struct TextSource {
    text: Text,
    reader: DocumentReader,
    pieces: VecDeque<Piece>,
    ended: bool,
    read: u64,
    total: u64,
}

impl TextSource {
    /// Reads a `Blob` (or `File`) through its stream.
    pub fn blob(blob: &JsValue) -> Result<TextSource> {
        let unreadable = |_| Error::invalid("document", "is a Blob that cannot be read");
        let stream = get(blob, "stream")
            .dyn_into::<Function>()
            .map_err(unreadable)?
            .call0(blob)
            .map_err(unreadable)?;
        let reader = get(&stream, "getReader")
            .dyn_into::<Function>()
            .map_err(unreadable)?
            .call0(&stream)
            .map_err(unreadable)?;
        Ok(TextSource::new(
            Text::Stream(reader),
            get(blob, "size").as_f64().unwrap_or(0.0) as u64,
        ))
    }

    /// Reads a string a slice at a time.
    pub fn string(text: JsString) -> TextSource {
        let total = u64::from(text.length());
        TextSource::new(Text::String(text, 0), total)
    }

    fn new(text: Text, total: u64) -> TextSource {
        TextSource {
            text,
            reader: DocumentReader::new(),
            pieces: VecDeque::new(),
            ended: false,
            read: 0,
            total,
        }
    }

    /// Reads the next bytes into the reader; false at the end.
    async fn fill(&mut self) -> Result<bool> {
        let mut out = Vec::new();
        let more = match &mut self.text {
            Text::Stream(reader) => {
                let read = get(reader, "read")
                    .dyn_into::<Function>()
                    .and_then(|f| f.call0(reader))
                    .map_err(|e| read_failed(&e))?;
                let result = JsFuture::from(js_sys::Promise::resolve(&read))
                    .await
                    .map_err(|e| read_failed(&e))?;
                if get(&result, "done").is_truthy() {
                    false
                } else {
                    let bytes = Uint8Array::new(&get(&result, "value")).to_vec();
                    self.read += bytes.len() as u64;
                    self.reader.feed(&bytes, &mut out)?;
                    true
                }
            }
            Text::String(text, at) => {
                let len = text.length();
                if *at >= len {
                    false
                } else {
                    let mut end = len.min(*at + TEXT_SLICE);
                    // Never split a surrogate pair: the halves would not convert.
                    if end < len && (55296.0..56320.0).contains(&text.char_code_at(end - 1)) {
                        end -= 1;
                    }
                    let slice = String::from(text.slice(*at, end));
                    self.read += u64::from(end - *at);
                    *at = end;
                    self.reader.feed(slice.as_bytes(), &mut out)?;
                    true
                }
            }
        };
        if !more {
            self.reader.finish(&mut out)?;
        }
        self.pieces.extend(out);
        Ok(more)
    }
}

fn read_failed(e: &JsValue) -> Error {
    let message = get(e, "message")
        .as_string()
        .unwrap_or_else(|| "it could not be read".into());
    Error::invalid("document", format!("could not be read: {message}"))
}

impl ImportSource for TextSource {
    fn position(&self) -> (u64, u64) {
        (self.read, self.total.max(self.read))
    }

    async fn next_part(&mut self) -> Result<Option<DocumentPart>> {
        let mut data = Dataset::default();
        let mut records = 0;
        loop {
            while let Some(piece) = self.pieces.pop_front() {
                match piece {
                    Piece::Field { name, value } => {
                        let header = match name.as_str() {
                            "format" => DocumentPart::Format(parse(&value, "format")?),
                            "version" => DocumentPart::Version(parse(&value, "version")?),
                            "spans" | "rewards" | "policies" => {
                                return Err(Error::invalid(name, "must be an array"))
                            }
                            _ => continue,
                        };
                        if records == 0 {
                            return Ok(Some(header));
                        }
                        // Records first; the header field is read again next time.
                        self.pieces.push_front(Piece::Field { name, value });
                        return Ok(Some(DocumentPart::Records(data)));
                    }
                    Piece::Record { list, index, text } => {
                        let field = format!("{}[{index}]", list.name());
                        add_record(&mut data, list, json(&text, &field)?, &field)?;
                        records += 1;
                    }
                }
            }
            if records >= IMPORT_CHUNK || self.ended {
                return Ok((records > 0).then_some(DocumentPart::Records(data)));
            }
            self.ended = !self.fill().await?;
        }
    }
}

/// A value's JSON text parsed by the JS engine.
fn json(text: &[u8], field: &str) -> Result<JsValue> {
    let text = std::str::from_utf8(text).map_err(|_| Error::invalid(field, "is not UTF-8 text"))?;
    js_sys::JSON::parse(text).map_err(|e| {
        let message = get(&e, "message").as_string().unwrap_or_default();
        Error::invalid(field, format!("is not JSON: {message}"))
    })
}

/// A header field's value.
fn parse<T: serde::de::DeserializeOwned>(text: &[u8], field: &str) -> Result<T> {
    from_js(json(text, field)?, field, field)
}
