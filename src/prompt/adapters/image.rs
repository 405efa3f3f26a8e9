//! Image syntaxes: Midjourney, Stable Diffusion, and natural sentences (DALL·E, Flux,
//! generic). Also the option edits shared with video (a style preset).

use super::{
    capitalize, trim_end_separators, Adapter, Family, InlineParams, RenderEdit, RenderInput,
    Rendered,
};
use crate::prompt::category::Facet;
use crate::prompt::options::{format_number, ModelOptions};
use serde_json::{json, Value};

/// Edits implied by image and video options: a style preset fills the style facet.
pub(super) fn option_edits(options: &ModelOptions) -> Vec<RenderEdit> {
    options
        .text("style")
        .map(|style| RenderEdit {
            facet: Facet::Style,
            text: style.to_string(),
            emphasis: 1.0,
        })
        .into_iter()
        .collect()
}

/// Finds where Midjourney parameters start: the first `--name` (or `—name`, as phones type
/// it) at the start or after whitespace.
fn params_start(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    text.char_indices().find_map(|(i, c)| {
        let after_space = i == 0 || bytes[i - 1].is_ascii_whitespace();
        if !after_space {
            return None;
        }
        let rest = &text[i..];
        let name_start = if rest.starts_with("--") {
            2
        } else if rest.starts_with('—') {
            '—'.len_utf8()
        } else {
            return None;
        };
        let _ = c;
        rest[name_start..]
            .chars()
            .next()
            .is_some_and(|n| n.is_ascii_alphabetic())
            .then_some(i)
    })
}

/// Splits `--parameters` off a Midjourney prompt.
pub(super) fn split_midjourney_params(text: &str) -> (&str, InlineParams) {
    let Some(start) = params_start(text) else {
        return (text, InlineParams::default());
    };
    let mut params = Vec::new();
    let mut rest = &text[start..];
    while !rest.is_empty() {
        let body = rest
            .strip_prefix("--")
            .or_else(|| rest.strip_prefix('—'))
            .unwrap_or(rest);
        let end = params_start(body).unwrap_or(body.len());
        let chunk = body[..end].trim();
        let (name, value) = chunk.split_once(char::is_whitespace).unwrap_or((chunk, ""));
        if !name.is_empty() {
            params.push((name.to_ascii_lowercase(), value.trim().to_string()));
        }
        rest = &body[end..];
    }
    (text[..start].trim_end(), InlineParams { params })
}

fn numeric_or_text(value: &str) -> Value {
    match value.parse::<f64>() {
        Ok(n) if n.is_finite() => json!(n),
        _ => json!(value),
    }
}

/// Collects Midjourney parameters: options win over what the user wrote inline, which wins
/// over the policy's choice.
struct MjParams<'a> {
    inline: &'a InlineParams,
    params: Vec<(String, String)>,
    used: Vec<&'static str>,
    notes: Vec<String>,
}

impl MjParams<'_> {
    fn take(
        &mut self,
        flag: &'static str,
        aliases: &'static [&'static str],
        from_options: Option<String>,
        fallback: Option<String>,
    ) {
        let written = self.inline.get(aliases);
        self.used.extend_from_slice(aliases);
        let value = match (from_options, written) {
            (Some(o), Some(w)) if o != w => {
                self.notes.push(format!(
                    "options set --{flag} {o}, replacing --{flag} {w} written in the prompt"
                ));
                Some(o)
            }
            (Some(o), _) => Some(o),
            (None, Some(w)) => Some(w.to_string()),
            (None, None) => fallback,
        };
        if let Some(v) = value {
            self.params.push((flag.to_string(), v));
        }
    }

    fn switch(&mut self, flag: &'static str, on: Option<bool>) {
        if on == Some(true) || (on.is_none() && self.inline.get(&[flag]).is_some()) {
            self.params.push((flag.to_string(), String::new()));
        }
        self.used.push(flag);
    }
}

