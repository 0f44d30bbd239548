//! Translation with a chat model (a remote OpenAI-compatible server or the local GGUF model):
//! one request per window of lines, with the neighbouring lines and each line's speaker as
//! context, each line's word budget, the glossary terms that occur in the window and the
//! register. The reply is one JSON object; lines that come back longer than 1.5 × their budget
//! are asked for once more, shorter, at temperature 0.2, and the shorter of the two versions is
//! kept (a line is never padded to reach a budget).

use crate::glossary::Glossary;
use crate::style::{self, Register};
use crate::word_count;
use redub_core::{
    ChatMessage, ChatModel, ChatOptions, Ctx, Error, Flag, Result, Translation, TranslationWindow, Translator,
};
use serde_json::{json, Value};

/// A line over this multiple of its budget is retried once.
pub const RETRY_FACTOR: f64 = 1.5;
/// Temperature of the stricter retry (DESIGN §1, translate).
pub const RETRY_TEMPERATURE: f32 = 0.2;

#[derive(Clone, Debug, PartialEq)]
pub struct LlmSettings {
    /// Sampling temperature of the first attempt.
    pub temperature: f32,
    pub glossary: Glossary,
    pub register: Register,
}

impl Default for LlmSettings {
    fn default() -> Self {
        Self { temperature: 0.3, glossary: Glossary::default(), register: Register::default() }
    }
}

pub struct LlmTranslator {
    model: Box<dyn ChatModel + Send>,
    settings: LlmSettings,
}

impl std::fmt::Debug for LlmTranslator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmTranslator").field("model", &self.model.name()).finish_non_exhaustive()
    }
}

/// One line as parsed from a reply.
#[derive(Clone, Debug, PartialEq)]
struct Reply {
    text: String,
    names: Vec<String>,
    idioms: Vec<String>,
}

impl LlmTranslator {
    pub fn new(model: Box<dyn ChatModel + Send>, settings: LlmSettings) -> Self {
        Self { model, settings }
    }

    /// The model's name, for cache keys.
    pub fn model_name(&self) -> String {
        self.model.name()
    }

    fn system_prompt(&self, window: &TranslationWindow, from: &str, to: &str) -> String {
        let (from_name, to_name) = (redub_core::lang::name(from), redub_core::lang::name(to));
        let mut s = format!(
            "You translate film dialogue from {from_name} to {to_name} for dubbing. A voice actor will speak each \
             translated line in the time the original line took, so each translation must have at most `max_words` \
             words; fewer is better when the meaning survives. Never add words to fill time. Keep the meaning, the \
             tone and how each speaker talks; this is spoken dialogue, so use natural, short, everyday phrasing. \
             Translate every entry of `lines`, and only those: `before` and `after` are the neighbouring lines, \
             there so you understand the conversation. Keep names of people and places as they are.\n"
        );
        let mut terms = Vec::new();
        let mut keep = Vec::new();
        for item in window.items {
            for e in self.settings.glossary.applicable(&item.text) {
                if e.keep() {
                    keep.push(e.source.clone());
                } else {
                    terms.push(format!("\"{}\" → \"{}\"", e.source, e.target));
                }
            }
        }
        terms.sort();
        terms.dedup();
        keep.sort();
        keep.dedup();
        if !terms.is_empty() {
            s.push_str(&format!("Glossary (always use these translations): {}.\n", terms.join("; ")));
        }
        if !keep.is_empty() {
            s.push_str(&format!("Never translate these terms, copy them exactly: {}.\n", keep.join(", ")));
        }
        let mut registers: Vec<String> = Vec::new();
        if let Some(f) = self.settings.register.default {
            registers.push(format!("by default {}", style::describe(f, to)));
        }
        for item in window.items {
            if let (Some(sp), Some(f)) =
                (item.speaker.as_deref(), self.settings.register.speakers.get(item.speaker.as_deref().unwrap_or("")))
            {
                let d = format!("speaker {sp}: {}", style::describe(*f, to));
                if !registers.contains(&d) {
                    registers.push(d);
                }
            }
        }
        if !registers.is_empty() {
            s.push_str(&format!("Register: {}.\n", registers.join("; ")));
        }
        s.push_str(
            "Reply with one JSON object and nothing else: {\"lines\": [{\"id\": <id>, \"text\": \"<translation>\", \
             \"names\": [<proper names in the line>], \"idioms\": [<idioms you had to adapt>]}]}, one entry per line, \
             in the same order. `names` and `idioms` may be empty lists.",
        );
        s
    }

