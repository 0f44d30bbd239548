#!/usr/bin/env python3
"""Builds the benchmark's long input: an MP4 that looks like real content.

Several real speakers from `fixtures/` take turns in scenes (0.2-1.5 s between turns, now and
then a longer pause, a few seconds of music only between scenes, one voice away for minutes
and back), each occurrence with its own gain (within +-6 dB) and microphone colour (a
first-order low- or high-pass), over a music-like bed (chords, a soft beat, pink noise)
12-18 dB under the speech; 48 kHz stereo AAC beside an H.264 test picture that changes pattern
at every scene (so the pipeline's scene-cut detection has real cuts to find).

Everything random comes from one seed (Python's `random` for the schedule, numpy's PCG64 for
noise), and the arithmetic avoids what could change from run to run: oscillators read a sine
table computed once with `math.sin` through an integer phase, the levels that scale everything
are summed with `math.fsum`, x264 runs on one thread and the MP4 is written bit-exact (no
encoder strings or dates). The same seed, length, sources and tools give the same file, byte
for byte (two builds here gave the same sha256). Another CPU may take other SIMD paths in
ffmpeg's resampler and AAC encoder, so the sha256 is printed and kept in bench/RESULTS.md.

Beside the MP4 it writes `<name>.json` (every occurrence: speaker, source piece, start, end,
gain, filter) and `<name>.rttm` (the reference speaker turns).

Needs numpy (the bench venv has it) and ffmpeg.
"""

import argparse
import hashlib
import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np

RATE = 48_000
FPS = 25
# The speech of every speaker is brought to this active level before the per-occurrence gain.
SPEECH_DBFS = -24.0

# (id, language, files relative to fixtures/, weight when a scene's cast and each turn's speaker
# are drawn; see `schedule` for how it falls as a speaker's material is used up).
# English is the case the dub is for (English -> Spanish), so five of the six speakers are
# English; June (French) is a minority voice, as a line in another language would be in a film.
SPEAKERS = [
    ("allison", "en", ["voices/allison.flac"], 1.0),
    ("reader", "en", [f"librivox/sense_and_sensibility_01_austen_64kb-{n:04}.wav" for n in (870, 880, 890, 920, 930)], 1.0),
    ("diane", "en", ["speech-2spk/sample.wav"], 1.0),
    ("sheila", "en", ["speech-2spk/sample.wav"], 1.0),
    ("cards", "en", [f"cards/{n:03}.wav" for n in range(1, 6)], 0.8),
    ("june", "fr", ["voices/june.flac"], 0.3),
]
# The phone call holds two speakers: their turns come from the reference RTTM, with the parts
# where both talk left out.
CALL_SPEAKER = {"diane": "speaker90", "sheila": "speaker91"}
# The voice that leaves for minutes and comes back, and when it is away (fractions of the length).
ABSENT = ("allison", 0.25, 0.65)
# Test patterns that follow each other scene by scene.
PATTERNS = ["testsrc", "smptebars", "testsrc2", "rgbtestsrc"]


def decode(ffmpeg, path):
    """The file as 48 kHz mono float64 (ffmpeg resamples the 8 and 16 kHz sources)."""
    if not path.is_file():
        sys.exit(f"make_input: {path} is missing; it is part of the repository (see fixtures/README.md): restore it with git")
    run = subprocess.run(
        [ffmpeg, "-v", "error", "-nostdin", "-i", str(path), "-ac", "1", "-ar", str(RATE), "-f", "f32le", "-c:a", "pcm_f32le", "-"],
        capture_output=True,
    )
    if run.returncode != 0:
        sys.exit(f"make_input: ffmpeg could not decode {path}: {run.stderr.decode(errors='replace').strip()}")
    out = run.stdout
    return np.frombuffer(out, dtype="<f4").astype(np.float64)


def frame_db(x, frame):
    n = len(x) // frame
    e = np.square(x[: n * frame]).reshape(n, frame).mean(axis=1)
    return 10.0 * np.log10(e + 1e-12)


