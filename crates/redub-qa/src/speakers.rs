//! Speaker likeness: does each dubbed voice sound like its own speaker more than like anyone
//! else? Cosines of speaker embeddings (the caller embeds; CAM++ in the pipeline).

use serde::{Deserialize, Serialize};

/// One speaker's likeness figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SpeakerQa {
    pub speaker: String,
    /// Cosine of the dubbed lines' embedding to the speaker's own source reference.
    pub own: f64,
    /// The other source speaker the dub is most like, and that cosine (none with one speaker).
    pub nearest_other: Option<String>,
    pub nearest_other_cosine: Option<f64>,
    /// Dubbed speech the embedding was taken over.
    pub dubbed_ms: u64,
}

/// For each `(speaker, dubbed embedding, dubbed ms)`, its cosine to its own `sources` entry and
/// to the nearest other one. A speaker with no source embedding is left out.
pub fn likeness(dubbed: &[(String, Vec<f32>, u64)], sources: &[(String, Vec<f32>)]) -> Vec<SpeakerQa> {
    dubbed
        .iter()
        .filter_map(|(sp, e, ms)| {
            let own = sources.iter().find(|(s, _)| s == sp)?;
            let nearest = sources
                .iter()
                .filter(|(s, _)| s != sp)
                .map(|(s, v)| (s.clone(), cosine(e, v)))
                .max_by(|a, b| a.1.total_cmp(&b.1));
            Some(SpeakerQa {
                speaker: sp.clone(),
                own: cosine(e, &own.1),
                nearest_other_cosine: nearest.as_ref().map(|n| n.1),
                nearest_other: nearest.map(|n| n.0),
                dubbed_ms: *ms,
            })
        })
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    f64::from(redub_dsp::cosine(a, b))
}
