import { describe, expect, it } from 'vitest';
import { clampSeek, drift, needsResync, syncStep, type MediaLike } from './sync';

function media(t: number, paused = true, duration = 30): MediaLike & { plays: number; pauses: number } {
  return {
    currentTime: t,
    paused,
    duration,
    plays: 0,
    pauses: 0,
    play() {
      this.plays++;
      this.paused = false;
    },
    pause() {
      this.pauses++;
      this.paused = true;
    },
  };
}

describe('drift check', () => {
  it('measures absolute drift', () => {
    expect(drift(10, 10.25)).toBeCloseTo(0.25);
    expect(drift(10.25, 10)).toBeCloseTo(0.25);
  });
  it('re-syncs only past 0.3 s', () => {
    expect(needsResync(10, 10.3)).toBe(false);
    expect(needsResync(10, 10.31)).toBe(true);
    expect(needsResync(10.5, 10)).toBe(true);
    expect(needsResync(NaN, 1)).toBe(false);
  });
  it('moves the original to the dub, never the dub', () => {
    const o = media(4.0, false);
    const d = media(5.0, false);
    expect(syncStep(o, d)).toBe('resynced');
    expect(o.currentTime).toBe(5.0);
    expect(d.currentTime).toBe(5.0);
    expect(syncStep(o, d)).toBe('ok');
  });
  it('makes the original follow play and pause', () => {
    const o = media(1, true);
    const d = media(1, false);
    syncStep(o, d);
    expect(o.plays).toBe(1);
    d.paused = true;
    syncStep(o, d);
    expect(o.pauses).toBe(1);
    expect(o.paused).toBe(true);
  });
  it('does not chase the dub past the end of a shorter original', () => {
    const o = media(20, true, 20);
    const d = media(25, false, 30);
    expect(syncStep(o, d)).toBe('ok');
    expect(o.plays).toBe(0);
  });
  it('clamps seeks', () => {
    expect(clampSeek(-1, 30)).toBe(0);
    expect(clampSeek(40, 30)).toBe(30);
    expect(clampSeek(15, NaN)).toBe(15);
  });
});
