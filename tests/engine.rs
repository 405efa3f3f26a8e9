//! The engine end to end on a memory store: optimize, batch, feedback, training, status,
//! queries, export/import, and that bad input stores nothing.

use lightprompt::engine::{
    Clock, Engine, ExportDocument, FeedbackMetadata, FeedbackRequest, OptimizeRequest, QueryRequest,
};
use lightprompt::learn::simulate::block_on;
use lightprompt::learn::LearnedOptimizations;
use lightprompt::prompt::OptionValue;
use lightprompt::span::RewardSource;
use lightprompt::store::{MemoryStore, Store};
use lightprompt::{EngineConfig, ErrorCode};
use std::cell::Cell;
use std::rc::Rc;

fn clock() -> (Clock, Rc<Cell<f64>>) {
    let t = Rc::new(Cell::new(1_750_000_000_000.0));
    let c = t.clone();
    (
        Rc::new(move || {
            c.set(c.get() + 1.0);
            c.get()
        }),
        t,
    )
}

fn config(seed: u64) -> EngineConfig {
    EngineConfig {
        seed: Some(seed),
        auto_train_every: 0,
        ..EngineConfig::default()
    }
}

fn open(seed: u64) -> Engine<Rc<MemoryStore>> {
    open_on(Rc::new(MemoryStore::new()), config(seed))
}

fn open_on(store: Rc<MemoryStore>, cfg: EngineConfig) -> Engine<Rc<MemoryStore>> {
    block_on(Engine::open(store, cfg, clock().0)).unwrap()
}

fn req(prompt: &str, category: &str, model: &str) -> OptimizeRequest {
    OptimizeRequest {
        prompt: prompt.to_string(),
        category: category.to_string(),
        model: Some(model.to_string()),
        ..OptimizeRequest::default()
    }
}

fn rate(span_id: &str, stars: f64) -> FeedbackRequest {
    FeedbackRequest {
        span_id: span_id.to_string(),
        metadata: FeedbackMetadata {
            rating: Some(stars),
            satisfied: Some(stars >= 4.0),
            ..FeedbackMetadata::default()
        },
        ..FeedbackRequest::default()
    }
}

fn counts<S: Store>(e: &Engine<S>) -> (u64, u64) {
    let s = e.training_status().unwrap();
    (s.total_spans, s.total_rewards)
}

#[test]
fn optimize_records_a_span_with_the_seed_fields() {
    let e = open(1);
    let r = block_on(e.optimize(&req("a lighthouse on a cliff", "image", "mj"))).unwrap();
    assert_eq!(r.model, "midjourney-v7");
    assert_eq!(r.requested_model.as_deref(), Some("mj"));
    assert!(r.optimized_prompt.starts_with("a lighthouse on a cliff"));
    assert!(r.quality_score >= r.original_quality_score);
    assert_eq!(r.span_id.len(), 16);
    assert_eq!(r.task_id.len(), 32);
    let span = block_on(e.store().span(&r.span_id)).unwrap().unwrap();
    assert_eq!(span.name, "prompt_optimization_image");
    assert_eq!(span.optimized_prompt, r.optimized_prompt);
    assert_eq!(span.policy_version, 0);
    assert!(span
        .decisions
        .iter()
        .all(|d| d.propensity > 0.0 && d.propensity <= 1.0));
    assert!(span
        .edits
        .iter()
        .all(|d| d.propensity > 0.0 && d.propensity <= 1.0));
    assert_eq!(counts(&e), (1, 0));
}

#[test]
fn a_given_task_id_groups_spans() {
    let e = open(2);
    let task = "0123456789abcdef0123456789abcdef".to_string();
    for p in ["a fox", "a fox in the snow"] {
        let mut q = req(p, "image", "flux");
        q.task_id = Some(task.clone());
        assert_eq!(block_on(e.optimize(&q)).unwrap().task_id, task);
    }
    let spans = block_on(e.spans(&QueryRequest {
        task_id: Some(task),
        ..QueryRequest::default()
    }))
    .unwrap();
    assert_eq!(spans.len(), 2);
}

