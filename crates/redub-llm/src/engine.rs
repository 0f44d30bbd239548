//! The model itself (worker side only; the library never links llama.cpp): llama.cpp (through `llama-cpp-2`) on the CPU. One [`Engine`] holds one
//! loaded GGUF; each [`Engine::complete`] builds a fresh context sized for its prompt and reply,
//! so no state leaks from one request into the next (that is what makes temperature 0 repeat
//! itself exactly).

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;
use llama_cpp_2::token::LlamaToken;
use redub_core::{ChatMessage, ChatOptions, Error, Result, Role};
use redub_llm::{Completion, LocalLlmSettings, Stop};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

/// A JSON object, as llama.cpp's `json.gbnf` describes it, with the root forced to an object
/// (`ChatOptions::json` promises "one JSON object") and whitespace bounded so the model cannot
/// stall in an endless run of blanks.
pub const JSON_OBJECT_GBNF: &str = r#"
root   ::= "{" ws ( string ":" ws value ( "," ws string ":" ws value )* )? "}"
value  ::= object | array | string | number | ("true" | "false" | "null") ws
object ::= "{" ws ( string ":" ws value ( "," ws string ":" ws value )* )? "}" ws
array  ::= "[" ws ( value ( "," ws value )* )? "]" ws
string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}) )* "\"" ws
number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-10])? ws
ws     ::= | " " | "\n" [ \t]{0,20}
"#;

/// Tokens decoded per `llama_decode` call while reading the prompt.
const BATCH: usize = 512;

fn fail(e: impl std::fmt::Display) -> Error {
    Error::backend("llm", e)
}

/// llama.cpp's global state: initialised once per process and never torn down, so that several
/// engines (or tests) in one process share it.
fn backend() -> Result<&'static LlamaBackend> {
    static BACKEND: OnceLock<std::result::Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            let mut b = LlamaBackend::init().map_err(|e| e.to_string())?;
            // llama.cpp prints every tensor and setting it loads to stderr.
            b.void_logs();
            Ok(b)
        })
        .as_ref()
        .map_err(|e| fail(format!("cannot initialise llama.cpp: {e}")))
}

/// A loaded GGUF chat model.
pub struct Engine {
    model: LlamaModel,
    template: LlamaChatTemplate,
    path: PathBuf,
    threads: i32,
    max_context: u32,
    seed: u32,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("model", &self.path).field("threads", &self.threads).finish_non_exhaustive()
    }
}

impl Engine {
    /// Load the model file named by `settings` (memory-mapped, CPU only).
    pub fn load(settings: &LocalLlmSettings) -> Result<Self> {
        let path = settings.model_path()?;
        let backend = backend()?;
        let model = LlamaModel::load_from_file(backend, &path, &LlamaModelParams::default())
            .map_err(|e| fail(format!("cannot load {}: {e}. Rerun `make setup` to reinstall it", path.display())))?;
        let template = model.chat_template(None).map_err(|e| {
            fail(format!("{} has no usable chat template ({e}); use an instruct (chat) model", path.display()))
        })?;
        let threads = i32::try_from(settings.threads.max(1)).unwrap_or(i32::MAX);
        let max_context = settings.max_context.min(model.n_ctx_train()).max(256);
        Ok(Self { model, template, path, threads, max_context, seed: settings.seed })
    }

    pub fn model_path(&self) -> &Path {
        &self.path
    }

