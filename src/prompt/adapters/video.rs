//! Video syntaxes: Sora and generic (cinematic prose), Runway (explicit camera line, no
//! negative prompt), Veo (prose with audio cues, negative prompt as a parameter).

use super::image::{lead_sentence, negative_sentence, sentence, texts_for};
use super::{Adapter, Family, RenderInput, Rendered};
use crate::prompt::category::Facet;
use serde_json::json;

/// Writes a video prompt: the user's words and the action first, then camera, look and
/// pacing.
pub(super) fn render(adapter: &Adapter, input: &RenderInput<'_>) -> Rendered {
    use Facet::*;
    let mut out = Rendered::default();
    let opts = input.options;
    let mut lead_parts = texts_for(input.edits, &[Subject]);
    lead_parts.extend(texts_for(input.edits, &[Action]));
    let mut sentences = vec![lead_sentence(input.text, &lead_parts)];
    let camera = texts_for(input.edits, &[ShotType, CameraMovement]);
    if adapter.family == Family::Runway {
        // Runway's guide asks for the camera to be stated plainly on its own.
        if let Some(s) = sentence(&camera) {
            sentences.push(format!("Camera: {s}"));
        }
    } else if let Some(s) = sentence(&camera) {
        sentences.push(s);
    }
    for group in [&[Lighting, Environment, Mood, Style][..], &[Pacing]] {
        if let Some(s) = sentence(&texts_for(input.edits, group)) {
            sentences.push(s);
        }
    }
    let negative = opts.terms("negative");
    if adapter.family != Family::Veo {
        // Runway accepts no negative option at all; others read a plain sentence.
        if let Some(s) = negative_sentence(negative) {
            sentences.push(s);
        }
    }
    out.prompt = sentences.join(" ");

    let ratio = opts.text("aspectRatio").or(input.aspect_ratio);
    match adapter.family {
        Family::Sora => {
            let size = match ratio.unwrap_or("16:9") {
                "9:16" => "720x1280",
                "1:1" => "1024x1024",
                _ => "1280x720",
            };
            out.parameters.insert("size".into(), json!(size));
            out.parameters.insert(
                "seconds".into(),
                json!(opts.integer("duration").unwrap_or(8)),
            );
            if let Some(r) = opts.text("resolution") {
                out.parameters.insert("resolution".into(), json!(r));
            }
        }
        Family::Runway => {
            let pixels = match ratio.unwrap_or("16:9") {
                "9:16" => "720:1280",
                "4:3" => "1104:832",
                "3:4" => "832:1104",
                "1:1" => "960:960",
                "21:9" => "1584:672",
                _ => "1280:720",
            };
            out.parameters.insert("ratio".into(), json!(pixels));
            let duration: i64 = opts
                .text("duration")
                .and_then(|d| d.parse().ok())
                .unwrap_or(5);
            out.parameters.insert("duration".into(), json!(duration));
            if let Some(seed) = opts.integer("seed") {
                out.parameters.insert("seed".into(), json!(seed));
            }
        }
        Family::Veo => {
            out.parameters
                .insert("aspectRatio".into(), json!(ratio.unwrap_or("16:9")));
            out.parameters.insert(
                "durationSeconds".into(),
                json!(opts.integer("duration").unwrap_or(8)),
            );
            if !negative.is_empty() {
                out.negative_prompt = Some(negative.join(", "));
                out.parameters
                    .insert("negativePrompt".into(), json!(negative.join(", ")));
            }
            out.parameters.insert(
                "generateAudio".into(),
                json!(opts.flag("audio").unwrap_or(true)),
            );
            if let Some(r) = opts.text("resolution") {
                out.parameters.insert("resolution".into(), json!(r));
            }
            if let Some(seed) = opts.integer("seed") {
                out.parameters.insert("seed".into(), json!(seed));
            }
        }
        _ => {
            if let Some(r) = ratio {
                out.parameters.insert("aspectRatio".into(), json!(r));
            }
            if let Some(d) = opts.integer("duration") {
                out.parameters.insert("durationSeconds".into(), json!(d));
            }
            if let Some(seed) = opts.integer("seed") {
                out.parameters.insert("seed".into(), json!(seed));
            }
        }
    }
    out
}
