//! Rule tables: detection vocabularies and candidate edits per facet, kept as data in
//! `rules/*.rules` and compiled once into lookup indexes.
//!
//! Format of a rule file (one statement per line, `#` starts a comment; the text after the
//! first `|` is the content):
//!
//! ```text
//! facet lighting weight=12              # starts a facet section (mode=enrich, emphasis=1.2 optional)
//! terms | golden hour, soft light       # detection terms of the facet, comma-separated
//! terms brightness:dark | low-key       # terms that also set tags (axis:value)
//! edit golden prior=0.1 tags=time:golden when=subject:landscape models=sdxl | golden hour light
//! context                               # starts a section of tag-only terms
//! inherit image lighting                # copies terms and edits of a facet parsed earlier
//! ```

use super::category::{Category, Facet, Tag};
use super::tokenize::{singular, tokenize, Token};
use crate::error::{Error, Result};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

const IMAGE_RULES: &str = include_str!("rules/image.rules");
const VIDEO_RULES: &str = include_str!("rules/video.rules");
const TEXT_RULES: &str = include_str!("rules/text.rules");
const COMMON_RULES: &str = include_str!("rules/common.rules");

/// How the optimizer treats a facet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FacetMode {
    /// Offer edits only when the facet is missing.
    Fill,
    /// Offer edits that enrich the facet when it is present (the subject: "sharp focus on the
    /// subject"), never replacing what the user wrote.
    Enrich,
}

/// A detection term.
#[derive(Debug, Clone)]
pub struct TermRule {
    /// The term as written in the rule file.
    pub text: &'static str,
    /// Its normalized words.
    pub words: Vec<String>,
    /// The facet it shows, if any (tag-only terms have none).
    pub facet: Option<Facet>,
    /// Tags it sets.
    pub tags: Vec<Tag>,
    /// Tags it implies unless the prompt states another value on the same axis (written
    /// `~axis:value`): a pencil sketch is monochrome unless the prompt names colours.
    pub implies: Vec<Tag>,
}

/// A candidate edit: text the optimizer may add for a facet.
#[derive(Debug, Clone)]
pub struct EditRule {
    /// Stable id, `{category}.{facet}.{name}`; logged in spans and used by the policy.
    pub id: String,
    /// The facet it fills.
    pub facet: Facet,
    /// The text added to the prompt.
    pub text: &'static str,
    /// Normalized words of `text`, to detect that the prompt already says it.
    pub words: Vec<String>,
    /// Tags the edit sets (checked for conflicts).
    pub tags: Vec<Tag>,
    /// The edit is offered only if the prompt has one of these tags (empty: always).
    pub when: Vec<Tag>,
    /// What the edit fits: on each axis named here, the prompt's value (if it states one)
    /// must be one of those listed (`fits=medium:photo/3d`: a lens fits a photograph, a
    /// render or a prompt that names no medium). Includes the facet's own `fits`.
    pub fits: Vec<Tag>,
    /// The edit is never offered when the prompt carries one of these tags (`not=task:poem`).
    /// Includes the facet's own `not`.
    pub not: Vec<Tag>,
    /// The edit is offered only for these adapter ids or families (empty: all models).
    pub models: Vec<&'static str>,
    /// Prior estimate of its effect on reward, in reward units; the rule-only policy picks
    /// the highest.
    pub prior: f64,
}

/// The rules of one facet of one category.
#[derive(Debug, Clone)]
pub struct FacetRules {
    /// Which facet.
    pub facet: Facet,
    /// Points the facet is worth in the quality score.
    pub weight: u32,
    /// Fill when missing, or enrich when present.
    pub mode: FacetMode,
    /// Attention weight Stable Diffusion adapters give this facet's edits (1.0 = none).
    pub emphasis: f32,
    /// Indices into [`CategoryRules::edits`].
    pub edits: Vec<usize>,
    /// Number of detection terms (for documentation and tests).
    pub term_count: usize,
    /// When the facet applies at all (same meaning as an edit's `fits`): a lens means
    /// nothing to a watercolor, so there the camera facet is neither scored nor filled.
    pub fits: Vec<Tag>,
    /// The facet does not apply when the prompt carries one of these tags.
    pub not: Vec<Tag>,
}

/// What a prompt of some intent needs: only these facets apply, and at most so many
/// edits are added (`profile task:factual facets=format max=1`). Where several profiles
/// match, the facets they share apply and the smallest maximum holds.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The intent tag that selects the profile.
    pub when: Tag,
    /// Facets that apply (empty: none besides the always-open subject or task).
    pub facets: Vec<Facet>,
    /// Most edits added, if limited.
    pub max_edits: Option<usize>,
}

/// An intent read from a combination of tags (`derive task:code-fix | domain:code act:fix`):
/// when the prompt carries every tag on the right and no value on the left tag's axis, the
/// left tag is added. Derivations run in file order.
#[derive(Debug, Clone)]
pub struct Derivation {
    /// The tag added.
    pub tag: Tag,
    /// Tags that must all be present.
    pub needs: Vec<Tag>,
}

