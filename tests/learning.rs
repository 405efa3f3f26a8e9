//! Learning: the policy follows a user's ratings, batch training equals the online path,
//! shrinkage across models, recency, learned keywords, and off-policy evaluation.

use lightprompt::engine::{Engine, FeedbackMetadata, FeedbackRequest, OptimizeRequest};
use lightprompt::learn::simulate::{block_on, simulate, SimConfig, SimUser, Taste, IMAGE_PROMPTS};
use lightprompt::learn::Policy;
use lightprompt::prompt::Category;
use lightprompt::rng::Rng;
use lightprompt::store::{MemoryStore, Store};
use lightprompt::EngineConfig;
use std::cell::Cell;
use std::rc::Rc;

const PROMPTS: &[&str] = &[
    "a lighthouse on a rocky cliff",
    "portrait of an old fisherman",
    "a red fox in the snow",
    "a quiet street after rain",
    "a bowl of ramen on a wooden table",
    "노을 지는 바닷가",
];

type Fixture = (Engine<Rc<MemoryStore>>, Rc<MemoryStore>, Rc<Cell<f64>>);

fn engine(seed: u64, exploration: f64, half_life_days: Option<f64>) -> Fixture {
    let t = Rc::new(Cell::new(1_750_000_000_000.0));
    let c = t.clone();
    let store = Rc::new(MemoryStore::new());
    let cfg = EngineConfig {
        seed: Some(seed),
        exploration,
        half_life_days,
        auto_train_every: 0,
        ..EngineConfig::default()
    };
    let clock = Rc::new(move || {
        c.set(c.get() + 1.0);
        c.get()
    });
    let e = block_on(Engine::open(store.clone(), cfg, clock)).unwrap();
    (e, store, t)
}

fn req(prompt: &str, model: &str) -> OptimizeRequest {
    OptimizeRequest {
        prompt: prompt.into(),
        category: "image".into(),
        model: Some(model.into()),
        ..Default::default()
    }
}

/// A user who only cares about the aspect ratio: 5 stars for `want`, 1 star otherwise.
fn ratio_lover(e: &Engine<Rc<MemoryStore>>, t: &Cell<f64>, model: &str, want: &str, rounds: usize) {
    for i in 0..rounds {
        let r = block_on(e.optimize(&req(PROMPTS[i % PROMPTS.len()], model))).unwrap();
        let stars = if r.aspect_ratio.as_deref() == Some(want) {
            5.0
        } else {
            1.0
        };
        let fb = FeedbackRequest {
            span_id: r.span_id,
            metadata: FeedbackMetadata {
                rating: Some(stars),
                ..Default::default()
            },
            ..Default::default()
        };
        block_on(e.feedback(&fb)).unwrap();
        t.set(t.get() + 60_000.0);
    }
}

#[test]
fn the_policy_learns_a_preferred_aspect_ratio_and_says_so() {
    let (e, _, t) = engine(1, 1.0, None);
    ratio_lover(&e, &t, "sdxl", "21:9", 80);
    let greedy = e
        .preview(&req("a castle by a lake", "sdxl"), Some(0.0))
        .unwrap();
    assert_eq!(greedy.aspect_ratio.as_deref(), Some("21:9"));
    let ratio_edit = greedy
        .edits
        .iter()
        .find(|e| e.id.starts_with("aspectRatio:"))
        .unwrap();
    assert!(
        ratio_edit.learned,
        "the pick differs from the rules' because of learning"
    );
    let learned = e.learned_optimizations("image", Some("sdxl")).unwrap();
    assert_eq!(
        learned
            .learned_patterns
            .iter()
            .find(|p| p.slot == "aspectRatio")
            .unwrap()
            .id,
        "aspectRatio:21:9"
    );
    assert!(learned.confidence > 0.9, "{}", learned.confidence);
}

#[test]
fn exploration_zero_is_greedy_with_propensity_one() {
    let (e, store, _) = engine(2, 0.0, None);
    for p in PROMPTS {
        block_on(e.optimize(&req(p, "midjourney"))).unwrap();
    }
    let spans = block_on(store.all_spans()).unwrap();
    assert!(spans
        .iter()
        .flat_map(|s| &s.decisions)
        .all(|d| d.propensity == 1.0));
    // And the choice is the rules' own when nothing is learned.
    let first: Vec<_> = spans.iter().map(|s| s.optimized_prompt.clone()).collect();
    let (e2, store2, _) = engine(99, 0.0, None);
    for p in PROMPTS {
        block_on(e2.optimize(&req(p, "midjourney"))).unwrap();
    }
    let second: Vec<_> = block_on(store2.all_spans())
        .unwrap()
        .iter()
        .map(|s| s.optimized_prompt.clone())
        .collect();
    assert_eq!(first, second);
}