#[test]
fn bad_requests_are_rejected_by_field_and_store_nothing() {
    let e = open(3);
    let long = "word ".repeat(2500);
    let mut bad_options = req("a fox", "image", "midjourney");
    bad_options
        .options
        .insert("stylize".into(), OptionValue::Number(-5.0));
    let mut bad_task = req("a fox", "image", "sdxl");
    bad_task.task_id = Some("xyz".into());
    let cases: Vec<(OptimizeRequest, &str)> = vec![
        (req("", "image", "sdxl"), "prompt"),
        (req("   \n\t ", "image", "sdxl"), "prompt"),
        (req(&long, "image", "sdxl"), "prompt"),
        (req("a fox\u{0007}", "image", "sdxl"), "prompt"),
        (req("a fox", "audio", "sdxl"), "category"),
        (req("a fox", "text", "sdxl"), "model"),
        (bad_options, "options.stylize"),
        (bad_task, "taskId"),
    ];
    for (r, field) in cases {
        let err = block_on(e.optimize(&r)).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidInput, "{field}: {err}");
        assert_eq!(err.field.as_deref(), Some(field), "{err}");
        assert!(err.message.contains(field), "{err}");
    }
    assert_eq!(counts(&e), (0, 0));
}

#[test]
fn the_prompt_limit_is_configurable() {
    let cfg = EngineConfig {
        max_prompt_chars: 20,
        ..config(4)
    };
    let e = open_on(Rc::new(MemoryStore::new()), cfg);
    assert!(block_on(e.optimize(&req("a fox in the snow", "image", "flux"))).is_ok());
    let err = block_on(e.optimize(&req("a fox in the snow at dawn", "image", "flux"))).unwrap_err();
    assert!(err.message.contains("limit is 20"), "{err}");
}

#[test]
fn bad_configs_are_rejected() {
    for cfg in [
        EngineConfig {
            exploration: f64::NAN,
            ..EngineConfig::default()
        },
        EngineConfig {
            exploration: -1.0,
            ..EngineConfig::default()
        },
        EngineConfig {
            half_life_days: Some(0.0),
            ..EngineConfig::default()
        },
        EngineConfig {
            max_prompt_chars: 0,
            ..EngineConfig::default()
        },
    ] {
        let err = block_on(Engine::open(MemoryStore::new(), cfg, clock().0))
            .err()
            .unwrap();
        assert_eq!(err.code, ErrorCode::InvalidInput);
    }
}

#[test]
fn batch_is_all_or_nothing_and_names_the_request() {
    let e = open(5);
    let mut batch: Vec<OptimizeRequest> = (0..6)
        .map(|i| req(&format!("a lighthouse number {i}"), "image", "sdxl"))
        .collect();
    batch[3].prompt = " ".into();
    let err = block_on(e.optimize_batch(&batch)).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("requests[3].prompt"));
    assert_eq!(counts(&e), (0, 0));
    batch[3].prompt = "a storm over the sea".into();
    batch[4].category = "video".into();
    batch[4].model = Some("veo".into());
    let out = block_on(e.optimize_batch(&batch)).unwrap();
    assert_eq!(out.len(), 6);
    assert_eq!(out[4].model, "veo");
    assert_eq!(counts(&e), (6, 0));
    let status = e.training_status().unwrap();
    assert_eq!(status.by_category["image"].spans, 5);
    assert_eq!(status.by_category["video"].spans, 1);
}

#[test]
fn feedback_uses_the_seed_formula_and_keeps_every_reward() {
    let e = open(6);
    let r = block_on(e.optimize(&req("a cat", "image", "midjourney"))).unwrap();
    let fb = FeedbackRequest {
        span_id: r.span_id.clone(),
        task_id: Some(r.task_id.clone()),
        metadata: FeedbackMetadata {
            rating: Some(5.0),
            satisfied: Some(true),
            used_result: Some(true),
            quality_score: Some(85.0),
            ..FeedbackMetadata::default()
        },
        ..FeedbackRequest::default()
    };
    let out = block_on(e.feedback(&fb)).unwrap();
    assert_eq!(out.reward, 1.0);
    assert_eq!(out.source, RewardSource::Computed);
    let out2 = block_on(e.feedback(&rate(&r.span_id, 1.0))).unwrap();
    let expected = 0.4 * (r.quality_score / 100.0 * 2.0 - 1.0) + 0.6 * -0.6;
    assert!((out2.reward - expected).abs() < 1e-12);
    let explicit = FeedbackRequest {
        reward: Some(-0.25),
        ..rate(&r.span_id, 5.0)
    };
    let out3 = block_on(e.feedback(&explicit)).unwrap();
    assert_eq!((out3.reward, out3.source), (-0.25, RewardSource::Explicit));
    let rewards = block_on(e.rewards(&QueryRequest {
        span_id: Some(r.span_id.clone()),
        ..QueryRequest::default()
    }))
    .unwrap();
    assert_eq!(rewards.len(), 3);
    let s = e.training_status().unwrap();
    assert_eq!(s.total_rewards, 3);
    assert!((s.average_reward - (1.0 + expected - 0.25) / 3.0).abs() < 1e-12);
    assert_eq!(s.reward_ratio, 1.0);
    assert_eq!(s.by_category["image"].rewarded_spans, 1);
}

