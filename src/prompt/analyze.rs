//! Prompt analysis: which facets a prompt covers, what it intends (medium, palette, time,
//! framing, the kind of its main subject; for text the task, the stated constraints and the
//! size of the request), which of its modifiers contradict each other, and which words it
//! repeats. Computed once per prompt and read by slot building, the adapters, the score and
//! the suggestions.

use super::category::{Category, Facet, Tag};
use super::rules::{rules, CategoryRules, FacetRules, Rules, TermMatch, TermRule};
use super::tokenize::{singular, tokenize, Token};
use crate::error::Result;
use std::collections::HashMap;
use std::rc::Rc;

/// Whether one facet is covered, and by which words.
#[derive(Debug, Clone, PartialEq)]
pub struct FacetPresence {
    /// The facet.
    pub facet: Facet,
    /// Whether the prompt covers it.
    pub present: bool,
    /// The rule terms (or, for a subject found by elimination, the words) that show it.
    pub evidence: Vec<String>,
    /// Whether the facet applies to this prompt: it fits the intent (a lens does not apply
    /// to a watercolor, whatever it says) and is present or wanted (a role line is not wanted
    /// on a one-line question). Facets that do not apply are neither scored, suggested nor
    /// filled.
    pub applicable: bool,
}

/// What the prompt intends, as tags (`medium:painted`, `technique:watercolor`,
/// `palette:mono`, `subject:bird`, `task:poem`, `size:short`, ...): the values it states,
/// what its words imply where it states nothing else (a pencil sketch is monochrome), the
/// kinds of its main subject only (the first one named), and intents derived from
/// combinations (`task:code-fix`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Intent {
    /// The intent tags, sorted and unique.
    pub tags: Vec<Tag>,
    /// Per facet of the category (in [`Category::facets`] order): whether the facet fits the
    /// intent at all (its `fits` and `not`): a camera never fits a watercolor, even one that
    /// mentions a lens.
    pub fitting: Vec<bool>,
    /// Per facet: whether the intent wants it filled (it fits, and the profiles keep it): a
    /// one-line question wants no role, though one it states still counts.
    pub open: Vec<bool>,
    /// Most edits the intent calls for (a short factual question needs one), if limited.
    pub max_edits: Option<usize>,
}

impl Intent {
    /// Whether the intent carries `tag`.
    pub fn has(&self, tag: &Tag) -> bool {
        self.tags.contains(tag)
    }

    /// The same intent with `extra` tags (edits already chosen) added; facets only close.
    pub fn with(&self, table: &CategoryRules, extra: &[Tag]) -> Intent {
        let mut tags = self.tags.clone();
        tags.extend(extra.iter().copied());
        tags.sort();
        tags.dedup();
        let fitting: Vec<bool> = table
            .facets
            .iter()
            .zip(&self.fitting)
            .map(|(rule, &was)| was && facet_fits(rule, &tags))
            .collect();
        let open = fitting
            .iter()
            .zip(&self.open)
            .map(|(&f, &o)| f && o)
            .collect();
        Intent {
            tags,
            fitting,
            open,
            max_edits: self.max_edits,
        }
    }
}

/// Whether tags satisfy a `fits` list: on each axis it names, some value of `tags` on that
/// axis (if there is one) is listed.
pub fn fits(fits: &[Tag], tags: &[Tag]) -> bool {
    fits.iter().all(|f| {
        let mut stated = tags.iter().filter(|t| t.axis == f.axis).peekable();
        stated.peek().is_none()
            || stated.any(|t| fits.iter().any(|g| g.axis == t.axis && g.value == t.value))
    })
}

/// Whether tags satisfy a `when` list: on each axis it names, one of its values is present
/// (`when=time:golden,palette:mono`: a golden-hour prompt in black and white).
pub fn when_holds(when: &[Tag], tags: &[Tag]) -> bool {
    when.iter()
        .all(|w| when.iter().any(|v| v.axis == w.axis && tags.contains(v)))
}

/// Whether an edit or facet with these `fits` and `not` lists suits `tags`: its `fits`
/// hold and none of its `not` tags is present.
pub fn suits(fits_list: &[Tag], not: &[Tag], tags: &[Tag]) -> bool {
    fits(fits_list, tags) && !not.iter().any(|t| tags.contains(t))
}

fn facet_fits(rule: &FacetRules, tags: &[Tag]) -> bool {
    suits(&rule.fits, &rule.not, tags)
}

