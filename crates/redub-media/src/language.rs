//! Language tags for container tracks. Redub speaks ISO 639-1 (`es`, `en`); MP4 and Matroska
//! tracks carry ISO 639-2 three-letter codes (`spa`, `eng`), and players show a track's title,
//! so each code also has its English name.

/// ISO 639-1 → (ISO 639-2 terminology code, English name): every language `redub-core`'s
/// table knows, the ElevenLabs languages, and the other common languages Whisper detects.
const TABLE: &[(&str, &str, &str)] = &[
    ("af", "afr", "Afrikaans"),
    ("am", "amh", "Amharic"),
    ("ar", "ara", "Arabic"),
    ("az", "aze", "Azerbaijani"),
    ("be", "bel", "Belarusian"),
    ("bg", "bul", "Bulgarian"),
    ("bn", "ben", "Bengali"),
    ("bs", "bos", "Bosnian"),
    ("ca", "cat", "Catalan"),
    ("cs", "ces", "Czech"),
    ("cy", "cym", "Welsh"),
    ("da", "dan", "Danish"),
    ("de", "deu", "German"),
    ("el", "ell", "Greek"),
    ("en", "eng", "English"),
    ("eo", "epo", "Esperanto"),
    ("es", "spa", "Spanish"),
    ("et", "est", "Estonian"),
    ("eu", "eus", "Basque"),
    ("fa", "fas", "Persian"),
    ("fi", "fin", "Finnish"),
    ("fil", "fil", "Filipino"),
    ("fr", "fra", "French"),
    ("ga", "gle", "Irish"),
    ("gl", "glg", "Galician"),
    ("gu", "guj", "Gujarati"),
    ("he", "heb", "Hebrew"),
    ("hi", "hin", "Hindi"),
    ("hr", "hrv", "Croatian"),
    ("hu", "hun", "Hungarian"),
    ("hy", "hye", "Armenian"),
    ("id", "ind", "Indonesian"),
    ("is", "isl", "Icelandic"),
    ("it", "ita", "Italian"),
    ("ja", "jpn", "Japanese"),
    ("ka", "kat", "Georgian"),
    ("kk", "kaz", "Kazakh"),
    ("km", "khm", "Khmer"),
    ("kn", "kan", "Kannada"),
    ("ko", "kor", "Korean"),
    ("la", "lat", "Latin"),
    ("lt", "lit", "Lithuanian"),
    ("lv", "lav", "Latvian"),
    ("mk", "mkd", "Macedonian"),
    ("ml", "mal", "Malayalam"),
    ("mn", "mon", "Mongolian"),
    ("mr", "mar", "Marathi"),
    ("ms", "msa", "Malay"),
    ("mt", "mlt", "Maltese"),
    ("my", "mya", "Burmese"),
    ("nb", "nob", "Norwegian Bokmål"),
    ("ne", "nep", "Nepali"),
    ("nl", "nld", "Dutch"),
    ("nn", "nno", "Norwegian Nynorsk"),
    ("no", "nor", "Norwegian"),
    ("oc", "oci", "Occitan"),
    ("pa", "pan", "Punjabi"),
    ("pl", "pol", "Polish"),
    ("ps", "pus", "Pashto"),
    ("pt", "por", "Portuguese"),
    ("ro", "ron", "Romanian"),
    ("ru", "rus", "Russian"),
    ("si", "sin", "Sinhala"),
    ("sk", "slk", "Slovak"),
    ("sl", "slv", "Slovenian"),
    ("so", "som", "Somali"),
    ("sq", "sqi", "Albanian"),
    ("sr", "srp", "Serbian"),
    ("sv", "swe", "Swedish"),
    ("sw", "swa", "Swahili"),
    ("ta", "tam", "Tamil"),
    ("te", "tel", "Telugu"),
    ("th", "tha", "Thai"),
    ("tl", "tgl", "Tagalog"),
    ("tr", "tur", "Turkish"),
    ("uk", "ukr", "Ukrainian"),
    ("ur", "urd", "Urdu"),
    ("uz", "uzb", "Uzbek"),
    ("vi", "vie", "Vietnamese"),
    ("yi", "yid", "Yiddish"),
    ("yo", "yor", "Yoruba"),
    ("yue", "yue", "Cantonese"),
    ("zh", "zho", "Chinese"),
    ("zu", "zul", "Zulu"),
];

