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

/// Typical speaking rate in words per second (DESIGN §1, translate); 2.5 when unmeasured.
pub fn words_per_second(code: &str) -> f64 {
    match code {
        "ja" => 4.0,
        "zh" => 3.5,
        "es" | "fr" | "ko" | "it" | "pt" => 3.0,
        "ar" | "hi" => 2.5,
        "de" => 2.2,
        _ => 2.5,
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
}