/// Two modifiers of the prompt that contradict each other.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// The first term, as the rules spell it.
    pub first: String,
    /// The second term.
    pub second: String,
    /// The axis they disagree on (`medium`, `brightness`, ...).
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
    /// What the prompt intends.
    pub intent: Intent,
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

    /// Whether `facet` applies to this prompt (see [`FacetPresence::applicable`]).
    pub fn applies(&self, facet: Facet) -> bool {
        self.facets.iter().any(|f| f.facet == facet && f.applicable)
    }

    /// Facets of the category that apply but the prompt does not cover.
    pub fn missing(&self) -> impl Iterator<Item = Facet> + '_ {
        self.facets
            .iter()
            .filter(|f| !f.present && f.applicable)
            .map(|f| f.facet)
    }

    /// Whether `tag` would contradict a tag of the prompt.
    pub fn conflicts_with(&self, tag: &Tag) -> bool {
        self.intent.tags.iter().any(|t| t.conflicts_with(tag))
    }

    /// Whether the prompt carries `tag`.
    pub fn has_tag(&self, tag: &Tag) -> bool {
        self.intent.tags.contains(tag)
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

/// Analyzes `text` as a prompt of `category`, reading its intent from its own words.
pub fn analyze(category: Category, text: &str) -> Result<Analysis> {
    let rules = rules()?;
    Ok(analyze_with(rules, rules.category(category), text, None))
}

/// A bounded cache of analyses, the least recently used dropped first: a user re-runs and
/// tweaks the same prompt, and a repeat then skips straight to the policy's choices (and,
/// when the rewrite repeats too, to its score). Capacity 0 caches nothing.
#[derive(Debug, Default)]
pub struct AnalysisCache {
    capacity: usize,
    tick: u64,
    entries: HashMap<AnalysisKey, (u64, Rc<Analysis>)>,
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that had to analyse.
    pub misses: u64,
}

/// What an analysis depends on: the category, the text and, for a rewrite, the intent it
/// is read under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct AnalysisKey {
    category: Category,
    text: String,
    intent: Option<Intent>,
}

impl AnalysisCache {
    /// A cache holding at most `capacity` analyses.
    pub fn new(capacity: usize) -> AnalysisCache {
        AnalysisCache {
            capacity,
            ..AnalysisCache::default()
        }
    }

    /// The analysis of a prompt, from the cache or computed (as [`analyze`]).
    pub fn prompt(&mut self, category: Category, text: &str) -> Result<Rc<Analysis>> {
        self.get_or_analyze(category, text, None)
    }

    /// The analysis of a rewrite under an intent, from the cache or computed (as
    /// [`analyze_rewrite`]).
    pub fn rewrite(
        &mut self,
        category: Category,
        text: &str,
        intent: &Intent,
    ) -> Result<Rc<Analysis>> {
        self.get_or_analyze(category, text, Some(intent))
    }

    fn get_or_analyze(
        &mut self,
        category: Category,
        text: &str,
        intent: Option<&Intent>,
    ) -> Result<Rc<Analysis>> {
        let rules = rules()?;
        let compute = || Rc::new(analyze_with(rules, rules.category(category), text, intent));
        if self.capacity == 0 {
            self.misses += 1;
            return Ok(compute());
        }
        self.tick += 1;
        let key = AnalysisKey {
            category,
            text: text.to_string(),
            intent: intent.cloned(),
        };
        if let Some(entry) = self.entries.get_mut(&key) {
            entry.0 = self.tick;
            self.hits += 1;
            return Ok(Rc::clone(&entry.1));
        }
        self.misses += 1;
        if self.entries.len() >= self.capacity {
            // The capacity is small (tens), so finding the oldest by a scan is cheap.
            if let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, (used, _))| *used)
                .map(|(k, _)| k.clone())
            {
                self.entries.remove(&oldest);
            }
        }
        let analysis = compute();
        self.entries.insert(key, (self.tick, Rc::clone(&analysis)));
        Ok(analysis)
    }

    /// How many analyses it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Analyzes a rewrite of a prompt under the prompt's intent (so the rewrite is judged by what
/// the user asked for, not by what its own additions say).
pub fn analyze_rewrite(category: Category, text: &str, intent: &Intent) -> Result<Analysis> {
    let rules = rules()?;
    Ok(analyze_with(
        rules,
        rules.category(category),
        text,
        Some(intent),
    ))
}