/// All rules of one category, indexed.
#[derive(Debug)]
pub struct CategoryRules {
    /// The category.
    pub category: Category,
    /// Facet rules in the order of [`Category::facets`].
    pub facets: Vec<FacetRules>,
    /// Every detection term.
    pub terms: Vec<TermRule>,
    /// Every candidate edit.
    pub edits: Vec<EditRule>,
    /// Proportion rules by intent.
    pub profiles: Vec<Profile>,
    /// Intents derived from combinations of tags.
    pub derivations: Vec<Derivation>,
    /// Values an axis holds where the prompt states none (`default task:open`: a request
    /// whose task the rules cannot read), so edits can keep off what the rules do not know.
    pub defaults: Vec<Tag>,
    /// Words that show the prompt speaks of an axis ("sun", "still", "tones"), by word: where
    /// no term states a value on that axis, the prompt holds `axis:unclear`, and no edit sets
    /// or assumes a value there.
    pub hints: HashMap<String, &'static str>,
    by_first_word: HashMap<String, Vec<u32>>,
    /// One-word medium terms by their common misspellings (see [`misspellings`]).
    misspelt: HashMap<String, u32>,
    /// One-word medium terms by their word, for words run together ("oilpainting").
    medium_words: HashMap<String, u32>,
    /// Every word of every term, for telling a run-together word's first part is a word.
    vocabulary: HashSet<String>,
    /// Every Hangul term, for checking the indexes below find all that the full scan does.
    #[cfg(test)]
    hangul_terms: Vec<u32>,
    /// Hangul terms by the first syllable of their first word (a word matches a term it
    /// begins with, particles after it).
    hangul_by_first: HashMap<char, Vec<u32>>,
    /// One-word Hangul terms of two syllables or more by their last syllable (a compound
    /// matches the term it ends with: "건축사진" → "사진").
    hangul_by_last: HashMap<char, Vec<u32>>,
    edit_index: HashMap<String, usize>,
}

/// A detection term found in a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TermMatch {
    /// Index into [`CategoryRules::terms`].
    pub term: u32,
    /// Index of the first matched token.
    pub first: usize,
    /// Number of tokens matched.
    pub len: usize,
}

/// Every rule table, parsed once.
#[derive(Debug)]
pub struct Rules {
    categories: Vec<CategoryRules>,
    /// Words that carry no content (articles, prepositions, ...).
    pub stopwords: HashSet<String>,
    /// Generic praise that does not name a subject ("beautiful", "amazing", ...).
    pub filler: HashSet<String>,
    /// Words after a noun that make it a modifier of something else ("cat-shaped").
    pub qualifiers: HashSet<String>,
    /// Words before a creature that make it an object ("lego astronaut", "felted hedgehog").
    pub prequalifiers: HashSet<String>,
    /// Words for a figure or a thing given a creature's form: the creature named with them
    /// is an object ("lion statue", "statue of a lion", "a teapot shaped like a fox").
    pub figures: HashSet<String>,
    /// Words joining a figure word to the creature it shows ("statue of", "shaped like").
    pub figure_links: HashSet<String>,
    /// Words before a noun that rule it out ("no people"): it is not the subject.
    pub negations: HashSet<String>,
    /// Words after a noun that rule it out (Korean "사람 없는", without people).
    pub post_negations: HashSet<String>,
    /// Words that name many at once ("people", "a crowd", "a herd"): a subject named by one,
    /// or in the plural, is a group.
    pub collectives: HashSet<String>,
    /// Number words that make the noun after them a group ("두 사람", "세 마리의 고양이"), for
    /// languages whose nouns do not mark the plural.
    pub counts: HashSet<String>,
    /// Colour names; two or more in a prompt name its palette.
    pub colours: HashSet<String>,
    /// The colour names without hue (black, white, grey, ...).
    pub achromatic: HashSet<String>,
}

impl Rules {
    /// The rules of a category.
    pub fn category(&self, category: Category) -> &CategoryRules {
        // Parsing builds one entry per category in `Category::ALL` order.
        &self.categories[category as usize]
    }

    /// Whether a normalized word carries content (not a stop word, not a number alone).
    pub fn is_content_word(&self, token: &Token) -> bool {
        !self.stopwords.contains(&token.norm)
    }
}

/// The compiled rules; parsed on first use.
pub fn rules() -> Result<&'static Rules> {
    static RULES: OnceLock<std::result::Result<Rules, String>> = OnceLock::new();
    RULES
        .get_or_init(parse_all)
        .as_ref()
        .map_err(|e| Error::internal(format!("rule tables are invalid: {e}")))
}

impl CategoryRules {
    /// The rules of `facet`, if the category has that facet.
    pub fn facet(&self, facet: Facet) -> Option<&FacetRules> {
        self.facets.iter().find(|f| f.facet == facet)
    }

    /// Looks a term up by its text as the rule file spells it.
    pub fn term(&self, text: &str) -> Option<&TermRule> {
        self.terms.iter().find(|t| t.text == text)
    }

    /// Looks an edit up by id.
    pub fn edit(&self, id: &str) -> Option<&EditRule> {
        self.edit_index.get(id).map(|&i| &self.edits[i])
    }