    fn user_message(window: &TranslationWindow, items: &[(usize, Option<&str>)], to: &str) -> String {
        let ctx = |lines: &[redub_core::ContextLine]| -> Vec<Value> {
            lines.iter().map(|l| json!({ "speaker": l.speaker, "text": l.text })).collect()
        };
        let lines: Vec<Value> = items
            .iter()
            .map(|(i, previous)| {
                let item = &window.items[*i];
                let mut v = json!({
                    "id": item.id,
                    "speaker": item.speaker,
                    "text": item.text,
                    "max_words": item.budget_words,
                });
                if let Some(p) = previous {
                    v["previous_translation"] = json!(p);
                    v["previous_words"] = json!(word_count(p));
                }
                v
            })
            .collect();
        json!({
            "target_language": to,
            "before": ctx(window.before),
            "lines": lines,
            "after": ctx(window.after),
        })
        .to_string()
    }

    fn max_tokens(window: &TranslationWindow, n: usize) -> u32 {
        // Generous: a word is about 2–3 tokens in most languages, plus JSON and the review lists.
        let words: u32 = window.items.iter().map(|i| i.text.split_whitespace().count() as u32 + i.budget_words).sum();
        (words * 4 + 60 * n as u32 + 100).clamp(256, 4096)
    }

    /// Ask, parse, and ask once more if the reply cannot be read.
    fn ask(&mut self, messages: Vec<ChatMessage>, options: &ChatOptions, ids: &[u32]) -> Result<Vec<Reply>> {
        let raw = self.model.complete(&messages, options)?;
        match parse_reply(&raw, ids) {
            Ok(r) => Ok(r),
            Err(problem) => {
                let mut again = messages;
                again.push(ChatMessage::assistant(raw));
                again.push(ChatMessage::user(format!(
                    "That reply could not be used: {problem}. Reply again with only the JSON object described, \
                     with exactly {} entries in `lines` (ids {ids:?}).",
                    ids.len()
                )));
                let raw = self.model.complete(&again, options)?;
                parse_reply(&raw, ids).map_err(|p| {
                    Error::backend(
                        "translate",
                        format!(
                            "{} replied twice with something that is not the expected JSON ({p}); first 200 characters: \
                             {:?}. Try another model, or check that the server supports JSON output",
                            self.model.name(),
                            raw.chars().take(200).collect::<String>()
                        ),
                    )
                })
            }
        }
    }
}