fn analyze_with(
    rules: &Rules,
    table: &CategoryRules,
    text: &str,
    given: Option<&Intent>,
) -> Analysis {
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
            applicable: true,
        })
        .collect();
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
    }

    // A stated count ("in 50 words", "3문장으로") is a constraint no term list can hold.
    let count = stated_count(&tokens);
    if let (Some(evidence), Some(p)) = (
        count.as_ref().filter(|_| table.category == Category::Text),
        facets.iter_mut().find(|p| p.facet == Facet::Constraints),
    ) {
        p.present = true;
        p.evidence.push(evidence.clone());
    }

    // Colours named one by one ("red, yellow and blue") state the palette.
    let named = named_colours(rules, &tokens);
    if named.len() >= 2 {
        if let Some(p) = facets.iter_mut().find(|p| p.facet == Facet::Color) {
            p.present = true;
            p.evidence.push(named.join(", "));
        }
    }

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

    let intent = match given {
        Some(intent) => intent.clone(),
        None => {
            let hues = named
                .iter()
                .filter(|c| {
                    !rules.achromatic.contains(**c)
                        && !rules.achromatic.contains(super::rules::korean_stem(c))
                })
                .count();
            read_intent(rules, table, text, &tokens, &matches, named.len(), hues)
        }
    };
    for ((presence, &open), &fitting) in facets.iter_mut().zip(&intent.open).zip(&intent.fitting) {
        presence.applicable = if presence.present { fitting } else { open };
    }
    let conflicts = find_conflicts(table, &matches);
    let content_words = tokens.iter().filter(|t| rules.is_content_word(t)).count();
    let repeated = find_repeats(rules, text, &tokens, table.category);
    Analysis {
        category: table.category,
        tokens,
        matches,
        facets,
        intent,
        conflicts,
        content_words,
        repeated,
    }
}

/// Whether the last word of a subject term names many: a collective ("people", "a herd"),
/// an English plural of the term's word ("monks"), or a Korean noun with 들 ("사람들").
fn names_a_group(rules: &Rules, last: &Token, term: &TermRule) -> bool {
    let word = term.words.last().map(String::as_str).unwrap_or_default();
    if rules.collectives.contains(&last.norm) || rules.collectives.contains(word) {
        return true;
    }
    if last.is_hangul() {
        return last
            .norm
            .strip_prefix(word)
            .is_some_and(|rest| rest.starts_with('들'));
    }
    last.norm != word && singular(&last.norm).is_some()
}

/// Whether a number word in the two words before `tokens[first]`, in the same clause, counts
/// it ("두 사람", "세 마리의 고양이"): a noun that does not mark its plural is then a group.
fn counted(rules: &Rules, tokens: &[Token], first: usize) -> bool {
    (first.saturating_sub(2)..first).any(|j| {
        rules.counts.contains(&tokens[j].norm)
            && !tokens[j + 1..=first].iter().any(|t| t.after_break)
    })
}

/// Whether the words around `tokens[first..end]` make what it names a figure: a
/// pre-qualifier at most two words before it ("lego astronaut", "felted hedgehog"), a figure
/// word right after it ("lion statue"), or a figure word and a link ("of", "like") at most two
/// words before it ("statue of a lion", "shaped like a sleeping fox").
fn names_a_figure(rules: &Rules, tokens: &[Token], first: usize, end: usize) -> bool {
    let prequalified = tokens[..first]
        .iter()
        .rev()
        .take(2)
        .any(|t| rules.prequalifiers.contains(&t.norm));
    let figure_after = tokens
        .get(end)
        .is_some_and(|next| !next.after_break && rules.figures.contains(&next.norm));
    prequalified
        || figure_after
        || (first.saturating_sub(3)..first).any(|j| {
            j >= 1
                && rules.figure_links.contains(&tokens[j].norm)
                && rules.figures.contains(&tokens[j - 1].norm)
                && !tokens[j..=first].iter().skip(1).any(|t| t.after_break)
        })
}

