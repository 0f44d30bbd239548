import { describe, expect, it } from 'vitest';
import { clock, duration, flagLabel, percent, speakerColor, stageIndex, stageLabel, STAGES, timestamp } from './format';

describe('format', () => {
  it('knows the 11 stages in order', () => {
    expect(STAGES).toHaveLength(11);
    expect(stageIndex('05-diarize')).toBe(4);
    expect(stageIndex(null)).toBe(-1);
    expect(stageLabel('04-transcribe')).toBe('Transcribe');
    expect(stageLabel('99-new')).toBe('99-new');
  });
  it('formats percentages', () => {
    expect(percent(200, 938)).toBe(21);
    expect(percent(938, 938)).toBe(100);
    expect(percent(2000, 938)).toBe(100);
    expect(percent(1, 0)).toBeNull();
    expect(percent(undefined, 10)).toBeNull();
  });
  it('formats durations and times', () => {
    expect(duration(450)).toBe('450 ms');
    expect(duration(1234)).toBe('1.2 s');
    expect(duration(65_000)).toBe('1 m 05 s');
    expect(duration(undefined)).toBe('');
    expect(timestamp(6721)).toBe('0:06.7');
    expect(timestamp(3_725_000)).toBe('1:02:05.0');
    expect(clock(75.9)).toBe('1:15');
    expect(clock(NaN)).toBe('0:00');
  });
  it('labels flags and colours speakers', () => {
    expect(flagLabel('low_asr_confidence')).toBe('low ASR confidence');
    expect(flagLabel('brand_new')).toBe('brand new');
    expect(speakerColor('S1')).not.toBe(speakerColor('S2'));
    expect(speakerColor('S1')).toBe(speakerColor('S1'));
    expect(speakerColor('narrator')).toMatch(/^#/);
  });
});