def split_pieces(x, lo=0, hi=None, min_pause=0.30, margin=0.05):
    """Utterance-sized pieces of x[lo:hi]: cut in the middle of pauses of at least `min_pause`
    (10 ms frames more than 35 dB under the loudest), each trimmed to its speech plus `margin`."""
    hi = len(x) if hi is None else hi
    frame = RATE // 100
    db = frame_db(x[lo:hi], frame)
    speech = db > max(db.max() - 35.0, -60.0)
    idx = np.flatnonzero(speech)
    if len(idx) == 0:
        return []
    runs, start, prev = [], idx[0], idx[0]
    for i in idx[1:]:
        if (i - prev) * frame / RATE >= min_pause:
            runs.append((start, prev + 1))
            start = i
        prev = i
    runs.append((start, prev + 1))
    pad = int(margin * RATE)
    pieces = []
    for a, b in runs:
        s, e = max(lo, lo + a * frame - pad), min(hi, lo + b * frame + pad)
        if e - s >= int(0.4 * RATE):
            pieces.append((s, e))
    return pieces


def split_long(x, s, e, longest=7.0):
    """Pieces over `longest` seconds cut at their longest pause (at least 100 ms of 10 ms frames
    30 dB under the piece's loudest, 1 s or more from either end), until none is over or no
    such pause is left: a film's lines are shorter than a voice prompt's whole paragraph."""
    if (e - s) / RATE <= longest:
        return [(s, e)]
    frame = RATE // 100
    db = frame_db(x[s:e], frame)
    quiet = db < db.max() - 30.0
    best, run_start = None, None
    for i, q in enumerate(list(quiet) + [False]):
        if q and run_start is None:
            run_start = i
        elif not q and run_start is not None:
            mid, length = (run_start + i) // 2, i - run_start
            if length >= 10 and 100 <= mid <= len(db) - 100 and (best is None or length > best[1]):
                best = (mid, length)
            run_start = None
    if best is None:
        return [(s, e)]
    cut = s + best[0] * frame
    return split_long(x, s, cut, longest) + split_long(x, cut, e, longest)


def call_intervals(rttm, who):
    turns = []
    for line in rttm.read_text().splitlines():
        f = line.split()
        if f and f[0] == "SPEAKER":
            turns.append((f[7], float(f[3]), float(f[3]) + float(f[4])))
    mine = [(a, b) for s, a, b in turns if s == who]
    others = [(a, b) for s, a, b in turns if s != who]
    out = []
    for a, b in mine:
        parts = [(a, b)]
        for oa, ob in others:
            nxt = []
            for pa, pb in parts:
                if ob <= pa or oa >= pb:
                    nxt.append((pa, pb))
                else:
                    if oa > pa:
                        nxt.append((pa, oa))
                    if ob < pb:
                        nxt.append((ob, pb))
            parts = nxt
        out += [(pa, pb) for pa, pb in parts if pb - pa >= 0.5]
    return out


def active_rms(x):
    """RMS over the 10 ms frames within 40 dB of the loudest (the speech, not its pauses)."""
    frame = RATE // 100
    n = len(x) // frame
    e = [math.fsum(v) / frame for v in np.square(x[: n * frame]).reshape(n, frame).tolist()]
    top = max(e)
    act = [v for v in e if v > top * 1e-4]
    return math.sqrt(math.fsum(act) / len(act))


def load_speakers(fixtures, ffmpeg):
    """{id: list of pieces (float64 arrays at the common level)} and a description of each piece."""
    out, desc = {}, {}
    cache = {}
    for sid, lang, files, _ in SPEAKERS:
        pieces, names = [], []
        for rel in files:
            if rel not in cache:
                cache[rel] = decode(ffmpeg, fixtures / rel)
            x = cache[rel]
            if sid in CALL_SPEAKER:
                spans = []
                for a, b in call_intervals(fixtures / "speech-2spk/sample.rttm", CALL_SPEAKER[sid]):
                    spans += split_pieces(x, int(a * RATE), int(b * RATE), min_pause=0.35, margin=0.02)
            else:
                spans = split_pieces(x)
            spans = [p for s, e in spans for p in split_long(x, s, e)]
            for s, e in spans:
                pieces.append(x[s:e].copy())
                names.append(f"{rel}@{s / RATE:.2f}-{e / RATE:.2f}")
        if not pieces:
            sys.exit(f"make_input: no speech found for {sid} in {files}")
        g = 10 ** (SPEECH_DBFS / 20) / active_rms(np.concatenate(pieces))
        out[sid] = [p * g for p in pieces]
        desc[sid] = names
    return out, desc


