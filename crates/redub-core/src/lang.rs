//! Language codes. Redub speaks ISO 639-1 (`en`, `es`); some tools want ISO 639-3 (`eng`, `spa`).

const TABLE: &[(&str, &str, &str)] = &[
    ("en", "eng", "English"),
    ("es", "spa", "Spanish"),
    ("fr", "fra", "French"),
    ("de", "deu", "German"),
    ("it", "ita", "Italian"),
    ("pt", "por", "Portuguese"),
    ("ca", "cat", "Catalan"),
    ("gl", "glg", "Galician"),
    ("ja", "jpn", "Japanese"),
    ("zh", "zho", "Chinese"),
    ("ko", "kor", "Korean"),
    ("ar", "ara", "Arabic"),
    ("hi", "hin", "Hindi"),
    ("ru", "rus", "Russian"),
    ("nl", "nld", "Dutch"),
    ("eo", "epo", "Esperanto"),
    ("oc", "oci", "Occitan"),
    ("ro", "ron", "Romanian"),
];

/// ISO 639-3 code of a two-letter code, if known.
pub fn to_iso3(code: &str) -> Option<&'static str> {
    TABLE.iter().find(|(a, _, _)| *a == code).map(|(_, b, _)| *b)
}

/// Two-letter code of an ISO 639-3 code, if known.
pub fn from_iso3(code: &str) -> Option<&'static str> {
    TABLE.iter().find(|(_, b, _)| *b == code).map(|(a, _, _)| *a)
}

/// English name of a two-letter code (the code itself when unknown).
pub fn name(code: &str) -> String {
    TABLE.iter().find(|(a, _, _)| *a == code).map(|(_, _, n)| n.to_string()).unwrap_or_else(|| code.to_string())
}

/// Typical speaking rate in words per second from DESIGN's table (§1, translate); `None` for a
/// language outside it (the pipeline then measures the TTS engine's rate).
pub fn table_rate(code: &str) -> Option<f64> {
    match code {
        "ja" => Some(4.0),
        "zh" => Some(3.5),
        "es" | "fr" | "ko" | "it" | "pt" => Some(3.0),
        "ar" | "hi" => Some(2.5),
        "de" => Some(2.2),
        _ => None,
    }
}

/// Typical speaking rate in words per second; 2.5 for languages outside the table.
pub fn words_per_second(code: &str) -> f64 {
    table_rate(code).unwrap_or(2.5)
}

/// Average native speaking pace in syllables per second, as measured across languages by
/// Pellegrino, Coupé and Marsico (2011, *Language* 87(3)): ja 7.84, es 7.82, fr 7.18, it 6.99,
/// en 6.19, de 5.97, vi 5.22, zh 5.18. Other languages get 6.5, inside that range. Synthesis may
/// speed a line up until it reaches this pace, since that is still how people talk.
pub fn syllables_per_second(code: &str) -> f64 {
    let base = code.split(['-', '_']).next().unwrap_or(code).to_ascii_lowercase();
    match base.as_str() {
        "ja" => 7.84,
        "es" => 7.82,
        "fr" => 7.18,
        "it" => 6.99,
        "en" => 6.19,
        "de" => 5.97,
        "vi" => 5.22,
        "zh" => 5.18,
        _ => 6.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trip() {
        for (a, b, _) in TABLE {
            assert_eq!(to_iso3(a), Some(*b));
            assert_eq!(from_iso3(b), Some(*a));
        }
        assert_eq!(to_iso3("xx"), None);
    }

    #[test]
    fn paces_follow_the_primary_subtag() {
        assert_eq!(syllables_per_second("es-MX"), 7.82);
        assert_eq!(syllables_per_second("pt_BR"), 6.5);
        assert!(syllables_per_second("de") < syllables_per_second("en"));
    }
}
