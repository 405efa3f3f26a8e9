//! Optimizes one prompt and prints the result as JSON.
//!
//! ```text
//! cargo run --example optimize -- "a beautiful sunset" --category image --model midjourney
//! cargo run --example optimize -- "a fox" --category image --model sdxl --option aspectRatio=3:2
//! cargo run --example optimize -- "a pencil sketch of a cat" --intent   # the intent reading only
//! ```

use lightprompt::engine::{system_clock, Engine, OptimizeRequest};
use lightprompt::learn::simulate::block_on;
use lightprompt::prompt::analyze::analyze;
use lightprompt::prompt::{Category, OptionValue};
use lightprompt::store::MemoryStore;
use lightprompt::EngineConfig;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut intent_only = false;
    let mut req = OptimizeRequest {
        category: "image".to_string(),
        ..OptimizeRequest::default()
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--category" => req.category = args.next().unwrap_or_default(),
            "--model" => req.model = args.next(),
            "--option" => {
                let kv = args.next().unwrap_or_default();
                let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), "true"));
                let value = serde_json::from_str::<OptionValue>(v)
                    .unwrap_or(OptionValue::Text(v.to_string()));
                req.options.insert(k.to_string(), value);
            }
            "--intent" => intent_only = true,
            _ => req.prompt = a,
        }
    }
    if intent_only {
        let category = Category::parse(&req.category, "category").unwrap_or(Category::Image);
        match analyze(category, &req.prompt) {
            Ok(analysis) => {
                let tags: Vec<String> = analysis
                    .intent
                    .tags
                    .iter()
                    .map(|t| format!("{}:{}", t.axis, t.value))
                    .collect();
                println!("{}", tags.join(" "));
            }
            Err(e) => eprintln!("error {}: {}", e.code, e.message),
        }
        return;
    }
    // Greedy: the example shows what the rules (and nothing random) make of the prompt.
    let config = EngineConfig {
        exploration: 0.0,
        seed: Some(1),
        ..EngineConfig::default()
    };
    let out = block_on(async {
        let engine = Engine::open(MemoryStore::new(), config, system_clock()).await?;
        engine.optimize(&req).await
    });
    match out {
        Ok(result) => println!(
            "{}",
            serde_json::to_string_pretty(&result).unwrap_or_default()
        ),
        Err(e) => {
            eprintln!("error {}: {}", e.code, e.message);
            std::process::exit(2);
        }
    }
}