def one_pole(x, kind, fc):
    """First-order (bilinear) low- or high-pass: the colour of a different microphone."""
    k = math.tan(math.pi * fc / RATE)
    a1 = (k - 1.0) / (k + 1.0)
    b0 = k / (1.0 + k) if kind == "lowpass" else 1.0 / (1.0 + k)
    b1 = b0 if kind == "lowpass" else -b0
    y = [0.0] * len(x)
    xp = yp = 0.0
    for i, v in enumerate(x.tolist()):
        yp = b0 * v + b1 * xp - a1 * yp
        xp = v
        y[i] = yp
    return np.array(y)


def pick(rng, cand, weight):
    r, acc = rng.random() * sum(weight(s) for s in cand), 0.0
    for s in cand:
        acc += weight(s)
        if r < acc:
            return s
    return cand[-1]


def schedule(rng, pieces, total):
    """Scenes of 45-100 s; in each, a cast of 2-3 speakers taking turns of 1-3 pieces."""
    base = {sid: w for sid, _, _, w in SPEAKERS}
    material = {sid: sum(len(x) for x in p) / RATE for sid, p in pieces.items()}
    used = {sid: 0.0 for sid in pieces}

    def weight(sid):
        # Falls as the speaker's material repeats: 9 s of Diane would otherwise be heard a
        # dozen times while 45 s of Allison is heard twice.
        return base[sid] * material[sid] / (material[sid] + used[sid])
    nxt = {sid: rng.randrange(len(p)) for sid, p in pieces.items()}
    absent, a0, a1 = ABSENT[0], ABSENT[1] * total, ABSENT[2] * total
    occ, scenes = [], []
    t = rng.uniform(1.5, 3.0)
    while t < total - 6.0:
        scene_start = t
        scene_end = min(t + rng.uniform(45.0, 100.0), total - 3.0)
        pool = [s for s in base if not (s == absent and a0 <= t < a1)]
        # The absent voice opens the first scene and the first one after it is back.
        seen_before = any(o["speaker"] == absent for o in occ)
        seen_after = any(o["speaker"] == absent and o["start"] >= a1 for o in occ)
        force = absent if (t < a0 and not seen_before) or (t >= a1 and not seen_after) else None
        cast = [force] if force else []
        size = 3 if rng.random() < 0.4 else 2
        while len(cast) < size:
            cast.append(pick(rng, [s for s in pool if s not in cast], weight))
        cur = None
        while True:
            free = [s for s in cast if not (s == absent and a0 <= t < a1)]
            others = [s for s in free if s != cur]
            if cur in free and rng.random() < 0.12 or not others:
                spk = cur if cur in free else free[0]
            else:
                spk = pick(rng, others, weight)
            n = 1 if (r := rng.random()) < 0.5 else (2 if r < 0.85 else 3)
            turn, u = [], t
            for _ in range(n):
                i = nxt[spk]
                dur = len(pieces[spk][i]) / RATE
                if u + dur > scene_end:
                    break
                turn.append((i, u))
                nxt[spk] = (i + 1) % len(pieces[spk])
                u += dur + rng.uniform(0.15, 0.45)
            if not turn:
                break
            for i, start in turn:
                used[spk] += len(pieces[spk][i]) / RATE
                kind = "lowpass" if rng.random() < 0.5 else "highpass"
                fc = rng.uniform(2500.0, 6000.0) if kind == "lowpass" else rng.uniform(120.0, 500.0)
                occ.append({
                    "speaker": spk,
                    "piece": i,
                    "start": round(start, 3),
                    "end": round(start + len(pieces[spk][i]) / RATE, 3),
                    "gain_db": round(rng.uniform(-6.0, 6.0), 2),
                    "filter": kind,
                    "cutoff_hz": round(fc),
                })
            cur = spk
            t = occ[-1]["end"] + (rng.uniform(2.0, 4.5) if rng.random() < 0.08 else rng.uniform(0.2, 1.5))
        scenes.append((scene_start, max(t, scene_start + 1.0)))
        t += rng.uniform(3.0, 8.0)
    return occ, scenes