/// ISO 639-2 bibliographic codes some files carry instead of the terminology codes above.
const BIBLIOGRAPHIC: &[(&str, &str)] = &[
    ("alb", "sqi"),
    ("arm", "hye"),
    ("baq", "eus"),
    ("bur", "mya"),
    ("chi", "zho"),
    ("cze", "ces"),
    ("dut", "nld"),
    ("fre", "fra"),
    ("geo", "kat"),
    ("ger", "deu"),
    ("gre", "ell"),
    ("ice", "isl"),
    ("mac", "mkd"),
    ("may", "msa"),
    ("per", "fas"),
    ("rum", "ron"),
    ("slo", "slk"),
    ("wel", "cym"),
];

/// The table row of `code`: ISO 639-1 (`es`), with a region (`es-MX`, `pt_BR`) or in capitals,
/// or already ISO 639-2 (`spa`, or the bibliographic `ger`).
fn row(code: &str) -> Option<&'static (&'static str, &'static str, &'static str)> {
    let base = code.trim().split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
    let base = BIBLIOGRAPHIC.iter().find(|(b, _)| *b == base).map_or(base.as_str(), |(_, t)| t);
    TABLE.iter().find(|(two, three, _)| *two == base || *three == base)
}

/// The ISO 639-2 code a container track is tagged with: `es` → `spa`, `en-US` → `eng`,
/// `fr` → `fra`, `spa` → `spa`. `None` for a code outside the table (the track is then left
/// untagged, which players show as "unknown").
pub fn iso639_2(code: &str) -> Option<&'static str> {
    row(code).map(|(_, three, _)| *three)
}

/// The English name of a language code (`es`, `spa`, `es-MX` → `Spanish`); the code itself
/// when it is outside the table.
pub fn language_name(code: &str) -> String {
    row(code).map_or_else(|| code.trim().to_string(), |(_, _, name)| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codes_the_issue_names() {
        let want = [
            ("es", "spa"),
            ("en", "eng"),
            ("fr", "fra"),
            ("de", "deu"),
            ("it", "ita"),
            ("pt", "por"),
            ("ja", "jpn"),
            ("zh", "zho"),
            ("ko", "kor"),
            ("ca", "cat"),
            ("hi", "hin"),
            ("ar", "ara"),
            ("ru", "rus"),
        ];
        for (two, three) in want {
            assert_eq!(iso639_2(two), Some(three), "{two}");
        }
    }

    #[test]
    fn every_code_redub_core_knows_is_tagged_the_same() {
        for code in
            ["en", "es", "fr", "de", "it", "pt", "ca", "gl", "ja", "zh", "ko", "ar", "hi", "ru", "nl", "eo", "oc", "ro"]
        {
            assert_eq!(iso639_2(code), redub_core::lang::to_iso3(code), "{code}");
            assert_eq!(language_name(code), redub_core::lang::name(code), "{code}");
        }
    }

    #[test]
    fn regions_capitals_and_three_letter_codes() {
        assert_eq!(iso639_2("pt-BR"), Some("por"));
        assert_eq!(iso639_2("ES_mx"), Some("spa"));
        assert_eq!(iso639_2("spa"), Some("spa"));
        assert_eq!(iso639_2("ger"), Some("deu"));
        assert_eq!(iso639_2("sv"), Some("swe"));
        assert_eq!(iso639_2("xx"), None);
        assert_eq!(iso639_2(""), None);
        assert_eq!(language_name("spa"), "Spanish");
        assert_eq!(language_name("fre"), "French");
        assert_eq!(language_name("xx"), "xx");
    }

    #[test]
    fn the_table_has_one_row_per_code() {
        let mut two: Vec<&str> = TABLE.iter().map(|r| r.0).collect();
        let mut three: Vec<&str> = TABLE.iter().map(|r| r.1).collect();
        two.sort_unstable();
        two.dedup();
        three.sort_unstable();
        three.dedup();
        assert_eq!((two.len(), three.len()), (TABLE.len(), TABLE.len()));
    }
}
