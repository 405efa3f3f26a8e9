//! Model adapters: each knows its model's prompt syntax (parameters, weights, negative
//! prompts, sections), its length budget and the options it accepts.

mod image;
mod text;
mod video;

use super::category::{Category, Facet, Tag};
use super::options::{OptionKind, OptionSpec};
use serde::Serialize;
use std::collections::BTreeMap;

/// The syntax family an adapter renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// Midjourney: comma list, `--parameters` last.
    Midjourney,
    /// Stable Diffusion: comma list, `(term:1.2)` weights, separate negative prompt.
    StableDiffusion,
    /// DALL·E: natural sentences.
    DallE,
    /// Flux: natural sentences.
    Flux,
    /// Sora: cinematic prose.
    Sora,
    /// Runway: direct camera-first descriptions, no negative prompt.
    Runway,
    /// Veo: prose with camera, style and audio cues, separate negative prompt.
    Veo,
    /// OpenAI GPT: markdown sections.
    Gpt,
    /// Anthropic Claude: XML-tagged sections.
    Claude,
    /// Google Gemini: labelled sections.
    Gemini,
    /// Meta Llama: labelled sections and numbered rules.
    Llama,
    /// The generic adapter of a category.
    Generic,
}

impl Family {
    /// The kebab-case id used in rule files (`models=`).
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Midjourney => "midjourney",
            Family::StableDiffusion => "stable-diffusion",
            Family::DallE => "dall-e",
            Family::Flux => "flux",
            Family::Sora => "sora",
            Family::Runway => "runway",
            Family::Veo => "veo",
            Family::Gpt => "gpt",
            Family::Claude => "claude",
            Family::Gemini => "gemini",
            Family::Llama => "llama",
            Family::Generic => "generic",
        }
    }
}

/// How long a prompt may get before the model ignores or truncates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "unit", content = "limit", rename_all = "camelCase")]
pub enum Budget {
    /// CLIP tokens (Stable Diffusion reads 75 per chunk; the rest is ignored or diluted).
    ClipTokens(usize),
    /// Words.
    Words(usize),
    /// Characters.
    Chars(usize),
    /// No practical limit.
    Unlimited,
}

impl Budget {
    /// Cost of `text` in this budget's unit.
    pub fn cost(self, text: &str) -> usize {
        match self {
            Budget::ClipTokens(_) => estimate_clip_tokens(text),
            Budget::Words(_) => super::tokenize::tokenize(text).len(),
            Budget::Chars(_) => text.chars().count(),
            Budget::Unlimited => 0,
        }
    }

    /// The limit, if any.
    pub fn limit(self) -> Option<usize> {
        match self {
            Budget::ClipTokens(n) | Budget::Words(n) | Budget::Chars(n) => Some(n),
            Budget::Unlimited => None,
        }
    }

    /// Name of the unit, for messages.
    pub fn unit(self) -> &'static str {
        match self {
            Budget::ClipTokens(_) => "CLIP tokens",
            Budget::Words(_) => "words",
            Budget::Chars(_) => "characters",
            Budget::Unlimited => "",
        }
    }
}

/// Estimates CLIP BPE tokens: attention syntax is not counted (A1111 and ComfyUI strip it
/// before tokenizing), common words are one token, long words several, and each
/// punctuation mark one. An estimate, deliberately on the high side.
pub fn estimate_clip_tokens(text: &str) -> usize {
    let mut count = 0usize;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ':'
            && chars
                .peek()
                .is_some_and(|n| n.is_ascii_digit() || *n == '.')
        {
            // a weight ":1.2" is syntax, not text
            while chars
                .peek()
                .is_some_and(|n| n.is_ascii_digit() || *n == '.')
            {
                chars.next();
            }
        } else if c.is_alphanumeric() {
            let mut ascii_len = usize::from(c.is_ascii());
            let mut other = usize::from(!c.is_ascii());
            while let Some(&n) = chars.peek() {
                if !n.is_alphanumeric() {
                    break;
                }
                if n.is_ascii() {
                    ascii_len += 1;
                } else {
                    other += 1;
                }
                chars.next();
            }
            count += if ascii_len > 0 {
                1 + ascii_len.saturating_sub(1) / 7
            } else {
                0
            };
            count += other * 2;
        } else if !c.is_whitespace() && !matches!(c, '(' | ')' | '[' | ']') {
            count += 1;
        }
    }
    count
}