/// Reads the intent of a prompt from the terms found (see [`Intent`]).
fn read_intent(
    rules: &Rules,
    table: &CategoryRules,
    text: &str,
    tokens: &[Token],
    matches: &[TermMatch],
    colours: usize,
    hues: usize,
) -> Intent {
    let mut stated: Vec<Tag> = Vec::new();
    let mut implied: Vec<Tag> = Vec::new();
    // The main subject is the first one named: "a hummingbird at a red flower" is about a
    // bird, and the flower's edits do not apply.
    let mut subject_seen = false;
    let names_a_kind = |m: &TermMatch| {
        table.terms[m.term as usize]
            .tags
            .iter()
            .any(|t| t.axis == SUBJECT)
    };
    // "사람 없는": a word after the term rules it out.
    let negated_after = |end: usize| {
        tokens
            .get(end)
            .is_some_and(|next| !next.after_break && rules.post_negations.contains(&next.norm))
    };
    for (i, m) in matches.iter().enumerate() {
        let term = &table.terms[m.term as usize];
        let kind = names_a_kind(m);
        // In Korean the head noun comes last: in "들판의 여우" (a fox of the meadow) the
        // meadow is a modifier, marked by the particle after it.
        let qualified_next = tokens
            .get(m.first + m.len)
            .is_some_and(|next| rules.qualifiers.contains(&next.norm));
        // A figure of the creature is an object: "a lego astronaut", "a lion statue", "a
        // statue of a lion", "a teapot shaped like a sleeping fox".
        let figure =
            !subject_seen && kind && names_a_figure(rules, tokens, m.first, m.first + m.len);
        if figure {
            stated.push(Tag {
                axis: SUBJECT,
                value: "object",
            });
            subject_seen = true;
        }
        // Of two subject nouns side by side the last is the head: a "leopard gecko" is a
        // gecko, a "baby elephant" an elephant.
        // (Not in Korean, where "호랑이와 까치" joins two nouns with a particle.)
        let before_head = !tokens[m.first].is_hangul()
            && matches.get(i + 1).is_some_and(|next| {
                next.first == m.first + m.len
                    && !tokens[next.first].after_break
                    && names_a_kind(next)
            });
        // "No people", "without a car", "사람 없는": what is ruled out is not the subject.
        let ruled_out = (m.first > 0
            && !tokens[m.first].after_break
            && rules.negations.contains(&tokens[m.first - 1].norm))
            || negated_after(m.first + m.len);
        // In Korean a noun before the head in the same phrase modifies it, whatever joins
        // them: "골목길의 노인" is an old man, "바닷가를 걷는 두 사람" two people. Nouns
        // joined by "와", "랑" or "하고" stay a pair, led by the first.
        let korean_before_head = kind
            && tokens[m.first].is_hangul()
            && !korean_clause_subject(&tokens[m.first + m.len - 1], term.words.last())
            && matches[i + 1..].iter().any(|next| {
                next.first >= m.first + m.len
                    && tokens[next.first].is_hangul()
                    && !tokens[m.first + m.len..=next.first]
                        .iter()
                        .any(|t| t.after_break)
                    && !tokens[m.first + m.len - 1..next.first]
                        .iter()
                        .any(korean_conjunction)
                    && names_a_kind(next)
                    && !negated_after(next.first + next.len)
            });
        let modifier = qualified_next
            || before_head
            || korean_before_head
            || ruled_out
            || korean_modifier(&tokens[m.first + m.len - 1], term.words.last());
        let names_subject = !modifier && kind;
        // A term that an earlier one overlaps is qualified by it: in "colored pencil
        // drawing", "pencil drawing" says nothing the earlier term already decides and
        // implies no monochrome.
        let qualifier = matches[..i]
            .iter()
            .rev()
            .find(|k| k.first + k.len > m.first)
            .map(|k| &table.terms[k.term as usize]);
        // A question word asks only where a sentence starts ("who is allergic" in the middle
        // of "a limerick about a bee who is allergic…" asks nothing), and "be a…" casts a
        // role only there ("it should be a sonnet" casts none).
        let opens_sentence = m.first == 0 || tokens[m.first].after_break;
        for t in &term.tags {
            if t.axis == "form" && matches!(t.value, "question" | "persona") && !opens_sentence {
                continue;
            }
            let decided = qualifier.is_some_and(|q| q.tags.iter().any(|u| u.axis == t.axis));
            let subject_ok = t.axis != SUBJECT || (!subject_seen && !modifier);
            if subject_ok && !decided {
                stated.push(*t);
            }
        }
        // "Monks copying manuscripts", "a crowd in togas": a group is not posed like one
        // person or animal.
        if names_subject
            && !subject_seen
            && (names_a_group(rules, &tokens[m.first + m.len - 1], term)
                || counted(rules, tokens, m.first))
        {
            stated.push(Tag {
                axis: "number",
                value: "plural",
            });
        }
        subject_seen |= names_subject;
        if qualifier.is_none() {
            implied.extend(term.implies.iter().copied());
        }
    }
    // Two colours named are a palette, whatever a medium implies ("black and grey", with no
    // hue among them, is black and white); one hue named ("blue light", "a red apple") at
    // least rules out black and white.
    if colours >= 2 && !stated.iter().any(|t| t.axis == "palette") {
        stated.push(Tag {
            axis: "palette",
            value: if hues == 0 { "mono" } else { "named" },
        });
    }
    if hues >= 1 {
        stated.push(Tag {
            axis: "hue",
            value: "named",
        });
        implied.retain(|t| !(t.axis == "palette" && t.value == "mono"));
    }
    // A task implied by a noun ("an email", "a newsletter") yields to one derived from the
    // verbs and forms ("write a poem … for our newsletter" is a poem): it comes in last.
    let (implied_task, implied): (Vec<Tag>, Vec<Tag>) =
        implied.into_iter().partition(|t| t.axis == TASK);
    for t in implied {
        let axis_stated = stated.iter().any(|s| s.axis == t.axis);
        if !axis_stated || (t.is_multi_valued() && t.axis != SUBJECT && !stated.contains(&t)) {
            stated.push(t);
        }
    }
    stated.push(size_of(rules, text, tokens));
    if let Some(count) = stated_count(tokens).filter(|_| table.category == Category::Text) {
        stated.push(Tag {
            axis: "limit",
            value: "count",
        });
        // "In three sentences" asks for sentences, not a list or sections.
        if ["sentence", "line", "문장", "줄"]
            .iter()
            .any(|u| count.contains(u))
        {
            stated.push(Tag {
                axis: "shape",
                value: "sentence",
            });
        }
    }
    let trimmed = text.trim_end();
    if trimmed.ends_with('?') || trimmed.ends_with('？') {
        stated.push(Tag {
            axis: "form",
            value: "question",
        });
    }
    // The task and the medium keep one value: the first named ("summarize this poem" is a
    // summary, "a photo of a watercolor" a photo), the last in Korean, where the head and the
    // verb come last ("유화를 찍은 사진" is a photo, "편지에서 … 추출해줘" an extraction).
    let head_last = tokens.iter().filter(|t| t.is_hangul()).count() * 2 > tokens.len();
    for axis in [TASK, MEDIUM] {
        let values: Vec<usize> = (0..stated.len())
            .filter(|&i| stated[i].axis == axis)
            .collect();
        if values.len() > 1 {
            let keep = if head_last {
                values[values.len() - 1]
            } else {
                values[0]
            };
            let kept = stated[keep];
            stated.retain(|t| t.axis != axis || *t == kept);
            if axis == MEDIUM {
                // The techniques of the medium that lost go with it.
                let techniques: Vec<Tag> = matches
                    .iter()
                    .map(|m| &table.terms[m.term as usize])
                    .filter(|term| term.tags.contains(&kept))
                    .flat_map(|term| term.tags.iter().copied())
                    .filter(|t| t.axis == TECHNIQUE)
                    .collect();
                stated.retain(|t| t.axis != TECHNIQUE || techniques.contains(t));
            }
        }
    }
    for d in &table.derivations {
        let current = stated.iter().position(|t| t.axis == d.tag.axis);
        // A derivation fills a free axis, or refines the value it builds on (task:code
        // with act:fix is task:code-fix).
        let applies = match current {
            None => true,
            Some(_) if d.tag.is_multi_valued() => true,
            Some(i) => d.needs.contains(&stated[i]),
        };
        if applies && d.needs.iter().all(|n| stated.contains(n)) && !stated.contains(&d.tag) {
            if let Some(i) = current.filter(|_| !d.tag.is_multi_valued()) {
                stated.remove(i);
            }
            stated.push(d.tag);
        }
    }
    // A word no term read that speaks of an axis ("sun through the windows", "the camera
    // completely still", "warm tones") leaves the axis unclear: no edit then sets or assumes a
    // value there, since the rules cannot tell which value the user meant.
    let mut read = vec![false; tokens.len()];
    for m in matches {
        read[m.first..m.first + m.len].fill(true);
    }
    for (token, _) in tokens.iter().zip(&read).filter(|(_, &r)| !r) {
        if let Some(axis) = table.hinted_axis(token) {
            if !stated.iter().any(|t| t.axis == axis) {
                stated.push(Tag {
                    axis,
                    value: UNCLEAR,
                });
            }
        }
    }
    if !stated.iter().any(|t| t.axis == TASK) {
        stated.extend(implied_task.into_iter().take(1));
    }
    for d in &table.defaults {
        if !stated.iter().any(|t| t.axis == d.axis) {
            stated.push(*d);
        }
    }
    stated.sort();
    stated.dedup();

    let mut profile_facets: Option<Vec<Facet>> = None;
    let mut max_edits: Option<usize> = None;
    for p in table.profiles.iter().filter(|p| stated.contains(&p.when)) {
        profile_facets = Some(match profile_facets {
            None => p.facets.clone(),
            Some(f) => f.into_iter().filter(|x| p.facets.contains(x)).collect(),
        });
        if let Some(m) = p.max_edits {
            max_edits = Some(max_edits.map_or(m, |x: usize| x.min(m)));
        }
    }
    let fitting: Vec<bool> = table
        .facets
        .iter()
        .map(|rule| facet_fits(rule, &stated))
        .collect();
    let open = table
        .facets
        .iter()
        .zip(&fitting)
        .map(|(rule, &fits)| {
            fits && profile_facets
                .as_ref()
                .is_none_or(|f| f.contains(&rule.facet))
        })
        .collect();
    Intent {
        tags: stated,
        fitting,
        open,
        max_edits,
    }
}

