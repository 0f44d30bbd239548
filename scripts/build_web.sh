#!/usr/bin/env bash
# Build the studio web app (web/ → web/dist) for `redub serve --web web/dist`.
# Idempotent: `npm ci` only when node_modules is missing or older than package-lock.json,
# `npm run build` only when a source is newer than web/dist/index.html. Prints one line.
set -euo pipefail

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "build_web.sh: node and npm are needed to build web/: install Debian's nodejs and npm (apt-get install nodejs npm)" >&2
  exit 1
fi

src="${BASH_SOURCE[0]}"
[[ $src == */* ]] || src="./$src"
web="$(cd "${src%/*}/../web" && pwd)"
cd "$web"
did=()

# node_modules/.package-lock.json is written by every npm install/ci: its mtime says when.
stamp=node_modules/.package-lock.json
if [[ ! -d node_modules || ! -e $stamp || package-lock.json -nt $stamp ]]; then
  log="$(mktemp)"
  if ! npm ci --no-audit --no-fund >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "build_web.sh: npm ci failed in $web" >&2
    exit 1
  fi
  rm -f "$log"
  touch "$stamp"
  did+=("installed dependencies (npm ci)")
fi

out=dist/index.html
stale=0
if [[ ! -e $out ]]; then
  stale=1
elif [[ -n "$(find index.html vite.config.ts tsconfig.json package.json package-lock.json src public -newer "$out" -print -quit 2>/dev/null)" ]]; then
  stale=1
fi
if ((stale)); then
  log="$(mktemp)"
  if ! npm run build >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "build_web.sh: npm run build failed in $web" >&2
    exit 1
  fi
  rm -f "$log"
  touch "$out"
  did+=("built web/dist")
fi

if ((${#did[@]})); then
  printf -v line '%s, ' "${did[@]}"
  echo "build_web.sh: ${line%, } → $web/dist"
else
  echo "build_web.sh: web/dist is up to date ($web/dist)"
fi