/// Midjourney: `text, edit, edit --ar W:H --stylize N ... --v 7`, parameters last.
pub(super) fn render_midjourney(adapter: &Adapter, input: &RenderInput<'_>) -> Rendered {
    let opts = input.options;
    let inline = input.inline;
    let mut prompt = trim_end_separators(input.text)
        .trim_end_matches('.')
        .to_string();
    for edit in input.edits {
        prompt.push_str(", ");
        prompt.push_str(&edit.text);
    }

    let mut p = MjParams {
        inline,
        params: Vec::new(),
        used: Vec::new(),
        notes: Vec::new(),
    };
    let int = |name: &str| opts.integer(name).map(|n| n.to_string());
    p.take(
        "ar",
        &["ar", "aspect"],
        opts.text("aspectRatio").map(str::to_string),
        input.aspect_ratio.map(str::to_string),
    );
    p.take("stylize", &["stylize", "s"], int("stylize"), None);
    p.take("chaos", &["chaos", "c"], int("chaos"), None);
    p.take("weird", &["weird", "w"], int("weird"), None);
    // --no merges what the user wrote with the options' negative terms.
    let mut negatives: Vec<String> = inline
        .get(&["no"])
        .map(|v| v.split(',').map(|t| t.trim().to_string()).collect())
        .unwrap_or_default();
    for term in opts.terms("negative") {
        if !negatives.iter().any(|n| n.eq_ignore_ascii_case(term)) {
            negatives.push(term.clone());
        }
    }
    negatives.retain(|n| !n.is_empty());
    p.used.push("no");
    if !negatives.is_empty() {
        p.params.push(("no".to_string(), negatives.join(", ")));
    }
    p.take("seed", &["seed"], int("seed"), None);
    p.take(
        "q",
        &["q", "quality"],
        opts.text("quality").map(str::to_string),
        None,
    );
    p.take(
        "style",
        &["style"],
        (opts.flag("raw") == Some(true)).then(|| "raw".to_string()),
        None,
    );
    p.take("exp", &["exp"], int("exp"), None);
    p.switch("tile", opts.flag("tile"));
    p.switch("draft", opts.flag("draft"));
    // Everything else the user wrote (--sref, --cref, --iw, --p, ...) stays, in order.
    let version_names = ["v", "version", "niji"];
    let others: Vec<(String, String)> = inline
        .params
        .iter()
        .filter(|(n, _)| !p.used.contains(&n.as_str()) && !version_names.contains(&n.as_str()))
        .cloned()
        .collect();
    // The version goes last; the user's --v or --niji wins over the adapter's default.
    let version = if let Some(niji) = inline.get(&["niji"]) {
        ("niji", niji.to_string())
    } else if let Some(v) = opts.text("version") {
        ("v", v.to_string())
    } else if let Some(v) = inline.get(&["v", "version"]) {
        ("v", v.to_string())
    } else if adapter.id == "midjourney-v6" {
        ("v", "6.1".to_string())
    } else {
        ("v", "7".to_string())
    };

    let mut out = Rendered {
        notes: std::mem::take(&mut p.notes),
        ..Rendered::default()
    };
    let all = p
        .params
        .into_iter()
        .chain(others)
        .chain(std::iter::once((version.0.to_string(), version.1)));
    for (flag, value) in all {
        prompt.push_str(" --");
        prompt.push_str(&flag);
        if !value.is_empty() {
            prompt.push(' ');
            prompt.push_str(&value);
        }
        let json_value = if value.is_empty() {
            json!(true)
        } else if matches!(flag.as_str(), "no" | "ar" | "v" | "niji") {
            json!(value)
        } else {
            numeric_or_text(&value)
        };
        out.parameters.insert(flag, json_value);
    }
    out.prompt = prompt;
    out
}

const SD15_NEGATIVE: &[&str] = &[
    "lowres",
    "blurry",
    "bad anatomy",
    "bad hands",
    "extra fingers",
    "deformed",
    "jpeg artifacts",
    "watermark",
    "signature",
    "text",
    "worst quality",
];
const SDXL_NEGATIVE: &[&str] = &[
    "blurry",
    "low quality",
    "deformed",
    "extra limbs",
    "watermark",
    "signature",
    "text",
];

fn sd_size(adapter: &Adapter, ratio: &str) -> (u32, u32) {
    let xl = adapter.id == "sdxl";
    match (ratio, xl) {
        ("3:2", false) => (768, 512),
        ("2:3", false) => (512, 768),
        ("4:3", false) => (680, 512),
        ("3:4", false) => (512, 680),
        ("16:9", false) => (912, 512),
        ("9:16", false) => (512, 912),
        (_, false) => (512, 512),
        ("3:2", true) => (1216, 832),
        ("2:3", true) => (832, 1216),
        ("4:3", true) => (1152, 896),
        ("3:4", true) => (896, 1152),
        ("16:9", true) => (1344, 768),
        ("9:16", true) => (768, 1344),
        ("21:9", true) => (1536, 640),
        (_, true) => (1024, 1024),
    }
}

/// Formats an attention weight: `(text:1.15)`, or the bare text at weight 1.
fn weighted(text: &str, weight: f32) -> String {
    if (weight - 1.0).abs() < 0.005 {
        text.to_string()
    } else {
        format!(
            "({text}:{})",
            format_number((weight as f64 * 100.0).round() / 100.0)
        )
    }
}