#[test]
fn bad_feedback_is_rejected_and_stores_nothing() {
    let e = open(7);
    let r = block_on(e.optimize(&req("a cat", "image", "midjourney"))).unwrap();
    let cases: Vec<(FeedbackRequest, ErrorCode, &str)> = vec![
        (
            FeedbackRequest {
                reward: Some(f64::NAN),
                ..rate(&r.span_id, 3.0)
            },
            ErrorCode::InvalidInput,
            "reward",
        ),
        (
            FeedbackRequest {
                reward: Some(1.5),
                ..rate(&r.span_id, 3.0)
            },
            ErrorCode::InvalidInput,
            "reward",
        ),
        (
            FeedbackRequest {
                reward: Some(f64::NEG_INFINITY),
                ..rate(&r.span_id, 3.0)
            },
            ErrorCode::InvalidInput,
            "reward",
        ),
        (
            rate(&r.span_id, 0.0),
            ErrorCode::InvalidInput,
            "metadata.rating",
        ),
        (
            rate(&r.span_id, 6.0),
            ErrorCode::InvalidInput,
            "metadata.rating",
        ),
        (
            rate(&r.span_id, f64::NAN),
            ErrorCode::InvalidInput,
            "metadata.rating",
        ),
        (rate("nothex", 3.0), ErrorCode::InvalidInput, "spanId"),
        (rate("00000000000000ff", 3.0), ErrorCode::NotFound, "spanId"),
        (
            FeedbackRequest {
                task_id: Some("f".repeat(32)),
                ..rate(&r.span_id, 3.0)
            },
            ErrorCode::InvalidInput,
            "taskId",
        ),
        (
            FeedbackRequest {
                feedback_text: Some("x".repeat(10_001)),
                ..rate(&r.span_id, 3.0)
            },
            ErrorCode::InvalidInput,
            "feedbackText",
        ),
    ];
    for (fb, code, field) in cases {
        let err = block_on(e.feedback(&fb)).unwrap_err();
        assert_eq!(
            (err.code, err.field.as_deref()),
            (code, Some(field)),
            "{err}"
        );
    }
    assert_eq!(counts(&e), (1, 0));
}

#[test]
fn a_custom_reward_function_is_used_checked_and_clamped() {
    let e = open(8);
    let r = block_on(e.optimize(&req("explain recursion", "text", "gpt"))).unwrap();
    e.set_reward_fn(Some(Rc::new(|input| Ok(input.rating.unwrap_or(0.0) - 3.0))));
    let out = block_on(e.feedback(&rate(&r.span_id, 5.0))).unwrap();
    assert_eq!((out.reward, out.source), (1.0, RewardSource::Custom)); // 2 clamped to 1
    e.set_reward_fn(Some(Rc::new(|_| Ok(f64::NAN))));
    assert_eq!(
        block_on(e.feedback(&rate(&r.span_id, 5.0)))
            .unwrap_err()
            .code,
        ErrorCode::Callback
    );
    e.set_reward_fn(Some(Rc::new(|_| {
        Err(lightprompt::Error::new(ErrorCode::Callback, "boom"))
    })));
    assert_eq!(
        block_on(e.feedback(&rate(&r.span_id, 5.0)))
            .unwrap_err()
            .code,
        ErrorCode::Callback
    );
    // An explicit reward wins over the function.
    let out = block_on(e.feedback(&FeedbackRequest {
        reward: Some(0.3),
        ..rate(&r.span_id, 5.0)
    }))
    .unwrap();
    assert_eq!(out.reward, 0.3);
    e.set_reward_fn(None);
    assert_eq!(
        block_on(e.feedback(&rate(&r.span_id, 3.0))).unwrap().source,
        RewardSource::Computed
    );
    assert_eq!(counts(&e).1, 3);
}

