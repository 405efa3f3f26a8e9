//! Reads an export document's JSON text as it arrives, some bytes at a time, and hands on
//! each top-level field and each element of its record lists (`spans`, `rewards`,
//! `policies`) as JSON text of its own: a file of any size is imported holding one record,
//! not the document. It finds where values begin and end; the values themselves are
//! parsed (and their syntax checked) by whoever takes them.

use crate::error::{Error, Result};

/// The largest value handed on (a record or a field), in bytes. A span at the longest
/// prompts, with every character escaped, stays well below it.
pub const MAX_VALUE_BYTES: usize = 4 * 1024 * 1024;

/// A record list of the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordList {
    /// `spans`.
    Spans,
    /// `rewards`.
    Rewards,
    /// `policies`.
    Policies,
}

impl RecordList {
    /// The list's name in the document.
    pub fn name(self) -> &'static str {
        match self {
            RecordList::Spans => "spans",
            RecordList::Rewards => "rewards",
            RecordList::Policies => "policies",
        }
    }

    fn named(name: &str) -> Option<RecordList> {
        match name {
            "spans" => Some(RecordList::Spans),
            "rewards" => Some(RecordList::Rewards),
            "policies" => Some(RecordList::Policies),
            _ => None,
        }
    }
}

/// What the reader hands on.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// A top-level field other than the record lists: its name and its value's JSON text.
    Field {
        /// The field's name.
        name: String,
        /// Its value, as JSON text.
        value: Vec<u8>,
    },
    /// One element of a record list, as JSON text.
    Record {
        /// Which list.
        list: RecordList,
        /// Its index in that list.
        index: usize,
        /// The element, as JSON text.
        text: Vec<u8>,
    },
}

/// Where the reader is in the document's outer object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// Before the opening `{`.
    Start,
    /// After `{`: a key or `}`.
    FirstKey,
    /// After `,`: a key.
    Key,
    /// After a key: `:`.
    Colon,
    /// After `:`: a value.
    Value,
    /// After a value: `,` or `}`.
    AfterValue,
    /// After a record list's `[`: an element or `]`.
    FirstElement,
    /// After `,` in a record list: an element.
    Element,
    /// After an element: `,` or `]`.
    AfterElement,
    /// After the closing `}`: nothing but whitespace.
    End,
}

/// How a value being collected ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// Not collecting.
    Idle,
    /// An object or array: `depth` brackets open; `string`/`escaped` inside a string.
    Nested {
        depth: u32,
        string: bool,
        escaped: bool,
    },
    /// A string (a key or a value): `escaped` after a backslash.
    Text { escaped: bool },
    /// A number, `true`, `false` or `null`: ends at the first other byte.
    Bare,
}

/// Reads an export document, [`DocumentReader::feed`] by feed.
#[derive(Debug)]
pub struct DocumentReader {
    at: At,
    scan: Scan,
    /// Bytes read before the current feed's start, for positions in messages.
    offset: u64,
    /// The value (or key) being collected.
    value: Vec<u8>,
    /// The key whose value comes next.
    key: String,
    /// The record list being read, and the next element's index.
    list: Option<(RecordList, usize)>,
    /// A UTF-8 byte order mark is skipped at the very start.
    bom: usize,
}