/// Stable Diffusion: `text, (edit:1.15), edit` within 75 CLIP tokens, a negative prompt,
/// and native width/height.
pub(super) fn render_stable_diffusion(adapter: &Adapter, input: &RenderInput<'_>) -> Rendered {
    let mut out = Rendered::default();
    let opts = input.options;
    let mut prompt = trim_end_separators(input.text).to_string();
    let emphasis = opts.number("emphasis").map(|e| e as f32);
    for edit in input.edits {
        if !prompt.is_empty() {
            prompt.push_str(", ");
        }
        prompt.push_str(&weighted(&edit.text, emphasis.unwrap_or(edit.emphasis)));
    }

    // Negative prompt: the user's terms first, then the usual defaults, leaving out any
    // default the positive prompt asks for ("text" in "a sign with text").
    let mut negative: Vec<String> = opts.terms("negative").to_vec();
    if opts.flag("defaultNegative") != Some(false) {
        let defaults = if adapter.id == "sdxl" {
            SDXL_NEGATIVE
        } else {
            SD15_NEGATIVE
        };
        let photo = input
            .tags
            .iter()
            .any(|t| t.axis == "medium" && t.value == "photo");
        let drawn = input
            .tags
            .iter()
            .any(|t| t.axis == "medium" && t.value != "photo");
        let style_guard: &[&str] = if photo {
            &["cartoon", "illustration"]
        } else if drawn {
            &["photo", "photorealistic"]
        } else {
            &[]
        };
        for term in defaults.iter().chain(style_guard) {
            let asked_for = crate::prompt::tokenize::tokenize(term)
                .iter()
                .any(|w| input.words.contains(&w.norm));
            if !asked_for && !negative.iter().any(|n| n.eq_ignore_ascii_case(term)) {
                negative.push((*term).to_string());
            }
        }
    }
    let mut negative_text = String::new();
    for term in negative {
        let candidate = if negative_text.is_empty() {
            term
        } else {
            format!("{negative_text}, {term}")
        };
        if super::estimate_clip_tokens(&candidate) > 75 {
            break;
        }
        negative_text = candidate;
    }
    if !negative_text.is_empty() {
        out.negative_prompt = Some(negative_text);
    }

    let ratio = opts
        .text("aspectRatio")
        .or(input.aspect_ratio)
        .unwrap_or("1:1");
    let (width, height) = sd_size(adapter, ratio);
    let xl = adapter.id == "sdxl";
    out.parameters.insert("width".into(), json!(width));
    out.parameters.insert("height".into(), json!(height));
    out.parameters
        .insert("steps".into(), json!(opts.integer("steps").unwrap_or(30)));
    out.parameters.insert(
        "cfgScale".into(),
        json!(opts
            .number("cfgScale")
            .unwrap_or(if xl { 6.0 } else { 7.0 })),
    );
    out.parameters.insert(
        "sampler".into(),
        json!(opts.text("sampler").unwrap_or("DPM++ 2M Karras")),
    );
    if let Some(seed) = opts.integer("seed") {
        out.parameters.insert("seed".into(), json!(seed));
    }
    out.prompt = prompt;
    out
}

/// Joins edit texts into one sentence: "Golden hour lighting, warm tones."
pub(super) fn sentence(parts: &[&str]) -> Option<String> {
    let parts: Vec<&str> = parts
        .iter()
        .map(|p| p.trim().trim_end_matches('.'))
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        return None;
    }
    Some(format!("{}.", capitalize(&parts.join(", "))))
}

/// The user's text ended as a sentence, followed by `extra` (edits that continue it).
pub(super) fn lead_sentence(text: &str, extra: &[&str]) -> String {
    let mut lead = trim_end_separators(text).to_string();
    let ends_sentence = lead.ends_with(['.', '!', '?', '。']);
    if !extra.is_empty() {
        if ends_sentence {
            lead.push(' ');
            lead.push_str(&sentence(extra).unwrap_or_default());
            return lead;
        }
        for e in extra {
            lead.push_str(", ");
            lead.push_str(e.trim_end_matches('.'));
        }
    }
    if !lead.ends_with(['.', '!', '?', '。']) && !lead.is_empty() {
        lead.push('.');
    }
    lead
}

/// Texts of the edits for `facets`, in order.
pub(super) fn texts_for<'a>(edits: &'a [RenderEdit], facets: &[Facet]) -> Vec<&'a str> {
    facets
        .iter()
        .flat_map(|f| edits.iter().filter(move |e| e.facet == *f))
        .map(|e| e.text.as_str())
        .collect()
}