    /// The prompt the model sees for `messages`: its own chat template, ending where the
    /// assistant's reply starts.
    pub fn prompt(&self, messages: &[ChatMessage]) -> Result<String> {
        let chat = messages
            .iter()
            .map(|m| {
                let role = match m.role {
                    Role::System => "system",
                    Role::User => "user",
                    Role::Assistant => "assistant",
                };
                LlamaChatMessage::new(role.to_string(), m.content.clone())
                    .map_err(|e| fail(format!("a {role} message cannot be passed to llama.cpp: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        self.model.apply_chat_template(&self.template, &chat, true).map_err(|e| fail(format!("chat template: {e}")))
    }

    /// Answer `messages` with one assistant message.
    pub fn complete(&mut self, messages: &[ChatMessage], options: &ChatOptions) -> Result<Completion> {
        if messages.is_empty() {
            return Err(fail("no messages to answer"));
        }
        let prompt = self.prompt(messages)?;
        let vocab = self.model.vocab();
        // The template already holds the special tokens (`<|im_start|>` …): parse them, add none.
        let tokens = vocab.tokenize(prompt.as_bytes(), false, true);
        let max_tokens = options.max_tokens.max(1);
        let needed = tokens.len() as u64 + u64::from(max_tokens) + 1;
        if needed > u64::from(self.max_context) {
            return Err(fail(format!(
                "the prompt ({} tokens) and the reply (max_tokens {max_tokens}) need {needed} tokens of context; \
                 this model is set up for {}. Send fewer lines per request or lower max_tokens",
                tokens.len(),
                self.max_context
            )));
        }
        let n_ctx = u32::try_from(needed).unwrap_or(u32::MAX);
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(n_ctx))
            .with_n_batch(BATCH as u32)
            .with_n_threads(self.threads)
            .with_n_threads_batch(self.threads);
        let backend = backend()?;
        let mut ctx =
            self.model.new_context(backend, params).map_err(|e| fail(format!("cannot make a context: {e}")))?;

        let started = Instant::now();
        let mut batch = LlamaBatch::new(BATCH, 1);
        let mut pos: i32 = 0;
        for chunk in tokens.chunks(BATCH) {
            batch.clear();
            for (i, t) in chunk.iter().enumerate() {
                let last = pos as usize + i + 1 == tokens.len();
                batch.add(*t, pos + i as i32, &[0], last).map_err(fail)?;
            }
            ctx.decode(&mut batch).map_err(|e| fail(format!("reading the prompt: {e}")))?;
            pos += chunk.len() as i32;
        }
        let prompt_ms = started.elapsed().as_millis() as u64;

        let started = Instant::now();
        let mut sampler = self.sampler(options.temperature);
        let mut grammar = if options.json {
            Some(
                LlamaSampler::grammar(&self.model, JSON_OBJECT_GBNF, "root")
                    .map_err(|e| fail(format!("JSON grammar: {e}")))?,
            )
        } else {
            None
        };
        let mut out: Vec<u8> = Vec::new();
        let mut produced: u32 = 0;
        let mut stop = Stop::MaxTokens;
        let mut idx = batch.n_tokens() - 1;
        while produced < max_tokens {
            let token = next_token(&ctx, idx, &mut sampler, grammar.as_mut());
            if vocab.is_eog(token) {
                stop = Stop::End;
                break;
            }
            vocab.token_to_piece_into(token, &mut out, false, None);
            produced += 1;
            if produced == max_tokens {
                break;
            }
            batch.clear();
            batch.add(token, pos, &[0], true).map_err(fail)?;
            pos += 1;
            ctx.decode(&mut batch).map_err(|e| fail(format!("generating: {e}")))?;
            idx = 0;
        }
        let generation_ms = started.elapsed().as_millis() as u64;
        Ok(Completion {
            text: String::from_utf8_lossy(&out).into_owned(),
            stop,
            prompt_tokens: tokens.len() as u32,
            completion_tokens: produced,
            prompt_ms,
            generation_ms,
        })
    }

    /// Greedy at temperature 0 (exactly repeatable); otherwise the usual top-k / top-p / min-p
    /// cut before the temperature, drawn from a seeded generator, so a given request and seed
    /// also repeat.
    fn sampler(&self, temperature: f32) -> LlamaSampler {
        if temperature.is_nan() || temperature <= 0.0 {
            return LlamaSampler::greedy();
        }
        LlamaSampler::chain_simple([
            LlamaSampler::top_k(40),
            LlamaSampler::top_p(0.95, 1),
            LlamaSampler::min_p(0.05, 1),
            LlamaSampler::temp(temperature),
            LlamaSampler::dist(self.seed),
        ])
    }
}

/// Sample the next token. With a grammar, the token is drawn freely first and the grammar is
/// asked only about that one token; only when it refuses is the grammar applied to the whole
/// vocabulary (150k entries for Qwen) and the token drawn again. Same result as constraining
/// every step, about a third faster here (llama.cpp's own `common_sampler` does the same).
fn next_token(
    ctx: &LlamaContext,
    idx: i32,
    sampler: &mut LlamaSampler,
    grammar: Option<&mut LlamaSampler>,
) -> LlamaToken {
    let token = sampler.sample(ctx, idx);
    let Some(grammar) = grammar else {
        return token;
    };
    let logit = ctx.get_logits_ith(idx).get(token.0 as usize).copied().unwrap_or(0.0);
    let mut one = LlamaTokenDataArray::new(vec![LlamaTokenData::new(token, logit, 0.0)], false);
    one.apply_sampler(grammar);
    let allowed = one.data.first().is_some_and(|d| d.logit().is_finite());
    let token = if allowed {
        token
    } else {
        let mut all = ctx.token_data_array_ith(idx);
        all.apply_sampler(grammar);
        all.apply_sampler(sampler);
        all.selected_token().unwrap_or(token)
    };
    grammar.accept(token);
    token
}