impl Default for DocumentReader {
    fn default() -> Self {
        DocumentReader::new()
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn is_bare(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')
}

impl DocumentReader {
    /// A reader at the start of a document.
    pub fn new() -> Self {
        DocumentReader {
            at: At::Start,
            scan: Scan::Idle,
            offset: 0,
            value: Vec::new(),
            key: String::new(),
            list: None,
            bom: 0,
        }
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.offset
    }

    fn unexpected(&self, at: u64, byte: u8) -> Error {
        let what = if byte.is_ascii_graphic() {
            format!("{:?}", byte as char)
        } else {
            format!("byte 0x{byte:02x}")
        };
        Error::invalid(
            "document",
            format!("is not a lightprompt export: unexpected {what} at byte {at}"),
        )
    }

    /// The field a value too large is reported under.
    fn value_field(&self) -> String {
        // Called while a value is collected: inside a list, it is the list's element.
        match self.list {
            Some((list, index)) => format!("{}[{index}]", list.name()),
            _ if self.key.is_empty() => "document".to_string(),
            _ => self.key.clone(),
        }
    }

    /// Reads `bytes`, appending what they complete to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Piece>) -> Result<()> {
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            let pos = self.offset + i as u64;
            // Collecting a value: find its end.
            if self.scan != Scan::Idle {
                let (consumed, done) = self.scan_value(&bytes[i..]);
                self.value.extend_from_slice(&bytes[i..i + consumed]);
                if self.value.len() > MAX_VALUE_BYTES {
                    return Err(Error::invalid(
                        self.value_field(),
                        format!(
                            "is larger than {} MB: not a lightprompt record",
                            MAX_VALUE_BYTES >> 20
                        ),
                    ));
                }
                i += consumed;
                if done {
                    self.scan = Scan::Idle;
                    self.end_value(out)?;
                }
                continue;
            }
            if pos < 3 && self.at == At::Start && b == [0xEF, 0xBB, 0xBF][self.bom] {
                self.bom += 1;
                i += 1;
                continue;
            }
            if is_space(b) {
                i += 1;
                continue;
            }
            match (self.at, b) {
                (At::Start, b'{') => self.at = At::FirstKey,
                (At::FirstKey, b'}') | (At::AfterValue, b'}') => self.at = At::End,
                (At::FirstKey | At::Key, b'"') => {
                    self.start(Scan::Text { escaped: false }, b);
                }
                (At::Colon, b':') => self.at = At::Value,
                (At::Value, b'[') if RecordList::named(&self.key).is_some() => {
                    self.list = RecordList::named(&self.key).map(|l| (l, 0));
                    self.at = At::FirstElement;
                }
                (At::FirstElement | At::AfterElement, b']') => {
                    self.list = None;
                    self.at = At::AfterValue;
                }
                (At::Value | At::FirstElement | At::Element, _) => {
                    let scan = match b {
                        b'{' | b'[' => Scan::Nested {
                            depth: 1,
                            string: false,
                            escaped: false,
                        },
                        b'"' => Scan::Text { escaped: false },
                        _ if is_bare(b) => Scan::Bare,
                        _ => return Err(self.unexpected(pos, b)),
                    };
                    self.start(scan, b);
                }
                (At::AfterValue, b',') => self.at = At::Key,
                (At::AfterElement, b',') => self.at = At::Element,
                _ => return Err(self.unexpected(pos, b)),
            }
            i += 1;
        }
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Begins collecting a value whose first byte is `first`.
    fn start(&mut self, scan: Scan, first: u8) {
        self.value.clear();
        self.value.push(first);
        self.scan = scan;
    }

    /// Scans the value being collected through `bytes`: how many bytes belong to it, and
    /// whether it ended. A bare value ends before the byte that ends it.
    fn scan_value(&mut self, bytes: &[u8]) -> (usize, bool) {
        for (n, &b) in bytes.iter().enumerate() {
            match &mut self.scan {
                Scan::Idle => return (n, true),
                Scan::Bare => {
                    if !is_bare(b) {
                        return (n, true);
                    }
                }
                Scan::Text { escaped } => {
                    if *escaped {
                        *escaped = false;
                    } else if b == b'\\' {
                        *escaped = true;
                    } else if b == b'"' {
                        return (n + 1, true);
                    }
                }
                Scan::Nested {
                    depth,
                    string,
                    escaped,
                } => {
                    if *string {
                        if *escaped {
                            *escaped = false;
                        } else if b == b'\\' {
                            *escaped = true;
                        } else if b == b'"' {
                            *string = false;
                        }
                    } else {
                        match b {
                            b'"' => *string = true,
                            b'{' | b'[' => *depth += 1,
                            b'}' | b']' => {
                                *depth -= 1;
                                if *depth == 0 {
                                    return (n + 1, true);
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
        (bytes.len(), false)
    }

    /// A value (or key) was collected: hand it on.
    fn end_value(&mut self, out: &mut Vec<Piece>) -> Result<()> {
        let text = std::mem::take(&mut self.value);
        match self.at {
            At::FirstKey | At::Key => {
                self.key = serde_json::from_slice::<String>(&text).map_err(|e| {
                    Error::invalid("document", format!("is not a lightprompt export: {e}"))
                })?;
                self.at = At::Colon;
            }
            At::Value => {
                out.push(Piece::Field {
                    name: self.key.clone(),
                    value: text,
                });
                self.at = At::AfterValue;
            }
            At::FirstElement | At::Element => {
                if let Some((list, index)) = self.list.as_mut() {
                    out.push(Piece::Record {
                        list: *list,
                        index: *index,
                        text,
                    });
                    *index += 1;
                }
                self.at = At::AfterElement;
            }
            _ => {}
        }
        Ok(())
    }

    /// The end of the input: the document must be complete.
    pub fn finish(&mut self, out: &mut Vec<Piece>) -> Result<()> {
        // A bare value at the very end (only in a malformed document) ends here.
        if self.scan == Scan::Bare {
            self.scan = Scan::Idle;
            self.end_value(out)?;
        }
        if self.at != At::End || self.scan != Scan::Idle {
            return Err(Error::invalid(
                "document",
                format!(
                    "is not a lightprompt export: it ends early, at byte {}",
                    self.offset
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every piece of `text` fed `step` bytes at a time.
    fn read(text: &[u8], step: usize) -> Result<Vec<Piece>> {
        let mut reader = DocumentReader::new();
        let mut out = Vec::new();
        for chunk in text.chunks(step.max(1)) {
            reader.feed(chunk, &mut out)?;
        }
        reader.finish(&mut out)?;
        Ok(out)
    }

    fn json(piece: &Piece) -> serde_json::Value {
        match piece {
            Piece::Field { value, .. } => serde_json::from_slice(value).unwrap(),
            Piece::Record { text, .. } => serde_json::from_slice(text).unwrap(),
        }
    }

    #[test]
    fn fields_and_records_come_out_whole_at_any_chunk_size() {
        // Written out (serde_json's maps would sort the keys): the order is the document's.
        let text = r#"{
          "format": "lightprompt",
          "version": 1,
          "exportedAt": 1.7e12,
          "spans": [
            { "spanId": "a", "text": "a \"quoted\" ] } [ { word", "nested": [[1, 2], { "x": [] }] },
            { "spanId": "b", "text": "\\", "emoji": "🦊 여우" }
          ],
          "rewards": [],
          "policies": [{ "version": 3, "state": { "arms": {} } }],
          "extra": [true, null, -1.5e-3]
        }"#
        .as_bytes();
        let doc: serde_json::Value = serde_json::from_slice(text).unwrap();
        let whole = read(text, text.len()).unwrap();
        for step in [1, 2, 3, 7, 64, 1000] {
            assert_eq!(read(text, step).unwrap(), whole, "step {step}");
        }
        let names: Vec<String> = whole
            .iter()
            .map(|p| match p {
                Piece::Field { name, .. } => name.clone(),
                Piece::Record { list, index, .. } => format!("{}[{index}]", list.name()),
            })
            .collect();
        assert_eq!(
            names,
            [
                "format",
                "version",
                "exportedAt",
                "spans[0]",
                "spans[1]",
                "policies[0]",
                "extra"
            ]
        );
        assert_eq!(json(&whole[3]), doc["spans"][0]);
        assert_eq!(json(&whole[4]), doc["spans"][1]);
        assert_eq!(json(&whole[5]), doc["policies"][0]);
        assert_eq!(json(&whole[6]), doc["extra"]);
        assert_eq!(json(&whole[1]), serde_json::json!(1));
    }

    #[test]
    fn compact_text_and_a_byte_order_mark_read_alike() {
        let text =
            br#"{"format":"lightprompt","version":1,"spans":[{"a":1},{"b":[2]}],"rewards":[]}"#;
        let mut with_bom = vec![0xEF, 0xBB, 0xBF];
        with_bom.extend_from_slice(text);
        assert_eq!(read(text, 5).unwrap(), read(&with_bom, 2).unwrap());
        assert_eq!(read(text, 5).unwrap().len(), 4);
    }

    #[test]
    fn malformed_documents_are_errors_naming_the_document() {
        for bad in [
            &b""[..],
            b"{not json",
            b"[1, 2]",
            b"{\"spans\": [1, 2}",
            b"{\"format\" \"x\"}",
            b"{\"format\": \"lightprompt\"} trailing",
            b"{\"spans\": [{\"a\": 1}",
            b"{\"format\": \"lightprompt\",}",
            b"{\"spans\": [,]}",
            b"{\"a\": \"unterminated}",
        ] {
            let err = read(bad, 3).unwrap_err();
            assert_eq!(
                err.field.as_deref(),
                Some("document"),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn a_value_too_large_is_named_and_stops_the_read() {
        let mut junk = b"{\"format\":\"lightprompt\",\"spans\":[".to_vec();
        junk.extend(std::iter::repeat_n(b'9', MAX_VALUE_BYTES + 10));
        let err = read(&junk, 1 << 16).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("spans[0]"));
        let mut long = b"{\"format\":\"".to_vec();
        long.extend(std::iter::repeat_n(b'x', MAX_VALUE_BYTES + 10));
        assert_eq!(
            read(&long, 1 << 16).unwrap_err().field.as_deref(),
            Some("format")
        );
    }
}
