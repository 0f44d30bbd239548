// The dual player's drift check: the dub is the master clock, the original follows.

export const DRIFT_LIMIT_S = 0.3;
export const CHECK_INTERVAL_MS = 250;

/** The parts of HTMLMediaElement the sync logic touches (a fake in tests). */
export interface MediaLike {
  currentTime: number;
  paused: boolean;
  duration: number;
  play(): Promise<void> | void;
  pause(): void;
}

export function drift(original: number, dub: number): number {
  return Math.abs(original - dub);
}

/** True when the original must be moved to the dub's time. */
export function needsResync(original: number, dub: number, limit = DRIFT_LIMIT_S): boolean {
  if (!Number.isFinite(original) || !Number.isFinite(dub)) return false;
  return drift(original, dub) > limit + 1e-6; // ignore float noise: 10.3 - 10 is 0.3000…07
}

/** The time to seek both to, clamped into [0, duration]. */
export function clampSeek(t: number, duration: number): number {
  if (!Number.isFinite(t) || t < 0) return 0;
  if (Number.isFinite(duration) && duration > 0 && t > duration) return duration;
  return t;
}

/**
 * One sync step: re-sync the original to the dub when they drift apart by more than
 * the limit, and make its play/pause state follow the dub's. Returns what it did.
 */
export function syncStep(original: MediaLike, dub: MediaLike, limit = DRIFT_LIMIT_S): 'resynced' | 'ok' {
  let did: 'resynced' | 'ok' = 'ok';
  // The original may be shorter than the dub: past its end there is nothing to follow.
  const end = Number.isFinite(original.duration) && original.duration > 0 ? original.duration : Infinity;
  const target = Math.min(dub.currentTime, end);
  if (needsResync(original.currentTime, target, limit)) {
    original.currentTime = target;
    did = 'resynced';
  }
  if (dub.paused && !original.paused) original.pause();
  else if (!dub.paused && original.paused && dub.currentTime < end) {
    const p = original.play();
    if (p && typeof (p as Promise<void>).catch === 'function') (p as Promise<void>).catch(() => undefined);
  }
  return did;
}