/// One model the optimizer can write for.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Adapter {
    /// Stable id (`midjourney-v7`, `sdxl`, `claude`, ...).
    pub id: &'static str,
    /// Display name.
    pub name: &'static str,
    /// The category of the model.
    pub category: Category,
    /// Syntax family.
    pub family: Family,
    /// Other names people use (matched case-insensitively, ignoring spaces and punctuation).
    pub aliases: &'static [&'static str],
    /// Length budget.
    pub budget: Budget,
    /// Most edits added by default (`options.maxEdits` overrides).
    pub max_edits: usize,
    /// Aspect ratios the policy may choose from when the user gives none (empty: the model
    /// has no aspect-ratio parameter).
    pub aspect_ratios: &'static [&'static str],
    /// The options it accepts.
    pub options: &'static [OptionSpec],
    /// What the adapter does, for pickers.
    pub description: &'static str,
}

impl Adapter {
    /// Whether an edit restricted to `models` (adapter ids or families) applies here.
    pub fn accepts(&self, models: &[&str]) -> bool {
        models.is_empty()
            || models
                .iter()
                .any(|m| *m == self.id || *m == self.family.as_str())
    }
}

/// An edit ready to render.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderEdit {
    /// The facet it fills.
    pub facet: Facet,
    /// The text to add.
    pub text: String,
    /// Attention weight for weighting syntaxes (1.0 = none).
    pub emphasis: f32,
}

/// Parameters found written in the prompt itself (`--ar 16:9` in a Midjourney prompt).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InlineParams {
    /// `(name, value)` in the order written; names without the dashes, lowercased.
    pub params: Vec<(String, String)>,
}

impl InlineParams {
    /// The value of a parameter under any of its `names`.
    pub fn get(&self, names: &[&str]) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| names.contains(&n.as_str()))
            .map(|(_, v)| v.as_str())
    }
}

/// Everything an adapter needs to write the optimized prompt.
#[derive(Debug)]
pub struct RenderInput<'a> {
    /// The user's text, without inline parameters.
    pub text: &'a str,
    /// Parameters the user wrote inline.
    pub inline: &'a InlineParams,
    /// Edits to add, in slot order.
    pub edits: &'a [RenderEdit],
    /// Validated options.
    pub options: &'a super::options::ModelOptions,
    /// Chosen aspect ratio, if the model has one.
    pub aspect_ratio: Option<&'a str>,
    /// Tags of the prompt (for negative-prompt choices).
    pub tags: &'a [Tag],
    /// Normalized words of the user's text.
    pub words: &'a [String],
}

/// The optimized prompt in the model's syntax.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rendered {
    /// The prompt to paste into the model.
    pub prompt: String,
    /// A separate negative prompt, where the model takes one.
    pub negative_prompt: Option<String>,
    /// Generation parameters (aspect ratio, size, steps, ...), by the model's own names.
    pub parameters: BTreeMap<String, serde_json::Value>,
    /// Remarks about what the adapter did (an option overriding an inline parameter, ...).
    pub notes: Vec<String>,
}

impl Adapter {
    /// Splits parameters the user wrote inline off the prompt text.
    pub fn split_inline<'t>(&self, text: &'t str) -> (&'t str, InlineParams) {
        match self.family {
            Family::Midjourney => image::split_midjourney_params(text),
            _ => (text, InlineParams::default()),
        }
    }

    /// Edits implied by options (a style preset, an answer format, ...): always applied.
    pub fn option_edits(&self, options: &super::options::ModelOptions) -> Vec<RenderEdit> {
        match self.category {
            Category::Image | Category::Video => image::option_edits(options),
            Category::Text => text::option_edits(options),
        }
    }

    /// Writes the prompt in the model's syntax.
    pub fn render(&self, input: &RenderInput<'_>) -> Rendered {
        match self.family {
            Family::Midjourney => image::render_midjourney(self, input),
            Family::StableDiffusion => image::render_stable_diffusion(self, input),
            Family::DallE | Family::Flux => image::render_natural(self, input),
            Family::Sora | Family::Runway | Family::Veo => video::render(self, input),
            Family::Gpt | Family::Claude | Family::Gemini | Family::Llama => {
                text::render(self, input)
            }
            Family::Generic => match self.category {
                Category::Image => image::render_natural(self, input),
                Category::Video => video::render(self, input),
                Category::Text => text::render(self, input),
            },
        }
    }

    /// Validates raw options against this model's specification.
    pub fn validate_options(
        &self,
        raw: &super::options::Options,
    ) -> crate::Result<super::options::ModelOptions> {
        if self.family == Family::Runway {
            let negative = raw
                .keys()
                .find(|k| NEGATIVE.name == k.as_str() || NEGATIVE.aliases.contains(&k.as_str()));
            if let Some(key) = negative {
                return Err(crate::Error::invalid(
                    format!("options.{key}"),
                    "Runway has no negative prompt; describe what should appear instead \
                     (\"a clear sky\" rather than \"no clouds\")",
                ));
            }
        }
        super::options::validate(raw, self.options, self.name)
    }

    /// How an edit's text is joined to the prompt, for budget estimates.
    pub fn separator(&self) -> &'static str {
        match self.family {
            Family::Midjourney | Family::StableDiffusion => ", ",
            _ if self.category == Category::Text => "\n",
            _ => ". ",
        }
    }
}