class Table:
    """One period of a waveform, read by an integer phase accumulator (exact, repeatable)."""

    BITS = 12

    def __init__(self, partials):
        n = 1 << self.BITS
        v = [sum(a * math.sin(2 * math.pi * h * i / n) for h, a in partials) for i in range(n + 1)]
        self.v = np.array(v)

    def render(self, freq, n):
        inc = int(round(freq / RATE * 2**32))
        ph = (np.arange(n, dtype=np.int64) * inc) & 0xFFFFFFFF
        idx = ph >> (32 - self.BITS)
        frac = (ph & ((1 << (32 - self.BITS)) - 1)) * (1.0 / (1 << (32 - self.BITS)))
        return self.v[idx] * (1.0 - frac) + self.v[idx + 1] * frac


def midi_hz(m):
    return 440.0 * 2 ** ((m - 69) / 12)


def music_bed(rng, nrng, total_n, scenes):
    """Stereo chords (pad + bass), a soft off-beat noise tick and pink noise, key and tempo
    changing at every scene."""
    pad, bass = Table([(1, 1.0), (2, 0.35), (3, 0.18), (4, 0.08)]), Table([(1, 1.0), (2, 0.25)])
    out = np.zeros((2, total_n))
    progressions = [[(0, "M"), (9, "m"), (5, "M"), (7, "M")], [(9, "m"), (5, "M"), (0, "M"), (7, "M")],
                    [(0, "M"), (7, "M"), (9, "m"), (5, "M")], [(2, "m"), (7, "M"), (0, "M"), (0, "M")]]
    bounds = [0.0] + [(a_end + b_start) / 2 for (_, a_end), (b_start, _) in zip(scenes, scenes[1:])] + [total_n / RATE]
    for k in range(len(bounds) - 1):
        s0, s1 = bounds[k], bounds[k + 1]
        key = 48 + rng.randrange(-3, 5)
        prog = progressions[rng.randrange(len(progressions))]
        chord_s = 4 * 60.0 / rng.uniform(70.0, 110.0)
        t, c = s0, 0
        while t < s1:
            root, q = prog[c % len(prog)]
            notes = [key + 12 + root, key + 12 + root + (4 if q == "M" else 3), key + 12 + root + 7]
            a = int(t * RATE)
            n = min(int((chord_s + 0.4) * RATE), total_n - a)
            if n <= 0:
                break
            # Linear attack, slow decay, release that overlaps the next chord.
            env = np.interp(np.arange(n) / RATE, [0.0, 0.08, chord_s, chord_s + 0.4], [0.0, 1.0, 0.6, 0.0])
            for j, m in enumerate(notes):
                v = pad.render(midi_hz(m) * (1.0 + 0.0007 * (j - 1)), n) * env * 0.22
                pan = 0.5 + 0.25 * (j - 1)
                out[0, a:a + n] += v * (1.0 - pan)
                out[1, a:a + n] += v * pan
            b = bass.render(midi_hz(key - 12 + root), n) * env * 0.3
            out[:, a:a + n] += b
            # A tick on every off-beat: a 40 ms burst of differentiated (bright) noise.
            beat = chord_s / 4
            for q4 in range(4):
                ta = int((t + (q4 + 0.5) * beat) * RATE)
                m = min(int(0.04 * RATE), total_n - ta - 1)
                if m > 0:
                    w = nrng.standard_normal(m + 1)
                    out[:, ta:ta + m] += (np.diff(w) * np.linspace(0.06, 0.0, m))
            t += chord_s
            c += 1
    # Pink-ish noise (Voss: white noise held for 1, 2, 4 ... samples, summed), one per channel.
    for ch in range(2):
        p = np.zeros(total_n)
        for octave in range(10):
            w = nrng.standard_normal((total_n >> octave) + 1)
            p += np.repeat(w, 1 << octave)[:total_n]
        out[ch] += p * (0.02 / math.sqrt(10))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--secs", type=float, default=600.0)
    ap.add_argument("--seed", type=int, default=20251201)
    ap.add_argument("--fixtures", type=Path, default=Path(__file__).resolve().parents[2] / "fixtures")
    ap.add_argument("--ffmpeg", default="ffmpeg")
    args = ap.parse_args()

    total = args.secs
    total_n = int(round(total * RATE))
    rng = random.Random(args.seed)
    nrng = np.random.Generator(np.random.PCG64(args.seed))

    pieces, names = load_speakers(args.fixtures, args.ffmpeg)
    occ, scenes = schedule(rng, pieces, total)

    speech = np.zeros(total_n)
    for o in occ:
        x = pieces[o["speaker"]][o["piece"]]
        y = one_pole(x, o["filter"], o["cutoff_hz"]) * 10 ** (o["gain_db"] / 20)
        fade = min(len(y) // 2, int(0.005 * RATE))
        ramp = np.arange(fade) / fade
        y[:fade] *= ramp
        y[len(y) - fade:] *= ramp[::-1]
        a = int(round(o["start"] * RATE))
        speech[a:a + len(y)] += y[: total_n - a]
        o["source"] = names[o["speaker"]][o["piece"]]

    bed = music_bed(rng, nrng, total_n, scenes)
    # The bed's distance under the speech wanders between 12 and 18 dB (a new value every 20 s,
    # linear in between), and it fades in and out over 2 s at the ends.
    speech_rms = active_rms(speech)
    bed_rms = math.sqrt(math.fsum(np.square(bed).sum(axis=0).tolist()) / (2 * total_n))
    knots = np.arange(0.0, total + 20.0, 20.0)
    under = np.array([rng.uniform(12.0, 18.0) for _ in knots])
    t = np.arange(total_n) / RATE
    gain = speech_rms / bed_rms * np.power(10.0, -np.interp(t, knots, under) / 20.0)
    gain *= np.clip(np.minimum(t, total - t) / 2.0, 0.0, 1.0)
    mix = bed * gain + speech
    peak = float(np.abs(mix).max())
    if peak > 0.89:
        mix *= 0.89 / peak

    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    raw = out.with_suffix(".f32.tmp")
    mix.T.astype("<f4").tofile(raw)

    # One test pattern per scene, switching halfway through the music between two scenes.
    frames = int(round(total * FPS))
    cuts = [0] + [int(round((a_end + b_start) / 2 * FPS)) for (_, a_end), (b_start, _) in zip(scenes, scenes[1:])] + [frames]
    parts = []
    for k in range(len(cuts) - 1):
        parts.append(f"{PATTERNS[k % len(PATTERNS)]}=size=320x180:rate={FPS}:duration={(cuts[k + 1] - cuts[k]) / FPS:.2f},format=yuv420p[v{k}]")
    graph = ";".join(parts) + ";" + "".join(f"[v{k}]" for k in range(len(parts))) + f"concat=n={len(parts)}:v=1:a=0[v]"
    tmp = out.with_name(out.stem + ".tmp.mp4")
    cmd = [
        args.ffmpeg, "-v", "error", "-nostdin", "-y",
        "-f", "f32le", "-ar", str(RATE), "-ac", "2", "-i", str(raw),
        "-filter_complex", graph, "-map", "[v]", "-map", "0:a",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "30", "-g", "250", "-threads", "1", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "160k", "-t", f"{total:.3f}",
        "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
        "-movflags", "+faststart", str(tmp),
    ]
    try:
        subprocess.run(cmd, check=True)
    finally:
        raw.unlink(missing_ok=True)

    speech_s = sum(o["end"] - o["start"] for o in occ)
    by = {}
    for o in occ:
        by[o["speaker"]] = by.get(o["speaker"], 0.0) + o["end"] - o["start"]
    meta = {
        "seed": args.seed,
        "secs": total,
        "speech_secs": round(speech_s, 2),
        "speech_secs_by_speaker": {k: round(v, 2) for k, v in sorted(by.items())},
        "languages": {sid: lang for sid, lang, _, _ in SPEAKERS},
        "scenes": [[round(a, 2), round(b, 2)] for a, b in scenes],
        "absent": {"speaker": ABSENT[0], "from": ABSENT[1] * total, "to": ABSENT[2] * total},
        "occurrences": occ,
    }
    out.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    rttm = "".join(f"SPEAKER {out.stem} 1 {o['start']:.3f} {o['end'] - o['start']:.3f} <NA> <NA> {o['speaker']} <NA> <NA>\n" for o in occ)
    out.with_suffix(".rttm").write_text(rttm)
    os.replace(tmp, out)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"{out}: {total:.0f} s, {len(scenes)} scenes, {len(occ)} utterances, {speech_s:.0f} s of speech "
          f"({', '.join(f'{k} {v:.0f} s' for k, v in sorted(by.items()))}), sha256 {digest}")


if __name__ == "__main__":
    main()
