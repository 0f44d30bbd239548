//! Reference samples: for each speaker, the cleanest stretch of their own voice, which a cloning
//! service copies and the offline voice matching measures (DESIGN §1, voices).

use redub_core::{Audio, Error, Result, Span, SpeakerEmbedder, Turn};
use redub_dsp::{adapt_voice, Adaptation, VoiceProfile};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The reference rules (44.1 kHz; padded to 2.0 s when under 1.5 s) are the cloning clients'
/// too: one copy, in `redub-dsp`.
pub use redub_dsp::{MIN_REFERENCE_MS, PADDED_REFERENCE_MS, REFERENCE_RATE};
/// Pieces shorter than this say little about a voice and are left out when longer ones exist.
const MIN_PIECE_MS: u64 = 500;
/// Silence between joined pieces, so the joins do not sound like one clipped word.
const JOIN_GAP_MS: u64 = 150;

/// The spans of `speaker`'s speech to use as a reference, at most `max_ms` in total: their turns
/// with every moment another speaker talks cut out, longest pieces first, returned in time order.
pub fn reference_spans(turns: &[Turn], speaker: &str, max_ms: u64) -> Vec<Span> {
    let others: Vec<Span> =
        turns.iter().filter(|t| t.speaker != speaker).map(|t| Span::new(t.start_ms, t.end_ms)).collect();
    let mut pieces: Vec<Span> = Vec::new();
    for t in turns.iter().filter(|t| t.speaker == speaker) {
        let mut parts = vec![Span::new(t.start_ms, t.end_ms)];
        for o in &others {
            parts = parts
                .into_iter()
                .flat_map(|p| {
                    if o.end_ms <= p.start_ms || o.start_ms >= p.end_ms {
                        vec![p]
                    } else {
                        [Span::new(p.start_ms, o.start_ms.max(p.start_ms)), Span::new(o.end_ms.min(p.end_ms), p.end_ms)]
                            .into_iter()
                            .filter(|s| s.duration_ms() > 0)
                            .collect()
                    }
                })
                .collect();
        }
        pieces.extend(parts);
    }
    if pieces.iter().any(|p| p.duration_ms() >= MIN_PIECE_MS) {
        pieces.retain(|p| p.duration_ms() >= MIN_PIECE_MS);
    }
    pieces.sort_by_key(|p| (std::cmp::Reverse(p.duration_ms()), p.start_ms));
    let mut chosen = Vec::new();
    let mut total = 0u64;
    for p in pieces {
        if total >= max_ms {
            break;
        }
        let take = p.duration_ms().min(max_ms - total);
        chosen.push(Span::new(p.start_ms, p.start_ms + take));
        total += take;
    }
    chosen.sort_by_key(|s| s.start_ms);
    chosen
}

/// The reference sample: `spans` of `audio` (mono) joined with short silences, resampled to
/// [`REFERENCE_RATE`], and padded with silence to 2.0 s when under 1.5 s.
pub fn reference_sample(audio: &Audio, spans: &[Span]) -> Result<Audio> {
    let gap = vec![0.0f32; redub_core::ms_to_samples(JOIN_GAP_MS, audio.rate)];
    let mut samples = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        if i > 0 {
            samples.extend_from_slice(&gap);
        }
        samples.extend_from_slice(audio.slice_ms(s.start_ms, s.end_ms));
    }
    if samples.is_empty() {
        // No speech to take (the speaker has no usable span): a padded reference of silence.
        return Ok(Audio::new(
            REFERENCE_RATE,
            vec![0.0; redub_core::ms_to_samples(PADDED_REFERENCE_MS, REFERENCE_RATE)],
        ));
    }
    redub_dsp::prepare_reference(&Audio::new(audio.rate, samples))
}

/// Enough text for a voice's pitch, envelope and embedding (about 6–10 s of speech) without
/// spending long on each candidate.
const PROBE_MIN_CHARS: usize = 80;
const PROBE_MAX_CHARS: usize = 160;