// Option specifications shared by adapters.

const fn spec(
    name: &'static str,
    aliases: &'static [&'static str],
    kind: OptionKind,
    description: &'static str,
) -> OptionSpec {
    OptionSpec {
        name,
        aliases,
        kind,
        description,
    }
}

const MAX_EDITS: OptionSpec = spec(
    "maxEdits",
    &["max_edits"],
    OptionKind::Integer { min: 0, max: 12 },
    "Most edits to add (0 keeps the prompt as written, adding only parameters).",
);
const MAX_LENGTH: OptionSpec = spec(
    "maxLength",
    &["max_length"],
    OptionKind::Integer {
        min: 20,
        max: 20_000,
    },
    "Longest optimized prompt, in characters.",
);
const STYLE: OptionSpec = spec(
    "style",
    &[],
    OptionKind::Text { max_chars: 80 },
    "A style to apply, e.g. \"watercolor\" or \"cinematic photograph\".",
);
const NEGATIVE: OptionSpec = spec(
    "negative",
    &[
        "no",
        "negativePrompt",
        "negative_prompt",
        "negativeTerms",
        "negative_terms",
    ],
    OptionKind::Terms { max_items: 30 },
    "Things to keep out of the result.",
);
const SEED: OptionSpec = spec(
    "seed",
    &[],
    OptionKind::Integer {
        min: 0,
        max: 4_294_967_295,
    },
    "Generation seed, for reproducible results.",
);
const ANY_RATIO: OptionSpec = spec(
    "aspectRatio",
    &["aspect_ratio", "ar", "aspect"],
    OptionKind::AspectRatio { values: &[] },
    "Aspect ratio W:H.",
);

