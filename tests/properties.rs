//! Properties over real prompts (the fixture sample, and the whole shared corpus when it is
//! present) and over arbitrary input (proptest): no input panics, the score is bounded, the
//! optimized prompt never scores below the original, the user's words survive in order and
//! lead, and adding a missing facet never lowers the score.
#![cfg(not(target_arch = "wasm32"))]

use lightprompt::prompt::optimize::{optimize, OptimizeInput};
use lightprompt::prompt::rules::rules;
use lightprompt::prompt::tokenize::tokenize;
use lightprompt::prompt::{
    analyze, score_prompt, Category, OptionValue, Options, RuleChooser, ADAPTERS,
};
use proptest::prelude::*;

fn fixtures() -> Vec<(Category, String)> {
    let text = include_str!("fixtures/prompts.tsv");
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let mut parts = line.splitn(3, '\t');
            let category = Category::parse(parts.next()?, "category").ok()?;
            let _source = parts.next()?;
            Some((category, parts.next()?.to_string()))
        })
        .collect()
}

fn words(text: &str) -> Vec<String> {
    let rules = rules().unwrap();
    tokenize(text)
        .into_iter()
        .filter(|t| t.norm.chars().any(char::is_alphanumeric))
        .filter(|t| rules.is_content_word(t))
        .map(|t| t.norm)
        .collect()
}

