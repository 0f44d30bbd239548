// The upload form's values → the job's `options` JSON. Pure.

import type { JobOptions } from './types';

export const LANGUAGES: [code: string, name: string][] = [
  ['en', 'English'],
  ['es', 'Spanish'],
  ['fr', 'French'],
  ['de', 'German'],
  ['it', 'Italian'],
  ['pt', 'Portuguese'],
  ['ca', 'Catalan'],
];

export interface FormValues {
  to: string;
  from: string; // "" or "detect" = detect
  review: boolean;
  background: string; // "" = server default
  subtitles: string;
  keep_original_audio: boolean;
  asr: string;
  speakers: string;
  min_speakers: string;
  max_speakers: string;
  translator: string;
  formality: string;
  voices: string;
}

export type BuildResult = { ok: true; options: JobOptions } | { ok: false; error: string };

function count(v: string, name: string): number | string | undefined {
  const t = v.trim();
  if (!t) return undefined;
  const n = Number(t);
  if (!Number.isInteger(n) || n < 1 || n > 32) return `${name} must be a whole number from 1 to 32`;
  return n;
}

export function buildOptions(v: FormValues): BuildResult {
  if (!v.to) return { ok: false, error: 'Choose the language to dub into.' };
  const from = v.from && v.from !== 'detect' ? v.from : undefined;
  if (from && from === v.to) return { ok: false, error: 'The source and target languages are the same.' };
  const o: JobOptions = { to: v.to, review: v.review };
  if (from) o.from = from;
  if (v.background) o.background = v.background as JobOptions['background'];
  if (v.subtitles) o.subtitles = v.subtitles as JobOptions['subtitles'];
  if (v.keep_original_audio) o.keep_original_audio = true;
  if (v.asr) o.asr = v.asr as JobOptions['asr'];
  if (v.translator) o.translator = v.translator as JobOptions['translator'];
  if (v.formality) o.formality = v.formality as JobOptions['formality'];
  if (v.voices) o.voices = v.voices as JobOptions['voices'];
  for (const key of ['speakers', 'min_speakers', 'max_speakers'] as const) {
    const n = count(v[key], key.replace('_', ' '));
    if (typeof n === 'string') return { ok: false, error: n };
    if (n !== undefined) o[key] = n;
  }
  if (o.min_speakers && o.max_speakers && o.min_speakers > o.max_speakers)
    return { ok: false, error: 'min speakers is more than max speakers' };
  if (o.speakers && (o.min_speakers || o.max_speakers))
    return { ok: false, error: 'Give either an exact number of speakers or a range, not both.' };
  return { ok: true, options: o };
}