impl Translator for LlmTranslator {
    fn translate(&mut self, window: &TranslationWindow, from: &str, to: &str, ctx: &Ctx) -> Result<Vec<Translation>> {
        ctx.check_cancel()?;
        let live: Vec<usize> = (0..window.items.len()).filter(|i| !window.items[*i].text.trim().is_empty()).collect();
        let mut out: Vec<Translation> = vec![Translation::default(); window.items.len()];
        if live.is_empty() {
            return Ok(out);
        }
        let system = self.system_prompt(window, from, to);
        let ids: Vec<u32> = live.iter().map(|i| window.items[*i].id).collect();
        let items: Vec<(usize, Option<&str>)> = live.iter().map(|i| (*i, None)).collect();
        let options = ChatOptions {
            temperature: self.settings.temperature,
            max_tokens: Self::max_tokens(window, live.len()),
            json: true,
        };
        let first = self.ask(
            vec![ChatMessage::system(system.clone()), ChatMessage::user(Self::user_message(window, &items, to))],
            &options,
            &ids,
        )?;
        let mut replies: Vec<Reply> = first;

        // Lines far over budget get one stricter, cooler retry; the shorter version wins.
        let too_long: Vec<usize> = (0..live.len())
            .filter(|k| {
                let budget = f64::from(window.items[live[*k]].budget_words);
                f64::from(word_count(&replies[*k].text)) > RETRY_FACTOR * budget
            })
            .collect();
        if !too_long.is_empty() {
            ctx.check_cancel()?;
            let retry_items: Vec<(usize, Option<&str>)> =
                too_long.iter().map(|k| (live[*k], Some(replies[*k].text.as_str()))).collect();
            let retry_ids: Vec<u32> = too_long.iter().map(|k| window.items[live[*k]].id).collect();
            let strict = format!(
                "{system}\nIMPORTANT: the previous translations of these lines are too long to be spoken in time. \
                 Rewrite each in at most `max_words` words (count them). Shorten: drop filler, repetitions and \
                 politeness padding, use shorter words, keep only the core meaning. The result must be shorter than \
                 `previous_translation`."
            );
            let options = ChatOptions { temperature: RETRY_TEMPERATURE, ..options.clone() };
            let shorter = self.ask(
                vec![ChatMessage::system(strict), ChatMessage::user(Self::user_message(window, &retry_items, to))],
                &options,
                &retry_ids,
            )?;
            for (k, r) in too_long.iter().zip(shorter) {
                if !r.text.trim().is_empty() && word_count(&r.text) < word_count(&replies[*k].text) {
                    replies[*k] = r;
                }
            }
        }

        for (k, r) in live.iter().zip(replies) {
            let mut t = Translation::plain(r.text.trim());
            let mut notes = Vec::new();
            if !r.names.is_empty() {
                t.flags.push(Flag::ProperNoun);
                notes.push(format!("names: {}", r.names.join(", ")));
            }
            if !r.idioms.is_empty() {
                t.flags.push(Flag::Idiom);
                notes.push(format!("idioms: {}", r.idioms.join(", ")));
            }
            t.note = (!notes.is_empty()).then(|| notes.join("; "));
            out[*k] = t;
        }
        ctx.progress(window.items.len() as u64, window.items.len() as u64);
        Ok(out)
    }
}

