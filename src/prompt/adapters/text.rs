//! Text-LLM syntaxes: the request stays first, embedded input is delimited, and the added
//! guidance goes into sections in each vendor's recommended style — markdown headings for
//! GPT, XML tags for Claude, labelled lines for Gemini, numbered rules for Llama.

use super::{Adapter, Family, RenderEdit, RenderInput, Rendered};
use crate::prompt::category::Facet;
use crate::prompt::options::ModelOptions;
use serde_json::json;

/// Edits implied by text options (format, tone, audience, language, length, reasoning).
pub(super) fn option_edits(options: &ModelOptions) -> Vec<RenderEdit> {
    let mut edits = Vec::new();
    let mut add = |facet: Facet, text: String| {
        edits.push(RenderEdit {
            facet,
            text,
            emphasis: 1.0,
        })
    };
    if let Some(format) = options.text("format") {
        let sentence = match format {
            "bullets" => "Format the answer as a bulleted list.",
            "numbered" => "Format the answer as a numbered list.",
            "table" => "Present the answer as a Markdown table.",
            "json" => "Return only valid JSON, with no text outside the JSON.",
            "markdown" => "Format the answer in Markdown with clear headings.",
            "code" => "Return the code in one fenced code block, then a short explanation.",
            _ => "Answer in well-organized paragraphs of prose.",
        };
        add(Facet::Format, sentence.to_string());
    }
    if let Some(tone) = options.text("tone") {
        let sentence = match tone {
            "formal" => "Use a formal, professional tone.",
            "friendly" => "Use a warm, friendly tone.",
            "casual" => "Use a casual, conversational tone.",
            "persuasive" => "Use a persuasive tone.",
            "playful" => "Use a playful, light-hearted tone.",
            "academic" => "Use a precise, academic tone.",
            "empathetic" => "Use an empathetic, supportive tone.",
            _ => "Use a neutral, objective tone.",
        };
        add(Facet::Tone, sentence.to_string());
    }
    if let Some(audience) = options.text("audience") {
        add(
            Facet::Audience,
            format!("Write for this audience: {audience}."),
        );
    }
    if let Some(language) = options.text("language") {
        add(Facet::Constraints, format!("Answer in {language}."));
    }
    if let Some(words) = options.integer("maxWords") {
        add(
            Facet::Constraints,
            format!("Keep the answer under {words} words."),
        );
    }
    if options.flag("stepByStep") == Some(true) {
        add(
            Facet::Constraints,
            "Think through the problem step by step before giving the final answer.".to_string(),
        );
    }
    edits
}

/// Wraps input embedded in the request (after a blank line, or after a line ending in a
/// colon) in `"""` delimiters, so the model can tell instructions from data.
fn delimit_input(text: &str) -> String {
    let text = text.trim_end();
    if text.contains("\"\"\"") || text.contains("```") {
        return text.to_string();
    }
    let split = text
        .find("\n\n")
        .or_else(|| text.find(":\n").map(|i| i + 1))
        .or_else(|| text.find("：\n").map(|i| i + '：'.len_utf8()));
    match split {
        Some(at) if !text[at..].trim().is_empty() => {
            format!(
                "{}\n\"\"\"\n{}\n\"\"\"",
                text[..at].trim_end(),
                text[at..].trim()
            )
        }
        _ => text.to_string(),
    }
}

/// Section titles in facet order.
const SECTIONS: [(Facet, &str, &str); 7] = [
    (Facet::Role, "Role", "role"),
    (Facet::Context, "Context", "context"),
    (Facet::Audience, "Audience", "audience"),
    (Facet::Format, "Output format", "format"),
    (Facet::Constraints, "Constraints", "constraints"),
    (Facet::Examples, "Examples", "examples"),
    (Facet::Tone, "Tone", "tone"),
];

/// Writes a text-LLM prompt.
pub(super) fn render(adapter: &Adapter, input: &RenderInput<'_>) -> Rendered {
    let mut out = Rendered::default();
    let mut prompt = delimit_input(input.text);
    let task: Vec<&str> = input
        .edits
        .iter()
        .filter(|e| e.facet == Facet::Task)
        .map(|e| e.text.as_str())
        .collect();
    if !task.is_empty() {
        prompt.push_str("\n\n");
        prompt.push_str(&task.join(" "));
    }
    let listy = |facet: Facet| matches!(facet, Facet::Constraints | Facet::Examples);
    for (facet, title, tag) in SECTIONS {
        let lines: Vec<&str> = input
            .edits
            .iter()
            .filter(|e| e.facet == facet)
            .map(|e| e.text.as_str())
            .collect();
        if lines.is_empty() {
            continue;
        }
        prompt.push_str("\n\n");
        let body = |bullet: &dyn Fn(usize) -> String| -> String {
            if listy(facet) || lines.len() > 1 {
                lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| format!("{}{l}", bullet(i)))
                    .collect::<Vec<_>>()
                    .join("\n")
            } else {
                lines.join(" ")
            }
        };
        let section = match adapter.family {
            Family::Gpt => format!("## {title}\n{}", body(&|_| "- ".to_string())),
            Family::Claude => format!("<{tag}>\n{}\n</{tag}>", body(&|_| "- ".to_string())),
            Family::Llama => {
                if listy(facet) {
                    format!("{title}:\n{}", body(&|i| format!("{}. ", i + 1)))
                } else {
                    format!("{title}: {}", body(&|_| String::new()))
                }
            }
            // Gemini and generic: labelled lines, lists with asterisks.
            _ => {
                if listy(facet) || lines.len() > 1 {
                    format!("{title}:\n{}", body(&|_| "* ".to_string()))
                } else {
                    format!("{title}: {}", lines.join(" "))
                }
            }
        };
        prompt.push_str(&section);
    }

    let opts = input.options;
    if let Some(t) = opts.number("temperature") {
        out.parameters.insert("temperature".into(), json!(t));
    }
    if let Some(n) = opts.integer("maxTokens") {
        let name = match adapter.family {
            Family::Gpt => "max_completion_tokens",
            Family::Gemini => "maxOutputTokens",
            _ => "max_tokens",
        };
        out.parameters.insert(name.into(), json!(n));
    }
    out.prompt = prompt;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimits_embedded_input() {
        assert_eq!(
            delimit_input("Summarize this:\nThe cat sat."),
            "Summarize this:\n\"\"\"\nThe cat sat.\n\"\"\""
        );
        assert_eq!(
            delimit_input("Fix the grammar.\n\nme and him goes"),
            "Fix the grammar.\n\"\"\"\nme and him goes\n\"\"\""
        );
        assert_eq!(delimit_input("Explain DNS."), "Explain DNS.");
        assert_eq!(delimit_input("Run:\n```\nls\n```"), "Run:\n```\nls\n```");
    }
}
