//! Model options (`options: { aspectRatio: "16:9", stylize: 250, negative: ["text"] }`):
//! the raw values callers pass, the specification each adapter declares, and validation that
//! names the offending field.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A raw option value as it arrives from JSON or JS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OptionValue {
    /// `null`: treated as absent.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// Any number (validated finite later, so NaN gets a clear error rather than a parse one).
    Number(f64),
    /// A string.
    Text(String),
    /// A list (of terms, usually).
    List(Vec<OptionValue>),
}

/// The raw options of a request, by name.
pub type Options = BTreeMap<String, OptionValue>;

/// The type and range of one option.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum OptionKind {
    /// One of a fixed set of strings.
    Choice {
        /// The allowed values.
        values: &'static [&'static str],
    },
    /// An integer in `[min, max]`.
    Integer {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// A number in `[min, max]`.
    Number {
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
    },
    /// `true` or `false`.
    Boolean,
    /// Free text of at most `max_chars` characters.
    Text {
        /// Longest allowed text.
        #[serde(rename = "maxChars")]
        max_chars: usize,
    },
    /// A list of short terms, given as an array or a comma-separated string.
    Terms {
        /// Most terms allowed.
        #[serde(rename = "maxItems")]
        max_items: usize,
    },
    /// An aspect ratio `W:H`; when `values` is not empty only those are allowed.
    AspectRatio {
        /// The ratios the model supports (empty: any W:H of whole numbers up to 100).
        values: &'static [&'static str],
    },
}

/// One option an adapter accepts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OptionSpec {
    /// camelCase name.
    pub name: &'static str,
    /// Other accepted spellings (snake_case, the model's own flag names).
    #[serde(skip)]
    pub aliases: &'static [&'static str],
    /// Type and range.
    #[serde(flatten)]
    pub kind: OptionKind,
    /// One line for people building a UI.
    pub description: &'static str,
}

/// A validated option value.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionSetting {
    /// A choice, text, or aspect ratio.
    Text(String),
    /// An integer.
    Integer(i64),
    /// A number.
    Number(f64),
    /// A boolean.
    Bool(bool),
    /// A list of terms.
    Terms(Vec<String>),
}

/// Options validated against an adapter's specification.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelOptions {
    values: BTreeMap<&'static str, OptionSetting>,
}