#[test]
fn status_has_every_field_of_the_design() {
    let e = open(9);
    let s = e.training_status().unwrap();
    let json = serde_json::to_value(&s).unwrap();
    for key in [
        "storeAvailable",
        "trainerAvailable",
        "storage",
        "totalSpans",
        "totalRewards",
        "averageReward",
        "rewardRatio",
        "byCategory",
        "policyVersion",
        "lastTrainedAt",
        "targetReward",
    ] {
        assert!(json.get(key).is_some(), "{key} missing");
    }
    assert_eq!(json["storage"], "memory");
    assert_eq!(s.target_reward, 0.7);
    assert_eq!(s.policy_version, 0);
    assert_eq!(s.by_category.len(), 3);
}

#[test]
fn paging_and_category_filter_through_the_engine() {
    let e = open(10);
    for i in 0..7 {
        let cat = if i % 2 == 0 { "image" } else { "text" };
        let model = if i % 2 == 0 { "flux" } else { "claude" };
        block_on(e.optimize(&req(
            &format!("prompt number {i} about a harbour"),
            cat,
            model,
        )))
        .unwrap();
    }
    let q = |category: Option<&str>, limit: f64, offset: f64| QueryRequest {
        category: category.map(str::to_string),
        limit: Some(limit),
        offset: Some(offset),
        ..QueryRequest::default()
    };
    assert_eq!(
        block_on(e.spans(&q(Some("image"), 10.0, 0.0)))
            .unwrap()
            .len(),
        4
    );
    let page = block_on(e.spans(&q(None, 3.0, 3.0))).unwrap();
    assert_eq!(page.len(), 3);
    assert!(page[0].original_prompt.contains("number 3"));
    for bad in [
        q(None, -1.0, 0.0),
        q(None, 2.5, 0.0),
        q(None, f64::INFINITY, 0.0),
        q(Some("sound"), 1.0, 0.0),
    ] {
        assert_eq!(
            block_on(e.spans(&bad)).unwrap_err().code,
            ErrorCode::InvalidInput
        );
    }
}

#[test]
fn a_closed_engine_refuses_work() {
    let e = open(11);
    e.close();
    assert_eq!(
        block_on(e.optimize(&req("a fox", "image", "flux")))
            .unwrap_err()
            .code,
        ErrorCode::Closed
    );
    assert_eq!(block_on(e.train()).unwrap_err().code, ErrorCode::Closed);
    assert!(e.is_closed());
}

#[test]
fn export_clear_import_round_trips_exactly() {
    let e = open(12);
    for i in 0..5 {
        let r = block_on(e.optimize(&req(&format!("a castle on a hill {i}"), "image", "sdxl")))
            .unwrap();
        block_on(e.feedback(&rate(&r.span_id, 1.0 + i as f64))).unwrap();
    }
    block_on(e.train()).unwrap();
    let doc = block_on(e.export()).unwrap();
    assert_eq!(
        (doc.spans.len(), doc.rewards.len(), doc.policies.len()),
        (5, 5, 1)
    );
    let text = serde_json::to_string(&doc).unwrap();
    block_on(e.clear()).unwrap();
    assert_eq!(counts(&e), (0, 0));
    let parsed: ExportDocument = serde_json::from_str(&text).unwrap();
    block_on(e.import(&parsed, true)).unwrap();
    let again = block_on(e.export()).unwrap();
    assert_eq!(again.spans, doc.spans);
    assert_eq!(again.rewards, doc.rewards);
    assert_eq!(counts(&e), (5, 5));
}