const MJ_RATIOS: &[&str] = &["1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "21:9"];
const MJ_COMMON: [OptionSpec; 10] = [
    ANY_RATIO,
    spec(
        "stylize",
        &["s"],
        OptionKind::Integer { min: 0, max: 1000 },
        "--stylize: how strongly Midjourney's aesthetic applies (default 100).",
    ),
    spec(
        "chaos",
        &["c"],
        OptionKind::Integer { min: 0, max: 100 },
        "--chaos: variety between the four images.",
    ),
    spec(
        "weird",
        &["w"],
        OptionKind::Integer { min: 0, max: 3000 },
        "--weird: unconventional aesthetics.",
    ),
    NEGATIVE,
    SEED,
    spec(
        "raw",
        &["styleRaw", "style_raw"],
        OptionKind::Boolean,
        "--style raw: less of Midjourney's default aesthetic.",
    ),
    spec(
        "tile",
        &[],
        OptionKind::Boolean,
        "--tile: seamless repeating pattern.",
    ),
    STYLE,
    MAX_EDITS,
];
const MJ6_OPTIONS: &[OptionSpec] = &[
    MJ_COMMON[0],
    MJ_COMMON[1],
    MJ_COMMON[2],
    MJ_COMMON[3],
    MJ_COMMON[4],
    MJ_COMMON[5],
    MJ_COMMON[6],
    MJ_COMMON[7],
    MJ_COMMON[8],
    MJ_COMMON[9],
    MAX_LENGTH,
    spec(
        "quality",
        &["q"],
        OptionKind::Choice {
            values: &["0.25", "0.5", "1", "2"],
        },
        "--q: rendering time spent (v6).",
    ),
    spec(
        "version",
        &["v"],
        OptionKind::Choice {
            values: &["6", "6.1"],
        },
        "--v: model version.",
    ),
];
const MJ7_OPTIONS: &[OptionSpec] = &[
    MJ_COMMON[0],
    MJ_COMMON[1],
    MJ_COMMON[2],
    MJ_COMMON[3],
    MJ_COMMON[4],
    MJ_COMMON[5],
    MJ_COMMON[6],
    MJ_COMMON[7],
    MJ_COMMON[8],
    MJ_COMMON[9],
    MAX_LENGTH,
    spec(
        "quality",
        &["q"],
        OptionKind::Choice {
            values: &["1", "2", "4"],
        },
        "--q: rendering time spent (v7).",
    ),
    spec(
        "draft",
        &[],
        OptionKind::Boolean,
        "--draft: fast, cheap drafts (v7).",
    ),
    spec(
        "exp",
        &[],
        OptionKind::Integer { min: 0, max: 100 },
        "--exp: experimental aesthetics (v7).",
    ),
];

const SD_RATIOS: &[&str] = &["1:1", "3:2", "2:3", "4:3", "3:4", "16:9", "9:16"];
const SDXL_RATIOS: &[&str] = &["1:1", "3:2", "2:3", "4:3", "3:4", "16:9", "9:16", "21:9"];
const fn sd_options(ratios: &'static [&'static str]) -> [OptionSpec; 11] {
    [
        spec(
            "aspectRatio",
            &["aspect_ratio", "ar", "aspect"],
            OptionKind::AspectRatio { values: ratios },
            "Aspect ratio; sets width and height to the model's native sizes.",
        ),
        NEGATIVE,
        spec(
            "steps",
            &[],
            OptionKind::Integer { min: 1, max: 150 },
            "Sampling steps.",
        ),
        spec(
            "cfgScale",
            &["cfg_scale", "cfg", "guidance"],
            OptionKind::Number {
                min: 1.0,
                max: 30.0,
            },
            "Classifier-free guidance scale.",
        ),
        spec(
            "sampler",
            &[],
            OptionKind::Choice {
                values: &[
                    "DPM++ 2M Karras",
                    "DPM++ SDE Karras",
                    "Euler a",
                    "Euler",
                    "DDIM",
                    "UniPC",
                ],
            },
            "Sampler.",
        ),
        SEED,
        spec(
            "emphasis",
            &[],
            OptionKind::Number { min: 1.0, max: 1.5 },
            "Attention weight for the added terms (1 = no weights).",
        ),
        spec(
            "defaultNegative",
            &["default_negative"],
            OptionKind::Boolean,
            "Add the usual negative terms (blurry, watermark, ...); default true.",
        ),
        STYLE,
        MAX_EDITS,
        MAX_LENGTH,
    ]
}
const SD15_OPTIONS: &[OptionSpec] = &sd_options(SD_RATIOS);
const SDXL_OPTIONS: &[OptionSpec] = &sd_options(SDXL_RATIOS);

const DALLE_RATIOS: &[&str] = &["1:1", "16:9", "9:16"];
const DALLE_OPTIONS: &[OptionSpec] = &[
    spec(
        "aspectRatio",
        &["aspect_ratio", "ar", "aspect"],
        OptionKind::AspectRatio {
            values: DALLE_RATIOS,
        },
        "Aspect ratio; DALL·E 3 renders 1024×1024, 1792×1024 or 1024×1792.",
    ),
    spec(
        "quality",
        &[],
        OptionKind::Choice {
            values: &["standard", "hd"],
        },
        "Rendering quality.",
    ),
    spec(
        "vivid",
        &[],
        OptionKind::Boolean,
        "true: style \"vivid\"; false: style \"natural\".",
    ),
    NEGATIVE,
    STYLE,
    MAX_EDITS,
    MAX_LENGTH,
];
const FLUX_RATIOS: &[&str] = &["1:1", "16:9", "9:16", "3:2", "2:3", "4:5", "5:4", "21:9"];
const FLUX_OPTIONS: &[OptionSpec] = &[
    spec(
        "aspectRatio",
        &["aspect_ratio", "ar", "aspect"],
        OptionKind::AspectRatio {
            values: FLUX_RATIOS,
        },
        "Aspect ratio.",
    ),
    spec(
        "guidance",
        &["cfgScale", "cfg_scale"],
        OptionKind::Number {
            min: 1.0,
            max: 10.0,
        },
        "Guidance scale.",
    ),
    spec(
        "steps",
        &[],
        OptionKind::Integer { min: 1, max: 50 },
        "Sampling steps.",
    ),
    SEED,
    NEGATIVE,
    STYLE,
    MAX_EDITS,
    MAX_LENGTH,
];
const GENERIC_IMAGE_OPTIONS: &[OptionSpec] =
    &[ANY_RATIO, NEGATIVE, SEED, STYLE, MAX_EDITS, MAX_LENGTH];