/// What every candidate voice reads in a language that has a fixed probe: the same text in
/// every job, so each voice's reading is made once and kept under `REDUB_HOME` (one short
/// everyday exchange with a question, a pause and numbers: pitch range, envelope and embedding
/// all need varied sounds). Written for Redub.
pub fn fixed_probe_text(lang: &str) -> Option<&'static str> {
    let base = lang.split(['-', '_']).next().unwrap_or(lang).to_ascii_lowercase();
    Some(match base.as_str() {
        "es" => "¿Sabes dónde quedó la llave? Ayer la dejé junto a la ventana, pero hoy no está, y tenemos que salir antes de las ocho.",
        "en" => "Do you know where the key went? I left it by the window yesterday, but it's gone today, and we have to leave before eight.",
        "fr" => "Tu sais où est passée la clé ? Je l'ai laissée près de la fenêtre hier, mais elle n'y est plus, et il faut partir avant huit heures.",
        "it" => "Sai dove è finita la chiave? Ieri l'ho lasciata vicino alla finestra, ma oggi non c'è, e dobbiamo uscire prima delle otto.",
        "pt" => "Sabes onde foi parar a chave? Ontem deixei-a junto à janela, mas hoje não está lá, e temos de sair antes das oito.",
        "de" => "Weißt du, wo der Schlüssel ist? Gestern lag er noch am Fenster, aber heute ist er weg, und wir müssen vor acht Uhr los.",
        "ca" => "Saps on ha anat a parar la clau? Ahir la vaig deixar al costat de la finestra, però avui no hi és, i hem de sortir abans de les vuit.",
        _ => return None,
    })
}

/// What every candidate voice reads in other languages: the job's longest lines, joined until there is enough,
/// cut at a word boundary when too long; a count when there are no lines.
pub fn probe_text(lines: &[&str]) -> String {
    let mut longest: Vec<&str> = lines.iter().map(|t| t.trim()).filter(|t| !t.is_empty()).collect();
    longest.sort_by_key(|t| std::cmp::Reverse(t.chars().count()));
    let mut text = String::new();
    for t in longest {
        if text.chars().count() >= PROBE_MIN_CHARS {
            break;
        }
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(t);
    }
    if text.chars().count() > PROBE_MAX_CHARS {
        let cut: String = text.chars().take(PROBE_MAX_CHARS).collect();
        text = match cut.rfind(char::is_whitespace) {
            Some(i) if i > 0 => cut[..i].to_string(),
            _ => cut,
        };
    }
    if text.is_empty() {
        text = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10.".into();
    }
    text
}

/// One speaker's voice as the voices stage chose it: an entry of `07-voices/voices.json`,
/// which `redub voices JOB` lists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpeakerVoice {
    /// `stock`, `elevenlabs` or `clone-http`.
    pub backend: String,
    /// The stock voice; for a cloning service, a pinned service voice or empty (a clone of the
    /// reference is made when synthesis starts and deleted when it ends).
    pub voice: String,
    /// Chosen by `--voice SPEAKER=VOICE` rather than by matching.
    pub pinned: bool,
    /// The reference sample, relative to the stage folder (`refs/S1.wav`).
    pub reference: String,
    pub reference_ms: u64,
    /// Median pitch of the speaker's reference and of the stock voice before adaptation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker_f0_hz: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_f0_hz: Option<f32>,
    /// Speaker-embedding cosine between the reference and the adapted stock voice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f32>,
}

/// Speaker → voice, as stored in the job.
pub type VoiceMap = BTreeMap<String, SpeakerVoice>;

/// How a stock voice is moved toward a speaker: all the way on pitch (median and range),
/// formants and long-term spectrum.
pub fn adaptation() -> Adaptation {
    Adaptation::default()
}

/// A stock voice's speech moved toward a speaker; `None` profiles leave it as it is (a
/// reference or probe without enough voiced sound cannot be measured).
pub fn adapt(audio: &Audio, voice: Option<&VoiceProfile>, speaker: Option<&VoiceProfile>) -> Audio {
    match (voice, speaker) {
        (Some(from), Some(to)) => adapt_voice(audio, from, to, &adaptation()),
        _ => audio.clone(),
    }
}

/// How well each stock voice fits one speaker, and which voice each speaker gets.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    pub speaker: String,
    pub voice: String,
    pub pinned: bool,
    /// Embedding cosine after adaptation (`None` without an embedder).
    pub similarity: Option<f32>,
}

