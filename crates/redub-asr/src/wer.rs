//! Word error rate: (substitutions + deletions + insertions) / reference words, on lower-cased
//! words with punctuation removed (apostrophes inside words are kept: "didn't" stays one word).
//! Other punctuation separates words, as in Whisper's own normaliser: "ill-disposed" and "ill
//! disposed" are the same two words, not one word against two.

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WerReport {
    pub substitutions: usize,
    pub deletions: usize,
    pub insertions: usize,
    pub reference_words: usize,
}

impl WerReport {
    pub fn rate(&self) -> f64 {
        if self.reference_words == 0 {
            return if self.insertions == 0 { 0.0 } else { 1.0 };
        }
        (self.substitutions + self.deletions + self.insertions) as f64 / self.reference_words as f64
    }
}

/// Lower-case words with punctuation stripped; punctuation other than an apostrophe splits.
pub fn normalize_words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '\u{2019}'))
        .map(|w| w.replace('\u{2019}', "'").trim_matches('\'').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Levenshtein alignment over words, counting each kind of error.
pub fn word_error_rate(reference: &str, hypothesis: &str) -> WerReport {
    align(&normalize_words(reference), &normalize_words(hypothesis))
}

/// Character error rate: the same alignment over the characters of the normalized words, with
/// the spaces between words left out (`reference_words` then counts characters). Short dubbed
/// lines are judged by it: one wrong word of three is 33% WER but often one letter.
pub fn char_error_rate(reference: &str, hypothesis: &str) -> WerReport {
    let chars = |t: &str| normalize_words(t).concat().chars().collect::<Vec<char>>();
    align(&chars(reference), &chars(hypothesis))
}

/// Levenshtein alignment of two token sequences, counting each kind of error.
fn align<T: PartialEq>(r: &[T], h: &[T]) -> WerReport {
    // cost[i][j] = (total, subs, dels, ins) aligning r[..i] with h[..j]
    let mut prev: Vec<(usize, usize, usize, usize)> = (0..=h.len()).map(|j| (j, 0, 0, j)).collect();
    for i in 1..=r.len() {
        let mut cur = vec![(i, 0, i, 0)];
        for j in 1..=h.len() {
            let diag = prev[j - 1];
            let sub = if r[i - 1] == h[j - 1] { diag } else { (diag.0 + 1, diag.1 + 1, diag.2, diag.3) };
            let del = {
                let p = prev[j];
                (p.0 + 1, p.1, p.2 + 1, p.3)
            };
            let ins = {
                let p = cur[j - 1];
                (p.0 + 1, p.1, p.2, p.3 + 1)
            };
            let best = [sub, del, ins].into_iter().min_by_key(|c| c.0).unwrap_or(sub);
            cur.push(best);
        }
        prev = cur;
    }
    let (_, s, d, i) = prev[h.len()];
    WerReport { substitutions: s, deletions: d, insertions: i, reference_words: r.len() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_error_kind() {
        let w = word_error_rate("the cat sat on the mat", "the cat sat on mat");
        assert_eq!((w.substitutions, w.deletions, w.insertions), (0, 1, 0));
        let w = word_error_rate("a b c", "a x c d");
        assert_eq!((w.substitutions, w.deletions, w.insertions), (1, 0, 1));
        assert!((w.rate() - 2.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn character_errors_ignore_spaces_case_and_punctuation() {
        // "hola mundo" against "ola mundo!": one deletion in nine letters.
        let c = char_error_rate("Hola, mundo.", "ola mundo!");
        assert_eq!((c.substitutions, c.deletions, c.insertions, c.reference_words), (0, 1, 0, 9));
        // Split differently, the same letters: no character error, two word errors.
        assert_eq!(char_error_rate("buenos días", "buenosdías").rate(), 0.0);
        assert_eq!(word_error_rate("buenos días", "buenosdías").rate(), 1.0);
    }

    #[test]
    fn normalization_ignores_case_and_punctuation() {
        assert_eq!(word_error_rate("Oh, hello. I didn't know!", "oh hello i didn't know").rate(), 0.0);
        assert_eq!(normalize_words("'Quoted' words, yes?"), vec!["quoted", "words", "yes"]);
        // A hyphen or a dot between letters separates words; a curly apostrophe is an apostrophe.
        assert_eq!(word_error_rate("ill disposed, cold hearted", "ill-disposed cold-hearted").rate(), 0.0);
        assert_eq!(normalize_words("www.asterisk.org didn\u{2019}t"), vec!["www", "asterisk", "org", "didn't"]);
    }
}