#[test]
fn exploring_propensities_are_probabilities_that_match_frequencies() {
    let (e, store, _) = engine(3, 1.0, None);
    for _ in 0..400 {
        block_on(e.optimize(&req("a red fox in the snow", "sdxl"))).unwrap();
    }
    let spans = block_on(store.all_spans()).unwrap();
    let mut freq = std::collections::BTreeMap::<String, (f64, f64)>::new();
    for d in spans
        .iter()
        .flat_map(|s| &s.decisions)
        .filter(|d| d.slot == "aspectRatio")
    {
        let e = freq.entry(d.action.clone()).or_default();
        e.0 += 1.0;
        e.1 = d.propensity; // nothing learned: the same every time
    }
    let total: f64 = freq.values().map(|v| v.0).sum();
    for (action, (n, p)) in &freq {
        let observed = n / total;
        assert!(
            (observed - p).abs() < 4.0 * (p * (1.0 - p) / total).sqrt() + 0.01,
            "{action}: {observed} vs {p}"
        );
    }
}

#[test]
fn training_is_deterministic_idempotent_and_equals_the_online_path() {
    let (e, store, t) = engine(4, 1.0, Some(1.0));
    ratio_lover(&e, &t, "sdxl", "3:2", 30);
    ratio_lover(&e, &t, "midjourney", "16:9", 20);
    // Several rewards on one span: the latest counts.
    let spans = block_on(store.all_spans()).unwrap();
    for s in spans.iter().take(5) {
        t.set(t.get() + 1000.0);
        let fb = FeedbackRequest {
            span_id: s.span_id.clone(),
            reward: Some(-0.9),
            ..Default::default()
        };
        block_on(e.feedback(&fb)).unwrap();
    }
    let online_sdxl = e.learned_optimizations("image", Some("sdxl")).unwrap();
    let online_mj = e
        .learned_optimizations("image", Some("midjourney"))
        .unwrap();
    block_on(e.train()).unwrap();
    let batch_sdxl = e.learned_optimizations("image", Some("sdxl")).unwrap();
    let batch_mj = e
        .learned_optimizations("image", Some("midjourney"))
        .unwrap();
    for (a, b) in [(&online_sdxl, &batch_sdxl), (&online_mj, &batch_mj)] {
        assert_eq!(a.learned_patterns.len(), b.learned_patterns.len());
        for (x, y) in a.learned_patterns.iter().zip(&b.learned_patterns) {
            assert_eq!(x.id, y.id);
            assert!((x.effect - y.effect).abs() < 1e-9 && (x.samples - y.samples).abs() < 1e-9);
        }
        assert!((a.confidence - b.confidence).abs() < 1e-9);
    }
    // Twice the same: identical state.
    let spans = block_on(store.all_spans()).unwrap();
    let rewards = block_on(store.all_rewards()).unwrap();
    let p1 = Policy::train(&spans, &rewards, Some(86_400_000.0)).state();
    let p2 = Policy::train(&spans, &rewards, Some(86_400_000.0)).state();
    assert_eq!(
        serde_json::to_string(&p1).unwrap(),
        serde_json::to_string(&p2).unwrap()
    );
    // Order of the input does not matter.
    let mut reversed = rewards.clone();
    reversed.reverse();
    let p3 = Policy::train(&spans, &reversed, Some(86_400_000.0)).state();
    assert_eq!(p1, p3);
    assert_eq!(p1.rewards, 50);
}

#[test]
fn what_is_learned_for_one_model_helps_another_a_little() {
    let (e, _, t) = engine(5, 1.0, None);
    let before_sdxl = e.learned_optimizations("image", Some("sdxl")).unwrap();
    assert!(before_sdxl.learned_patterns.is_empty());
    ratio_lover(&e, &t, "sd-1.5", "2:3", 60);
    let own = e.learned_optimizations("image", Some("sd-1.5")).unwrap();
    let other = e.learned_optimizations("image", Some("sdxl")).unwrap();
    let effect = |l: &lightprompt::learn::LearnedOptimizations| {
        l.learned_patterns
            .iter()
            .find(|p| p.id == "aspectRatio:2:3")
            .map(|p| p.effect)
            .unwrap()
    };
    assert!(
        effect(&own) > effect(&other),
        "own {} other {}",
        effect(&own),
        effect(&other)
    );
    assert!(effect(&other) > 0.0, "other models learn something");
    assert!(own.confidence > other.confidence);
}