#[test]
fn a_malformed_import_changes_nothing() {
    let e = open(13);
    let r = block_on(e.optimize(&req("a castle", "image", "sdxl"))).unwrap();
    block_on(e.feedback(&rate(&r.span_id, 4.0))).unwrap();
    let good = block_on(e.export()).unwrap();
    let mut broken = Vec::new();
    let mut d = good.clone();
    d.format = "other".into();
    broken.push((d, "format"));
    let mut d = good.clone();
    d.spans[0].span_id = "XYZ".into();
    broken.push((d, "spans[0].spanId"));
    let mut d = good.clone();
    d.rewards[0].value = 7.0;
    broken.push((d, "rewards[0].value"));
    let mut d = good.clone();
    d.spans.push(d.spans[0].clone());
    broken.push((d, "spans[1].spanId"));
    let mut d = good.clone();
    d.rewards[0].span_id = "00000000000000aa".into();
    broken.push((d, "rewards[0].spanId"));
    let mut d = good.clone();
    d.spans[0].quality_score = f64::NAN;
    broken.push((d, "spans[0].qualityScore"));
    for (doc, field) in broken {
        for replace in [false, true] {
            let err = block_on(e.import(&doc, replace)).unwrap_err();
            assert_eq!(err.field.as_deref(), Some(field), "{err}");
            assert_eq!(counts(&e), (1, 1));
        }
    }
    let mut d = good.clone();
    d.version = 99;
    assert_eq!(
        block_on(e.import(&d, true)).unwrap_err().code,
        ErrorCode::VersionError
    );
    assert_eq!(block_on(e.export()).unwrap().spans, good.spans);
}

#[test]
fn the_same_seed_replays_the_same_choices() {
    let run = |seed: u64| -> Vec<String> {
        let e = open(seed);
        let mut out = Vec::new();
        for i in 0..12 {
            let r = block_on(e.optimize(&req(
                ["a fox", "a misty harbour", "portrait of a violinist"][i % 3],
                "image",
                "sdxl",
            )))
            .unwrap();
            block_on(e.feedback(&rate(&r.span_id, (1 + i % 5) as f64))).unwrap();
            out.push(r.optimized_prompt);
        }
        out
    };
    assert_eq!(run(42), run(42));
}

#[test]
fn auto_training_runs_every_n_rewards_and_versions_the_policy() {
    let cfg = EngineConfig {
        auto_train_every: 3,
        ..config(14)
    };
    let e = open_on(Rc::new(MemoryStore::new()), cfg);
    let mut versions = Vec::new();
    for i in 0..7 {
        let r = block_on(e.optimize(&req("a red bicycle", "image", "flux"))).unwrap();
        assert_eq!(r.policy_version, versions.last().copied().unwrap_or(0));
        let out = block_on(e.feedback(&rate(&r.span_id, 4.0))).unwrap();
        assert_eq!(out.trained.is_some(), (i + 1) % 3 == 0, "round {i}");
        versions.push(out.policy_version);
    }
    assert_eq!(versions, vec![0, 0, 1, 1, 1, 2, 2]);
    let s = e.training_status().unwrap();
    assert_eq!(s.policy_version, 2);
    assert!(s.last_trained_at.is_some());
    assert_eq!(block_on(e.store().all_policies()).unwrap().len(), 2);
}

/// Two readings of what was learned agree: the same patterns, with effects and samples equal
/// to rounding.
fn assert_same_patterns(x: &LearnedOptimizations, y: &LearnedOptimizations, what: &str) {
    assert_eq!(x.learned_patterns.len(), y.learned_patterns.len(), "{what}");
    for (p, q) in x.learned_patterns.iter().zip(&y.learned_patterns) {
        assert_eq!(p.id, q.id);
        assert!(
            (p.effect - q.effect).abs() < 1e-9,
            "{what} {}: {} vs {}",
            p.id,
            p.effect,
            q.effect
        );
        assert!((p.samples - q.samples).abs() < 1e-9, "{what} {}", p.id);
    }
}

/// The learned patterns of two engines for one image model agree, and are not empty.
fn same_learning<S: Store, T: Store>(a: &Engine<S>, b: &Engine<T>, model: &str) {
    let x = a.learned_optimizations("image", Some(model)).unwrap();
    let y = b.learned_optimizations("image", Some(model)).unwrap();
    assert!(!x.learned_patterns.is_empty(), "{model}: nothing learned");
    assert_same_patterns(&x, &y, model);
}

