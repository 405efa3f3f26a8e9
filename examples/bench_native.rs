//! Native benchmarks (part of `make bench`): optimize compute, the online policy update, and
//! `Policy::train` over 10k and 100k spans + rewards. Prints a table and writes JSON to
//! `build/bench-native.json`.
//!
//! ```text
//! cargo run --release --example bench_native [-- --quick]
//! ```

use lightprompt::engine::{Engine, FeedbackMetadata, FeedbackRequest, OptimizeRequest};
use lightprompt::learn::simulate::block_on;
use lightprompt::learn::Policy;
use lightprompt::prompt::optimize::{AppliedEdit, Decision};
use lightprompt::prompt::{Category, Facet};
use lightprompt::span::{Reward, RewardSource, Span};
use lightprompt::store::MemoryStore;
use lightprompt::EngineConfig;
use std::rc::Rc;
use std::time::Instant;

const PROMPTS: &[(&str, &str, &str)] = &[
    ("a beautiful sunset", "image", "midjourney"),
    (
        "portrait of an old fisherman with a weathered face, oil painting, dramatic rim light",
        "image",
        "sdxl",
    ),
    ("a red fox in the snow", "image", "flux"),
    ("노을 지는 바닷가, 부드러운 조명", "image", "dall-e-3"),
    (
        "a surfer riding a huge wave at dawn, drone shot, slow motion",
        "video",
        "sora",
    ),
    ("city traffic at night", "video", "veo"),
    ("a dog running through a meadow", "video", "runway"),
    (
        "summarize this article about climate policy for a busy executive",
        "text",
        "claude",
    ),
    (
        "write an email asking my landlord to fix the heating",
        "text",
        "gpt",
    ),
    ("explain recursion", "text", "gemini"),
    (
        "fix the bug in this python function: def add(a, b): return a - b",
        "text",
        "llama",
    ),
    ("cat", "image", "sd-1.5"),
];