/// Choose a stock voice for every speaker. `speakers` are reference samples, `voices` a probe
/// recording of each candidate voice (the same text for all). Each candidate is adapted toward
/// each speaker and scored by speaker-embedding cosine to the speaker's reference (by pitch
/// distance without an embedder); then speakers get distinct voices by an optimal assignment
/// (voices are reused only when there are more speakers than voices). `pins` are kept as given
/// and their voices are not handed to anyone else while others remain.
pub fn choose_stock_voices(
    speakers: &[(String, Audio)],
    voices: &[(String, Audio)],
    pins: &BTreeMap<String, String>,
    mut embedder: Option<&mut (dyn SpeakerEmbedder + '_)>,
) -> Result<Vec<Choice>> {
    if voices.is_empty() {
        return Err(Error::Unsupported("no stock voice to choose from".into()));
    }
    for (speaker, voice) in pins {
        if !voices.iter().any(|(v, _)| v == voice) {
            let names: Vec<&str> = voices.iter().map(|(v, _)| v.as_str()).collect();
            return Err(Error::Usage(format!(
                "--voice {speaker}={voice}: no stock voice is called `{voice}`; this language has {}",
                names.join(", ")
            )));
        }
    }
    let speaker_profiles: Vec<Option<VoiceProfile>> = speakers.iter().map(|(_, a)| VoiceProfile::measure(a)).collect();
    let voice_profiles: Vec<Option<VoiceProfile>> = voices.iter().map(|(_, a)| VoiceProfile::measure(a)).collect();
    let mut speaker_embeddings = Vec::new();
    for (_, a) in speakers {
        speaker_embeddings.push(match embedder.as_deref_mut() {
            Some(e) => e.embed(a)?,
            None => None,
        });
    }
    // likeness[s][v][t]: cosine between voice v adapted toward speaker s and speaker t.
    let mut score = vec![vec![0.0f64; voices.len()]; speakers.len()];
    let mut similarity = vec![vec![None; voices.len()]; speakers.len()];
    for (s, sp) in speaker_profiles.iter().enumerate() {
        for (v, (_, probe)) in voices.iter().enumerate() {
            let pitch_gap = match (sp, &voice_profiles[v]) {
                (Some(a), Some(b)) => f64::from(a.f0.semitones_to(&b.f0).abs()) / 12.0,
                _ => 1.0,
            };
            let got = match (embedder.as_deref_mut(), &speaker_embeddings[s]) {
                (Some(e), Some(_)) => e.embed(&adapt(probe, voice_profiles[v].as_ref(), sp.as_ref()))?,
                _ => None,
            };
            let Some(got) = got else {
                score[s][v] = -pitch_gap;
                continue;
            };
            let like: Vec<Option<f32>> =
                speaker_embeddings.iter().map(|t| t.as_ref().map(|t| redub_diarize::cosine(t, &got))).collect();
            let own = like[s].unwrap_or(0.0);
            similarity[s][v] = Some(own);
            // What matters is that the dubbed voice sounds like its speaker *rather than* like
            // anyone else: the margin over the closest other speaker. (Some references are
            // close to every voice; raw similarity would hand them every voice.) The pitch gap,
            // what adaptation has to bridge, breaks near-ties.
            let closest_other = like
                .iter()
                .enumerate()
                .filter(|(t, _)| *t != s)
                .filter_map(|(_, c)| *c)
                .fold(f32::NEG_INFINITY, f32::max);
            let margin = if closest_other.is_finite() { own - closest_other } else { own };
            score[s][v] = f64::from(margin) - 0.02 * pitch_gap;
        }
    }
    if std::env::var_os("REDUB_DEBUG_VOICES").is_some() {
        for (s, (name, _)) in speakers.iter().enumerate() {
            let row: Vec<String> =
                voices.iter().enumerate().map(|(v, (vn, _))| format!("{vn} {:+.3}", score[s][v])).collect();
            eprintln!("voice scores for {name}: {}", row.join(", "));
        }
    }
    let mut chosen: Vec<Option<usize>> =
        speakers.iter().map(|(name, _)| pins.get(name).and_then(|p| voices.iter().position(|(v, _)| v == p))).collect();
    let mut used: Vec<bool> = vec![false; voices.len()];
    for c in chosen.iter().flatten() {
        used[*c] = true;
    }
    // Rounds of optimal assignment over the voices not yet taken; a new round (all voices free
    // again) only when every voice is taken and speakers remain.
    loop {
        let open: Vec<usize> = (0..speakers.len()).filter(|s| chosen[*s].is_none()).collect();
        if open.is_empty() {
            break;
        }
        let mut free: Vec<usize> = (0..voices.len()).filter(|v| !used[*v]).collect();
        if free.is_empty() {
            used.iter_mut().for_each(|u| *u = false);
            free = (0..voices.len()).collect();
        }
        let cost: Vec<Vec<f64>> = open.iter().map(|s| free.iter().map(|v| -score[*s][*v]).collect()).collect();
        let assigned = redub_diarize::hungarian::assign(&cost);
        let mut progressed = false;
        for (row, col) in assigned.iter().enumerate() {
            if let Some(col) = col {
                chosen[open[row]] = Some(free[*col]);
                used[free[*col]] = true;
                progressed = true;
            }
        }
        if !progressed {
            return Err(Error::backend("voices", "voice assignment made no progress"));
        }
    }
    Ok(speakers
        .iter()
        .enumerate()
        .map(|(s, (name, _))| {
            let v = chosen[s].unwrap_or(0);
            Choice {
                speaker: name.clone(),
                voice: voices[v].0.clone(),
                pinned: pins.contains_key(name),
                similarity: similarity[s][v],
            }
        })
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn overlaps_are_cut_out_and_longest_pieces_win() {
        let turns = vec![
            Turn::new(0, 3_000, "S1"),
            Turn::new(2_000, 4_000, "S2"),
            Turn::new(5_000, 6_000, "S1"),
            Turn::new(7_000, 7_300, "S1"),
            Turn::new(8_000, 12_000, "S1"),
        ];
        // S1 alone: 0–2000, 5000–6000, 7000–7300 (too short), 8000–12000.
        assert_eq!(
            reference_spans(&turns, "S1", 60_000),
            vec![Span::new(0, 2_000), Span::new(5_000, 6_000), Span::new(8_000, 12_000)]
        );
        // A 5 s limit takes the 4 s piece and 1 s of the next longest.
        assert_eq!(reference_spans(&turns, "S1", 5_000), vec![Span::new(0, 1_000), Span::new(8_000, 12_000)]);
        // A speaker who only ever overlaps gets nothing; an unknown speaker too.
        assert!(reference_spans(&[Turn::new(0, 1_000, "A"), Turn::new(0, 1_000, "B")], "A", 10_000).is_empty());
        // Only short pieces: they are used rather than nothing.
        assert_eq!(reference_spans(&[Turn::new(0, 300, "A")], "A", 10_000), vec![Span::new(0, 300)]);
    }

    #[test]
    fn samples_are_44k_and_short_ones_are_padded_to_two_seconds() {
        let audio = Audio::new(16_000, vec![0.1; 16_000 * 10]);
        let long = reference_sample(&audio, &[Span::new(0, 2_000), Span::new(3_000, 4_000)]).unwrap();
        assert_eq!(long.rate, REFERENCE_RATE);
        assert!(long.duration_ms().abs_diff(3_150) <= 2, "{}", long.duration_ms());
        let short = reference_sample(&audio, &[Span::new(0, 800)]).unwrap();
        assert_eq!(short.duration_ms(), PADDED_REFERENCE_MS);
        assert!(short.samples[..REFERENCE_RATE as usize / 2].iter().any(|x| x.abs() > 0.05));
        assert!(short.samples[REFERENCE_RATE as usize..].iter().all(|x| *x == 0.0));
    }

    /// A voice of `hz` for `secs`: a pulse train through a fixed resonance, enough for a pitch
    /// and envelope profile.
    fn voice(hz: f32, secs: f32) -> Audio {
        let rate = 16_000;
        let n = (secs * rate as f32) as usize;
        let period = (rate as f32 / hz) as usize;
        let mut x = vec![0.0f32; n];
        let mut y = 0.0f32;
        let mut y1 = 0.0f32;
        for (i, v) in x.iter_mut().enumerate() {
            let pulse = if i % period == 0 { 1.0 } else { 0.0 };
            let out = pulse + 1.6 * y - 0.8 * y1;
            y1 = y;
            y = out;
            *v = 0.1 * out;
        }
        Audio::new(rate, x)
    }

    /// An "embedding" that only knows pitch: enough to check how choices are made.
    struct PitchEmbedder;
    impl SpeakerEmbedder for PitchEmbedder {
        fn embed(&mut self, audio: &Audio) -> Result<Option<Vec<f32>>> {
            let f = redub_dsp::f0_median(&audio.samples, audio.rate).unwrap_or(100.0);
            let a = (f / 100.0).ln();
            Ok(Some(vec![a.cos(), a.sin()]))
        }
    }

    #[test]
    fn speakers_get_distinct_voices_pins_hold_and_unknown_pins_are_refused() {
        let speakers = vec![("S1".to_string(), voice(110.0, 2.0)), ("S2".to_string(), voice(210.0, 2.0))];
        let voices = vec![("low".to_string(), voice(100.0, 2.0)), ("high".to_string(), voice(220.0, 2.0))];
        for mut embedder in [None, Some(PitchEmbedder)] {
            let e = embedder.as_mut().map(|e| e as &mut dyn SpeakerEmbedder);
            let c = choose_stock_voices(&speakers, &voices, &BTreeMap::new(), e).unwrap();
            assert_eq!(c.len(), 2);
            assert_ne!(c[0].voice, c[1].voice, "{c:?}");
            assert!(c.iter().all(|c| !c.pinned));
        }
        // Without an embedder the closest pitch wins.
        let c = choose_stock_voices(&speakers, &voices, &BTreeMap::new(), None).unwrap();
        assert_eq!((c[0].voice.as_str(), c[1].voice.as_str()), ("low", "high"));
        assert!(c[0].similarity.is_none());
        // A pin holds even against the fit, and the other speaker gets the other voice.
        let pins = BTreeMap::from([("S1".to_string(), "high".to_string())]);
        let c = choose_stock_voices(&speakers, &voices, &pins, None).unwrap();
        assert_eq!((c[0].voice.as_str(), c[0].pinned), ("high", true));
        assert_eq!(c[1].voice, "low");
        let bad = BTreeMap::from([("S1".to_string(), "nobody".to_string())]);
        let err = choose_stock_voices(&speakers, &voices, &bad, None).unwrap_err().to_string();
        assert!(err.contains("nobody") && err.contains("low, high"), "{err}");
    }

    #[test]
    fn probe_text_takes_the_longest_lines_up_to_a_limit() {
        let short = probe_text(&["Hola.", "Una línea bastante más larga que las otras dos.", "Sí."]);
        assert!(short.starts_with("Una línea bastante"), "{short}");
        assert!(short.contains("Hola."), "joined until there is enough: {short}");
        let long_line = "palabra ".repeat(60);
        let long = probe_text(&[long_line.as_str()]);
        assert!(long.chars().count() <= PROBE_MAX_CHARS && long.ends_with("palabra"), "{long}");
        assert_eq!(probe_text(&["", "  "]), "1, 2, 3, 4, 5, 6, 7, 8, 9, 10.");
    }

    #[test]
    fn fixed_probes_are_within_the_probe_length_and_cover_regional_codes() {
        for lang in ["es", "en", "fr", "it", "pt", "de", "ca"] {
            let t = fixed_probe_text(lang).unwrap();
            let n = t.chars().count();
            assert!((PROBE_MIN_CHARS..=PROBE_MAX_CHARS).contains(&n), "{lang}: {n} characters");
        }
        assert_eq!(fixed_probe_text("pt-BR"), fixed_probe_text("pt"));
        assert_eq!(fixed_probe_text("xx"), None);
    }

    #[test]
    fn more_speakers_than_voices_reuse_voices_only_after_all_are_taken() {
        let speakers: Vec<(String, Audio)> =
            [100.0, 150.0, 220.0].iter().enumerate().map(|(i, hz)| (format!("S{}", i + 1), voice(*hz, 2.0))).collect();
        let voices = vec![("low".to_string(), voice(100.0, 2.0)), ("high".to_string(), voice(220.0, 2.0))];
        let c = choose_stock_voices(&speakers, &voices, &BTreeMap::new(), None).unwrap();
        let used: std::collections::BTreeSet<&str> = c.iter().map(|c| c.voice.as_str()).collect();
        assert_eq!(used.len(), 2, "both voices in use: {c:?}");
        assert!(choose_stock_voices(&speakers, &[], &BTreeMap::new(), None).is_err());
    }
}