const SUBJECT: &str = "subject";
/// The value of an axis the prompt speaks of in words the rules cannot read.
pub const UNCLEAR: &str = "unclear";

/// The colour names of a prompt, each once (Korean ones without their particle).
fn named_colours<'t>(rules: &Rules, tokens: &'t [Token]) -> Vec<&'t str> {
    let mut named: Vec<&str> = tokens
        .iter()
        .filter(|t| {
            rules.colours.contains(&t.norm)
                || rules.colours.contains(super::rules::korean_stem(&t.norm))
        })
        .map(|t| t.norm.as_str())
        .collect();
    named.sort_unstable();
    named.dedup();
    named
}

/// Units a request may count its answer in.
const COUNT_UNITS: [&str; 13] = [
    "word",
    "words",
    "sentence",
    "sentences",
    "line",
    "lines",
    "character",
    "characters",
    "단어",
    "문장",
    "줄",
    "자",
    "글자",
];

/// Numbers written as words, which a count may use ("in two sentences", "세 문장").
const NUMBER_WORDS: [&str; 19] = [
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twenty",
    "fifty", "hundred", "한", "두", "세", "네", "다섯", "열",
];

/// A number followed by a unit of length ("50 words", "3 문장"; Korean may attach the unit
/// and a particle: "3문장으로"), as written.
fn stated_count(tokens: &[Token]) -> Option<String> {
    tokens.iter().enumerate().find_map(|(i, t)| {
        let mut digits: String = t.norm.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() && NUMBER_WORDS.contains(&t.norm.as_str()) {
            digits = t.norm.clone();
        }
        if digits.is_empty() {
            return None;
        }
        let rest = &t.norm[digits.len()..];
        let unit = if rest.is_empty() {
            tokens.get(i + 1).map(|n| n.norm.as_str())?
        } else {
            rest
        };
        COUNT_UNITS
            .iter()
            .any(|u| unit == *u || (!unit.is_ascii() && unit.starts_with(u)))
            .then(|| format!("{digits} {unit}"))
    })
}
const TASK: &str = "task";
const MEDIUM: &str = "medium";
const TECHNIQUE: &str = "technique";