/// Checks one optimization; returns a description of what is wrong.
fn check(category: Category, model: &str, prompt: &str) -> Result<(), String> {
    let options = Options::new();
    let input = OptimizeInput {
        prompt,
        category,
        model: Some(model),
        options: &options,
    };
    let out = optimize(&input, &mut RuleChooser).map_err(|e| format!("error {e}"))?;
    if !(0.0..=100.0).contains(&out.optimized.total) || !(0.0..=100.0).contains(&out.original.total)
    {
        return Err(format!(
            "score out of range: {} {}",
            out.original.total, out.optimized.total
        ));
    }
    if out.optimized.total < out.original.total {
        return Err(format!(
            "score fell {} -> {}",
            out.original.total, out.optimized.total
        ));
    }
    // The user's words survive, in their order.
    let (text, _) = out.adapter.split_inline(prompt.trim());
    let want = words(text);
    let got = words(&out.optimized_prompt);
    let mut it = got.iter();
    for w in &want {
        if !it.any(|g| g == w) {
            return Err(format!(
                "lost or reordered {w:?} in {:?}",
                out.optimized_prompt
            ));
        }
    }
    // ... and lead: for image and video prompts the first word of the output is the user's.
    if category != Category::Text {
        if let (Some(first), Some(out_first)) = (want.first(), got.first()) {
            if first != out_first {
                return Err(format!(
                    "does not start with the user's words: {:?}",
                    out.optimized_prompt
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn fixture_prompts_optimize_well_for_every_model() {
    let prompts = fixtures();
    assert!(prompts.len() >= 200, "{}", prompts.len());
    assert!(prompts
        .iter()
        .any(|(_, p)| p.chars().any(|c| ('가'..='힣').contains(&c))));
    let mut failures = Vec::new();
    let mut runs = 0;
    for (category, prompt) in &prompts {
        for adapter in ADAPTERS.iter().filter(|a| a.category == *category) {
            runs += 1;
            if let Err(e) = check(*category, adapter.id, prompt) {
                failures.push(format!("[{}] {prompt:?}: {e}", adapter.id));
            }
        }
    }
    assert!(runs > 1000);
    assert!(
        failures.is_empty(),
        "{} of {runs} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every prompt of the shared corpus (when the checkout has it next door).
#[test]
fn the_whole_shared_corpus_optimizes_without_error() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if !dir.exists() {
        eprintln!("no shared corpus at {}; skipped", dir.display());
        return;
    }
    let mut total = 0;
    let mut failures = Vec::new();
    for (sub, category, model) in [
        ("image", Category::Image, "sdxl"),
        ("video", Category::Video, "sora"),
        ("text", Category::Text, "claude"),
    ] {
        for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            // Every line (CSV rows included) is a prompt-like text: a harsh but honest input set.
            for line in text.lines().filter(|l| !l.trim().is_empty()).take(2000) {
                let line: String = line.chars().take(9000).collect();
                total += 1;
                if let Err(e) = check(category, model, &line) {
                    if !e.starts_with("error InvalidInput") {
                        failures.push(format!("{}: {line:?}: {e}", path.display()));
                    }
                }
            }
        }
    }
    assert!(total > 1000, "{total}");
    assert!(
        failures.len() * 100 <= total,
        "{} of {total}:\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn adding_a_missing_facet_never_lowers_the_score() {
    let rules = rules().unwrap();
    for (category, prompt) in fixtures().iter().take(120) {
        let table = rules.category(*category);
        let (base, _) = score_prompt(prompt, *category, None).unwrap();
        let analysis = analyze(*category, prompt).unwrap();
        // Facets that apply to the prompt: a camera term on a watercolor adds nothing.
        for facet in table
            .facets
            .iter()
            .filter(|f| !analysis.has(f.facet) && analysis.applies(f.facet))
        {
            let Some(term) = table
                .terms
                .iter()
                .find(|t| t.facet == Some(facet.facet) && t.tags.is_empty())
            else {
                continue;
            };
            // Added in the prompt's own idiom: a sentence after a sentence, a phrase after
            // a list of phrases.
            let trimmed = prompt.trim_end();
            let richer = if trimmed.ends_with(['.', '!', '?']) {
                format!("{trimmed} With {}.", term.text)
            } else {
                format!("{trimmed}, {}", term.text)
            };
            let (after, _) = score_prompt(&richer, *category, None).unwrap();
            assert!(
                after.total + 1e-9 >= base.total,
                "{prompt:?} + {:?}: {} -> {}",
                term.text,
                base.total,
                after.total
            );
        }
    }
}

fn option_value() -> impl Strategy<Value = OptionValue> {
    let leaf = prop_oneof![
        Just(OptionValue::Null),
        any::<bool>().prop_map(OptionValue::Bool),
        any::<f64>().prop_map(OptionValue::Number),
        "\\PC{0,12}".prop_map(OptionValue::Text),
        prop_oneof![
            Just("16:9"),
            Just("1:1"),
            Just("0:0"),
            Just("99999:1"),
            Just("a:b")
        ]
        .prop_map(|s| OptionValue::Text(s.into())),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop::collection::vec(inner, 0..4).prop_map(OptionValue::List)
    })
}

fn option_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("aspectRatio".to_string()),
        Just("negative".to_string()),
        Just("stylize".to_string()),
        Just("chaos".to_string()),
        Just("seed".to_string()),
        Just("style".to_string()),
        Just("maxLength".to_string()),
        Just("maxEdits".to_string()),
        Just("format".to_string()),
        Just("tone".to_string()),
        Just("temperature".to_string()),
        Just("duration".to_string()),
        "[a-zA-Z_]{1,10}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics_and_scores_stay_bounded(prompt in "\\PC{0,300}", m in 0usize..16) {
        let adapter = &ADAPTERS[m % ADAPTERS.len()];
        let options = Options::new();
        let input = OptimizeInput { prompt: &prompt, category: adapter.category, model: Some(adapter.id), options: &options };
        if let Ok(out) = optimize(&input, &mut RuleChooser) {
            prop_assert!((0.0..=100.0).contains(&out.optimized.total));
            prop_assert!(out.optimized.total >= out.original.total);
        }
    }

    #[test]
    fn arbitrary_options_never_panic(options in prop::collection::btree_map(option_name(), option_value(), 0..6), m in 0usize..16) {
        let adapter = &ADAPTERS[m % ADAPTERS.len()];
        let input = OptimizeInput { prompt: "a red fox in the snow, golden hour", category: adapter.category, model: Some(adapter.id), options: &options };
        match optimize(&input, &mut RuleChooser) {
            Ok(out) => prop_assert!(out.optimized.total >= out.original.total),
            Err(e) => prop_assert!(e.field.as_deref().is_some_and(|f| f.starts_with("options.")), "{e}"),
        }
    }

    #[test]
    fn mixed_scripts_and_emoji_keep_the_users_words(words in prop::collection::vec(prop_oneof!["[a-z]{2,8}", "[가-힣]{1,4}", "[🌅🚀✨🐱]"], 1..8)) {
        let prompt = words.join(" ");
        for model in ["midjourney", "sdxl", "flux"] {
            prop_assert!(check(Category::Image, model, &prompt).is_ok(), "{:?}", check(Category::Image, model, &prompt));
        }
    }
}

/// Every span the engine records for the fixture prompts, on every model, before and after
/// learning (learned picks, learned keywords, option edits), stores in compact form and
/// reads back as itself, at well under half its full size.
#[test]
fn every_recorded_span_stores_compactly_and_reads_back_as_itself() {
    use lightprompt::engine::{Engine, FeedbackMetadata, FeedbackRequest, OptimizeRequest};
    use lightprompt::learn::simulate::block_on;
    use lightprompt::store::record::StoredSpan;
    use lightprompt::store::MemoryStore;
    use lightprompt::EngineConfig;
    let engine = block_on(Engine::open(
        MemoryStore::new(),
        EngineConfig {
            seed: Some(5),
            ..EngineConfig::default()
        },
        lightprompt::engine::system_clock(),
    ))
    .unwrap();
    let (mut full, mut compact, mut spans, mut learned) = (0usize, 0usize, 0usize, 0usize);
    for round in 0..2 {
        for (i, (category, prompt)) in fixtures().iter().enumerate() {
            for adapter in ADAPTERS.iter().filter(|a| a.category == *category) {
                let mut options = Options::new();
                if i % 3 == 0 {
                    let (name, value) = match category {
                        Category::Text => ("tone", "formal"),
                        _ => ("style", "woodcut"),
                    };
                    options.insert(name.into(), OptionValue::Text(value.into()));
                }
                let r = block_on(engine.optimize(&OptimizeRequest {
                    prompt: prompt.clone(),
                    category: category.as_str().into(),
                    model: Some(adapter.id.into()),
                    options,
                    ..Default::default()
                }))
                .unwrap();
                if round == 0 {
                    // A taste the policy can learn, so the second round has learned picks.
                    let rating = if r.edits.iter().any(|e| e.id.contains("light")) {
                        5.0
                    } else {
                        1.0
                    };
                    block_on(engine.feedback(&FeedbackRequest {
                        span_id: r.span_id,
                        metadata: FeedbackMetadata {
                            rating: Some(rating),
                            ..Default::default()
                        },
                        ..Default::default()
                    }))
                    .unwrap();
                }
            }
        }
    }
    let all = block_on(engine.spans(&lightprompt::engine::QueryRequest {
        limit: Some(10_000.0),
        ..Default::default()
    }))
    .unwrap();
    for span in &all {
        let json = serde_json::to_string(&StoredSpan::from(span)).unwrap();
        let back = serde_json::from_str::<StoredSpan>(&json)
            .unwrap()
            .into_span()
            .unwrap();
        assert_eq!(&back, span);
        spans += 1;
        full += serde_json::to_string(span).unwrap().len();
        compact += json.len();
        learned += span.decisions.iter().filter(|d| d.learned).count();
    }
    assert!(
        spans > 1500 && learned > 100,
        "{spans} spans, {learned} learned decisions"
    );
    println!(
        "{spans} spans: full {} B, compact {} B on average",
        full / spans,
        compact / spans
    );
    assert!(compact * 2 < full, "compact {compact} vs full {full}");
}
