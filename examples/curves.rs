//! Learning curves of simulated users averaged over seeds (tuning aid).
use lightprompt::learn::simulate::{simulate, SimConfig, SimUser, Taste};
use lightprompt::prompt::Category;
use lightprompt::rng::Rng;
use lightprompt::EngineConfig;

const IMAGE: &[&str] = &[
    "a lighthouse on a rocky cliff",
    "portrait of an old fisherman",
    "a red fox in the snow",
    "a quiet street in Kyoto after rain",
    "a bowl of ramen on a wooden table",
    "an astronaut floating above the earth",
    "a cottage in a pine forest",
    "a vintage motorcycle in a garage",
    "노을 지는 바닷가",
    "a cat sleeping on a windowsill",
];

fn mean(
    w: &[lightprompt::learn::simulate::WindowPoint],
    a: usize,
    b: usize,
    f: fn(&lightprompt::learn::simulate::WindowPoint) -> f64,
) -> f64 {
    let pts: Vec<f64> = w
        .iter()
        .filter(|p| p.round > a && p.round <= b)
        .map(f)
        .collect();
    pts.iter().sum::<f64>() / pts.len() as f64
}

fn main() {
    let seeds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    type Mk = Box<dyn Fn(&mut Rng) -> (Taste, Option<Taste>)>;
    let ratios = ["1:1", "16:9", "2:3", "21:9"];
    let users: Vec<(&str, f64, Mk)> = vec![
        (
            "random",
            0.5,
            Box::new(move |r: &mut Rng| {
                (Taste::random(Category::Image, &ratios, r).unwrap(), None)
            }),
        ),
        (
            "noir",
            0.6,
            Box::new(|_r: &mut Rng| {
                (
                    Taste::themed(
                        Category::Image,
                        &[
                            "palette:mono",
                            "brightness:dark",
                            "grain",
                            "contrast",
                            "dramatic",
                            "shadows",
                        ],
                        &["palette:vibrant", "neon", "pastel", "valence:positive"],
                        Some("2:3"),
                    )
                    .unwrap(),
                    None,
                )
            }),
        ),
        (
            "cheerful",
            0.6,
            Box::new(|_r: &mut Rng| {
                (
                    Taste::themed(
                        Category::Image,
                        &["palette:vibrant", "valence:positive", "brightness:bright"],
                        &["valence:negative", "brightness:dark", "palette:mono"],
                        Some("16:9"),
                    )
                    .unwrap(),
                    None,
                )
            }),
        ),
        (
            "close",
            0.9,
            Box::new(|_r: &mut Rng| {
                (
                    Taste::themed(
                        Category::Image,
                        &["distance:close", "palette:soft", "soft"],
                        &["distance:wide", "dramatic"],
                        None,
                    )
                    .unwrap(),
                    None,
                )
            }),
        ),
        (
            "turn",
            0.5,
            Box::new(|_r: &mut Rng| {
                (
                    Taste::themed(
                        Category::Image,
                        &["palette:vibrant", "vibrant", "colors"],
                        &["palette:mono", "palette:soft", "muted"],
                        Some("1:1"),
                    )
                    .unwrap(),
                    Some(
                        Taste::themed(
                            Category::Image,
                            &["palette:mono", "palette:soft", "muted"],
                            &["palette:vibrant", "vibrant", "neon"],
                            Some("1:1"),
                        )
                        .unwrap(),
                    ),
                )
            }),
        ),
    ];
    for (name, noise, mk) in &users {
        let (mut a, mut b, mut c, mut d, mut rules, mut ruleslast) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        for seed in 0..seeds {
            let mut rng = Rng::from_seed(1000 + seed);
            let (taste, second) = mk(&mut rng);
            let changes = second.is_some();
            let mut user = SimUser::new(taste, *noise, rng.next_u64());
            let cfg = SimConfig {
                category: Category::Image,
                model: "midjourney".into(),
                rounds: 200,
                window: 10,
                change_at: changes.then_some(100),
                engine: EngineConfig {
                    seed: Some(seed),
                    ..EngineConfig::default()
                },
                ms_per_round: 1000.0,
            };
            let rep = simulate(IMAGE, &mut user, second, &cfg).unwrap();
            let w = &rep.windows;
            a += mean(w, 0, 20, |p| p.learned);
            b += mean(w, 20, 40, |p| p.learned);
            c += mean(w, 100, 200, |p| p.learned);
            d += mean(w, 150, 200, |p| p.learned);
            rules += mean(w, 0, 200, |p| p.rules);
            ruleslast += mean(w, 150, 200, |p| p.rules);
        }
        let n = seeds as f64;
        println!("{name:>9}: 1-20 {:.3}  21-40 {:.3}  101-200 {:.3}  151-200 {:.3}  rules {:.3} (last50 {:.3})", a / n, b / n, c / n, d / n, rules / n, ruleslast / n);
    }
}