/// Whether a Hangul word carries a possessive or locative particle after `stem`
/// ("들판의", "숲속에"), which makes the noun a modifier of what follows.
fn korean_modifier(token: &Token, stem: Option<&String>) -> bool {
    // Particles of place and possession, and suffixes that make a figure ("해태상": a
    // haetae statue).
    const PARTICLES: [&str; 13] = [
        "의",
        "에",
        "속",
        "위",
        "옆",
        "앞",
        "뒤",
        "아래",
        "가운데",
        "상",
        "모양",
        "인형",
        "무늬",
    ];
    match stem {
        Some(stem) if token.is_hangul() && token.norm.len() > stem.len() => token
            .norm
            .get(stem.len()..)
            .is_some_and(|rest| PARTICLES.iter().any(|p| rest.starts_with(p))),
        _ => false,
    }
}

/// Whether a Korean word ends in a particle that joins it to the next noun as an equal
/// ("호랑이와 까치": a tiger and a magpie; "가족 네 명이랑 강아지"), or is one.
fn korean_conjunction(token: &Token) -> bool {
    const CONJUNCTIONS: [&str; 5] = ["와", "과", "랑", "하고", "및"];
    // A particle ends a word of two syllables or more before it (a Hangul syllable is 3
    // bytes): "기와" (a roof tile) ends in 와 but joins nothing.
    token.is_hangul()
        && CONJUNCTIONS.iter().any(|c| {
            token.norm == *c || (token.norm.ends_with(c) && token.norm.len() > c.len() + 3)
        })
}