/// How far the learned effect of 1:1 leads that of 16:9 on sdxl (a ratio never learned
/// counts as far behind).
fn new_favourite_lead(e: &Engine<Rc<MemoryStore>>) -> f64 {
    let l = e.learned_optimizations("image", Some("sdxl")).unwrap();
    let get = |id: &str| {
        l.learned_patterns
            .iter()
            .find(|p| p.id == id)
            .map_or(-9.0, |p| p.effect)
    };
    get("aspectRatio:1:1") - get("aspectRatio:16:9")
}

#[test]
fn recency_follows_a_change_of_taste() {
    let run = |half_life: Option<f64>| {
        let (e, _, t) = engine(6, 1.0, half_life);
        ratio_lover(&e, &t, "sdxl", "16:9", 80);
        ratio_lover(&e, &t, "sdxl", "1:1", 25);
        new_favourite_lead(&e)
    };
    // One rating a minute; a half-life of 10 minutes forgets the old taste fast.
    let with_recency = run(Some(10.0 / 1440.0));
    let without = run(None);
    assert!(with_recency > without, "{with_recency} vs {without}");
    assert!(
        with_recency > 0.0,
        "the new favourite leads: {with_recency}"
    );
}

#[test]
fn forgetting_by_evidence_follows_a_change_of_taste_with_no_time_passing() {
    // No half-life: time counts for nothing, only the order of the ratings. After 80 ratings
    // for 16:9 and 40 for 1:1, the recent ones must outweigh the many older ones.
    let (e, _, t) = engine(6, 1.0, None);
    ratio_lover(&e, &t, "sdxl", "16:9", 80);
    ratio_lover(&e, &t, "sdxl", "1:1", 40);
    let lead = new_favourite_lead(&e);
    assert!(lead > 0.0, "the new favourite leads: {lead}");
    let greedy = e
        .preview(&req("a castle by a lake", "sdxl"), Some(0.0))
        .unwrap();
    assert_eq!(greedy.aspect_ratio.as_deref(), Some("1:1"));
}

// Requests of more than one line's worth: a one-line question gets a line or two by design
// (the coherence work), which leaves a taste nothing to choose between.
const TEXT_PROMPTS: &[&str] = &[
    "explain how our quarterly sales figures changed across the three regions this year and what drove the differences, so the board can decide where to invest next",
    "write an email asking my landlord to fix the heating before the cold weather arrives next week; it has been broken since Monday and I have asked twice already",
    "explain recursion and how it differs from iteration, with the trade-offs a working programmer should know before choosing one for a parser or a tree walk",
    "compare the three hosting plans we were offered and recommend one for a small online shop with seasonal traffic, a tight budget and no operations staff",
    "draft a product description for a hiking backpack made of recycled fabric for our online store, mentioning its weight, the rain cover and the lifetime warranty",
];

/// A user with a clear taste (low rating noise), rating once an hour.
fn run_user(
    seed: u64,
    category: Category,
    model: &str,
    change_at: Option<usize>,
    half_life_days: f64,
    rounds: usize,
    window: usize,
) -> lightprompt::learn::simulate::SimReport {
    let mut rng = Rng::from_seed(5000 + seed);
    let ratios: &[&str] = match category {
        Category::Image => &["1:1", "16:9", "2:3", "21:9"],
        _ => &[],
    };
    let taste = Taste::random(category, ratios, &mut rng).unwrap();
    let second = Taste::random(category, ratios, &mut rng).unwrap();
    let mut user = SimUser::new(taste, 0.5, rng.next_u64());
    let prompts = if category == Category::Text {
        TEXT_PROMPTS
    } else {
        IMAGE_PROMPTS
    };
    let cfg = SimConfig {
        category,
        model: model.into(),
        rounds,
        window,
        change_at,
        engine: EngineConfig {
            seed: Some(seed),
            half_life_days: Some(half_life_days),
            ..EngineConfig::default()
        },
        ms_per_round: 3_600_000.0,
    };
    simulate(prompts, &mut user, change_at.map(|_| second), &cfg).unwrap()
}

#[test]
fn simulated_users_teach_the_policy_to_beat_the_rules_by_a_wide_margin() {
    for (seed, category, model) in [
        (1, Category::Image, "midjourney"),
        (2, Category::Image, "sdxl"),
        (3, Category::Text, "claude"),
    ] {
        let report = run_user(seed, category, model, None, 30.0, 200, 100);
        let late = report.windows[1]; // ratings 101–200
        assert!(late.learned >= late.rules + 0.3, "{model}: {late:?}");
        assert!(late.learned >= 0.7, "{model}: {late:?}");
        assert!(
            report.true_learned > report.true_rules + 0.3,
            "{model}: {report:?}"
        );
    }
}

