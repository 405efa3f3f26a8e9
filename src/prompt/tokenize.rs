//! Unicode-aware tokenizing. Words are runs of letters and digits of any script (Latin,
//! Hangul, CJK, Cyrillic, ...); everything else (spaces, punctuation, emoji) separates them.
//! Apostrophes inside a word stay in it ("bird's"); hyphens split ("close-up" → close, up),
//! and rule terms are tokenized the same way, so both spellings match.

/// One word of a prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Lowercased form with curly apostrophes straightened.
    pub norm: String,
    /// Byte offset of the first character in the source text.
    pub start: usize,
    /// Byte offset just past the last character in the source text.
    pub end: usize,
    /// Whether punctuation (a comma, period, bracket, line break, ...) separates this word
    /// from the previous one. Multi-word rule terms never match across such a break.
    pub after_break: bool,
}

impl Token {
    /// Whether the word is written in Hangul, where particles attach to the end of a word
    /// ("조명이", "조명을"), so rule terms match it as a prefix.
    pub fn is_hangul(&self) -> bool {
        self.norm.chars().next().is_some_and(is_hangul)
    }

    /// Whether the word is only digits.
    pub fn is_number(&self) -> bool {
        self.norm.chars().all(|c| c.is_ascii_digit())
    }
}

/// Whether `c` is a Hangul syllable or jamo.
pub fn is_hangul(c: char) -> bool {
    matches!(c, '\u{AC00}'..='\u{D7A3}' | '\u{1100}'..='\u{11FF}' | '\u{3130}'..='\u{318F}')
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '\u{2018}')
}

/// Splits `text` into words. Never fails, whatever the input.
pub fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    let mut pending_break = false;
    while let Some((start, c)) = chars.next() {
        if !c.is_alphanumeric() {
            pending_break |= is_break(c);
            continue;
        }
        let mut end = start + c.len_utf8();
        let mut norm = String::with_capacity(8);
        push_lower(&mut norm, c);
        let mut last = c;
        while let Some(&(i, next)) = chars.peek() {
            // Korean particles attach to Latin words and numbers ("JSON으로", "3문장"): the
            // change of script starts a new word.
            if last.is_ascii_alphanumeric() && is_hangul(next) {
                break;
            }
            last = next;
            if next.is_alphanumeric() {
                push_lower(&mut norm, next);
                end = i + next.len_utf8();
                chars.next();
            } else if is_apostrophe(next) {
                // Keep the apostrophe only when a letter follows ("bird's"), not at a word end.
                let mut ahead = chars.clone();
                ahead.next();
                match ahead.peek() {
                    Some(&(_, after)) if after.is_alphanumeric() => {
                        norm.push('\'');
                        chars.next();
                    }
                    _ => break,
                }
            } else {
                break;
            }
        }
        tokens.push(Token {
            norm,
            start,
            end,
            after_break: pending_break,
        });
        pending_break = false;
    }
    tokens
}

/// Characters that end a phrase: terms do not match across them.
fn is_break(c: char) -> bool {
    matches!(
        c,
        ',' | '.'
            | ';'
            | ':'
            | '!'
            | '?'
            | '|'
            | '('
            | ')'
            | '['
            | ']'
            | '{'
            | '}'
            | '<'
            | '>'
            | '\n'
            | '\r'
            | '，'
            | '。'
            | '、'
            | '；'
            | '：'
            | '！'
            | '？'
            | '"'
            | '“'
            | '”'
    )
}

fn push_lower(out: &mut String, c: char) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
    } else {
        out.extend(c.to_lowercase());
    }
}

/// A crude English singular form, used as a second chance when a word does not match a rule
/// term exactly ("lights" → "light", "lenses" → "lens", "skies" → "sky").
pub fn singular(word: &str) -> Option<&str> {
    if !word.is_ascii() || word.len() <= 3 {
        return None;
    }
    if let Some(stem) = word.strip_suffix("ies") {
        // "skies" → caller looks up "sk" + "y"; return the stem and let the caller try both.
        return Some(stem);
    }
    for suffix in ["sses", "shes", "ches", "xes", "ses", "zes"] {
        if word.ends_with(suffix) {
            return Some(&word[..word.len() - 2]);
        }
    }
    if word.ends_with("ss") || word.ends_with("us") || word.ends_with("is") {
        return None;
    }
    word.strip_suffix('s')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norms(text: &str) -> Vec<String> {
        tokenize(text).into_iter().map(|t| t.norm).collect()
    }

    #[test]
    fn splits_on_punctuation_and_space() {
        assert_eq!(
            norms("A cat, on a MAT; close-up!"),
            ["a", "cat", "on", "a", "mat", "close", "up"]
        );
    }

    #[test]
    fn keeps_inner_apostrophes_only() {
        assert_eq!(
            norms("bird’s eye view 'quoted'"),
            ["bird's", "eye", "view", "quoted"]
        );
    }

    #[test]
    fn korean_emoji_and_mixed_scripts() {
        let tokens = tokenize("노을 지는 바다 🌅 with 猫 and Кот");
        let words: Vec<_> = tokens.iter().map(|t| t.norm.as_str()).collect();
        assert_eq!(words, ["노을", "지는", "바다", "with", "猫", "and", "кот"]);
        assert!(tokens[0].is_hangul());
        assert!(!tokens[3].is_hangul());
        // offsets slice the original text on char boundaries
        let text = "노을 지는 바다 🌅 with 猫 and Кот";
        assert_eq!(&text[tokens[2].start..tokens[2].end], "바다");
        assert_eq!(&text[tokens[6].start..tokens[6].end], "Кот");
    }

    #[test]
    fn marks_punctuation_breaks() {
        let breaks: Vec<bool> = tokenize("golden, hour light\nrim-light")
            .iter()
            .map(|t| t.after_break)
            .collect();
        assert_eq!(breaks, [false, true, false, true, false]);
    }

    #[test]
    fn only_symbols_gives_no_tokens() {
        assert!(tokenize("🌅🔥 ... --- !!!").is_empty());
        assert!(tokenize("").is_empty());
    }

    #[test]
    fn singular_forms() {
        assert_eq!(singular("lights"), Some("light"));
        assert_eq!(singular("lenses"), Some("lens"));
        assert_eq!(singular("glass"), None);
        assert_eq!(singular("cat"), None);
        assert_eq!(singular("skies"), Some("sk"));
    }
}