    /// The axis a token hints at, if it is a hint word (plurals and Korean particles
    /// folded).
    pub fn hinted_axis(&self, token: &Token) -> Option<&'static str> {
        let word = token.norm.as_str();
        let found = |w: &str| self.hints.get(w).copied();
        if token.is_hangul() {
            return found(word).or_else(|| found(korean_stem(word)));
        }
        found(word).or_else(|| alternative_forms(word).iter().find_map(|w| found(w)))
    }

    /// Index of an edit by id.
    pub fn edit_index(&self, id: &str) -> Option<usize> {
        self.edit_index.get(id).copied()
    }

    /// Finds every detection term in `tokens`; at each position the longest term wins.
    pub fn match_terms(&self, tokens: &[Token]) -> Vec<TermMatch> {
        let mut found = Vec::new();
        for (i, token) in tokens.iter().enumerate() {
            let mut best: Option<TermMatch> = None;
            let mut consider = |term: u32| {
                let words = &self.terms[term as usize].words;
                // The longest term wins; between terms of as many words, the one that reads
                // the word best (in Korean the head of a compound comes last: "사슴벌레", a
                // stag beetle, is a 벌레, not a 사슴), then the longer text ("땅거미", dusk,
                // over "거미", spider, inside it).
                let fit = |w: &[String]| hangul_fit(token, w);
                let longer = |b: TermMatch| {
                    let other = &self.terms[b.term as usize];
                    b.len < words.len()
                        || (b.len == words.len()
                            && (fit(&other.words), other.text.len())
                                < (fit(words), self.terms[term as usize].text.len()))
                };
                if matches_at(words, tokens, i) && best.is_none_or(longer) {
                    best = Some(TermMatch {
                        term,
                        first: i,
                        len: words.len(),
                    });
                }
            };
            if token.is_hangul() {
                for term in self.hangul_candidates(&token.norm) {
                    consider(term);
                }
            } else {
                if let Some(candidates) = self.by_first_word.get(&token.norm) {
                    candidates.iter().for_each(|&t| consider(t));
                }
                for alt in alternative_forms(&token.norm) {
                    if let Some(candidates) = self.by_first_word.get(alt.as_str()) {
                        candidates.iter().for_each(|&t| consider(t));
                    }
                }
            }
            // A misspelt medium ("oil paintng", "watercolr") still says what the picture is.
            if best.is_none() && !token.is_hangul() && !self.by_first_word.contains_key(&token.norm)
            {
                if let Some(term) = self
                    .misspelt
                    .get(&token.norm)
                    .copied()
                    .or_else(|| self.run_together(&token.norm))
                {
                    best = Some(TermMatch {
                        term,
                        first: i,
                        len: 1,
                    });
                }
            }
            if let Some(m) = best {
                found.push(m);
            }
        }
        found
    }
}

