//! Simulated users teach the engine their hidden taste; prints learning curves.
//!
//! ```text
//! cargo run --release --example simulate [-- --rounds 200 --seed 7]
//! ```
//!
//! For each user: average reward per window of 20 ratings for the learning policy, the
//! rule-only baseline and the best fixed choice in hindsight, then the off-policy (IPS)
//! estimates next to the true values measured with fresh ratings.

use lightprompt::learn::simulate::{simulate, SimConfig, SimUser, Taste, IMAGE_PROMPTS};
use lightprompt::prompt::Category;
use lightprompt::rng::Rng;
use lightprompt::EngineConfig;

const VIDEO_PROMPTS: &[&str] = &[
    "a surfer riding a wave",
    "a chef plating a dessert",
    "city traffic at night",
    "a dog running through a meadow",
    "a paper boat drifting down a stream",
];

const TEXT_PROMPTS: &[&str] = &[
    "summarize this article about climate policy",
    "write an email asking my landlord to fix the heating",
    "explain recursion",
    "fix the bug in this python function",
    "draft a product description for a hiking backpack",
];

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds = arg("--rounds", 200) as usize;
    let seed = arg("--seed", 7);
    let mut rng = Rng::from_seed(seed);
    // (name, category, model, prompts, rating noise, changes taste half-way)
    type User<'a> = (&'a str, Category, &'a str, &'a [&'a str], f64, bool);
    let users: Vec<User> = vec![
        (
            "image user, Midjourney, low noise",
            Category::Image,
            "midjourney",
            IMAGE_PROMPTS,
            0.5,
            false,
        ),
        (
            "image user, SDXL, noisy ratings",
            Category::Image,
            "sdxl",
            IMAGE_PROMPTS,
            1.2,
            false,
        ),
        (
            "image user whose taste changes half-way",
            Category::Image,
            "midjourney",
            IMAGE_PROMPTS,
            0.5,
            true,
        ),
        (
            "video user, Veo",
            Category::Video,
            "veo",
            VIDEO_PROMPTS,
            0.6,
            false,
        ),
        (
            "text user, Claude",
            Category::Text,
            "claude",
            TEXT_PROMPTS,
            0.6,
            false,
        ),
    ];
    for (name, category, model, prompts, noise, changes) in users {
        let ratios: &[&str] = match category {
            Category::Image => &["1:1", "16:9", "2:3", "21:9"],
            Category::Video => &["16:9", "9:16"],
            Category::Text => &[],
        };
        let taste = Taste::random(category, ratios, &mut rng)?;
        let second = changes
            .then(|| Taste::random(category, ratios, &mut rng))
            .transpose()?;
        let mut user = SimUser::new(taste, noise, rng.next_u64());
        let cfg = SimConfig {
            category,
            model: model.to_string(),
            rounds,
            window: 20,
            change_at: changes.then_some(rounds / 2),
            engine: EngineConfig {
                seed: Some(seed),
                // A taste that changes needs a short memory: 2 days = 48 hourly ratings.
                half_life_days: Some(if changes { 2.0 } else { 30.0 }),
                ..EngineConfig::default()
            },
            ms_per_round: 3_600_000.0, // one rating an hour
        };
        let report = simulate(prompts, &mut user, second, &cfg)?;
        println!(
            "\n== {name} ({} ratings{}) ==",
            rounds,
            if changes {
                ", taste changes at the middle"
            } else {
                ""
            }
        );
        println!(
            "{:>6}  {:>8}  {:>10}  {:>8}",
            "rounds", "learned", "rule-only", "oracle"
        );
        for w in &report.windows {
            println!(
                "{:>6}  {:>8.3}  {:>10.3}  {:>8.3}",
                w.round, w.learned, w.rules, w.oracle
            );
        }
        println!(
            "off-policy estimates from {} logged spans vs the truth (fresh simulated ratings):",
            report.evaluated
        );
        println!(
            "  learned (as configured)  true {:.3}  IPS {:.3}  SNIPS {:.3}  PI {:.3}",
            report.true_exploring,
            report.ips_exploring,
            report.snips_exploring,
            report.pi_exploring
        );
        println!(
            "  learned (greedy)         true {:.3}  IPS {:.3}  SNIPS {:.3}",
            report.true_learned, report.ips_learned, report.snips_learned
        );
        println!(
            "  rule-only                true {:.3}  IPS {:.3}  SNIPS {:.3}",
            report.true_rules, report.ips_rules, report.snips_rules
        );
        if !report.keywords.is_empty() {
            println!("learned keywords: {}", report.keywords.join(", "));
        }
    }
    Ok(())
}
