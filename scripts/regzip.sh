#!/usr/bin/env bash
# Rewrites the release site's precompressed files. The .gz files with zopfli
# (gzip's format, a better search: the WASM's .gz is 4-5 % smaller than
# `gzip -9`, for 5 s of build time); cargo-leptos's `--precompress` gzips with
# libflate, whose output was 18 % larger than `gzip -9`, and browsers that take
# no brotli get these files. A .br older than its file (the WASM, trimmed and
# optimised after cargo-leptos compressed it) is written again at quality 11,
# like cargo-leptos's own; without brotli it is removed, so the server sends
# the .gz rather than a stale module.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v zopfli >/dev/null; then
  squeeze() { zopfli -c "$1"; }
else
  echo "regzip: zopfli is missing (scripts/setup.sh installs it); using gzip -9" >&2
  squeeze() { gzip -9 -n -c "$1"; }
fi
for f in target/site/pkg/*; do
  case "$f" in *.gz | *.br) continue ;; esac
  if [ -f "$f.gz" ]; then
    squeeze "$f" > "$f.gz.tmp"
    mv "$f.gz.tmp" "$f.gz"
  fi
  if [ -f "$f.br" ] && [ "$f" -nt "$f.br" ]; then
    if command -v brotli >/dev/null; then
      brotli -q 11 -c "$f" > "$f.br.tmp"
      mv "$f.br.tmp" "$f.br"
    else
      echo "regzip: brotli is missing (scripts/setup.sh installs it); removing the stale $f.br" >&2
      rm "$f.br"
    fi
  fi
done
