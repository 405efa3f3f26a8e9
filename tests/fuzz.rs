//! Fuzzing with proptest at scale: the optimizer, the option parser and the import parser
//! must never panic, a rejected import must change nothing, and any span that parses stores
//! in compact form and reads back as itself. `make fuzz` runs it long
//! (`FUZZ_CASES`); `cargo test` runs a short smoke pass.
#![cfg(not(target_arch = "wasm32"))]

use lightprompt::document::{DocumentReader, Piece, RecordList};
use lightprompt::engine::{
    validate_document, Engine, ExportDocument, FeedbackRequest, OptimizeRequest,
};
use lightprompt::learn::simulate::block_on;
use lightprompt::prompt::optimize::{optimize, OptimizeInput};
use lightprompt::prompt::{OptionValue, Options, RuleChooser, ADAPTERS};
use lightprompt::store::record::StoredSpan;
use lightprompt::store::MemoryStore;
use lightprompt::EngineConfig;
use proptest::prelude::*;
use std::sync::OnceLock;

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

/// A real export document to mutate.
fn seed_document() -> &'static String {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        block_on(async {
            let e = Engine::open(
                MemoryStore::new(),
                EngineConfig {
                    seed: Some(1),
                    ..EngineConfig::default()
                },
                lightprompt::engine::system_clock(),
            )
            .await
            .unwrap();
            for p in ["a fox in the snow", "노을 지는 바닷가", "explain recursion"] {
                let cat = if p.starts_with("explain") {
                    "text"
                } else {
                    "image"
                };
                let r = e
                    .optimize(&OptimizeRequest {
                        prompt: p.into(),
                        category: cat.into(),
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                e.feedback(&FeedbackRequest {
                    span_id: r.span_id,
                    reward: Some(0.5),
                    ..Default::default()
                })
                .await
                .unwrap();
            }
            e.train().await.unwrap();
            serde_json::to_string(&e.export().await.unwrap()).unwrap()
        })
    })
}

/// Mutates a JSON text: flips, deletes, inserts and duplicates bytes at chosen places.
fn mutate(text: &str, edits: &[(usize, u8, u8)]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for &(at, kind, byte) in edits {
        if bytes.is_empty() {
            break;
        }
        let i = at % bytes.len();
        match kind % 4 {
            0 => bytes[i] = byte,
            1 => {
                bytes.remove(i);
            }
            2 => bytes.insert(i, byte),
            _ => {
                let end = (i + 1 + (byte as usize % 40)).min(bytes.len());
                let chunk = bytes[i..end].to_vec();
                bytes.splice(i..i, chunk);
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn option_value() -> impl Strategy<Value = OptionValue> {
    let leaf = prop_oneof![
        Just(OptionValue::Null),
        any::<bool>().prop_map(OptionValue::Bool),
        any::<f64>().prop_map(OptionValue::Number),
        (-1e6f64..1e6).prop_map(OptionValue::Number),
        "\\PC{0,30}".prop_map(OptionValue::Text),
        "[0-9]{1,4}:[0-9]{1,4}".prop_map(OptionValue::Text),
    ];
    leaf.prop_recursive(3, 16, 5, |inner| {
        prop::collection::vec(inner, 0..5).prop_map(OptionValue::List)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_optimizer(prompt in "\\PC{0,600}|[\\x00-\\x7f]{0,200}|(\\w+[ ,.:;()\\-]){0,80}", m in 0usize..64,
                      options in prop::collection::btree_map("aspectRatio|negative|stylize|chaos|seed|style|maxLength|maxEdits|format|tone|temperature|quality|steps|cfgScale|[a-z]{1,8}", option_value(), 0..5)) {
        let adapter = &ADAPTERS[m % ADAPTERS.len()];
        let options: Options = options;
        let input = OptimizeInput { prompt: &prompt, category: adapter.category, model: Some(adapter.id), options: &options };
        if let Ok(out) = optimize(&input, &mut RuleChooser) {
            prop_assert!((0.0..=100.0).contains(&out.optimized.total));
            prop_assert!(out.optimized.total >= out.original.total);
        }
    }

    #[test]
    fn fuzz_import_parser(edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8)) {
        let text = mutate(seed_document(), &edits);
        if let Ok(doc) = serde_json::from_str::<ExportDocument>(&text) {
            // Whatever parses is validated without panicking; an engine given it either
            // imports it all or changes nothing.
            let valid = validate_document(&doc, 10_000).is_ok();
            // Any span stores in compact form and reads back as itself.
            for span in &doc.spans {
                let json = serde_json::to_string(&StoredSpan::from(span)).unwrap();
                let back = serde_json::from_str::<StoredSpan>(&json).unwrap().into_span().unwrap();
                prop_assert_eq!(&back, span);
            }
            let e = block_on(Engine::open(MemoryStore::new(), EngineConfig { seed: Some(2), ..EngineConfig::default() }, lightprompt::engine::system_clock())).unwrap();
            match block_on(e.import(&doc, false)) {
                Ok(_) => prop_assert!(valid),
                Err(_) => {
                    let s = e.training_status().unwrap();
                    prop_assert_eq!((s.total_spans, s.total_rewards), (0, 0));
                }
            }
        }
    }

    #[test]
    fn fuzz_document_reader(edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..6), step in 1usize..5000) {
        // Any text at any chunk size: no panic. Text that is a JSON object reads without
        // error into exactly its fields and list elements, whatever the chunk size.
        let text = mutate(seed_document(), &edits);
        let mut reader = DocumentReader::new();
        let mut pieces = Vec::new();
        let read = text
            .as_bytes()
            .chunks(step)
            .try_for_each(|chunk| reader.feed(chunk, &mut pieces))
            .and_then(|()| reader.finish(&mut pieces));
        if let Ok(serde_json::Value::Object(doc)) = serde_json::from_str::<serde_json::Value>(&text) {
            prop_assert!(read.is_ok(), "{:?}", read);
            // A repeated key: serde keeps the last value, the reader hands on each, so the
            // last of each is compared.
            let mut fields: std::collections::BTreeMap<&str, serde_json::Value> = Default::default();
            let mut lists: std::collections::BTreeMap<&str, Vec<serde_json::Value>> = Default::default();
            for piece in &pieces {
                match piece {
                    Piece::Field { name, value } => {
                        fields.insert(name, serde_json::from_slice(value).unwrap());
                    }
                    Piece::Record { list, index, text } => {
                        let items = lists.entry(list.name()).or_default();
                        if *index == 0 { items.clear(); }
                        prop_assert_eq!(*index, items.len());
                        items.push(serde_json::from_slice(text).unwrap());
                    }
                }
            }
            for (name, value) in &fields {
                if !["spans", "rewards", "policies"].contains(name) {
                    prop_assert_eq!(Some(value), doc.get(*name));
                }
            }
            for list in [RecordList::Spans, RecordList::Rewards, RecordList::Policies] {
                if let Some(serde_json::Value::Array(items)) = doc.get(list.name()) {
                    if !items.is_empty() {
                        prop_assert_eq!(lists.get(list.name()), Some(items));
                    }
                }
            }
        }
    }
}