impl CategoryRules {
    /// The Hangul terms that may match a Hangul word, in table order (so ties resolve as if
    /// every term were tried): those whose first word begins with the word's first syllable,
    /// and those ending in the last syllable of the word or of its stem without a particle.
    fn hangul_candidates(&self, word: &str) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::new();
        let mut add = |c: Option<char>, index: &HashMap<char, Vec<u32>>| {
            if let Some(ids) = c.and_then(|c| index.get(&c)) {
                out.extend_from_slice(ids);
            }
        };
        add(word.chars().next(), &self.hangul_by_first);
        add(word.chars().last(), &self.hangul_by_last);
        for p in PARTICLES {
            if let Some(stem) = word.strip_suffix(p) {
                add(stem.chars().last(), &self.hangul_by_last);
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The medium term ending a word written together with a known word before it
    /// ("oilpainting" → "painting", "pencilsketch" → "sketch"); both parts must be words the
    /// rules know, so "stretching" is not "str" + "etching".
    fn run_together(&self, word: &str) -> Option<u32> {
        // A word the rules know ("geographic") is itself, not two words run together.
        if word.len() < 2 * MIN_RUN_TOGETHER_PART
            || !word.is_ascii()
            || self.vocabulary.contains(word)
        {
            return None;
        }
        (MIN_RUN_TOGETHER_PART..=word.len() - MIN_RUN_TOGETHER_PART).find_map(|k| {
            let term = *self.medium_words.get(&word[k..])?;
            self.vocabulary.contains(&word[..k]).then_some(term)
        })
    }
}

/// Shortest part of a run-together word.
const MIN_RUN_TOGETHER_PART: usize = 3;

/// Shortest medium word looked for at the end of a run-together word.
const MIN_RUN_TOGETHER_MEDIUM: usize = 5;

/// Shortest word whose misspellings are indexed: below that, one letter off is often
/// another real word.
const MIN_MISSPELT_LEN: usize = 6;

/// The misspellings of `word` that a typing slip makes: one letter left out or two
/// neighbours swapped, never the first letter (people rarely get that one wrong, and
/// dropping it makes real words: "bright" → "right").
pub fn misspellings(word: &str) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    let mut out = Vec::new();
    if chars.len() < MIN_MISSPELT_LEN || !chars.iter().all(|c| c.is_ascii_lowercase()) {
        return out;
    }
    for i in 1..chars.len() {
        let mut dropped = chars.clone();
        dropped.remove(i);
        out.push(dropped.into_iter().collect());
        if i + 1 < chars.len() && chars[i] != chars[i + 1] {
            let mut swapped = chars.clone();
            swapped.swap(i, i + 1);
            out.push(swapped.into_iter().collect());
        }
    }
    out
}

/// Other spellings under which a word may appear in the vocabulary (its singular forms).
fn alternative_forms(word: &str) -> Vec<String> {
    match singular(word) {
        None => Vec::new(),
        Some(stem) if word.ends_with("ies") => vec![format!("{stem}y")],
        Some(stem) => vec![stem.to_string()],
    }
}

/// A Hangul word without the particle after it ("파란색과" → "파란색").
pub fn korean_stem(word: &str) -> &str {
    PARTICLES
        .iter()
        .find_map(|p| word.strip_suffix(p).filter(|s| !s.is_empty()))
        .unwrap_or(word)
}

fn word_matches(rule_word: &str, token: &Token, whole: bool) -> bool {
    if token.norm == rule_word {
        return true;
    }
    if token.is_hangul() {
        // Korean particles follow the stem: "조명이" matches the term "조명". A one-syllable
        // term standing alone takes only a particle after it, so "닭" does not match
        // "닭강정" (in a phrase, "시 써" still matches "시 써줘").
        let Some(rest) = token.norm.strip_prefix(rule_word) else {
            return false;
        };
        return !whole
            || rule_word.chars().count() > 1
            || rest.is_empty()
            || PARTICLES.contains(&rest);
    }
    alternative_forms(&token.norm)
        .iter()
        .any(|alt| alt == rule_word)
}

/// Korean particles that may follow a noun, longest first.
const PARTICLES: [&str; 17] = [
    "으로는",
    "이랑",
    "에서",
    "으로",
    "처럼",
    "같은",
    "을",
    "를",
    "이",
    "가",
    "은",
    "는",
    "의",
    "에",
    "로",
    "과",
    "와",
];

/// Whether a Hangul word is a compound ending in `rule_word` ("건축사진" ends in "사진",
/// "음식사진을" too): Korean compounds put the head noun last. Only for terms of two
/// syllables or more, so short words do not match inside longer ones.
fn compound_ends_with(token: &Token, rule_word: &str) -> bool {
    if !token.is_hangul() || rule_word.chars().count() < 2 {
        return false;
    }
    let word = token.norm.as_str();
    let stem = PARTICLES
        .iter()
        .find_map(|p| word.strip_suffix(p).filter(|s| s.len() > rule_word.len()))
        .unwrap_or(word);
    stem.len() > rule_word.len() && stem.ends_with(rule_word)
}

/// How well a one-word term reads a Hangul word: 2 when it is the word (a particle aside),
/// 1 when the word is a compound ending in it (its head), 0 when the word only begins with
/// it; terms of several words and non-Hangul words all rank alike.
fn hangul_fit(token: &Token, words: &[String]) -> u8 {
    if words.len() != 1 || !token.is_hangul() {
        return 2;
    }
    let rest = token.norm.strip_prefix(words[0].as_str());
    if rest.is_some_and(|r| r.is_empty() || PARTICLES.contains(&r)) {
        2
    } else if compound_ends_with(token, &words[0]) {
        1
    } else {
        0
    }
}

fn matches_at(words: &[String], tokens: &[Token], at: usize) -> bool {
    if words.len() == 1 && compound_ends_with(&tokens[at], &words[0]) {
        return true;
    }
    words.len() <= tokens.len() - at
        && words
            .iter()
            .zip(&tokens[at..])
            .enumerate()
            .all(|(k, (w, t))| (k == 0 || !t.after_break) && word_matches(w, t, words.len() == 1))
}

fn normalized_words(text: &str) -> Vec<String> {
    tokenize(text).into_iter().map(|t| t.norm).collect()
}

fn parse_all() -> std::result::Result<Rules, String> {
    let mut stopwords = HashSet::new();
    let mut filler = HashSet::new();
    let mut qualifiers = HashSet::new();
    let mut prequalifiers = HashSet::new();
    let mut figures = HashSet::new();
    let mut figure_links = HashSet::new();
    let mut negations = HashSet::new();
    let mut post_negations = HashSet::new();
    let mut colours = HashSet::new();
    let mut collectives = HashSet::new();
    let mut counts = HashSet::new();
    let mut achromatic = HashSet::new();
    let mut real_words = HashSet::new();
    for (n, raw) in COMMON_RULES.lines().enumerate() {
        let line = strip_comment(raw);
        if line.is_empty() {
            continue;
        }
        let (head, content) = line
            .split_once('|')
            .ok_or_else(|| format!("common.rules:{}: missing '|'", n + 1))?;
        let target = match head.trim() {
            "stopwords" => &mut stopwords,
            "filler" => &mut filler,
            "qualifiers" => &mut qualifiers,
            "prequalifiers" => &mut prequalifiers,
            "figures" => &mut figures,
            "figurelinks" => &mut figure_links,
            "negations" => &mut negations,
            "postnegations" => &mut post_negations,
            "colours" => &mut colours,
            "collectives" => &mut collectives,
            "counts" => &mut counts,
            "achromatic" => &mut achromatic,
            "realwords" => &mut real_words,
            other => return Err(format!("common.rules:{}: unknown list {other:?}", n + 1)),
        };
        for word in content.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            target.insert(word.to_lowercase());
        }
    }
    // Words no misspelling may stand for: the stopwords and the listed real words.
    let known: HashSet<String> = stopwords.union(&real_words).cloned().collect();
    let mut categories: Vec<CategoryRules> = Vec::new();
    for (category, source, file) in [
        (Category::Image, IMAGE_RULES, "image.rules"),
        (Category::Video, VIDEO_RULES, "video.rules"),
        (Category::Text, TEXT_RULES, "text.rules"),
    ] {
        let parsed = parse_category(category, source, &categories, &known)
            .map_err(|(line, msg)| format!("{file}:{line}: {msg}"))?;
        categories.push(parsed);
    }
    Ok(Rules {
        categories,
        stopwords,
        filler,
        qualifiers,
        prequalifiers,
        figures,
        figure_links,
        negations,
        post_negations,
        collectives,
        counts,
        colours,
        achromatic,
    })
}

fn strip_comment(line: &str) -> &str {
    // A '#' starts a comment only at the start of a line or after whitespace, so edit texts
    // can mention "C#".
    let mut cut = line.len();
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            cut = i;
            break;
        }
    }
    line[..cut].trim()
}

fn parse_tag(text: &'static str) -> std::result::Result<Tag, String> {
    match text.split_once(':') {
        Some((axis, value)) if !axis.is_empty() && !value.is_empty() => Ok(Tag { axis, value }),
        _ => Err(format!("bad tag {text:?}; expected axis:value")),
    }
}

/// Parses `a:b,c:d/e` (a slash lists alternative values on one axis: `c:d`, `c:e`).
fn parse_tag_list(text: &'static str) -> std::result::Result<Vec<Tag>, String> {
    let mut tags = Vec::new();
    for item in text.split(',').filter(|t| !t.is_empty()) {
        let first = parse_tag(item)?;
        for value in first.value.split('/') {
            if value.is_empty() {
                return Err(format!("bad tag {item:?}; empty alternative"));
            }
            tags.push(Tag {
                axis: first.axis,
                value,
            });
        }
    }
    Ok(tags)
}