#[test]
fn a_checkpoint_stores_what_a_full_training_would_and_covers_other_tabs_rewards() {
    let store = Rc::new(MemoryStore::new());
    let auto = EngineConfig {
        auto_train_every: 4,
        ..config(31)
    };
    // Two tabs of one browser: one clock.
    let (now, _) = clock();
    let tab = block_on(Engine::open(store.clone(), auto, now.clone())).unwrap();
    let other = block_on(Engine::open(store.clone(), config(32), now)).unwrap();
    let prompts = [
        "a lighthouse at night",
        "a red fox in snow",
        "a bowl of ramen",
    ];
    let mut stars = 1.0;
    for round in 0..9 {
        for model in ["midjourney", "flux"] {
            let e = if round % 3 == 2 { &other } else { &tab };
            let r = block_on(e.optimize(&req(prompts[round % 3], "image", model))).unwrap();
            stars = stars % 5.0 + 1.0;
            block_on(e.feedback(&rate(&r.span_id, stars))).unwrap();
        }
    }
    // The tab has not seen the other's rewards: its checkpoint reloads and covers them.
    let report = block_on(tab.checkpoint()).unwrap();
    let stored = block_on(store.count_rewards()).unwrap();
    assert_eq!(report.rewards_used, stored);
    assert_eq!(report.spans_used, 18);
    let snapshot = block_on(store.latest_policy()).unwrap().unwrap();
    assert_eq!(snapshot.version, report.policy_version);
    assert_eq!(snapshot.rewards_used, stored);
    // Reopened from the checkpoint, the policy is the one a full training builds.
    let reopened = open_on(store.clone(), config(33));
    let trained = open_on(store, config(34));
    block_on(trained.train()).unwrap();
    for model in ["midjourney", "flux"] {
        same_learning(&reopened, &trained, model);
        same_learning(&tab, &trained, model);
    }
}

#[test]
fn a_reward_made_before_a_snapshot_but_stored_after_it_is_not_lost() {
    let store = Rc::new(MemoryStore::new());
    let e = open_on(store.clone(), config(35));
    let mut made = Vec::new();
    for (i, model) in [
        "midjourney",
        "flux",
        "midjourney",
        "flux",
        "midjourney",
        "flux",
    ]
    .iter()
    .enumerate()
    {
        let r = block_on(e.optimize(&req("a red fox in snow", "image", model))).unwrap();
        made.push(r.span_id.clone());
        if i < 4 {
            block_on(e.feedback(&rate(&r.span_id, 5.0))).unwrap();
        }
    }
    block_on(e.checkpoint()).unwrap();
    // Another tab whose rewards carry earlier times (made before, stored after).
    let (late, t) = clock();
    t.set(1_000_000_000_000.0);
    let behind = block_on(Engine::open(store.clone(), config(36), late)).unwrap();
    for id in &made[4..] {
        block_on(behind.feedback(&rate(id, 1.0))).unwrap();
    }
    let reopened = open_on(store.clone(), config(37));
    let trained = open_on(store, config(38));
    block_on(trained.train()).unwrap();
    for model in ["midjourney", "flux"] {
        same_learning(&reopened, &trained, model);
    }
}

#[test]
fn reopening_restores_status_and_policy() {
    let store = Rc::new(MemoryStore::new());
    let e = open_on(store.clone(), config(15));
    for i in 0..8 {
        let r = block_on(e.optimize(&req("a lighthouse at night", "image", "midjourney"))).unwrap();
        block_on(e.feedback(&rate(&r.span_id, if i % 2 == 0 { 5.0 } else { 2.0 }))).unwrap();
        if i == 4 {
            block_on(e.train()).unwrap();
        }
    }
    let before = e.training_status().unwrap();
    let learned_before = e
        .learned_optimizations("image", Some("midjourney"))
        .unwrap();
    let again = open_on(store, config(15));
    let after = again.training_status().unwrap();
    assert_eq!(before.total_spans, after.total_spans);
    assert_eq!(before.total_rewards, after.total_rewards);
    assert!((before.average_reward - after.average_reward).abs() < 1e-12);
    assert_eq!(before.policy_version, after.policy_version);
    let learned_after = again
        .learned_optimizations("image", Some("midjourney"))
        .unwrap();
    assert_same_patterns(&learned_before, &learned_after, "midjourney");
}