/// Whether a Korean noun carries the particle of a clause's subject or topic ("소년이 … 노을
/// 보는 장면": the boy watches): it heads its own clause and is not a modifier of a later noun.
fn korean_clause_subject(token: &Token, stem: Option<&String>) -> bool {
    const PARTICLES: [&str; 5] = ["이", "가", "은", "는", "도"];
    match stem {
        Some(stem) if token.is_hangul() => PARTICLES.iter().any(|p| {
            token
                .norm
                .strip_suffix(p)
                .is_some_and(|rest| !rest.is_empty() && rest.ends_with(stem.as_str()))
        }),
        _ => false,
    }
}

/// The most content words a one-line request has and stays `size:short`: a one-line coding task
/// or word problem of a dozen content words is still a request, not a brief.
const SHORT_CONTENT_WORDS: usize = 12;

/// `size:short` (one line of at most [`SHORT_CONTENT_WORDS`] content words: a request, not a
/// brief), `size:long` (forty words or more, or several paragraphs) or `size:medium`. Numbers
/// and little words do not make a request bigger ("1월 120, 2월 95 … 분석해줘" is short).
fn size_of(rules: &Rules, text: &str, tokens: &[Token]) -> Tag {
    let lines = text.trim().lines().filter(|l| !l.trim().is_empty()).count();
    // On one line, what follows a colon is the request's material ("우선순위 매겨줘: 보고서
    // 초안, 팀 회의 준비, …", "explain this line: `…`"), not more of the request.
    let request_end = match text.find(':') {
        Some(colon) if lines <= 1 => colon,
        _ => text.len(),
    };
    let content = tokens
        .iter()
        .filter(|t| t.start < request_end && !t.is_number() && rules.is_content_word(t))
        .count();
    let value = if lines <= 1 && content <= SHORT_CONTENT_WORDS {
        "short"
    } else if tokens.len() >= 40 || lines >= 3 || text.trim().contains("\n\n") {
        "long"
    } else {
        "medium"
    };
    Tag {
        axis: "size",
        value,
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

    fn intent_of(category: Category, text: &str) -> Vec<String> {
        let a = analyze(category, text).unwrap();
        a.intent.tags.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn a_word_about_an_axis_the_terms_cannot_read_leaves_it_unclear() {
        let scene = "cozy bakery with the sun coming through the windows";
        assert!(intent_of(Category::Image, scene).contains(&"time:unclear".into()));
        let still = "a lighthouse in a storm, the camera held perfectly steady";
        assert!(intent_of(Category::Video, still).contains(&"motion:unclear".into()));
        // A stated value wins over a hint, and a hint inside a term is that term's.
        let golden = intent_of(Category::Image, "golden hour sun over a field");
        assert!(golden.contains(&"time:golden".into()), "{golden:?}");
        assert!(!golden.contains(&"time:unclear".into()), "{golden:?}");
        let pencil = intent_of(Category::Image, "colored pencil drawing of a fox");
        assert!(!pencil.contains(&"palette:unclear".into()), "{pencil:?}");
        // Nothing set on an unclear axis: no golden hour, no camera move.
        let rules = rules().unwrap();
        let a = analyze(Category::Image, scene).unwrap();
        let golden_hour = rules
            .category(Category::Image)
            .edit("image.lighting.golden-hour");
        assert!(golden_hour.is_some_and(|e| e.tags.iter().any(|t| a.conflicts_with(t))));
    }

    #[test]
    fn a_group_is_plural_and_one_is_not() {
        for (text, plural) in [
            ("monks copying manuscripts by candlelight", true),
            ("a crowd in togas", true),
            ("two women laughing", true),
            ("공원에서 노는 사람들", true),
            ("a monk reading", false),
            ("a woman laughing", false),
            ("a lion statue", false),
            ("공원의 소녀", false),
        ] {
            let tags = intent_of(Category::Image, text);
            assert_eq!(
                tags.contains(&"number:plural".into()),
                plural,
                "{text}: {tags:?}"
            );
        }
    }

    #[test]
    fn an_order_to_be_someone_casts_a_role_only_where_a_sentence_starts() {
        let cast = intent_of(Category::Text, "be a pirate and tell me about your ship");
        assert!(cast.contains(&"task:roleplay".into()), "{cast:?}");
        let sonnet = intent_of(Category::Text, "write a poem, it should be a sonnet");
        assert!(!sonnet.contains(&"task:roleplay".into()), "{sonnet:?}");
        assert!(sonnet.contains(&"task:poem".into()), "{sonnet:?}");
    }

    #[test]
    fn a_request_whose_task_is_not_read_is_open_and_gets_no_guessed_shape() {
        let typo = "writ a storey about a cat pirate";
        assert!(intent_of(Category::Text, typo).contains(&"task:open".into()));
        assert!(
            !intent_of(Category::Text, "write a story about a cat").contains(&"task:open".into())
        );
        assert!(!intent_of(Category::Image, "a cat")
            .iter()
            .any(|t| t.starts_with("task:")));
        let rules = rules().unwrap();
        let a = analyze(Category::Text, typo).unwrap();
        let list = rules
            .category(Category::Text)
            .edit("text.format.bulleted-list");
        assert!(
            list.is_some_and(|e| !suits(&e.fits, &e.not, &a.intent.tags)),
            "a list is guessed for {typo}"
        );
    }

    #[test]
    fn a_text_addressed_to_someone_names_its_audience() {
        for note in [
            "write a thank-you note for my grandma",
            "write a note to my landlord about the broken heater",
            "부장님께 보낼 사과 메일 써줘",
            "reply to this customer who wants a refund",
        ] {
            let a = analyze(Category::Text, note).unwrap();
            assert!(a.has(Facet::Audience), "{note}");
        }
        let a = analyze(Category::Text, "explain how vaccines work").unwrap();
        assert!(!a.has(Facet::Audience));
    }

    #[test]
    fn in_korean_the_last_noun_of_a_phrase_is_its_subject() {
        let subject = |value| Tag {
            axis: SUBJECT,
            value,
        };
        for (prompt, value) in [
            // A modifier before the head, by possession, place or a clause.
            ("흑백 사진으로 찍은 골목길의 노인", "person"),
            ("바닷가를 걷는 두 사람, 슬로우 모션", "person"),
            ("숲속을 달리는 여우 한 마리", "mammal"),
            // Nouns joined as equals keep the first; a clause's own subject leads it.
            ("우산 쓴 여자아이와 강아지", "person"),
            ("가족 네 명이랑 강아지", "person"),
            ("소년이 옥상에서 노을 보는 장면", "person"),
        ] {
            let a = analyze(Category::Image, prompt).unwrap();
            assert!(a.has_tag(&subject(value)), "{prompt}: {:?}", a.intent.tags);
        }
        let a = analyze(Category::Video, "바닷가를 걷는 두 사람").unwrap();
        assert!(a.has_tag(&Tag {
            axis: "number",
            value: "plural"
        }));
    }

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
        let a = analyze(Category::Image, "photograph of an anime girl").unwrap();
        assert_eq!(a.conflicts.len(), 1, "{:?}", a.conflicts);
        assert_eq!(a.conflicts[0].axis, "medium");
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

    /// Every edit shows its own facet, so the rewrite is scored for what it adds (the
    /// convention of the rule files; the subject facet enriches and needs no term).
    #[test]
    fn every_edit_shows_its_facet() {
        let rules = rules().unwrap();
        let mut missing = Vec::new();
        for category in Category::ALL {
            let table = rules.category(category);
            for edit in &table.edits {
                if edit.facet == Facet::Subject {
                    continue;
                }
                let a = analyze(category, edit.text).unwrap();
                if !a.has(edit.facet) {
                    missing.push(format!("{} “{}”", edit.id, edit.text));
                }
            }
        }
        assert!(missing.is_empty(), "{}", missing.join("\n"));
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

    #[test]
    fn the_analysis_cache_keeps_the_most_recently_used() {
        let mut cache = AnalysisCache::new(2);
        let a = cache.prompt(Category::Image, "a fox").unwrap();
        cache.prompt(Category::Image, "a cat").unwrap();
        // Same text, other category: its own entry; "a fox" is used again, so "a cat" is
        // the one dropped.
        assert!(Rc::ptr_eq(
            &a,
            &cache.prompt(Category::Image, "a fox").unwrap()
        ));
        cache.prompt(Category::Video, "a fox").unwrap();
        assert_eq!(cache.len(), 2);
        assert_eq!((cache.hits, cache.misses), (1, 3));
        cache.prompt(Category::Image, "a fox").unwrap();
        cache.prompt(Category::Image, "a cat").unwrap();
        assert_eq!((cache.hits, cache.misses), (2, 4));
        assert_eq!(a.intent, analyze(Category::Image, "a fox").unwrap().intent);
        let mut none = AnalysisCache::new(0);
        none.prompt(Category::Image, "a fox").unwrap();
        none.prompt(Category::Image, "a fox").unwrap();
        assert_eq!((none.hits, none.misses, none.len()), (0, 2, 0));
    }
}
