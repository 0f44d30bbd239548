import { describe, expect, it } from 'vitest';
import { buildOptions, type FormValues } from './options';

const base: FormValues = {
  to: 'es', from: 'detect', review: true, background: '', subtitles: '', keep_original_audio: false,
  asr: '', speakers: '', min_speakers: '', max_speakers: '', translator: '', formality: '', voices: '',
};

describe('buildOptions', () => {
  it('sends only what was chosen; detect means no `from`', () => {
    expect(buildOptions(base)).toEqual({ ok: true, options: { to: 'es', review: true } });
  });
  it('requires a target', () => {
    expect(buildOptions({ ...base, to: '' }).ok).toBe(false);
  });
  it('passes every option through', () => {
    const r = buildOptions({ ...base, from: 'en', review: false, background: 'duck', subtitles: 'embed', keep_original_audio: true,
      asr: 'onnx', min_speakers: '2', max_speakers: '3', translator: 'local', formality: 'formal', voices: 'stock' });
    expect(r).toEqual({ ok: true, options: { to: 'es', from: 'en', review: false, background: 'duck', subtitles: 'embed',
      keep_original_audio: true, asr: 'onnx', min_speakers: 2, max_speakers: 3, translator: 'local', formality: 'formal', voices: 'stock' } });
  });
  it('rejects bad speaker counts', () => {
    expect(buildOptions({ ...base, speakers: '0' }).ok).toBe(false);
    expect(buildOptions({ ...base, speakers: '2.5' }).ok).toBe(false);
    expect(buildOptions({ ...base, min_speakers: '4', max_speakers: '2' }).ok).toBe(false);
    expect(buildOptions({ ...base, speakers: '2', max_speakers: '3' }).ok).toBe(false);
    expect(buildOptions({ ...base, from: 'es' }).ok).toBe(false);
  });
});
