//! How many words a line may have (DESIGN §1, translate) and how many it has.

use redub_core::lang::words_per_second;

/// Share of the typical speaking rate a translation is allowed, so the dub fits without racing.
pub const BUDGET_FACTOR: f64 = 0.85;

/// Most words a line lasting `duration_ms` may have in `lang`:
/// `floor(d_seconds × WPS(lang) × 0.85)`, at least 1 (a line always says something).
///
/// Computed in integers (rates in hundredths of a word per second, the factor in hundredths):
/// in floats, a product that is exactly an integer can land a hair below it and `floor` loses a
/// whole word (100 s × 3.0 × 0.85 = 255, but `(100.0 * (3.0 * 0.85)).floor()` is 254).
pub fn word_budget(duration_ms: u64, lang: &str) -> u32 {
    word_budget_at(duration_ms, words_per_second(lang))
}

/// [`word_budget`] at a given rate in words per second (a rate measured from the TTS engine for
/// languages outside DESIGN's table).
pub fn word_budget_at(duration_ms: u64, words_per_second: f64) -> u32 {
    let wps_centi = (words_per_second * 100.0).round().max(0.0) as u128;
    let factor_centi = (BUDGET_FACTOR * 100.0).round() as u128;
    // ms → s is /1000, and the two hundredths are /10_000.
    let words = u128::from(duration_ms) * wps_centi * factor_centi / 10_000_000;
    u32::try_from(words).unwrap_or(u32::MAX).max(1)
}

/// Spoken words in `text`, to compare against [`word_budget`].
///
/// Space-separated languages: whitespace-separated tokens that hold at least one letter or digit
/// (a lone "—" or "..." is not spoken). Japanese and Chinese do not separate words with spaces and
/// their rates in `words_per_second` count roughly two characters per word, so each Han, Hiragana
/// or Katakana character counts as half a word (rounded up over the text); letters and digits
/// mixed in among them ("2020年", "iPhoneを") add one word per run. No language code is needed:
/// the script decides, which also handles mixed-script lines.
pub fn word_count(text: &str) -> u32 {
    let mut words: u64 = 0;
    let mut cjk_chars: u64 = 0;
    for token in text.split_whitespace() {
        // One word per maximal run of non-CJK letters/digits in the token.
        let mut in_run = false;
        for c in token.chars() {
            if is_cjk(c) {
                cjk_chars += 1;
                in_run = false;
            } else if c.is_alphanumeric() {
                if !in_run {
                    words += 1;
                }
                in_run = true;
            } else if c == '\'' || c == '’' || c == '-' {
                // "didn't", "well-known": inner apostrophes and hyphens do not split a word.
            } else {
                in_run = false;
            }
        }
    }
    let total = words + cjk_chars.div_ceil(2);
    u32::try_from(total).unwrap_or(u32::MAX)
}

/// Han ideographs, Hiragana and Katakana (full- and half-width); not CJK punctuation, which
/// fails `is_alphanumeric` and is skipped like any punctuation.
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{309F}'     // Hiragana
        | '\u{30A0}'..='\u{30FF}'   // Katakana
        | '\u{31F0}'..='\u{31FF}'   // Katakana phonetic extensions
        | '\u{3400}'..='\u{4DBF}'   // CJK extension A
        | '\u{4E00}'..='\u{9FFF}'   // CJK unified ideographs
        | '\u{F900}'..='\u{FAFF}'   // CJK compatibility ideographs
        | '\u{FF66}'..='\u{FF9D}'   // half-width Katakana
        | '\u{20000}'..='\u{2FFFF}' // CJK extensions B–F
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_follows_the_design_formula() {
        assert_eq!(word_budget(2000, "es"), 5); // 2 × 3.0 × 0.85 = 5.1
        assert_eq!(word_budget(1000, "de"), 1); // 1 × 2.2 × 0.85 = 1.87
        assert_eq!(word_budget(4000, "en"), 8); // 4 × 2.5 × 0.85 = 8.5
        assert_eq!(word_budget(10_000, "ja"), 34); // 10 × 4.0 × 0.85 = 34.0 exactly
        assert_eq!(word_budget(20_000, "zh"), 59); // 20 × 3.5 × 0.85 = 59.5
        assert_eq!(word_budget(100_000, "es"), 255); // exactly 255; naive floats give 254
    }

    #[test]
    fn budget_is_at_least_one() {
        assert_eq!(word_budget(0, "es"), 1);
        assert_eq!(word_budget(100, "de"), 1);
        assert!(word_budget(u64::MAX, "ja") >= 1);
    }

    #[test]
    fn budget_exact_products_do_not_lose_a_word() {
        // Every multiple of 10 ms up to 10 minutes against an exact rational computation.
        for lang in ["en", "es", "de", "ja", "zh", "ar"] {
            let wps_centi = (words_per_second(lang) * 100.0).round() as u64;
            for d in (0..600_000).step_by(10) {
                let exact = (d * wps_centi * 85 / 10_000_000).max(1) as u32;
                assert_eq!(word_budget(d, lang), exact, "{lang} {d} ms");
            }
        }
    }

    #[test]
    fn counts_whitespace_words() {
        assert_eq!(word_count("I didn't know you were there."), 6);
        assert_eq!(word_count("  Hola,   ¿qué tal?  "), 3);
        assert_eq!(word_count("Wait — what ..."), 2);
        assert_eq!(word_count(""), 0);
        assert_eq!(word_count("well-known fact"), 2);
    }

    #[test]
    fn counts_cjk_by_half_characters() {
        assert_eq!(word_count("こんにちは"), 3); // 5 characters → 2.5 → 3
        assert_eq!(word_count("我是学生。"), 2); // 4 characters; 。 is punctuation
        assert_eq!(word_count("2020年に東京へ"), 1 + 3); // "2020" + 5 characters
    }
}
