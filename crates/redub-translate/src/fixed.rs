//! A deterministic stand-in translator, for tests only (pipeline tests, CLI tests): it starts
//! no process, loads no model and never fails.

use redub_core::{Ctx, Result, Translation, TranslationWindow, Translator};
use std::collections::HashMap;

/// **For tests only.** Returns the preset translation of a source text when one was given with
/// [`with`](Self::with), otherwise `"[to] text"` (e.g. `"[es] Hello?"`), so a test can see that a
/// line went through translation and into which language. Empty or whitespace-only lines give
/// `""`, as the real backends do. It records every window it was asked to translate.
#[derive(Clone, Debug, Default)]
pub struct FixedTranslator {
    presets: HashMap<String, String>,
    /// The item ids of each `translate` call, in order.
    pub calls: Vec<Vec<u32>>,
}

impl FixedTranslator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Translate `source` (matched after trimming) as `translation`.
    pub fn with(mut self, source: &str, translation: &str) -> Self {
        self.presets.insert(source.trim().to_string(), translation.to_string());
        self
    }
}

impl Translator for FixedTranslator {
    fn translate(&mut self, window: &TranslationWindow, _from: &str, to: &str, ctx: &Ctx) -> Result<Vec<Translation>> {
        ctx.check_cancel()?;
        let items = window.items;
        self.calls.push(items.iter().map(|i| i.id).collect());
        let out = items
            .iter()
            .map(|i| {
                let text = i.text.trim();
                Translation::plain(match self.presets.get(text) {
                    Some(preset) => preset.clone(),
                    None if text.is_empty() => String::new(),
                    None => format!("[{to}] {text}"),
                })
            })
            .collect();
        ctx.progress(items.len() as u64, items.len() as u64);
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use redub_core::TranslationItem;

    #[test]
    fn presets_then_tagged_echo() {
        let items: Vec<TranslationItem> = ["Hello?", "", "Bye."]
            .iter()
            .enumerate()
            .map(|(i, t)| TranslationItem { id: i as u32 + 7, speaker: None, text: t.to_string(), budget_words: 3 })
            .collect();
        let mut t = FixedTranslator::new().with("Hello?", "¿Hola?");
        let out: Vec<String> = t
            .translate(&TranslationWindow::new(&items), "en", "es", &Ctx::quiet())
            .unwrap()
            .into_iter()
            .map(|t| t.text)
            .collect();
        assert_eq!(out, vec!["¿Hola?", "", "[es] Bye."]);
        assert_eq!(t.calls, vec![vec![7, 8, 9]]);
    }
}
