#!/usr/bin/env python3
"""The reference transcription for `make bench`: faster-whisper on the audio Redub transcribed.

Settings are those of DESIGN.md §7's reference (the tool a user would pick instead): Whisper
base, int8, beam 5, word timestamps, VAD filter, 2 CPU threads, language detected. The model is
the CTranslate2 export setup downloaded (a local folder: nothing is fetched from a model hub),
so both tools run the same weights. Model load, audio decoding and transcription are timed
separately; the transcription time counts the whole decode of the segment generator, which is
where faster-whisper does its work.

Prints one JSON object (also written to --out).
"""

import argparse
import json
import os
import resource
import sys
import time

# Never reach a model hub, whatever the model path looks like.
os.environ["HF_HUB_OFFLINE"] = "1"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="CTranslate2 Whisper folder (model.bin, config.json, tokenizer.json, vocabulary.txt)")
    ap.add_argument("--audio", required=True, help="16 kHz WAV (the job's 01-ingest/speech16k.wav)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt"):
        if not os.path.isfile(os.path.join(args.model, name)):
            sys.exit(f"faster-whisper: {args.model} has no {name}; delete the folder and rerun `make bench` to assemble it again")

    from faster_whisper import WhisperModel, __version__, decode_audio

    t0 = time.perf_counter()
    model = WhisperModel(args.model, device="cpu", compute_type="int8", cpu_threads=args.threads, local_files_only=True)
    load_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    audio = decode_audio(args.audio, sampling_rate=16000)
    decode_s = time.perf_counter() - t0

    cpu0, t0 = time.process_time(), time.perf_counter()
    segments, info = model.transcribe(audio, beam_size=5, word_timestamps=True, vad_filter=True)
    segments = list(segments)
    transcribe_s = time.perf_counter() - t0
    cpu_s = time.process_time() - cpu0

    words = sum(len(s.words or []) for s in segments)
    result = {
        "faster_whisper": __version__,
        "model": os.path.abspath(args.model),
        "settings": {"compute_type": "int8", "beam_size": 5, "word_timestamps": True, "vad_filter": True, "cpu_threads": args.threads},
        "audio_s": round(len(audio) / 16000, 3),
        "load_s": round(load_s, 3),
        "decode_s": round(decode_s, 3),
        "transcribe_s": round(transcribe_s, 3),
        "transcribe_cpu_s": round(cpu_s, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "language": info.language,
        "language_probability": round(info.language_probability, 3),
        "segments": len(segments),
        "words": words,
        "text": " ".join(s.text.strip() for s in segments),
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(json.dumps({k: v for k, v in result.items() if k != "text"}))


if __name__ == "__main__":
    main()
