#!/usr/bin/env bash
# Word error rate of the ONNX Whisper decoder under several settings, on more than the sample:
# the call (fixtures/speech-2spk, also through examples/sample.mp4's AAC track) and the five
# voices of fixtures/voices (English, French, Italian ×2, Russian; their reference texts come
# from the Debian packages' core-sounds-*.txt), each also over a music-like bed with a
# telephone band limit. A study, not a test: it prints one
# line per input and setting and the error totals (docs/asr-onnx.md, "Decoding without
# timestamps").
#
#   scripts/bench/asr_eval.sh "0 8" "1 5"      # settings: "TS BEAM" (ASR_TS, ASR_BEAM)
#
# Needs the asr_bench example (cargo build -p redub-asr --example asr_bench), ffmpeg, and
# apt-get (the four asterisk-core-sounds-* text packages, about 100 kB, are downloaded once).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
REDUB_HOME="${REDUB_HOME:-$HOME/.cache/redub}"
export REDUB_HOME
BIN="${ASR_BENCH:-${CARGO_TARGET_DIR:-$REDUB_HOME/target}/debug/examples/asr_bench}"
OUT="$REDUB_HOME/bench/asr-eval"
[[ -x "$BIN" ]] || { echo "asr_eval: $BIN missing: cargo build -p redub-asr --example asr_bench" >&2; exit 1; }
[[ $# -gt 0 ]] || set -- "0 8" "0 5" "1 5"
mkdir -p "$OUT/deb"
cd "$OUT"
for l in en fr it ru; do
  [[ -f "deb/core-sounds-$l.txt" ]] && continue
  (cd deb && apt-get download "asterisk-core-sounds-$l" >/dev/null 2>&1) \
    || { echo "asr_eval: apt-get download asterisk-core-sounds-$l failed (run apt-get update)" >&2; exit 1; }
  dpkg-deb --fsys-tarfile deb/asterisk-core-sounds-${l}_*.deb \
    | tar -xO "./usr/share/doc/asterisk-core-sounds-$l/core-sounds-$l.txt.gz" | gunzip >"deb/core-sounds-$l.txt"
done
declare -A LANGS=([sample]=en [sample_aac]=en [allison]=en [june]=fr [carlo]=it [menardi]=it [ivrvoiceru]=ru)
for v in allison june carlo menardi ivrvoiceru; do
  # The reference: each prompt's text, in the order the fixture's .txt lists them.
  python3 - "$ROOT/fixtures/voices/$v.txt" "deb/core-sounds-${LANGS[$v]}.txt" >"$v.ref" <<'EOF'
import re, sys
texts = {}
for line in open(sys.argv[2], encoding="utf-8", errors="replace"):
    if ":" in line:
        key, text = line.split(":", 1)
        # A few lines hold several entries ("... attivi. confbridge-mute-in: Per ..." in the
        # Italian file): the recording speaks only the first.
        texts[key.strip()] = re.split(r"\s[a-z0-9_]+-[a-z0-9_-]+:\s", text)[0].strip()
parts = []
for line in open(sys.argv[1], encoding="utf-8"):
    if line.startswith("#") or not line.strip():
        continue
    name = line.split("\t")[0].removesuffix(".wav")
    parts.append(texts.get(name) or texts[name.split("/")[-1]])
print(" ".join(parts))
EOF
  ffmpeg -v error -y -i "$ROOT/fixtures/voices/$v.flac" -ar 16000 -ac 1 "$v.wav"
done
cp "$ROOT/fixtures/speech-2spk/sample.wav" sample.wav
cp "$ROOT/fixtures/speech-2spk/sample.stm" sample.stm
# The call as the pipeline hears it from the demo clip: through the MP4's 96 kb/s AAC track and
# 01-ingest's resampling (redub_media::extract_audio: ffmpeg -ac 1 -ar 16000).
ffmpeg -v error -y -i "$ROOT/examples/sample.mp4" -map 0:a:0 -vn -ac 1 -ar 16000 -c:a pcm_s16le sample_aac.wav
cp sample.stm sample_aac.stm
# The bed: pink noise and two tones under a 2 Hz tremolo, the speech at 0.7× through a 3.4 kHz
# low-pass (a telephone band).
for v in sample allison june carlo menardi ivrvoiceru; do
  d=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$v.wav")
  ffmpeg -v error -y -i "$v.wav" -f lavfi -i "anoisesrc=color=pink:amplitude=0.03:r=16000:d=$d:seed=7" \
    -f lavfi -i "sine=f=220:r=16000:d=$d" -f lavfi -i "sine=f=330:r=16000:d=$d" -filter_complex \
    "[0]volume=0.7,lowpass=f=3400[s];[2]volume=0.02[a];[3]volume=0.015[b];[1][a][b]amix=inputs=3:normalize=0,tremolo=f=2:d=0.5[bed];[s][bed]amix=inputs=2:normalize=0" \
    -ar 16000 -ac 1 "${v}_bed.wav"
  [[ $v == sample ]] && cp sample.stm sample_bed.stm || cp "$v.ref" "${v}_bed.ref"
done
settings=("$@")
: >results.txt
for v in sample sample_aac allison june carlo menardi ivrvoiceru sample_bed allison_bed june_bed carlo_bed menardi_bed ivrvoiceru_bed; do
  base=${v%_bed}
  ref=$v.ref
  [[ $base == sample* ]] && ref=$v.stm
  for s in "${settings[@]}"; do
    read -r ts beam <<<"$s"
    line=$(ASR_LANG=${LANGS[$base]} ASR_BACKEND=onnx ASR_TS=$ts ASR_BEAM=$beam ASR_REGIONS="$v.regions" "$BIN" "$v.wav" "$ref" 2>&1 |
      grep -o "transcribe [0-9.]* s wall\|WER [0-9.]*% ([^)]*)\|WER [0-9.]*%" | tr '\n' ' ')
    echo "$v ts=$ts beam=$beam $line" | tee -a results.txt
  done
done
python3 - results.txt <<'EOF'
import re, sys
from collections import defaultdict
errors, words, wall = defaultdict(int), defaultdict(int), defaultdict(float)
for line in open(sys.argv[1]):
    m = re.search(r"ts=(\d) beam=(\d+) transcribe ([\d.]+) s wall WER [\d.]+% \((\d+) errors of (\d+) words\)", line)
    if m:
        k = f"ts={m[1]} beam={m[2]}"
        errors[k] += int(m[4]); words[k] += int(m[5]); wall[k] += float(m[3])
for k in errors:
    print(f"{k}: {errors[k]} errors of {words[k]} words ({100 * errors[k] / words[k]:.1f}%), {wall[k]:.1f} s")
EOF