#[test]
fn sequence_numbers_are_fixed_at_recording_and_increase_within_a_task() {
    // A clock that stands still: every record is made in the same millisecond.
    let store = Rc::new(MemoryStore::new());
    let still: Clock = Rc::new(|| 1_750_000_000_000.0);
    let e = block_on(Engine::open(store.clone(), config(5), still)).unwrap();
    let a = block_on(e.optimize(&req("a fox in the snow", "image", "sdxl"))).unwrap();
    let mut again = req("a fox in the snow at dusk", "image", "sdxl");
    again.task_id = Some(a.task_id.clone());
    let b = block_on(e.optimize(&again)).unwrap();
    for v in [0.5, 0.2248, 0.2] {
        let mut fb = rate(&a.span_id, 3.0);
        fb.reward = Some(v);
        block_on(e.feedback(&fb)).unwrap();
    }
    let spans = block_on(store.all_spans()).unwrap();
    let mut rewards = block_on(store.all_rewards()).unwrap();
    let seq = |id: &str| {
        spans
            .iter()
            .find(|s| s.span_id == id)
            .unwrap()
            .sequence
            .unwrap()
    };
    assert!(seq(&a.span_id) < seq(&b.span_id));
    rewards.sort_by_key(|r| r.sequence.unwrap());
    assert!(rewards[0].sequence.unwrap() > seq(&b.span_id));
    let values: Vec<f64> = rewards.iter().map(|r| r.value).collect();
    assert_eq!(
        values,
        [0.5, 0.2248, 0.2],
        "sequence order is the order given"
    );
    // Exported as stored, twice the same, and the last reward by sequence is the last given.
    let t1 = block_on(e.traces()).unwrap();
    let t2 = block_on(e.traces()).unwrap();
    assert_eq!(t1, t2);
    let last = t1[0].spans.iter().max_by_key(|s| s.sequence).unwrap();
    assert_eq!(last.span_id, rewards[2].reward_id);
}

#[test]
fn sequence_numbers_continue_after_the_stored_ones_when_the_clock_went_back() {
    let store = Rc::new(MemoryStore::new());
    let later: Clock = Rc::new(|| 1_750_000_000_000.0);
    let e = block_on(Engine::open(store.clone(), config(6), later)).unwrap();
    let a = block_on(e.optimize(&req("a fox in the snow", "image", "sdxl"))).unwrap();
    block_on(e.feedback(&rate(&a.span_id, 4.0))).unwrap();
    drop(e);
    let earlier: Clock = Rc::new(|| 1_700_000_000_000.0);
    let e = block_on(Engine::open(store.clone(), config(6), earlier)).unwrap();
    block_on(e.feedback(&rate(&a.span_id, 2.0))).unwrap();
    let mut rewards = block_on(store.all_rewards()).unwrap();
    rewards.sort_by_key(|r| r.sequence.unwrap());
    assert_eq!(
        rewards.last().unwrap().rating,
        Some(2.0),
        "the later rating numbers last"
    );
}

/// A prompt seen again is answered from the analysis cache, with exactly the result a fresh
/// engine computes; the cache stays bounded however many prompts pass through it.
#[test]
fn a_repeated_prompt_reuses_its_analysis_and_gives_the_same_result() {
    let cfg = EngineConfig {
        exploration: 0.0,
        ..config(3)
    };
    let warm = open_on(Rc::new(MemoryStore::new()), cfg.clone());
    let fresh = || open_on(Rc::new(MemoryStore::new()), cfg.clone());
    let prompts = [
        (
            "a watercolor painting of a fox in a meadow",
            "image",
            "midjourney",
        ),
        ("노을 지는 바닷가, 부드러운 조명", "image", "sdxl"),
        ("a surfer riding a wave at dawn, drone shot", "video", "veo"),
        ("write a haiku about rain", "text", "claude"),
    ];
    for (prompt, category, model) in prompts {
        let r = req(prompt, category, model);
        let first = warm.preview(&r, None).unwrap();
        let (hits_before, _) = warm.analysis_cache_stats();
        let again = warm.preview(&r, None).unwrap();
        let (hits_after, _) = warm.analysis_cache_stats();
        // The prompt and its (unchanged, greedy) rewrite both come from the cache.
        assert!(
            hits_after >= hits_before + 2,
            "{prompt}: {hits_before} → {hits_after}"
        );
        let cold = fresh().preview(&r, None).unwrap();
        for result in [&again, &cold] {
            assert_eq!(result.optimized_prompt, first.optimized_prompt, "{prompt}");
            assert_eq!(result.quality_score, first.quality_score, "{prompt}");
            assert_eq!(result.breakdown, first.breakdown, "{prompt}");
            assert_eq!(result.suggestions, first.suggestions, "{prompt}");
        }
    }
    // Many distinct prompts: still answered, cache bounded (checked through the misses).
    for i in 0..500 {
        let r = req(
            &format!("a red fox number {i} in the snow"),
            "image",
            "flux",
        );
        warm.preview(&r, None).unwrap();
    }
    let (hits, misses) = warm.analysis_cache_stats();
    assert!(misses >= 1000 && hits >= 8, "{hits} hits, {misses} misses");
}

