//! Categories of generation models and the facets a good prompt for each covers.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// What kind of model a prompt is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Text-to-image models (Midjourney, Stable Diffusion, DALL·E, Flux, ...).
    Image,
    /// Text-to-video models (Sora, Runway, Veo, ...).
    Video,
    /// Text LLMs (GPT, Claude, Gemini, Llama, ...).
    Text,
}

impl Category {
    /// Every category, in a fixed order.
    pub const ALL: [Category; 3] = [Category::Image, Category::Video, Category::Text];

    /// The lowercase id used in the API and in span names.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Image => "image",
            Category::Video => "video",
            Category::Text => "text",
        }
    }

    /// Parses a category id case-insensitively; `field` names the input for the error.
    pub fn parse(input: &str, field: &str) -> Result<Category> {
        match input.trim().to_ascii_lowercase().as_str() {
            "image" | "img" | "picture" | "photo" => Ok(Category::Image),
            "video" | "movie" | "clip" => Ok(Category::Video),
            "text" | "llm" | "chat" => Ok(Category::Text),
            "" => Err(Error::invalid(
                field,
                "is empty; expected one of image, video, text",
            )),
            _ => Err(Error::invalid(
                field,
                format!(
                    "unknown category {:?}; expected one of image, video, text",
                    truncate_for_message(input)
                ),
            )),
        }
    }

    /// The facets a complete prompt of this category covers, most important first.
    pub fn facets(self) -> &'static [Facet] {
        use Facet::*;
        match self {
            Category::Image => &[
                Subject,
                Style,
                Lighting,
                Composition,
                Camera,
                Color,
                Mood,
                Detail,
                Environment,
            ],
            Category::Video => &[
                Subject,
                Action,
                CameraMovement,
                ShotType,
                Lighting,
                Environment,
                Mood,
                Style,
                Pacing,
            ],
            Category::Text => &[
                Task,
                Role,
                Context,
                Audience,
                Format,
                Constraints,
                Examples,
                Tone,
            ],
        }
    }
}

/// One aspect of a prompt that can be present or missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Facet {
    /// What the image or video is of.
    Subject,
    /// Medium or visual style (photograph, oil painting, anime, 3D render, ...).
    Style,
    /// Light quality and direction.
    Lighting,
    /// Framing and arrangement.
    Composition,
    /// Camera, lens and photographic settings.
    Camera,
    /// Palette.
    Color,
    /// Emotional atmosphere.
    Mood,
    /// Level of detail and rendering quality.
    Detail,
    /// Setting and background.
    Environment,
    /// What moves, and how (video).
    Action,
    /// How the camera moves (video).
    CameraMovement,
    /// Shot size and angle (video).
    ShotType,
    /// Speed, rhythm and duration (video).
    Pacing,
    /// Who the model should act as (text).
    Role,
    /// What the model should do (text).
    Task,
    /// Background the model needs (text).
    Context,
    /// Who the answer is for (text).
    Audience,
    /// Shape of the answer (text).
    Format,
    /// Limits the answer must respect (text).
    Constraints,
    /// Examples of the desired output (text).
    Examples,
    /// Voice and register (text).
    Tone,
}

impl Facet {
    /// The camelCase id used in the API and in rule files.
    pub fn as_str(self) -> &'static str {
        use Facet::*;
        match self {
            Subject => "subject",
            Style => "style",
            Lighting => "lighting",
            Composition => "composition",
            Camera => "camera",
            Color => "color",
            Mood => "mood",
            Detail => "detail",
            Environment => "environment",
            Action => "action",
            CameraMovement => "cameraMovement",
            ShotType => "shotType",
            Pacing => "pacing",
            Role => "role",
            Task => "task",
            Context => "context",
            Audience => "audience",
            Format => "format",
            Constraints => "constraints",
            Examples => "examples",
            Tone => "tone",
        }
    }

    /// A label for people.
    pub fn label(self) -> &'static str {
        use Facet::*;
        match self {
            Subject => "Subject",
            Style => "Medium / style",
            Lighting => "Lighting",
            Composition => "Composition",
            Camera => "Camera / lens",
            Color => "Color",
            Mood => "Mood",
            Detail => "Detail / quality",
            Environment => "Environment",
            Action => "Action / motion",
            CameraMovement => "Camera movement",
            ShotType => "Shot type",
            Pacing => "Pacing / duration",
            Role => "Role",
            Task => "Task",
            Context => "Context",
            Audience => "Audience",
            Format => "Format",
            Constraints => "Constraints",
            Examples => "Examples",
            Tone => "Tone",
        }
    }

    /// Parses the id used in rule files and the API.
    pub fn parse(id: &str) -> Option<Facet> {
        use Facet::*;
        let all = [
            Subject,
            Style,
            Lighting,
            Composition,
            Camera,
            Color,
            Mood,
            Detail,
            Environment,
            Action,
            CameraMovement,
            ShotType,
            Pacing,
            Role,
            Task,
            Context,
            Audience,
            Format,
            Constraints,
            Examples,
            Tone,
        ];
        all.into_iter().find(|f| f.as_str() == id)
    }
}

/// A property of a prompt, written `axis:value` in rule files (`realism:photo`,
/// `brightness:dark`, `subject:person`). Two tags on the same axis with different values
/// conflict, which is how contradictory modifiers are kept out of one prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag {
    /// The dimension (`realism`, `brightness`, `subject`, ...).
    pub axis: &'static str,
    /// The position on that dimension (`photo`, `dark`, `person`, ...).
    pub value: &'static str,
}

impl Tag {
    /// Axes on which a prompt may hold several values at once without contradiction
    /// (a prompt can show a person and an animal; it cannot be both photo and anime).
    pub const MULTI_VALUED_AXES: [&'static str; 5] =
        ["subject", "domain", "technique", "act", "form"];

    /// Whether the two tags contradict each other.
    pub fn conflicts_with(&self, other: &Tag) -> bool {
        self.axis == other.axis && self.value != other.value && !self.is_multi_valued()
    }

    /// Whether a prompt may hold several values of this tag's axis at once.
    pub fn is_multi_valued(&self) -> bool {
        Self::MULTI_VALUED_AXES.contains(&self.axis)
    }
}

impl std::fmt::Display for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.axis, self.value)
    }
}

/// Shortens user text quoted back in an error message.
pub(crate) fn truncate_for_message(input: &str) -> String {
    const MAX: usize = 40;
    if input.chars().count() <= MAX {
        input.to_string()
    } else {
        let head: String = input.chars().take(MAX).collect();
        format!("{head}…")
    }
}
