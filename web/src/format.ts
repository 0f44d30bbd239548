// Pure formatting helpers: stage names, progress, times.

export const STAGES = [
  '01-ingest',
  '02-vad',
  '03-separate',
  '04-transcribe',
  '05-diarize',
  '06-translate',
  '07-voices',
  '08-synthesize',
  '09-render',
  '10-mux',
  '11-qa',
] as const;

export type StageName = (typeof STAGES)[number];

const LABELS: Record<string, string> = {
  '01-ingest': 'Ingest',
  '02-vad': 'Voice activity',
  '03-separate': 'Separate',
  '04-transcribe': 'Transcribe',
  '05-diarize': 'Diarize',
  '06-translate': 'Translate',
  '07-voices': 'Voices',
  '08-synthesize': 'Synthesize',
  '09-render': 'Render',
  '10-mux': 'Mux',
  '11-qa': 'QA',
};

/** "04-transcribe" → "Transcribe"; unknown names are returned as they are. */
export function stageLabel(stage: string): string {
  return LABELS[stage] ?? stage;
}

export function stageIndex(stage: string | null | undefined): number {
  return stage ? (STAGES as readonly string[]).indexOf(stage) : -1;
}

/** Percentage 0-100 (integer) of done/total; null when total is unknown or 0. */
export function percent(done: number | undefined, total: number | undefined): number | null {
  if (done == null || total == null || !(total > 0)) return null;
  const p = Math.floor((Math.max(0, done) / total) * 100);
  return Math.min(100, p);
}

/** 1234 → "1.2 s", 65000 → "1 m 05 s", 450 → "450 ms". */
export function duration(ms: number | undefined | null): string {
  if (ms == null || !Number.isFinite(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} m ${String(s % 60).padStart(2, '0')} s`;
}

/** Media timestamp: 6721 ms → "0:06.7"; 3_725_000 → "1:02:05.0". */
export function timestamp(ms: number): string {
  const neg = ms < 0;
  const t = Math.abs(ms);
  const tenths = Math.floor((t % 1000) / 100);
  const totalS = Math.floor(t / 1000);
  const h = Math.floor(totalS / 3600);
  const m = Math.floor((totalS % 3600) / 60);
  const s = totalS % 60;
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m);
  const body = `${h > 0 ? `${h}:` : ''}${mm}:${String(s).padStart(2, '0')}.${tenths}`;
  return neg ? `-${body}` : body;
}

/** Seconds (media currentTime) → "m:ss". */
export function clock(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '0:00';
  const s = Math.floor(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** Kibibytes → "12 MB". */
export function memory(kb: number | undefined): string {
  if (kb == null) return '';
  if (kb < 1024) return `${kb} KB`;
  if (kb < 1024 * 1024) return `${Math.round(kb / 1024)} MB`;
  return `${(kb / 1024 / 1024).toFixed(1)} GB`;
}

const FLAG_LABELS: Record<string, string> = {
  over_budget: 'over budget',
  over_time: 'over time',
  glossary_miss: 'glossary miss',
  proper_noun: 'proper noun',
  idiom: 'idiom',
  low_asr_confidence: 'low ASR confidence',
  does_not_fit: 'does not fit',
  unintelligible: 'unintelligible',
};

export function flagLabel(flag: string): string {
  return FLAG_LABELS[flag] ?? flag.replace(/_/g, ' ');
}

/** Severity class for a flag badge: "bad" ones block a good dub, "warn" ones need a look. */
export function flagSeverity(flag: string): 'bad' | 'warn' | 'info' {
  if (flag === 'does_not_fit' || flag === 'unintelligible') return 'bad';
  if (flag === 'proper_noun' || flag === 'idiom') return 'info';
  return 'warn';
}

/** A stable colour per speaker: S1, S2, ... get well separated hues; other names hash. */
export function speakerColor(speaker: string): string {
  const palette = ['#2563eb', '#d9480f', '#2b8a3e', '#9c36b5', '#c2255c', '#0b7285', '#e67700', '#5c7cfa'];
  const m = /^S(\d+)$/.exec(speaker);
  let i: number;
  if (m) i = (Number(m[1]) - 1) % palette.length;
  else {
    let h = 0;
    for (const c of speaker) h = (h * 31 + c.charCodeAt(0)) >>> 0;
    i = h % palette.length;
  }
  return palette[(i + palette.length) % palette.length];
}
