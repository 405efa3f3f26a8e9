//! Prompt analysis: which facets a prompt covers, which tags it carries, which of its
//! modifiers contradict each other, and which words it repeats.

use super::category::{Category, Facet, Tag};
use super::rules::{rules, CategoryRules, Rules, TermMatch};
use super::tokenize::{tokenize, Token};
use crate::error::Result;

/// Whether one facet is covered, and by which words.
#[derive(Debug, Clone, PartialEq)]
pub struct FacetPresence {
    /// The facet.
    pub facet: Facet,
    /// Whether the prompt covers it.
    pub present: bool,
    /// The rule terms (or, for a subject found by elimination, the words) that show it.
    pub evidence: Vec<String>,
}

/// Two modifiers of the prompt that contradict each other.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// The first term, as the rules spell it.
    pub first: String,
    /// The second term.
    pub second: String,
    /// The axis they disagree on (`realism`, `brightness`, ...).
    pub axis: &'static str,
}

/// Everything the optimizer and the score need to know about a prompt.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// The category the prompt was analyzed for.
    pub category: Category,
    /// Its words.
    pub tokens: Vec<Token>,
    /// Rule terms found.
    pub matches: Vec<TermMatch>,
    /// One entry per facet of the category, in [`Category::facets`] order.
    pub facets: Vec<FacetPresence>,
    /// Tags set by the terms found (sorted, unique).
    pub tags: Vec<Tag>,
    /// Contradicting modifiers the user wrote.
    pub conflicts: Vec<Conflict>,
    /// Number of content words (not stop words).
    pub content_words: usize,
    /// Comma- or sentence-separated fragments that occur more than once, and content words
    /// used three times or more.
    pub repeated: Vec<String>,
}

impl Analysis {
    /// Whether `facet` is covered.
    pub fn has(&self, facet: Facet) -> bool {
        self.facets.iter().any(|f| f.facet == facet && f.present)
    }

    /// Facets of the category that the prompt does not cover.
    pub fn missing(&self) -> impl Iterator<Item = Facet> + '_ {
        self.facets.iter().filter(|f| !f.present).map(|f| f.facet)
    }

    /// Whether `tag` would contradict a tag of the prompt.
    pub fn conflicts_with(&self, tag: &Tag) -> bool {
        self.tags.iter().any(|t| t.conflicts_with(tag))
    }

    /// Whether the prompt carries `tag`.
    pub fn has_tag(&self, tag: &Tag) -> bool {
        self.tags.contains(tag)
    }

    /// Whether the normalized `words` already occur in the prompt, in order and adjacent.
    pub fn contains_words(&self, words: &[String]) -> bool {
        if words.is_empty() || words.len() > self.tokens.len() {
            return false;
        }
        self.tokens
            .windows(words.len())
            .any(|w| w.iter().zip(words).all(|(t, word)| &t.norm == word))
    }
}

/// Analyzes `text` as a prompt of `category`.
pub fn analyze(category: Category, text: &str) -> Result<Analysis> {
    let rules = rules()?;
    Ok(analyze_with(rules, rules.category(category), text))
}

fn analyze_with(rules: &Rules, table: &CategoryRules, text: &str) -> Analysis {
    let tokens = tokenize(text);
    let matches = table.match_terms(&tokens);

    let mut facets: Vec<FacetPresence> = table
        .category
        .facets()
        .iter()
        .map(|&facet| FacetPresence {
            facet,
            present: false,
            evidence: Vec::new(),
        })
        .collect();
    let mut tags: Vec<Tag> = Vec::new();
    let mut covered = vec![false; tokens.len()];
    for m in &matches {
        let term = &table.terms[m.term as usize];
        if let Some(facet) = term.facet {
            if let Some(p) = facets.iter_mut().find(|p| p.facet == facet) {
                p.present = true;
                if !p.evidence.iter().any(|e| e == term.text) {
                    p.evidence.push(term.text.to_string());
                }
            }
            covered[m.first..m.first + m.len].fill(true);
        }
        tags.extend(term.tags.iter().copied());
    }
    tags.sort();
    tags.dedup();

    // A subject is often a word no rule knows ("a capybara"): any content word that is not a
    // rule term, a number or generic praise names the subject.
    if let Some(subject) = facets.iter_mut().find(|p| p.facet == Facet::Subject) {
        if !subject.present {
            let leftovers: Vec<String> = tokens
                .iter()
                .zip(&covered)
                .filter(|(t, &c)| {
                    !c && rules.is_content_word(t)
                        && !t.is_number()
                        && !rules.filler.contains(&t.norm)
                })
                .map(|(t, _)| t.norm.clone())
                .take(4)
                .collect();
            if !leftovers.is_empty() {
                subject.present = true;
                subject.evidence = leftovers;
            }
        }
    }

    let conflicts = find_conflicts(table, &matches);
    let content_words = tokens.iter().filter(|t| rules.is_content_word(t)).count();
    let repeated = find_repeats(rules, text, &tokens, table.category);
    Analysis {
        category: table.category,
        tokens,
        matches,
        facets,
        tags,
        conflicts,
        content_words,
        repeated,
    }
}