/// An edit's own `fits` plus the facet's on every axis the edit does not name.
fn merge_fits(own: &mut Vec<Tag>, facet: &[Tag]) {
    let named: Vec<&str> = own.iter().map(|t| t.axis).collect();
    own.extend(facet.iter().filter(|t| !named.contains(&t.axis)).copied());
}

fn merge_not(own: &mut Vec<Tag>, facet: &[Tag]) {
    for t in facet {
        if !own.contains(t) {
            own.push(*t);
        }
    }
}

type ParseError = (usize, String);

fn parse_category(
    category: Category,
    source: &'static str,
    earlier: &[CategoryRules],
    known_words: &HashSet<String>,
) -> std::result::Result<CategoryRules, ParseError> {
    let mut facets: Vec<FacetRules> = Vec::new();
    let mut terms: Vec<TermRule> = Vec::new();
    let mut edits: Vec<EditRule> = Vec::new();
    let mut profiles: Vec<Profile> = Vec::new();
    let mut derivations: Vec<Derivation> = Vec::new();
    let mut defaults: Vec<Tag> = Vec::new();
    let mut hints: HashMap<String, &'static str> = HashMap::new();
    // None: the tag-only `context` section.
    let mut current: Option<Facet> = None;
    let mut in_section = false;

    for (index, raw) in source.lines().enumerate() {
        let n = index + 1;
        let line = strip_comment(raw);
        if line.is_empty() {
            continue;
        }
        let (head, content) = match line.split_once('|') {
            Some((h, c)) => (h.trim(), Some(c.trim())),
            None => (line, None),
        };
        let mut words = head.split_whitespace();
        let keyword = words.next().unwrap_or_default();
        match keyword {
            "facet" => {
                let id = words
                    .next()
                    .ok_or((n, "facet without a name".to_string()))?;
                let facet = Facet::parse(id).ok_or((n, format!("unknown facet {id:?}")))?;
                if !category.facets().contains(&facet) {
                    return Err((n, format!("{id} is not a facet of {}", category.as_str())));
                }
                if facets.iter().any(|f| f.facet == facet) {
                    return Err((n, format!("facet {id} defined twice")));
                }
                let mut rules = FacetRules {
                    facet,
                    weight: 0,
                    mode: FacetMode::Fill,
                    emphasis: 1.0,
                    edits: Vec::new(),
                    term_count: 0,
                    fits: Vec::new(),
                    not: Vec::new(),
                };
                for setting in words {
                    let setting = static_slice(source, setting);
                    match setting.split_once('=') {
                        Some(("fits", v)) => rules.fits = parse_tag_list(v).map_err(|e| (n, e))?,
                        Some(("not", v)) => rules.not = parse_tag_list(v).map_err(|e| (n, e))?,
                        Some(("weight", v)) => {
                            rules.weight = v.parse().map_err(|_| (n, format!("bad weight {v}")))?
                        }
                        Some(("mode", "enrich")) => rules.mode = FacetMode::Enrich,
                        Some(("mode", "fill")) => rules.mode = FacetMode::Fill,
                        Some(("emphasis", v)) => {
                            rules.emphasis =
                                v.parse().map_err(|_| (n, format!("bad emphasis {v}")))?
                        }
                        _ => return Err((n, format!("unknown facet setting {setting:?}"))),
                    }
                }
                if rules.weight == 0 {
                    return Err((n, format!("facet {id} needs weight=N")));
                }
                facets.push(rules);
                current = Some(facet);
                in_section = true;
            }
            "context" => {
                current = None;
                in_section = true;
            }
            "inherit" => {
                let (Some(cat), Some(id)) = (words.next(), words.next()) else {
                    return Err((n, "inherit needs a category and a facet".to_string()));
                };
                if id == "hints" {
                    // `inherit image hints time palette`: the hint words of those axes.
                    let from = earlier
                        .iter()
                        .find(|c| c.category.as_str() == cat)
                        .ok_or((n, format!("category {cat} not parsed yet")))?;
                    for axis in words {
                        let before = hints.len();
                        for (word, &a) in from.hints.iter().filter(|(_, &a)| a == axis) {
                            if let Some(other) = hints.insert(word.clone(), a) {
                                return Err((n, format!("hint {word:?} already hints {other}")));
                            }
                        }
                        if hints.len() == before {
                            return Err((n, format!("{cat} has no hints on {axis}")));
                        }
                    }
                    continue;
                }
                let facet = Facet::parse(id).ok_or((n, format!("unknown facet {id:?}")))?;
                let Some(target) = current else {
                    return Err((n, "inherit outside a facet section".to_string()));
                };
                let from = earlier
                    .iter()
                    .find(|c| c.category.as_str() == cat)
                    .ok_or((n, format!("category {cat} not parsed yet")))?;
                for t in from.terms.iter().filter(|t| t.facet == Some(facet)) {
                    terms.push(TermRule {
                        facet: Some(target),
                        ..t.clone()
                    });
                }
                let (own_fits, own_not) = facets
                    .iter()
                    .find(|f| f.facet == target)
                    .map(|f| (f.fits.clone(), f.not.clone()))
                    .unwrap_or_default();
                if let Some(src) = from.facet(facet) {
                    for &e in &src.edits {
                        let edit = &from.edits[e];
                        let name = edit.id.rsplit('.').next().unwrap_or_default();
                        let mut copy = EditRule {
                            id: format!("{}.{}.{}", category.as_str(), target.as_str(), name),
                            facet: target,
                            ..edit.clone()
                        };
                        merge_fits(&mut copy.fits, &own_fits);
                        merge_not(&mut copy.not, &own_not);
                        edits.push(copy);
                    }
                }
            }
            "terms" => {
                if !in_section {
                    return Err((n, "terms outside a section".to_string()));
                }
                let content = content.ok_or((n, "terms without '|'".to_string()))?;
                let mut tags = Vec::new();
                let mut implies = Vec::new();
                for w in words {
                    let w = static_slice(source, w);
                    match w.strip_prefix('~') {
                        Some(weak) => implies.push(parse_tag(weak).map_err(|e| (n, e))?),
                        None => tags.push(parse_tag(w).map_err(|e| (n, e))?),
                    }
                }
                for term in content.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                    let term = static_slice(source, term);
                    let words = normalized_words(term);
                    if words.is_empty() {
                        return Err((n, format!("term {term:?} has no words")));
                    }
                    terms.push(TermRule {
                        text: term,
                        words,
                        facet: current,
                        tags: tags.clone(),
                        implies: implies.clone(),
                    });
                }
            }
            "edit" => {
                let facet = current.ok_or((n, "edit outside a facet section".to_string()))?;
                let name = words.next().ok_or((n, "edit without a name".to_string()))?;
                let text = content.ok_or((n, "edit without '|'".to_string()))?;
                if text.is_empty() {
                    return Err((n, format!("edit {name} has no text")));
                }
                let mut edit = EditRule {
                    id: format!("{}.{}.{}", category.as_str(), facet.as_str(), name),
                    facet,
                    text: static_slice(source, text),
                    words: normalized_words(text),
                    tags: Vec::new(),
                    when: Vec::new(),
                    fits: Vec::new(),
                    not: Vec::new(),
                    models: Vec::new(),
                    prior: 0.0,
                };
                for setting in words {
                    let setting = static_slice(source, setting);
                    match setting.split_once('=') {
                        Some(("prior", v)) => {
                            edit.prior = v.parse().map_err(|_| (n, format!("bad prior {v}")))?
                        }
                        Some(("tags", v)) => edit.tags = parse_tag_list(v).map_err(|e| (n, e))?,
                        Some(("when", v)) => edit.when = parse_tag_list(v).map_err(|e| (n, e))?,
                        Some(("fits", v)) => edit.fits = parse_tag_list(v).map_err(|e| (n, e))?,
                        Some(("not", v)) => edit.not = parse_tag_list(v).map_err(|e| (n, e))?,
                        Some(("models", v)) => {
                            edit.models = v.split(',').filter(|m| !m.is_empty()).collect()
                        }
                        _ => return Err((n, format!("unknown edit setting {setting:?}"))),
                    }
                }
                if !(-1.0..=1.0).contains(&edit.prior) {
                    return Err((n, format!("prior of {name} outside [-1, 1]")));
                }
                if let Some(f) = facets.iter().find(|f| f.facet == facet) {
                    merge_fits(&mut edit.fits, &f.fits);
                    merge_not(&mut edit.not, &f.not);
                }
                edits.push(edit);
            }
            "profile" => {
                let tag = words
                    .next()
                    .ok_or((n, "profile without a tag".to_string()))?;
                let mut profile = Profile {
                    when: parse_tag(static_slice(source, tag)).map_err(|e| (n, e))?,
                    facets: Vec::new(),
                    max_edits: None,
                };
                for setting in words {
                    match setting.split_once('=') {
                        Some(("facets", v)) => {
                            for id in v.split(',').filter(|f| !f.is_empty()) {
                                let facet =
                                    Facet::parse(id).ok_or((n, format!("unknown facet {id:?}")))?;
                                profile.facets.push(facet);
                            }
                        }
                        Some(("max", v)) => {
                            profile.max_edits =
                                Some(v.parse().map_err(|_| (n, format!("bad max {v}")))?)
                        }
                        _ => return Err((n, format!("unknown profile setting {setting:?}"))),
                    }
                }
                profiles.push(profile);
            }
            "derive" => {
                let tag = words
                    .next()
                    .ok_or((n, "derive without a tag".to_string()))?;
                let content = content.ok_or((n, "derive without '|'".to_string()))?;
                let needs = content
                    .split_whitespace()
                    .map(|t| parse_tag(static_slice(source, t)))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| (n, e))?;
                if needs.is_empty() {
                    return Err((n, "derive needs at least one tag".to_string()));
                }
                derivations.push(Derivation {
                    tag: parse_tag(static_slice(source, tag)).map_err(|e| (n, e))?,
                    needs,
                });
            }
            "default" => {
                let tag = words
                    .next()
                    .ok_or((n, "default without a tag".to_string()))?;
                let tag = parse_tag(static_slice(source, tag)).map_err(|e| (n, e))?;
                if tag.is_multi_valued() {
                    return Err((
                        n,
                        format!("default on {}, which holds many values", tag.axis),
                    ));
                }
                defaults.push(tag);
            }
            "hints" => {
                let axis = words
                    .next()
                    .ok_or((n, "hints without an axis".to_string()))?;
                let axis = static_slice(source, axis);
                if Tag::MULTI_VALUED_AXES.contains(&axis) {
                    return Err((n, format!("hints on {axis}, which holds many values")));
                }
                let content = content.ok_or((n, "hints without '|'".to_string()))?;
                for word in content.split(',').map(str::trim).filter(|w| !w.is_empty()) {
                    let mut normalized = normalized_words(word);
                    if normalized.len() != 1 {
                        return Err((n, format!("hint {word:?} is not one word")));
                    }
                    if let Some(other) = hints.insert(normalized.remove(0), axis) {
                        return Err((n, format!("hint {word:?} already hints {other}")));
                    }
                }
            }
            other => return Err((n, format!("unknown statement {other:?}"))),
        }
    }

    let terms = merge_repeated_terms(terms);

    // Attach edits to their facets and check the tables are complete.
    let mut edit_index = HashMap::new();
    for (i, edit) in edits.iter().enumerate() {
        if edit_index.insert(edit.id.clone(), i).is_some() {
            return Err((0, format!("edit id {} defined twice", edit.id)));
        }
        if let Some(f) = facets.iter_mut().find(|f| f.facet == edit.facet) {
            f.edits.push(i);
        }
    }
    for f in &mut facets {
        f.term_count = terms.iter().filter(|t| t.facet == Some(f.facet)).count();
    }
    let mut ordered = Vec::new();
    for facet in category.facets() {
        let rules = facets
            .iter()
            .find(|f| f.facet == *facet)
            .ok_or((0, format!("facet {} has no section", facet.as_str())))?;
        ordered.push(rules.clone());
    }

    let mut by_first_word: HashMap<String, Vec<u32>> = HashMap::new();
    #[cfg(test)]
    let mut hangul_terms = Vec::new();
    let mut hangul_by_first: HashMap<char, Vec<u32>> = HashMap::new();
    let mut hangul_by_last: HashMap<char, Vec<u32>> = HashMap::new();
    for (i, term) in terms.iter().enumerate() {
        let first = &term.words[0];
        if let Some(c) = first
            .chars()
            .next()
            .filter(|&c| super::tokenize::is_hangul(c))
        {
            #[cfg(test)]
            hangul_terms.push(i as u32);
            hangul_by_first.entry(c).or_default().push(i as u32);
            if term.words.len() == 1 && first.chars().count() >= 2 {
                if let Some(last) = first.chars().last() {
                    hangul_by_last.entry(last).or_default().push(i as u32);
                }
            }
        } else {
            by_first_word
                .entry(first.clone())
                .or_default()
                .push(i as u32);
        }
    }
    // Misspellings of one-word terms that name a medium or a time of day, unless they are
    // real words the rules know (a term's word, a stopword, or a listed real word such as
    // "carton").
    let mut misspelt: HashMap<String, u32> = HashMap::new();
    let mut ambiguous: HashSet<String> = HashSet::new();
    for (i, term) in terms.iter().enumerate() {
        let names_medium = term
            .tags
            .iter()
            .chain(&term.implies)
            .any(|t| matches!(t.axis, "medium" | "technique" | "time"));
        if term.words.len() != 1 || !names_medium {
            continue;
        }
        for slip in misspellings(&term.words[0]) {
            let known = by_first_word.contains_key(&slip) || known_words.contains(&slip);
            if known {
                continue;
            }
            match misspelt.get(&slip) {
                Some(&other) if terms[other as usize].tags != term.tags => {
                    ambiguous.insert(slip);
                }
                _ => {
                    misspelt.entry(slip).or_insert(i as u32);
                }
            }
        }
    }
    for slip in ambiguous {
        misspelt.remove(&slip);
    }
    let mut medium_words: HashMap<String, u32> = HashMap::new();
    let mut vocabulary: HashSet<String> = known_words.clone();
    for (i, term) in terms.iter().enumerate() {
        vocabulary.extend(term.words.iter().filter(|w| w.is_ascii()).cloned());
        let names_medium = term
            .tags
            .iter()
            .any(|t| t.axis == "medium" || t.axis == "technique");
        if term.words.len() == 1 && names_medium && term.words[0].len() >= MIN_RUN_TOGETHER_MEDIUM {
            medium_words
                .entry(term.words[0].clone())
                .or_insert(i as u32);
        }
    }
    Ok(CategoryRules {
        category,
        facets: ordered,
        terms,
        edits,
        profiles,
        derivations,
        defaults,
        hints,
        by_first_word,
        misspelt,
        medium_words,
        vocabulary,
        #[cfg(test)]
        hangul_terms,
        hangul_by_first,
        hangul_by_last,
        edit_index,
    })
}