const SORA_OPTIONS: &[OptionSpec] = &[
    spec(
        "aspectRatio",
        &["aspect_ratio", "ar", "aspect"],
        OptionKind::AspectRatio {
            values: &["16:9", "9:16", "1:1"],
        },
        "Aspect ratio.",
    ),
    spec(
        "duration",
        &["seconds"],
        OptionKind::Integer { min: 1, max: 20 },
        "Clip length in seconds.",
    ),
    spec(
        "resolution",
        &[],
        OptionKind::Choice {
            values: &["480p", "720p", "1080p"],
        },
        "Output resolution.",
    ),
    STYLE,
    MAX_EDITS,
    MAX_LENGTH,
];
const RUNWAY_OPTIONS: &[OptionSpec] = &[
    spec(
        "aspectRatio",
        &["aspect_ratio", "ar", "aspect", "ratio"],
        OptionKind::AspectRatio {
            values: &["16:9", "9:16", "4:3", "3:4", "1:1", "21:9"],
        },
        "Aspect ratio; written as Runway's pixel ratio (16:9 → 1280:720).",
    ),
    spec(
        "duration",
        &["seconds"],
        OptionKind::Choice {
            values: &["5", "10"],
        },
        "Clip length in seconds.",
    ),
    SEED,
    STYLE,
    MAX_EDITS,
    MAX_LENGTH,
];
const VEO_OPTIONS: &[OptionSpec] = &[
    spec(
        "aspectRatio",
        &["aspect_ratio", "ar", "aspect"],
        OptionKind::AspectRatio {
            values: &["16:9", "9:16"],
        },
        "Aspect ratio.",
    ),
    spec(
        "duration",
        &["seconds", "durationSeconds"],
        OptionKind::Integer { min: 4, max: 8 },
        "Clip length in seconds.",
    ),
    spec(
        "resolution",
        &[],
        OptionKind::Choice {
            values: &["720p", "1080p"],
        },
        "Output resolution.",
    ),
    NEGATIVE,
    SEED,
    spec(
        "audio",
        &["generateAudio", "generate_audio"],
        OptionKind::Boolean,
        "Whether Veo generates sound (default true).",
    ),
    STYLE,
    MAX_EDITS,
    MAX_LENGTH,
];
const GENERIC_VIDEO_OPTIONS: &[OptionSpec] = &[
    ANY_RATIO,
    spec(
        "duration",
        &["seconds"],
        OptionKind::Integer { min: 1, max: 120 },
        "Clip length in seconds.",
    ),
    NEGATIVE,
    SEED,
    STYLE,
    MAX_EDITS,
    MAX_LENGTH,
];

const TEXT_OPTIONS: &[OptionSpec] = &[
    spec(
        "format",
        &[],
        OptionKind::Choice {
            values: &[
                "prose", "bullets", "numbered", "table", "json", "markdown", "code",
            ],
        },
        "Shape of the answer.",
    ),
    spec(
        "tone",
        &[],
        OptionKind::Choice {
            values: &[
                "neutral",
                "formal",
                "friendly",
                "casual",
                "persuasive",
                "playful",
                "academic",
                "empathetic",
            ],
        },
        "Voice of the answer.",
    ),
    spec(
        "audience",
        &[],
        OptionKind::Text { max_chars: 200 },
        "Who the answer is for.",
    ),
    spec(
        "language",
        &["lang"],
        OptionKind::Text { max_chars: 40 },
        "Language of the answer.",
    ),
    spec(
        "maxWords",
        &["max_words"],
        OptionKind::Integer {
            min: 1,
            max: 100_000,
        },
        "Longest answer, in words.",
    ),
    spec(
        "stepByStep",
        &["step_by_step", "reasoning"],
        OptionKind::Boolean,
        "Ask the model to reason step by step.",
    ),
    spec(
        "temperature",
        &[],
        OptionKind::Number { min: 0.0, max: 2.0 },
        "Sampling temperature (a request parameter).",
    ),
    spec(
        "maxTokens",
        &["max_tokens", "maxOutputTokens"],
        OptionKind::Integer {
            min: 1,
            max: 1_000_000,
        },
        "Most output tokens (a request parameter).",
    ),
    MAX_EDITS,
    MAX_LENGTH,
];