/// Read a model's reply: one JSON object with a list of lines (tolerating code fences, text
/// around the object, other key names and plain strings), matched to `ids` by id or, failing
/// that, by position when the count is right.
fn parse_reply(raw: &str, ids: &[u32]) -> std::result::Result<Vec<Reply>, String> {
    let body = raw.trim();
    let start = body.find(['{', '[']).ok_or("no JSON object in the reply")?;
    let end = body.rfind(['}', ']']).filter(|e| *e >= start).ok_or("the JSON object is not closed")?;
    let value: Value = serde_json::from_str(&body[start..=end]).map_err(|e| format!("invalid JSON: {e}"))?;
    let list = match &value {
        Value::Array(a) => a.clone(),
        Value::Object(o) => ["lines", "translations", "items", "result"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_array).cloned())
            .or_else(|| o.values().find_map(|v| v.as_array().cloned()))
            .ok_or("no list of lines in the JSON object")?,
        _ => return Err("the reply is not a JSON object".into()),
    };
    let strings = |v: Option<&Value>| -> Vec<String> {
        match v {
            Some(Value::Array(a)) => {
                a.iter().filter_map(|x| x.as_str()).map(str::to_string).filter(|s| !s.trim().is_empty()).collect()
            }
            Some(Value::String(s)) if !s.trim().is_empty() => vec![s.clone()],
            _ => Vec::new(),
        }
    };
    let mut parsed: Vec<(Option<u32>, Reply)> = Vec::new();
    for entry in &list {
        let (id, reply) = match entry {
            Value::String(s) => (None, Reply { text: s.clone(), names: vec![], idioms: vec![] }),
            Value::Object(o) => {
                let text = ["text", "translation", "target", "target_text"]
                    .iter()
                    .find_map(|k| o.get(*k).and_then(Value::as_str))
                    .ok_or("a line has no `text`")?;
                let id =
                    o.get("id").and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())));
                (
                    id.and_then(|i| u32::try_from(i).ok()),
                    Reply { text: text.to_string(), names: strings(o.get("names")), idioms: strings(o.get("idioms")) },
                )
            }
            _ => return Err("a line is neither an object nor a string".into()),
        };
        parsed.push((id, reply));
    }
    let by_id: Option<Vec<Reply>> =
        ids.iter().map(|want| parsed.iter().find(|(id, _)| *id == Some(*want)).map(|(_, r)| r.clone())).collect();
    if let Some(r) = by_id {
        return Ok(r);
    }
    if parsed.len() == ids.len() {
        return Ok(parsed.into_iter().map(|(_, r)| r).collect());
    }
    Err(format!("expected {} lines, got {}", ids.len(), parsed.len()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use redub_core::{ContextLine, TranslationItem};
    use std::sync::{Arc, Mutex};

    type Seen = Arc<Mutex<Vec<(Vec<ChatMessage>, ChatOptions)>>>;

    /// A chat model that replies from a script and records what it was asked.
    struct Scripted {
        replies: Vec<String>,
        seen: Seen,
    }

    impl ChatModel for Scripted {
        fn complete(&mut self, messages: &[ChatMessage], options: &ChatOptions) -> Result<String> {
            self.seen.lock().unwrap().push((messages.to_vec(), options.clone()));
            if self.replies.is_empty() {
                return Err(Error::backend("scripted", "no more replies"));
            }
            Ok(self.replies.remove(0))
        }
        fn name(&self) -> String {
            "scripted".into()
        }
    }

    fn item(id: u32, text: &str, budget: u32) -> TranslationItem {
        TranslationItem { id, speaker: Some(format!("S{}", id % 2 + 1)), text: text.into(), budget_words: budget }
    }

    fn translator(replies: &[&str], settings: LlmSettings) -> (LlmTranslator, Seen) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let model = Scripted { replies: replies.iter().map(|s| s.to_string()).collect(), seen: seen.clone() };
        (LlmTranslator::new(Box::new(model), settings), seen)
    }

    #[test]
    fn parses_fenced_and_loose_replies() {
        let r = parse_reply(
            "```json\n{\"lines\":[{\"id\":2,\"text\":\"Hola\"},{\"id\":1,\"text\":\"Adiós\"}]}\n```",
            &[1, 2],
        )
        .unwrap();
        assert_eq!(r[0].text, "Adiós");
        assert_eq!(r[1].text, "Hola");
        let r = parse_reply("Sure! {\"translations\": [\"uno\", \"dos\"]} Hope it helps", &[5, 6]).unwrap();
        assert_eq!(r[1].text, "dos");
        let r =
            parse_reply("{\"lines\":[{\"id\":\"7\",\"translation\":\"x\",\"names\":[\"Ana\"],\"idioms\":[]}]}", &[7])
                .unwrap();
        assert_eq!(r[0].names, vec!["Ana"]);
        assert!(parse_reply("no json", &[1]).is_err());
        assert!(parse_reply("{\"lines\":[{\"id\":1,\"text\":\"a\"}]}", &[1, 2])
            .unwrap_err()
            .contains("expected 2 lines"));
    }

    #[test]
    fn a_window_is_one_request_with_context_budgets_glossary_and_register() {
        let glossary = Glossary::parse("Starfleet\tFlota Estelar\nEnterprise\n", "g").unwrap();
        let register = Register { default: Some(style::Formality::Formal), ..Default::default() };
        let (mut t, seen) = translator(
            &["{\"lines\":[{\"id\":3,\"text\":\"La Flota Estelar llama.\",\"names\":[\"Flota Estelar\"]},{\"id\":4,\"text\":\"Vamos al Enterprise.\"}]}"],
            LlmSettings { glossary, register, ..Default::default() },
        );
        let items = [item(3, "Starfleet is calling.", 4), item(4, "Let's go to the Enterprise.", 5)];
        let before = [ContextLine { speaker: Some("S1".into()), text: "Who's there?".into() }];
        let after = [ContextLine { speaker: None, text: "Later.".into() }];
        let w = TranslationWindow { items: &items, before: &before, after: &after };
        let out = t.translate(&w, "en", "es", &Ctx::quiet()).unwrap();
        assert_eq!(out[0].text, "La Flota Estelar llama.");
        assert_eq!(out[0].flags, vec![Flag::ProperNoun]);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        let (messages, options) = &seen[0];
        assert!(options.json);
        let system = &messages[0].content;
        assert!(system.contains("\"Starfleet\" → \"Flota Estelar\"") && system.contains("Enterprise"), "{system}");
        assert!(system.contains("usted"), "{system}");
        let user: Value = serde_json::from_str(&messages[1].content).unwrap();
        assert_eq!(user["lines"][0]["max_words"], 4);
        assert_eq!(user["lines"][1]["speaker"], "S1");
        assert_eq!(user["before"][0]["text"], "Who's there?");
        assert_eq!(user["after"][0]["text"], "Later.");
    }

    #[test]
    fn too_long_lines_are_retried_once_cooler_and_never_lengthened() {
        let (mut t, seen) = translator(
            &[
                "{\"lines\":[{\"id\":1,\"text\":\"uno dos tres cuatro cinco seis siete\"},{\"id\":2,\"text\":\"bien\"}]}",
                "{\"lines\":[{\"id\":1,\"text\":\"uno dos tres\"}]}",
            ],
            LlmSettings::default(),
        );
        let items = [item(1, "one two three four", 4), item(2, "fine", 2)];
        let out = t.translate(&TranslationWindow::new(&items), "en", "es", &Ctx::quiet()).unwrap();
        assert_eq!(out[0].text, "uno dos tres");
        assert_eq!(out[1].text, "bien");
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[1].1.temperature, RETRY_TEMPERATURE);
        let user: Value = serde_json::from_str(&seen[1].0[1].content).unwrap();
        assert_eq!(user["lines"].as_array().unwrap().len(), 1, "only the long line is retried");
        assert_eq!(user["lines"][0]["previous_words"], 7);

        // A retry that comes back longer is ignored.
        let (mut t, _) = translator(
            &[
                "{\"lines\":[{\"id\":1,\"text\":\"a b c d e f g\"}]}",
                "{\"lines\":[{\"id\":1,\"text\":\"a b c d e f g h i\"}]}",
            ],
            LlmSettings::default(),
        );
        let items = [item(1, "x", 2)];
        let out = t.translate(&TranslationWindow::new(&items), "en", "es", &Ctx::quiet()).unwrap();
        assert_eq!(out[0].text, "a b c d e f g");
    }

    #[test]
    fn a_malformed_reply_is_asked_again_then_fails_clearly() {
        let (mut t, seen) =
            translator(&["not json", "{\"lines\":[{\"id\":1,\"text\":\"hola\"}]}"], LlmSettings::default());
        let items = [item(1, "hi", 3)];
        let out = t.translate(&TranslationWindow::new(&items), "en", "es", &Ctx::quiet()).unwrap();
        assert_eq!(out[0].text, "hola");
        assert_eq!(seen.lock().unwrap()[1].0.len(), 4, "the bad reply and the correction are in the second request");

        let (mut t, _) = translator(&["nope", "still nope"], LlmSettings::default());
        let e = t.translate(&TranslationWindow::new(&items), "en", "es", &Ctx::quiet()).unwrap_err().to_string();
        assert!(e.contains("scripted") && e.contains("not the expected JSON"), "{e}");
    }
}