/// One term per wording: a wording written on two lines ("moon" as a subject and as implying
/// night) keeps its first line's facet and takes the tags of both, since matching finds one
/// term per position and would otherwise drop the second line's tags. On a single-valued axis
/// the first line's value stays.
fn merge_repeated_terms(terms: Vec<TermRule>) -> Vec<TermRule> {
    fn merge(into: &mut Vec<Tag>, more: &[Tag]) {
        for t in more {
            let taken = into
                .iter()
                .any(|u| u == t || (u.axis == t.axis && !t.is_multi_valued()));
            if !taken {
                into.push(*t);
            }
        }
    }
    let mut merged: Vec<TermRule> = Vec::with_capacity(terms.len());
    let mut by_words: HashMap<Vec<String>, usize> = HashMap::new();
    for term in terms {
        match by_words.get(&term.words) {
            Some(&i) => {
                let first = &mut merged[i];
                merge(&mut first.tags, &term.tags);
                let tags = first.tags.clone();
                merge(&mut first.implies, &term.implies);
                first
                    .implies
                    .retain(|t| !tags.iter().any(|u| u.axis == t.axis));
            }
            None => {
                by_words.insert(term.words.clone(), merged.len());
                merged.push(term);
            }
        }
    }
    merged
}

/// Re-borrows a trimmed sub-slice of the static rule source with the static lifetime.
fn static_slice(source: &'static str, part: &str) -> &'static str {
    let start = part.as_ptr() as usize - source.as_ptr() as usize;
    &source[start..start + part.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_files_parse() {
        let rules = rules().expect("rule files parse");
        for category in Category::ALL {
            let c = rules.category(category);
            assert_eq!(c.category, category);
            assert_eq!(c.facets.len(), category.facets().len());
        }
        assert!(rules.stopwords.contains("the"));
    }

    /// A wording written on two lines is one term with the tags of both ("흑백사진" as a photo
    /// and as black and white; "moon" as a subject and as implying night).
    #[test]
    fn a_term_written_twice_takes_the_tags_of_both() {
        let rules = rules().unwrap();
        for category in Category::ALL {
            let c = rules.category(category);
            let mut seen = HashSet::new();
            for term in &c.terms {
                assert!(
                    seen.insert(&term.words),
                    "{}: {}",
                    category.as_str(),
                    term.text
                );
            }
        }
        let image = rules.category(Category::Image);
        let moon = image.term("moon").unwrap();
        let tags: Vec<String> = moon
            .tags
            .iter()
            .chain(&moon.implies)
            .map(|t| t.to_string())
            .collect();
        assert!(tags.contains(&"time:night".to_string()), "{tags:?}");
    }

    #[test]
    fn every_facet_has_rich_vocabulary_and_edits() {
        let rules = rules().unwrap();
        for category in Category::ALL {
            let c = rules.category(category);
            for f in &c.facets {
                assert!(
                    f.term_count >= 15,
                    "{}.{} has {} terms",
                    category.as_str(),
                    f.facet.as_str(),
                    f.term_count
                );
                assert!(
                    f.edits.len() >= 8,
                    "{}.{} has {} edits",
                    category.as_str(),
                    f.facet.as_str(),
                    f.edits.len()
                );
            }
        }
    }

    #[test]
    fn edit_texts_are_unique_within_a_facet() {
        let rules = rules().unwrap();
        for category in Category::ALL {
            let c = rules.category(category);
            for f in &c.facets {
                let mut seen = HashSet::new();
                for &e in &f.edits {
                    assert!(
                        seen.insert(c.edits[e].text),
                        "duplicate {}",
                        c.edits[e].text
                    );
                }
            }
        }
    }

    #[test]
    fn longest_term_wins_and_plurals_match() {
        let rules = rules().unwrap();
        let image = rules.category(Category::Image);
        let tokens = tokenize("soft window lights, golden hour");
        let found: Vec<_> = image
            .match_terms(&tokens)
            .iter()
            .map(|m| image.terms[m.term as usize].text)
            .collect();
        assert!(found.contains(&"golden hour"), "{found:?}");
    }

    #[test]
    fn korean_terms_match_with_particles() {
        let rules = rules().unwrap();
        let image = rules.category(Category::Image);
        let tokens = tokenize("부드러운 조명이 있는 사진");
        let facets: Vec<_> = image
            .match_terms(&tokens)
            .iter()
            .filter_map(|m| image.terms[m.term as usize].facet)
            .collect();
        assert!(facets.contains(&Facet::Lighting), "{facets:?}");
    }

    #[test]
    fn comments_only_after_whitespace() {
        assert_eq!(
            strip_comment("edit x | learn C# fast  # note"),
            "edit x | learn C# fast"
        );
        assert_eq!(strip_comment("# all comment"), "");
    }

    #[test]
    fn misspellings_are_one_slip_and_never_the_first_letter() {
        let slips = misspellings("sketch");
        assert!(slips.contains(&"sktch".to_string()) && slips.contains(&"sekTch".to_lowercase()));
        assert!(!slips.contains(&"ketch".to_string()));
        assert!(misspellings("comic").is_empty(), "short words have none");
        let table = rules().unwrap().category(Category::Image);
        let read = |text: &str| {
            let tokens = tokenize(text);
            table
                .match_terms(&tokens)
                .iter()
                .flat_map(|m| table.terms[m.term as usize].tags.clone())
                .map(|t| format!("{}:{}", t.axis, t.value))
                .collect::<Vec<_>>()
        };
        assert!(read("oil paintng of a ship").contains(&"medium:painted".to_string()));
        assert!(read("a watercolr fox").contains(&"technique:watercolor".to_string()));
        assert!(!read("a milk carton")
            .iter()
            .any(|t| t.starts_with("medium")));
    }

    /// Words people write often are real words: none of those in the shared corpus (three
    /// times or more) may be read as a misspelt medium or as words run together.
    #[test]
    fn frequent_corpus_words_are_not_misspellings() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
        let mut counts: HashMap<String, usize> = HashMap::new();
        for sub in ["image", "video", "text"] {
            let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
                continue;
            };
            for entry in entries.flatten() {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                for token in tokenize(&text) {
                    *counts.entry(token.norm).or_default() += 1;
                }
            }
        }
        assert!(
            counts.len() > 5000,
            "corpus not found: {} words",
            counts.len()
        );
        let rules = rules().unwrap();
        let mut misread: Vec<String> = Vec::new();
        for category in Category::ALL {
            let table = rules.category(category);
            for (word, n) in &counts {
                if *n >= 3 && !table.by_first_word.contains_key(word) {
                    let slip = table.misspelt.get(word).copied();
                    if let Some(term) = slip.or_else(|| table.run_together(word)) {
                        misread.push(format!(
                            "{word} ({n}×) → {}",
                            table.terms[term as usize].text
                        ));
                    }
                }
            }
        }
        misread.sort();
        assert!(misread.is_empty(), "{misread:#?}");
    }

    /// The syllable indexes find exactly the Hangul terms a scan of every Hangul term finds,
    /// on every Korean prompt of the coherence suite and held-out sets.
    #[test]
    fn hangul_candidates_match_the_full_scan() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/coherence");
        let rules = rules().unwrap();
        let mut words = 0;
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            for line in text.lines() {
                let tokens = tokenize(line);
                for (i, token) in tokens.iter().enumerate().filter(|(_, t)| t.is_hangul()) {
                    for category in Category::ALL {
                        let table = rules.category(category);
                        let found = |ids: Vec<u32>| -> Vec<u32> {
                            ids.into_iter()
                                .filter(|&t| matches_at(&table.terms[t as usize].words, &tokens, i))
                                .collect()
                        };
                        assert_eq!(
                            found(table.hangul_terms.clone()),
                            found(table.hangul_candidates(&token.norm)),
                            "{line}"
                        );
                    }
                    words += 1;
                }
            }
        }
        assert!(words > 1000, "{words} Korean words");
    }
}