/// Every adapter. The first of each category is its generic fallback.
pub static ADAPTERS: &[Adapter] = &[
    Adapter {
        id: "image",
        name: "Generic image model",
        category: Category::Image,
        family: Family::Generic,
        aliases: &["generic", "image", "default", "other"],
        budget: Budget::Words(120),
        max_edits: 5,
        aspect_ratios: &[],
        options: GENERIC_IMAGE_OPTIONS,
        description: "Descriptive sentences any image model understands.",
    },
    Adapter {
        id: "midjourney-v7",
        name: "Midjourney v7",
        category: Category::Image,
        family: Family::Midjourney,
        aliases: &["midjourney", "mj", "mj7", "mjv7", "midjourney7", "midjourneyv7", "v7"],
        budget: Budget::Words(80),
        max_edits: 5,
        aspect_ratios: MJ_RATIOS,
        options: MJ7_OPTIONS,
        description: "Comma-separated descriptors, then --ar, --stylize, --chaos, --no, --v 7.",
    },
    Adapter {
        id: "midjourney-v6",
        name: "Midjourney v6",
        category: Category::Image,
        family: Family::Midjourney,
        aliases: &["mj6", "mjv6", "midjourney6", "midjourneyv6", "midjourneyv61", "mj61", "v6", "v61"],
        budget: Budget::Words(80),
        max_edits: 5,
        aspect_ratios: MJ_RATIOS,
        options: MJ6_OPTIONS,
        description: "Comma-separated descriptors, then --ar, --stylize, --chaos, --no, --v 6.1.",
    },
    Adapter {
        id: "sdxl",
        name: "Stable Diffusion XL",
        category: Category::Image,
        family: Family::StableDiffusion,
        aliases: &["sdxl", "stablediffusionxl", "sdxl10", "xl", "sdxlturbo", "juggernautxl", "ponyxl"],
        budget: Budget::ClipTokens(75),
        max_edits: 6,
        aspect_ratios: SDXL_RATIOS,
        options: SDXL_OPTIONS,
        description: "(term:1.2) weights within 75 CLIP tokens, a separate negative prompt, native 1024px sizes.",
    },
    Adapter {
        id: "sd-1.5",
        name: "Stable Diffusion 1.5",
        category: Category::Image,
        family: Family::StableDiffusion,
        aliases: &["sd15", "sd", "stablediffusion", "stablediffusion15", "sd1", "sdv15", "automatic1111", "a1111", "comfyui"],
        budget: Budget::ClipTokens(75),
        max_edits: 6,
        aspect_ratios: SD_RATIOS,
        options: SD15_OPTIONS,
        description: "(term:1.2) weights within 75 CLIP tokens, a separate negative prompt, native 512px sizes.",
    },
    Adapter {
        id: "dall-e-3",
        name: "DALL·E 3",
        category: Category::Image,
        family: Family::DallE,
        aliases: &["dalle", "dalle3", "dall·e3", "dalle3hd", "openaiimage", "chatgptimage"],
        budget: Budget::Chars(4000),
        max_edits: 5,
        aspect_ratios: DALLE_RATIOS,
        options: DALLE_OPTIONS,
        description: "Natural descriptive sentences, no weights or flags; size and quality as parameters.",
    },
    Adapter {
        id: "flux",
        name: "FLUX.1",
        category: Category::Image,
        family: Family::Flux,
        aliases: &["flux", "flux1", "fluxdev", "fluxpro", "fluxschnell", "flux1dev", "flux1pro", "flux1schnell", "fluxkontext"],
        budget: Budget::Words(300),
        max_edits: 5,
        aspect_ratios: FLUX_RATIOS,
        options: FLUX_OPTIONS,
        description: "Natural descriptive sentences, no weights or negative syntax.",
    },
    Adapter {
        id: "video",
        name: "Generic video model",
        category: Category::Video,
        family: Family::Generic,
        aliases: &["generic", "video", "default", "other"],
        budget: Budget::Words(250),
        max_edits: 5,
        aspect_ratios: &[],
        options: GENERIC_VIDEO_OPTIONS,
        description: "Subject and action first, then camera, look and pacing sentences.",
    },
    Adapter {
        id: "sora",
        name: "Sora",
        category: Category::Video,
        family: Family::Sora,
        aliases: &["sora", "sora2", "openaisora", "sorav2"],
        budget: Budget::Words(300),
        max_edits: 5,
        aspect_ratios: &["16:9", "9:16", "1:1"],
        options: SORA_OPTIONS,
        description: "Cinematic prose: subject and action, shot and camera movement, light, style, pacing.",
    },
    Adapter {
        id: "runway",
        name: "Runway Gen-4",
        category: Category::Video,
        family: Family::Runway,
        aliases: &["runway", "runwayml", "gen4", "gen3", "runwaygen4", "runwaygen3", "gen3alpha", "gen4turbo"],
        budget: Budget::Chars(1000),
        max_edits: 4,
        aspect_ratios: &["16:9", "9:16", "1:1"],
        options: RUNWAY_OPTIONS,
        description: "Direct description with explicit camera and motion lines; no negative prompt (describe what should appear).",
    },
    Adapter {
        id: "veo",
        name: "Veo 3",
        category: Category::Video,
        family: Family::Veo,
        aliases: &["veo", "veo3", "veo2", "googleveo", "veo31", "veo3fast"],
        budget: Budget::Words(300),
        max_edits: 5,
        aspect_ratios: &["16:9", "9:16"],
        options: VEO_OPTIONS,
        description: "Prose with shot, camera, style and audio cues; negative prompt as a parameter.",
    },
    Adapter {
        id: "text",
        name: "Generic text model",
        category: Category::Text,
        family: Family::Generic,
        aliases: &["generic", "text", "default", "other", "llm", "chatbot"],
        budget: Budget::Unlimited,
        max_edits: 5,
        aspect_ratios: &[],
        options: TEXT_OPTIONS,
        description: "The request first, then labelled role, context, format and constraints.",
    },
    Adapter {
        id: "gpt",
        name: "OpenAI GPT",
        category: Category::Text,
        family: Family::Gpt,
        aliases: &["gpt", "chatgpt", "openai", "o1", "o3", "o4mini"],
        budget: Budget::Unlimited,
        max_edits: 5,
        aspect_ratios: &[],
        options: TEXT_OPTIONS,
        description: "Markdown sections and \"\"\"-delimited input, as OpenAI's prompting guide suggests.",
    },
    Adapter {
        id: "claude",
        name: "Anthropic Claude",
        category: Category::Text,
        family: Family::Claude,
        aliases: &["claude", "anthropic", "sonnet", "opus", "haiku"],
        budget: Budget::Unlimited,
        max_edits: 5,
        aspect_ratios: &[],
        options: TEXT_OPTIONS,
        description: "XML-tagged sections (<role>, <context>, <format>, <constraints>), as Anthropic's guide suggests.",
    },
    Adapter {
        id: "gemini",
        name: "Google Gemini",
        category: Category::Text,
        family: Family::Gemini,
        aliases: &["gemini", "bard", "gemma", "googlegemini"],
        budget: Budget::Unlimited,
        max_edits: 5,
        aspect_ratios: &[],
        options: TEXT_OPTIONS,
        description: "Labelled sections with a constraints list, as Google's prompt guide suggests.",
    },
    Adapter {
        id: "llama",
        name: "Meta Llama",
        category: Category::Text,
        family: Family::Llama,
        aliases: &["llama", "llama3", "llama4", "meta", "metallama", "mistral", "mixtral", "qwen", "deepseek"],
        budget: Budget::Unlimited,
        max_edits: 5,
        aspect_ratios: &[],
        options: TEXT_OPTIONS,
        description: "Plain labelled sections and numbered rules for open-weight chat models.",
    },
];

