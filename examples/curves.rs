//! Learning curves of five simulated users, averaged over seeds: the mean reward over
//! ratings 1–20, 21–40, 101–200 and 151–200 beside the rules' (a tuning aid for the policy).
//!
//! ```text
//! cargo run --release --example curves        # 6 seeds
//! cargo run --release --example curves 30     # 30 seeds
//! ```

use lightprompt::learn::simulate::{
    simulate, SimConfig, SimUser, Taste, WindowPoint, IMAGE_PROMPTS,
};
use lightprompt::prompt::Category;
use lightprompt::rng::Rng;
use lightprompt::EngineConfig;

/// Mean of `f` over the windows ending in `(after, upto]`.
fn mean(windows: &[WindowPoint], after: usize, upto: usize, f: fn(&WindowPoint) -> f64) -> f64 {
    let points: Vec<f64> = windows
        .iter()
        .filter(|p| p.round > after && p.round <= upto)
        .map(f)
        .collect();
    points.iter().sum::<f64>() / points.len() as f64
}

/// A taste over tags and words of the image rules.
fn themed(likes: &[&str], dislikes: &[&str], ratio: Option<&str>) -> Taste {
    Taste::themed(Category::Image, likes, dislikes, ratio).expect("the rules load")
}

/// A simulated user: name, rating noise, and how to make its taste (and the one it turns to).
type User = (&'static str, f64, fn(&mut Rng) -> (Taste, Option<Taste>));

const USERS: [User; 5] = [
    ("random", 0.5, |rng| {
        let ratios = ["1:1", "16:9", "2:3", "21:9"];
        (
            Taste::random(Category::Image, &ratios, rng).expect("the rules load"),
            None,
        )
    }),
    ("noir", 0.6, |_| {
        let likes = [
            "palette:mono",
            "brightness:dark",
            "grain",
            "contrast",
            "dramatic",
            "shadows",
        ];
        let dislikes = ["palette:vibrant", "neon", "pastel", "valence:positive"];
        (themed(&likes, &dislikes, Some("2:3")), None)
    }),
    ("cheerful", 0.6, |_| {
        let likes = ["palette:vibrant", "valence:positive", "brightness:bright"];
        let dislikes = ["valence:negative", "brightness:dark", "palette:mono"];
        (themed(&likes, &dislikes, Some("16:9")), None)
    }),
    ("close", 0.9, |_| {
        let likes = ["distance:close", "palette:soft", "soft"];
        (themed(&likes, &["distance:wide", "dramatic"], None), None)
    }),
    ("turn", 0.5, |_| {
        let vibrant = ["palette:vibrant", "valence:positive", "brightness:bright"];
        let muted = ["palette:mono", "brightness:dark", "grain", "contrast"];
        let before = themed(&vibrant, &["palette:mono", "brightness:dark"], Some("1:1"));
        let after = themed(
            &muted,
            &["palette:vibrant", "neon", "valence:positive"],
            Some("1:1"),
        );
        (before, Some(after))
    }),
];

fn main() {
    let seeds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    for (name, noise, make) in USERS {
        let mut sums = [0.0; 7];
        for seed in 0..seeds {
            let mut rng = Rng::from_seed(1000 + seed);
            let (taste, second) = make(&mut rng);
            let config = SimConfig {
                category: Category::Image,
                model: "midjourney".into(),
                rounds: 200,
                window: 10,
                // The turn comes half-way, one second after the last rating of the old taste.
                change_at: second.is_some().then_some(100),
                engine: EngineConfig {
                    seed: Some(seed),
                    ..EngineConfig::default()
                },
                ms_per_round: 1000.0,
            };
            let mut user = SimUser::new(taste, noise, rng.next_u64());
            let report = simulate(IMAGE_PROMPTS, &mut user, second, &config).expect("simulates");
            let w = &report.windows;
            let learned = |p: &WindowPoint| p.learned;
            let rules = |p: &WindowPoint| p.rules;
            for (sum, value) in sums.iter_mut().zip([
                mean(w, 0, 20, learned),
                mean(w, 20, 40, learned),
                mean(w, 100, 200, learned),
                mean(w, 150, 200, learned),
                mean(w, 0, 200, rules),
                mean(w, 150, 200, rules),
                mean(w, 150, 200, |p| p.oracle),
            ]) {
                *sum += value;
            }
        }
        let [a, b, c, d, rules, rules_last, oracle] = sums.map(|s| s / seeds as f64);
        println!(
            "{name:>9}: 1-20 {a:.3}  21-40 {b:.3}  101-200 {c:.3}  151-200 {d:.3}  \
             rules {rules:.3} (last50 {rules_last:.3}) oracle {oracle:.3}"
        );
    }
}