fn find_conflicts(table: &CategoryRules, matches: &[TermMatch]) -> Vec<Conflict> {
    let mut conflicts: Vec<Conflict> = Vec::new();
    for (i, a) in matches.iter().enumerate() {
        let ta = &table.terms[a.term as usize];
        for b in &matches[i + 1..] {
            let tb = &table.terms[b.term as usize];
            for tag_a in &ta.tags {
                if let Some(tag_b) = tb.tags.iter().find(|t| t.conflicts_with(tag_a)) {
                    let known = conflicts.iter().any(|c| {
                        c.axis == tag_a.axis
                            && ((c.first == ta.text && c.second == tb.text)
                                || (c.first == tb.text && c.second == ta.text))
                    });
                    if !known {
                        conflicts.push(Conflict {
                            first: ta.text.to_string(),
                            second: tb.text.to_string(),
                            axis: tag_b.axis,
                        });
                    }
                }
            }
        }
    }
    conflicts
}

/// Fragments written twice ("8k, ..., 8k") and, outside text prompts, content words used
/// three or more times. Long prose naturally repeats a noun twice, so words need three uses.
fn find_repeats(rules: &Rules, text: &str, tokens: &[Token], category: Category) -> Vec<String> {
    let mut repeated = Vec::new();
    let mut fragments: Vec<String> = text
        .split([',', '.', ';', '\n', '|'])
        .map(|f| {
            f.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        })
        .filter(|f| !f.is_empty())
        .collect();
    fragments.sort();
    for pair in fragments.windows(2) {
        if pair[0] == pair[1] && repeated.last() != Some(&pair[0]) {
            repeated.push(pair[0].clone());
        }
    }
    if category != Category::Text {
        let mut words: Vec<&str> = tokens
            .iter()
            .filter(|t| rules.is_content_word(t) && !t.is_number())
            .map(|t| t.norm.as_str())
            .collect();
        words.sort_unstable();
        let mut i = 0;
        while i < words.len() {
            let run = words[i..].iter().take_while(|w| **w == words[i]).count();
            if run >= 3 && !repeated.iter().any(|r| r == words[i]) {
                repeated.push(words[i].to_string());
            }
            i += run;
        }
    }
    repeated
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sunset_has_subject_but_no_lighting() {
        let a = analyze(Category::Image, "a beautiful sunset").unwrap();
        assert!(a.has(Facet::Subject));
        assert!(!a.has(Facet::Lighting));
        assert!(a.missing().any(|f| f == Facet::Composition));
    }

    #[test]
    fn unknown_nouns_are_subjects_but_praise_is_not() {
        let a = analyze(Category::Image, "a capybara").unwrap();
        assert!(a.has(Facet::Subject));
        assert_eq!(a.facets[0].evidence, ["capybara"]);
        let b = analyze(Category::Image, "beautiful, stunning, 8").unwrap();
        assert!(!b.has(Facet::Subject));
    }

    #[test]
    fn detects_contradicting_modifiers() {
        let a = analyze(Category::Image, "photorealistic anime girl").unwrap();
        assert_eq!(a.conflicts.len(), 1, "{:?}", a.conflicts);
        assert_eq!(a.conflicts[0].axis, "realism");
    }

    #[test]
    fn repeated_fragments_and_words() {
        let a = analyze(Category::Image, "8k, a castle, 8k, castle castle castle").unwrap();
        assert!(a.repeated.contains(&"8k".to_string()), "{:?}", a.repeated);
        assert!(
            a.repeated.contains(&"castle".to_string()),
            "{:?}",
            a.repeated
        );
        let b = analyze(Category::Image, "a red fox in the snow").unwrap();
        assert!(b.repeated.is_empty());
    }

    #[test]
    fn contains_words_is_exact_and_ordered() {
        let a = analyze(Category::Image, "a cat in golden hour light").unwrap();
        assert!(a.contains_words(&["golden".into(), "hour".into()]));
        assert!(!a.contains_words(&["hour".into(), "golden".into()]));
        assert!(!a.contains_words(&[]));
    }

    #[test]
    fn any_text_analyzes_without_panic() {
        for text in [
            "",
            " ",
            "🌅",
            "노을",
            "\u{0}",
            "a\u{200d}b",
            "((((:1.2))))",
            "--ar 16:9",
        ] {
            for category in Category::ALL {
                analyze(category, text).unwrap();
            }
        }
    }
}