impl ModelOptions {
    /// A text, choice or aspect-ratio option.
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.values.get(name) {
            Some(OptionSetting::Text(s)) => Some(s),
            _ => None,
        }
    }

    /// An integer option.
    pub fn integer(&self, name: &str) -> Option<i64> {
        match self.values.get(name) {
            Some(OptionSetting::Integer(n)) => Some(*n),
            _ => None,
        }
    }

    /// A number option (integers are widened).
    pub fn number(&self, name: &str) -> Option<f64> {
        match self.values.get(name) {
            Some(OptionSetting::Number(n)) => Some(*n),
            Some(OptionSetting::Integer(n)) => Some(*n as f64),
            _ => None,
        }
    }

    /// A boolean option.
    pub fn flag(&self, name: &str) -> Option<bool> {
        match self.values.get(name) {
            Some(OptionSetting::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    /// A list-of-terms option (empty when absent).
    pub fn terms(&self, name: &str) -> &[String] {
        match self.values.get(name) {
            Some(OptionSetting::Terms(t)) => t,
            _ => &[],
        }
    }

    /// Whether the option was given.
    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// Sets a validated value (used by adapters for values found inline in the prompt).
    pub fn set(&mut self, name: &'static str, value: OptionSetting) {
        self.values.insert(name, value);
    }
}

/// Longest single term in a terms list.
const MAX_TERM_CHARS: usize = 100;

/// Validates `raw` against `specs`; `model` names the model in messages.
pub fn validate(raw: &Options, specs: &[OptionSpec], model: &str) -> Result<ModelOptions> {
    let mut out = ModelOptions::default();
    for (key, value) in raw {
        let field = format!("options.{key}");
        let spec = specs
            .iter()
            .find(|s| s.name == key || s.aliases.contains(&key.as_str()))
            .ok_or_else(|| {
                let known: Vec<_> = specs.iter().map(|s| s.name).collect();
                Error::invalid(
                    &field,
                    format!(
                        "is not an option of {model}; its options are: {}",
                        known.join(", ")
                    ),
                )
            })?;
        if matches!(value, OptionValue::Null) {
            continue;
        }
        if out.values.contains_key(spec.name) {
            return Err(Error::invalid(
                &field,
                format!("is given twice (also as {})", spec.name),
            ));
        }
        let setting = validate_one(value, &spec.kind, &field)?;
        out.values.insert(spec.name, setting);
    }
    Ok(out)
}

fn type_name(value: &OptionValue) -> &'static str {
    match value {
        OptionValue::Null => "null",
        OptionValue::Bool(_) => "a boolean",
        OptionValue::Number(_) => "a number",
        OptionValue::Text(_) => "a string",
        OptionValue::List(_) => "a list",
    }
}

/// A number given as a number or as numeric text: `None` when it is neither (the caller
/// names the type it wanted), an error when it is a number but not finite.
fn number_of(value: &OptionValue, field: &str) -> Option<Result<f64>> {
    match value {
        OptionValue::Number(n) => Some(finite(*n, field)),
        OptionValue::Text(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map(Ok),
        _ => None,
    }
}

fn finite(n: f64, field: &str) -> Result<f64> {
    if n.is_finite() {
        Ok(n)
    } else {
        Err(Error::invalid(
            field,
            format!("must be a finite number, got {n}"),
        ))
    }
}

fn validate_one(value: &OptionValue, kind: &OptionKind, field: &str) -> Result<OptionSetting> {
    let wrong_type = |expected: &str| {
        Error::invalid(
            field,
            format!("must be {expected}, got {}", type_name(value)),
        )
    };
    match *kind {
        OptionKind::Choice { values } => {
            let text = match value {
                OptionValue::Text(s) => s.trim().to_string(),
                // Numeric choices ("quality: 2") may come as numbers.
                OptionValue::Number(n) => format_number(finite(*n, field)?),
                _ => return Err(wrong_type("a string")),
            };
            values
                .iter()
                .find(|v| v.eq_ignore_ascii_case(&text))
                .map(|v| OptionSetting::Text((*v).to_string()))
                .ok_or_else(|| {
                    Error::invalid(
                        field,
                        format!(
                            "{:?} is not allowed; expected one of {}",
                            super::category::truncate_for_message(&text),
                            values.join(", ")
                        ),
                    )
                })
        }
        OptionKind::Integer { min, max } => {
            let n = number_of(value, field).ok_or_else(|| wrong_type("a whole number"))??;
            if n.fract() != 0.0 {
                return Err(Error::invalid(
                    field,
                    format!("must be a whole number, got {n}"),
                ));
            }
            if n < min as f64 || n > max as f64 {
                return Err(Error::invalid(
                    field,
                    format!("must be between {min} and {max}, got {n}"),
                ));
            }
            Ok(OptionSetting::Integer(n as i64))
        }
        OptionKind::Number { min, max } => {
            let n = number_of(value, field).ok_or_else(|| wrong_type("a number"))??;
            if n < min || n > max {
                return Err(Error::invalid(
                    field,
                    format!("must be between {min} and {max}, got {n}"),
                ));
            }
            Ok(OptionSetting::Number(n))
        }
        OptionKind::Boolean => match value {
            OptionValue::Bool(b) => Ok(OptionSetting::Bool(*b)),
            _ => Err(wrong_type("true or false")),
        },
        OptionKind::Text { max_chars } => match value {
            OptionValue::Text(s) => {
                let s = s.trim();
                check_text(s, field)?;
                if s.chars().count() > max_chars {
                    return Err(Error::invalid(
                        field,
                        format!("is longer than {max_chars} characters"),
                    ));
                }
                Ok(OptionSetting::Text(s.to_string()))
            }
            _ => Err(wrong_type("a string")),
        },
        OptionKind::Terms { max_items } => {
            let mut terms = Vec::new();
            let mut push = |raw: &str, path: &str| -> Result<()> {
                let term = raw.split_whitespace().collect::<Vec<_>>().join(" ");
                check_text(&term, path)?;
                if term.chars().count() > MAX_TERM_CHARS {
                    return Err(Error::invalid(
                        path,
                        format!("is longer than {MAX_TERM_CHARS} characters"),
                    ));
                }
                if term.starts_with("--") {
                    return Err(Error::invalid(path, "must not start with --"));
                }
                if !term.is_empty() && !terms.contains(&term) {
                    terms.push(term);
                }
                Ok(())
            };
            match value {
                OptionValue::Text(s) => {
                    for part in s.split(',') {
                        push(part, field)?;
                    }
                }
                OptionValue::List(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let path = format!("{field}[{i}]");
                        match item {
                            OptionValue::Text(s) => push(s, &path)?,
                            other => {
                                return Err(Error::invalid(
                                    &path,
                                    format!("must be a string, got {}", type_name(other)),
                                ))
                            }
                        }
                    }
                }
                _ => return Err(wrong_type("a list of strings or a comma-separated string")),
            }
            if terms.len() > max_items {
                return Err(Error::invalid(
                    field,
                    format!("has {} terms; at most {max_items} are allowed", terms.len()),
                ));
            }
            Ok(OptionSetting::Terms(terms))
        }
        OptionKind::AspectRatio { values } => {
            let text = match value {
                OptionValue::Text(s) => s.trim().to_string(),
                _ => return Err(wrong_type("a string like \"16:9\"")),
            };
            let ratio = parse_ratio(&text).ok_or_else(|| {
                Error::invalid(
                    field,
                    format!(
                        "{:?} is not an aspect ratio; write it as W:H with whole numbers, like 16:9",
                        super::category::truncate_for_message(&text)
                    ),
                )
            })?;
            if !values.is_empty() && !values.contains(&ratio.as_str()) {
                return Err(Error::invalid(
                    field,
                    format!(
                        "{ratio} is not supported by this model; expected one of {}",
                        values.join(", ")
                    ),
                ));
            }
            Ok(OptionSetting::Text(ratio))
        }
    }
}

/// Rejects control characters (other than tab and newline) in option text.
fn check_text(text: &str, field: &str) -> Result<()> {
    if let Some(c) = text
        .chars()
        .find(|c| c.is_control() && *c != '\n' && *c != '\t')
    {
        return Err(Error::invalid(
            field,
            format!("contains the control character U+{:04X}", c as u32),
        ));
    }
    Ok(())
}

/// Parses `W:H` (also `WxH` and `W/H`) into a canonical `W:H`, each side 1..=100.
pub fn parse_ratio(text: &str) -> Option<String> {
    let (w, h) = text
        .split_once(':')
        .or_else(|| text.split_once(['x', 'X', '/']))?;
    let w: u32 = w.trim().parse().ok()?;
    let h: u32 = h.trim().parse().ok()?;
    ((1..=100).contains(&w) && (1..=100).contains(&h)).then(|| format!("{w}:{h}"))
}

/// Formats a number without a trailing `.0` ("2", "0.5").
pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[OptionSpec] = &[
        OptionSpec {
            name: "aspectRatio",
            aliases: &["aspect_ratio", "ar"],
            kind: OptionKind::AspectRatio { values: &[] },
            description: "",
        },
        OptionSpec {
            name: "stylize",
            aliases: &["s"],
            kind: OptionKind::Integer { min: 0, max: 1000 },
            description: "",
        },
        OptionSpec {
            name: "negative",
            aliases: &["no"],
            kind: OptionKind::Terms { max_items: 3 },
            description: "",
        },
        OptionSpec {
            name: "quality",
            aliases: &[],
            kind: OptionKind::Choice {
                values: &["0.5", "1", "2"],
            },
            description: "",
        },
    ];

    fn opts(pairs: &[(&str, OptionValue)]) -> Options {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn accepts_aliases_and_normalizes() {
        let o = validate(
            &opts(&[
                ("ar", OptionValue::Text(" 16x9 ".into())),
                ("s", OptionValue::Number(250.0)),
                ("no", OptionValue::Text("text, watermark , text".into())),
                ("quality", OptionValue::Number(2.0)),
            ]),
            SPECS,
            "test",
        )
        .unwrap();
        assert_eq!(o.text("aspectRatio"), Some("16:9"));
        assert_eq!(o.integer("stylize"), Some(250));
        assert_eq!(o.terms("negative"), ["text", "watermark"]);
        assert_eq!(o.text("quality"), Some("2"));
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            ("stylize", OptionValue::Number(f64::NAN), "options.stylize"),
            ("stylize", OptionValue::Number(1001.0), "options.stylize"),
            ("stylize", OptionValue::Number(2.5), "options.stylize"),
            ("stylize", OptionValue::Bool(true), "options.stylize"),
            (
                "aspectRatio",
                OptionValue::Text("wide".into()),
                "options.aspectRatio",
            ),
            (
                "aspectRatio",
                OptionValue::Text("0:9".into()),
                "options.aspectRatio",
            ),
            ("bogus", OptionValue::Bool(true), "options.bogus"),
            ("quality", OptionValue::Text("9".into()), "options.quality"),
            (
                "negative",
                OptionValue::List(vec![OptionValue::Number(1.0)]),
                "options.negative[0]",
            ),
            (
                "negative",
                OptionValue::Text("a,b,c,d".into()),
                "options.negative",
            ),
            (
                "negative",
                OptionValue::Text("--v 5".into()),
                "options.negative",
            ),
            (
                "negative",
                OptionValue::Text("bell\u{7}".into()),
                "options.negative",
            ),
        ];
        for (key, value, field) in cases {
            let err = validate(&opts(&[(key, value.clone())]), SPECS, "test").unwrap_err();
            assert_eq!(err.code, crate::ErrorCode::InvalidInput);
            assert_eq!(err.field.as_deref(), Some(field), "{key} {value:?}: {err}");
            assert!(err.message.starts_with(field), "{}", err.message);
        }
    }

    #[test]
    fn null_is_absent_and_duplicates_are_rejected() {
        let o = validate(&opts(&[("stylize", OptionValue::Null)]), SPECS, "t").unwrap();
        assert!(!o.has("stylize"));
        let err = validate(
            &opts(&[
                ("ar", OptionValue::Text("1:1".into())),
                ("aspectRatio", OptionValue::Text("1:1".into())),
            ]),
            SPECS,
            "t",
        )
        .unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::InvalidInput);
    }

    #[test]
    fn ratios() {
        assert_eq!(parse_ratio("16:9").as_deref(), Some("16:9"));
        assert_eq!(parse_ratio("2/3").as_deref(), Some("2:3"));
        assert_eq!(parse_ratio("16:"), None);
        assert_eq!(parse_ratio("101:1"), None);
        assert_eq!(format_number(2.0), "2");
        assert_eq!(format_number(0.25), "0.25");
    }
}