/// "No text, watermarks or logos."
pub(super) fn negative_sentence(terms: &[String]) -> Option<String> {
    match terms {
        [] => None,
        [one] => Some(format!("No {one}.")),
        [init @ .., last] => Some(format!("No {} or {last}.", init.join(", "))),
    }
}

/// DALL·E, Flux and generic image models: natural descriptive sentences.
pub(super) fn render_natural(adapter: &Adapter, input: &RenderInput<'_>) -> Rendered {
    use Facet::*;
    let mut out = Rendered::default();
    let opts = input.options;
    let subject = texts_for(input.edits, &[Subject]);
    let mut sentences = vec![lead_sentence(input.text, &subject)];
    for group in [
        &[Style, Lighting, Color, Mood][..],
        &[Composition, Camera, Environment],
        &[Detail],
    ] {
        if let Some(s) = sentence(&texts_for(input.edits, group)) {
            sentences.push(s);
        }
    }
    if let Some(s) = negative_sentence(opts.terms("negative")) {
        sentences.push(s);
    }
    out.prompt = sentences.join(" ");

    let ratio = opts.text("aspectRatio").or(input.aspect_ratio);
    match adapter.family {
        Family::DallE => {
            let size = match ratio.unwrap_or("1:1") {
                "16:9" => "1792x1024",
                "9:16" => "1024x1792",
                _ => "1024x1024",
            };
            out.parameters.insert("size".into(), json!(size));
            out.parameters.insert(
                "quality".into(),
                json!(opts.text("quality").unwrap_or("standard")),
            );
            let photo = input
                .tags
                .iter()
                .any(|t| t.axis == "medium" && t.value == "photo");
            let vivid = opts.flag("vivid").unwrap_or(!photo);
            out.parameters.insert(
                "style".into(),
                json!(if vivid { "vivid" } else { "natural" }),
            );
        }
        Family::Flux => {
            out.parameters
                .insert("aspect_ratio".into(), json!(ratio.unwrap_or("1:1")));
            out.parameters.insert(
                "guidance".into(),
                json!(opts.number("guidance").unwrap_or(3.5)),
            );
            out.parameters.insert(
                "num_inference_steps".into(),
                json!(opts.integer("steps").unwrap_or(28)),
            );
            if let Some(seed) = opts.integer("seed") {
                out.parameters.insert("seed".into(), json!(seed));
            }
        }
        _ => {
            if let Some(r) = ratio {
                out.parameters.insert("aspectRatio".into(), json!(r));
            }
            if let Some(seed) = opts.integer("seed") {
                out.parameters.insert("seed".into(), json!(seed));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_midjourney_parameters() {
        let (text, params) =
            split_midjourney_params("Blue --sref 277118899 --ar 16:9 --no text, logo");
        assert_eq!(text, "Blue");
        assert_eq!(
            params.params,
            [
                ("sref".to_string(), "277118899".to_string()),
                ("ar".to_string(), "16:9".to_string()),
                ("no".to_string(), "text, logo".to_string())
            ]
        );
        let (text, params) = split_midjourney_params("sunset — golden —ar 3:2 --tile");
        assert_eq!(text, "sunset — golden");
        assert_eq!(params.get(&["ar"]), Some("3:2"));
        assert_eq!(params.get(&["tile"]), Some(""));
        let (text, params) = split_midjourney_params("a well-lit room -- no params");
        assert_eq!(text, "a well-lit room -- no params");
        assert!(params.params.is_empty());
    }

    #[test]
    fn weights_format() {
        assert_eq!(weighted("golden hour", 1.0), "golden hour");
        assert_eq!(weighted("golden hour", 1.15), "(golden hour:1.15)");
        assert_eq!(weighted("x", 1.2), "(x:1.2)");
    }

    #[test]
    fn sentences() {
        assert_eq!(
            sentence(&["golden hour lighting", "warm tones."]).unwrap(),
            "Golden hour lighting, warm tones."
        );
        assert_eq!(sentence(&[]), None);
        assert_eq!(
            lead_sentence("a cat,", &["sharp focus"]),
            "a cat, sharp focus."
        );
        assert_eq!(
            lead_sentence("A cat sleeps.", &["sharp focus"]),
            "A cat sleeps. Sharp focus."
        );
        assert_eq!(
            negative_sentence(&["text".into(), "logos".into()]).unwrap(),
            "No text or logos."
        );
    }
}
