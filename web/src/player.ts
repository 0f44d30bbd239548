// The dual player: the original (muted) beside the dub; one control drives both.
// The dub is the master clock; the original is re-synced when they drift > 0.3 s.

import { h } from './dom';
import { clock } from './format';
import { CHECK_INTERVAL_MS, clampSeek, syncStep } from './sync';

export interface DualPlayer {
  el: HTMLElement;
  destroy(): void;
}

export function dualPlayer(originalSrc: string, dubSrc: string): DualPlayer {
  const original = h('video', { src: originalSrc, muted: true, preload: 'auto', playsinline: true, 'data-testid': 'original-video' });
  original.muted = true;
  original.defaultMuted = true;
  const dub = h('video', { src: dubSrc, preload: 'auto', playsinline: true, 'data-testid': 'dub-video' });

  const play = h('button', { type: 'button', class: 'primary play', 'data-testid': 'play-button', 'aria-label': 'Play' }, 'Play');
  const seek = h('input', { type: 'range', min: '0', max: '0', step: '0.1', value: '0', 'data-testid': 'seek', 'aria-label': 'Seek' });
  const time = h('span', { class: 'time mono', 'data-testid': 'player-time' }, '0:00 / 0:00');
  const driftOut = h('span', { class: 'muted mono', 'data-testid': 'drift' }, '');
  let seeking = false;
  let resyncs = 0;

  const update = () => {
    const d = Number.isFinite(dub.duration) ? dub.duration : 0;
    if (!seeking) {
      seek.max = String(d);
      seek.value = String(dub.currentTime);
    }
    time.textContent = `${clock(dub.currentTime)} / ${clock(d)}`;
    play.textContent = dub.paused ? 'Play' : 'Pause';
    play.setAttribute('aria-label', dub.paused ? 'Play' : 'Pause');
    driftOut.textContent = `drift ${Math.abs(original.currentTime - dub.currentTime).toFixed(2)} s · re-synced ${resyncs}×`;
  };
  const check = () => {
    if (syncStep(original, dub) === 'resynced') resyncs++;
    update();
  };

  play.addEventListener('click', () => {
    if (dub.paused) {
      if (dub.ended) dub.currentTime = 0;
      original.currentTime = Math.min(dub.currentTime, original.duration || Infinity);
      void dub.play().catch(() => undefined);
      void original.play().catch(() => undefined);
    } else {
      dub.pause();
      original.pause();
    }
    update();
  });
  const doSeek = () => {
    const t = clampSeek(Number(seek.value), dub.duration);
    dub.currentTime = t;
    original.currentTime = Math.min(t, original.duration || Infinity);
    seeking = false;
    update();
  };
  seek.addEventListener('input', () => {
    seeking = true;
    time.textContent = `${clock(Number(seek.value))} / ${clock(dub.duration)}`;
  });
  seek.addEventListener('change', doSeek);

  // If someone uses the dub's own controls (or keyboard), the original follows.
  dub.addEventListener('timeupdate', check);
  for (const t of ['play', 'pause', 'seeked', 'ended', 'loadedmetadata', 'durationchange']) dub.addEventListener(t, check);
  const timer = window.setInterval(check, CHECK_INTERVAL_MS);

  const el = h(
    'section',
    { class: 'card player', 'data-testid': 'dual-player' },
    h('h3', {}, 'Compare'),
    h(
      'div',
      { class: 'videos' },
      h('figure', {}, original, h('figcaption', {}, 'Original (muted)')),
      h('figure', {}, dub, h('figcaption', {}, 'Dub')),
    ),
    h('div', { class: 'controls' }, play, seek, time, driftOut),
  );
  return {
    el,
    destroy() {
      window.clearInterval(timer);
      for (const v of [original, dub]) {
        v.pause();
        v.removeAttribute('src');
        v.load();
      }
    },
  };
}