/// Normalizes a model name for matching: lowercase letters and digits only.
fn normalize_name(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The outcome of looking up a model name.
#[derive(Debug, Clone, Copy)]
pub struct Resolved {
    /// The adapter to use.
    pub adapter: &'static Adapter,
    /// True when the name was not recognized and the category's generic adapter is used.
    pub fallback: bool,
}

/// Finds the adapter for `model` in `category`. Exact names and aliases first, then
/// prefixes ("gpt-4o" → gpt, "claude-3.5-sonnet" → claude); an unknown name falls back to
/// the category's generic adapter. A known model of another category is an error.
pub fn resolve(category: Category, model: Option<&str>) -> crate::Result<Resolved> {
    let generic = ADAPTERS
        .iter()
        .find(|a| a.category == category && a.family == Family::Generic)
        .ok_or_else(|| crate::Error::internal("no generic adapter"))?;
    let Some(model) = model.map(str::trim).filter(|m| !m.is_empty()) else {
        return Ok(Resolved {
            adapter: generic,
            fallback: false,
        });
    };
    let key = normalize_name(model);
    let exact = |a: &&Adapter| normalize_name(a.id) == key || a.aliases.contains(&key.as_str());
    let prefixed = |a: &&Adapter| {
        a.family != Family::Generic
            && a.aliases
                .iter()
                .chain(std::iter::once(&a.id))
                .any(|alias| alias.len() >= 3 && key.starts_with(&normalize_name(alias)))
    };
    let in_category: Vec<&Adapter> = ADAPTERS.iter().filter(|a| a.category == category).collect();
    if let Some(found) = in_category
        .iter()
        .find(|a| exact(a))
        .or_else(|| in_category.iter().find(|a| prefixed(a)))
    {
        return Ok(Resolved {
            adapter: found,
            fallback: false,
        });
    }
    if let Some(other) = ADAPTERS
        .iter()
        .filter(|a| a.category != category && a.family != Family::Generic)
        .find(|a| exact(a) || prefixed(a))
    {
        return Err(crate::Error::invalid(
            "model",
            format!(
                "{} is a{} {} model, but the category is {}",
                other.name,
                if other.category == Category::Image {
                    "n"
                } else {
                    ""
                },
                other.category.as_str(),
                category.as_str()
            ),
        ));
    }
    Ok(Resolved {
        adapter: generic,
        fallback: true,
    })
}

/// Finds an adapter by its exact id.
pub fn by_id(id: &str) -> Option<&'static Adapter> {
    ADAPTERS.iter().find(|a| a.id == id)
}