fn synthetic(n: usize) -> (Vec<Span>, Vec<Reward>) {
    let models = ["midjourney-v7", "sdxl", "flux", "dall-e-3"];
    let edits = [
        "image.lighting.a",
        "image.lighting.b",
        "image.lighting.c",
        "image.composition.a",
        "image.composition.b",
        "image.style.a",
        "image.style.b",
        "image.detail.a",
    ];
    let mut spans = Vec::with_capacity(n);
    let mut rewards = Vec::with_capacity(n);
    for i in 0..n {
        let decisions: Vec<Decision> = (0..5)
            .map(|d| Decision {
                slot: ["lighting", "composition", "style", "detail", "aspectRatio"][d].to_string(),
                action: if d == 4 {
                    format!("aspectRatio:{}", ["1:1", "16:9", "2:3"][i % 3])
                } else {
                    edits[(i + d) % edits.len()].to_string()
                },
                propensity: 0.2 + 0.1 * d as f64,
                learned: false,
                eligible: 8,
                offered: Vec::new(),
            })
            .collect();
        spans.push(Span {
            span_id: format!("{i:016x}"),
            task_id: format!("{i:032x}"),
            name: "prompt_optimization_image".into(),
            category: Category::Image,
            model: models[i % models.len()].into(),
            requested_model: None,
            original_prompt: format!("a lighthouse on a cliff number {i}"),
            optimized_prompt: format!("a lighthouse on a cliff number {i}, golden hour lighting, rule of thirds, highly detailed --ar 16:9 --v 7"),
            negative_prompt: None,
            parameters: Default::default(),
            original_quality_score: 30.0,
            quality_score: 70.0,
            edits: vec![AppliedEdit { id: edits[i % edits.len()].into(), facet: Facet::Lighting, text: "golden hour lighting".into(), learned: false, propensity: 0.4 }],
            decisions,
            keywords: vec!["golden hour".into(), ["bokeh", "pastel", "cinematic"][i % 3].into()],
            policy_version: 0,
            created_at: 1.7e12 + i as f64 * 1000.0,
            duration_ms: 0.1,
            sequence: None,
            options: Default::default(),
            metadata: Default::default(),
        });
        rewards.push(Reward {
            reward_id: format!("{:016x}", i as u64 + (1u64 << 40)),
            span_id: format!("{i:016x}"),
            task_id: format!("{i:032x}"),
            category: Category::Image,
            model: models[i % models.len()].into(),
            value: ((i * 37 % 200) as f64 / 100.0) - 1.0,
            source: RewardSource::Computed,
            quality_score: 70.0,
            rating: Some((1 + i % 5) as f64),
            satisfied: None,
            used_result: None,
            feedback_text: None,
            metadata: Default::default(),
            created_at: 1.7e12 + i as f64 * 1000.0 + 500.0,
            sequence: None,
        });
    }
    (spans, rewards)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let mut results = serde_json::Map::new();
    let clock = lightprompt::engine::system_clock();

    // Optimize compute (no storage): rule-only engine state, exploring policy.
    let engine = block_on(Engine::open(
        MemoryStore::new(),
        EngineConfig {
            seed: Some(1),
            ..EngineConfig::default()
        },
        clock.clone(),
    ))
    .expect("engine");
    let reqs: Vec<OptimizeRequest> = PROMPTS
        .iter()
        .map(|(p, c, m)| OptimizeRequest {
            prompt: p.to_string(),
            category: c.to_string(),
            model: Some(m.to_string()),
            ..Default::default()
        })
        .collect();
    let rounds = if quick { 20 } else { 2000 };
    // First sight of a prompt: every round's prompts differ (a number is appended), so the
    // analysis cache never answers.
    let measure = |label: &str, vary: bool| -> (f64, f64) {
        let mut times = Vec::with_capacity(rounds * reqs.len());
        let start = Instant::now();
        for round in 0..rounds {
            for r in &reqs {
                let varied;
                let r = if vary {
                    varied = OptimizeRequest {
                        prompt: format!("{} {round}", r.prompt),
                        ..r.clone()
                    };
                    &varied
                } else {
                    r
                };
                let t = Instant::now();
                engine.preview(r, None).expect("optimize");
                times.push(t.elapsed().as_secs_f64() * 1e6);
            }
        }
        let total = start.elapsed().as_secs_f64();
        times.sort_by(f64::total_cmp);
        let per_sec = times.len() as f64 / total;
        let median_us = times[times.len() / 2];
        println!("{label:<44} {per_sec:>10.0} /s   median {median_us:.1} µs");
        (per_sec, median_us)
    };
    println!("{:<44} {:>14}", "benchmark (native, release)", "result");
    let (per_sec, median_us) = measure("optimize compute (12 varied prompts, unseen)", true);
    results.insert("optimizePerSecond".into(), per_sec.into());
    results.insert("optimizeMedianUs".into(), median_us.into());
    // A user re-running the same prompts: the analyses come from the cache.
    let (hits_before, misses_before) = engine.analysis_cache_stats();
    let (repeat_per_sec, repeat_us) = measure("optimize, the same 12 prompts again", false);
    let (hits, misses) = engine.analysis_cache_stats();
    let hit_rate = (hits - hits_before) as f64
        / ((hits - hits_before) + (misses - misses_before)).max(1) as f64;
    println!(
        "{:<44} {:>10.1} %",
        "analysis cache hit rate on repeats",
        100.0 * hit_rate
    );
    results.insert("optimizeRepeatPerSecond".into(), repeat_per_sec.into());
    results.insert("optimizeRepeatMedianUs".into(), repeat_us.into());
    results.insert("analysisCacheHitRate".into(), hit_rate.into());

    // Online update: feedback through the engine on a memory store (store + policy).
    let engine = block_on(Engine::open(
        Rc::new(MemoryStore::new()),
        EngineConfig {
            seed: Some(2),
            auto_train_every: 0,
            ..EngineConfig::default()
        },
        clock.clone(),
    ))
    .expect("engine");
    let n = if quick { 50 } else { 2000 };
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            block_on(engine.optimize(&reqs[i % reqs.len()]))
                .expect("optimize")
                .span_id,
        );
    }
    let start = Instant::now();
    for (i, id) in ids.iter().enumerate() {
        let fb = FeedbackRequest {
            span_id: id.clone(),
            metadata: FeedbackMetadata {
                rating: Some((1 + i % 5) as f64),
                ..Default::default()
            },
            ..Default::default()
        };
        block_on(engine.feedback(&fb)).expect("feedback");
    }
    let per_feedback_us = start.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!(
        "{:<44} {:>10.1} µs per feedback (target ≤ 1000)",
        "online update (feedback → policy)", per_feedback_us
    );
    results.insert("onlineUpdateUs".into(), per_feedback_us.into());

    // Batch training.
    for size in if quick {
        vec![1_000]
    } else {
        vec![10_000, 100_000]
    } {
        let (spans, rewards) = synthetic(size);
        let start = Instant::now();
        let policy = Policy::train(&spans, &rewards, Some(30.0 * 86_400_000.0));
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(policy.rewards(), size as u64);
        println!(
            "{:<44} {:>10.1} ms (target ≤ 100 at 100k)",
            format!("train() compute, {size} spans + rewards"),
            ms
        );
        results.insert(format!("trainMs{size}"), ms.into());
    }
    let _ = std::fs::create_dir_all("build");
    let json = serde_json::Value::Object(results);
    let _ = std::fs::write(
        "build/bench-native.json",
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    );
}