/// One simulated user's path is noisy (over 16 users, ratings 201–250 spread from about 0.4
/// to 0.9), so the claim is about the mean over sixteen users, never about one picked seed.
/// The margin over the rules is 0.1: every rule that keeps an edit off a prompt it does not
/// fit also narrows what the policy can learn to prefer, so the text margin has moved between
/// 0.13 and 0.17 as the coherence rules grew (0.147 over these 16 users when it was set).
#[test]
fn after_a_change_of_taste_the_policy_recovers_within_fifty_ratings() {
    for (category, model) in [(Category::Image, "midjourney"), (Category::Text, "claude")] {
        let (mut before, mut recovered, mut rules) = (0.0, 0.0, 0.0);
        let users = 16;
        for seed in 100..100 + users {
            // 150 ratings of one taste, then 100 of another; windows of 50 ratings.
            let report = run_user(seed, category, model, Some(150), 2.0, 250, 50);
            before += report.windows[2].learned / users as f64; // ratings 101–150
            recovered += report.windows[4].learned / users as f64; // ratings 201–250
            rules += report.windows[4].rules / users as f64;
        }
        let summary =
            format!("{model}: before {before:.3}, recovered {recovered:.3}, rules {rules:.3}");
        println!("{summary}");
        assert!(recovered >= 0.6, "{summary}");
        assert!(recovered >= before - 0.15, "{summary}");
        assert!(recovered >= rules + 0.1, "{summary}");
    }
}

#[test]
fn the_self_normalised_ips_estimate_lands_near_the_truth() {
    // Six users; the estimate of the learned policy (as configured) against its true value
    // measured with fresh simulated ratings. In-sample evaluation is optimistic, so a
    // single user may miss by a little more; on average it must be within 0.1.
    let mut errors = Vec::new();
    for (seed, category, model) in [
        (6, Category::Image, "midjourney"),
        (7, Category::Text, "claude"),
        (8, Category::Image, "sdxl"),
        (9, Category::Text, "gpt"),
        (10, Category::Image, "flux"),
        (11, Category::Image, "midjourney"),
    ] {
        let report = run_user(seed, category, model, None, 30.0, 200, 100);
        assert!(report.evaluated >= 190, "{report:?}");
        let error = (report.snips_exploring - report.true_exploring).abs();
        assert!(error <= 0.2, "{model}: {report:?}");
        errors.push(error);
    }
    let mean = errors.iter().sum::<f64>() / errors.len() as f64;
    assert!(mean <= 0.1, "{errors:?}");
}

/// A taste over tags and words that turns within one sitting (one second between ratings):
/// vibrant and cheerful for 100 ratings, then monochrome, dark and grainy. Over sixteen users
/// the policy gets at least 0.7 over the last 50 ratings and at least 0.3 above the rules
/// (about 0.75–0.81 against 0.34 when this was written, depending on the users; 0.66 before
/// change detection).
#[test]
fn a_turn_of_taste_within_one_sitting_is_followed_within_fifty_ratings() {
    let themed = |likes: &[&str], dislikes: &[&str]| {
        Taste::themed(Category::Image, likes, dislikes, Some("1:1")).unwrap()
    };
    let (mut last, mut rules) = (0.0, 0.0);
    let users = 16;
    for seed in 0..users {
        let before = themed(
            &["palette:vibrant", "valence:positive", "brightness:bright"],
            &["palette:mono", "brightness:dark"],
        );
        let after = themed(
            &["palette:mono", "brightness:dark", "grain", "contrast"],
            &["palette:vibrant", "neon", "valence:positive"],
        );
        let mut user = SimUser::new(before, 0.5, 7000 + seed);
        let cfg = SimConfig {
            category: Category::Image,
            model: "midjourney".into(),
            rounds: 200,
            window: 50,
            change_at: Some(100),
            engine: EngineConfig {
                seed: Some(seed),
                ..EngineConfig::default()
            },
            ms_per_round: 1000.0,
        };
        let report = simulate(IMAGE_PROMPTS, &mut user, Some(after), &cfg).unwrap();
        last += report.windows[3].learned / users as f64; // ratings 151–200
        rules += report.windows[3].rules / users as f64;
    }
    let summary = format!("last 50: learned {last:.3}, rules {rules:.3}");
    println!("{summary}");
    assert!(last >= 0.7, "{summary}");
    assert!(last >= rules + 0.3, "{summary}");
}