/// Capitalizes the first letter of `text` (for sentence starts).
pub(crate) fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The user's text without trailing separators, ready for more to be appended.
pub(crate) fn trim_end_separators(text: &str) -> &str {
    text.trim_end_matches(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '，' | '、'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(category: Category, model: &str) -> (&'static str, bool) {
        let r = resolve(category, Some(model)).unwrap();
        (r.adapter.id, r.fallback)
    }

    #[test]
    fn at_least_twelve_distinct_adapters() {
        let families: std::collections::HashSet<_> = ADAPTERS.iter().map(|a| a.id).collect();
        assert!(families.len() >= 12, "{}", families.len());
    }

    #[test]
    fn resolves_aliases_case_insensitively() {
        assert_eq!(id(Category::Image, "mj"), ("midjourney-v7", false));
        assert_eq!(
            id(Category::Image, "Midjourney v7"),
            ("midjourney-v7", false)
        );
        assert_eq!(
            id(Category::Image, "Midjourney V6.1"),
            ("midjourney-v6", false)
        );
        assert_eq!(id(Category::Image, "SDXL"), ("sdxl", false));
        assert_eq!(
            id(Category::Image, "Stable Diffusion 1.5"),
            ("sd-1.5", false)
        );
        assert_eq!(id(Category::Image, "DALL·E 3"), ("dall-e-3", false));
        assert_eq!(id(Category::Image, "flux.1-dev"), ("flux", false));
        assert_eq!(id(Category::Video, "Runway Gen-4"), ("runway", false));
        assert_eq!(id(Category::Video, "veo 3"), ("veo", false));
        assert_eq!(id(Category::Text, "gpt-4o"), ("gpt", false));
        assert_eq!(id(Category::Text, "Claude 3.5 Sonnet"), ("claude", false));
        assert_eq!(id(Category::Text, "gemini-1.5-pro"), ("gemini", false));
        assert_eq!(id(Category::Text, "Llama-3-70B"), ("llama", false));
    }

    #[test]
    fn unknown_models_fall_back_and_say_so() {
        assert_eq!(id(Category::Image, "my-own-model"), ("image", true));
        assert_eq!(id(Category::Video, "kling"), ("video", true));
        let none = resolve(Category::Text, None).unwrap();
        assert_eq!((none.adapter.id, none.fallback), ("text", false));
    }

    #[test]
    fn a_model_of_another_category_is_an_error() {
        let err = resolve(Category::Text, Some("midjourney")).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("model"));
        let err = resolve(Category::Image, Some("sora")).unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::InvalidInput);
    }

    #[test]
    fn clip_estimate_ignores_weights_and_counts_long_words() {
        assert_eq!(estimate_clip_tokens("a cat"), 2);
        assert_eq!(estimate_clip_tokens("(golden hour:1.2)"), 2);
        assert_eq!(estimate_clip_tokens("a, b"), 3);
        assert!(estimate_clip_tokens("photorealistic") >= 2);
        assert_eq!(estimate_clip_tokens("노을"), 4);
    }
}