#[test]
fn evaluate_reads_the_rated_spans_and_unrated_ones_change_nothing() {
    let e = open(21);
    let prompts = [
        ("a lighthouse at dusk", "image", "sdxl"),
        ("a fox in the snow, watercolor", "image", "midjourney-v7"),
        ("a slow pan across a misty forest", "video", "veo"),
        ("explain recursion to a child", "text", "claude"),
    ];
    for i in 0..48 {
        let (p, c, m) = prompts[i % prompts.len()];
        let r = block_on(e.optimize(&req(&format!("{p} #{i}"), c, m))).unwrap();
        if i % 2 == 0 {
            block_on(e.feedback(&rate(&r.span_id, 1.0 + (i % 5) as f64))).unwrap();
        }
    }
    block_on(e.train()).unwrap();
    let before = block_on(e.evaluate()).unwrap();
    assert!(before.samples >= 20, "{before:?}");
    // A long unrated history after the ratings: no sample, no change in any figure.
    for i in 0..300 {
        let (p, c, m) = prompts[i % prompts.len()];
        block_on(e.optimize(&req(&format!("{p}, later #{i}"), c, m))).unwrap();
    }
    assert_eq!(block_on(e.evaluate()).unwrap(), before);
}

#[test]
fn traces_a_page_of_tasks_at_a_time_are_the_traces_of_everything() {
    let store = Rc::new(MemoryStore::new());
    let e = open_on(store.clone(), config(31));
    let task = |k: u64| format!("{k:032x}");
    let n = 2 * lightprompt::engine::TRACE_PAGE + 600;
    for i in 0..n {
        // One task longer than a page, many small ones, and spans with a task of their own.
        let task_id = match i % 5 {
            0 | 1 => Some(task(7)),
            4 => None,
            _ => Some(task(100 + (i as u64 * 7919) % 131)),
        };
        let request = OptimizeRequest {
            task_id,
            ..req(&format!("a harbour at dawn #{i}"), "image", "sdxl")
        };
        let r = block_on(e.optimize(&request)).unwrap();
        if i % 6 == 0 {
            block_on(e.feedback(&rate(&r.span_id, 1.0 + (i % 5) as f64))).unwrap();
        }
    }
    let spans = block_on(store.all_spans()).unwrap();
    let rewards = block_on(store.all_rewards()).unwrap();
    let whole = lightprompt::otlp::tasks(&spans, &rewards);
    assert!(whole
        .iter()
        .any(|t| t.spans.len() > lightprompt::engine::TRACE_PAGE));
    let mut pages = 0;
    let mut paged = Vec::new();
    block_on(e.trace_pages(|page| {
        pages += 1;
        paged.extend(page);
        Ok(())
    }))
    .unwrap();
    assert!(pages >= 3, "{pages} pages");
    assert_eq!(paged, whole);
    assert_eq!(
        block_on(e.export_otlp_protobuf()).unwrap(),
        lightprompt::otlp::export_otlp_protobuf(&spans, &rewards)
    );
    assert_eq!(
        block_on(e.export_otlp()).unwrap(),
        lightprompt::otlp::export_otlp(&spans, &rewards)
    );
}
