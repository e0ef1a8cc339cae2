#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz, libFuzzer, AddressSanitizer) of the
# pure parts that take outside input: condition groups, the signature
# verifier, retry policies, templates and cron expressions. By hand, not in
# CI (CI runs the property tests in tests/properties.rs): needs the nightly
# toolchain. Usage: bash scripts/fuzz.sh [seconds per target] [target ...]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(conditions signature retry template cron)
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cd fuzz
for t in "${targets[@]}"; do
  dict=()
  [ -f "dicts/$t.dict" ] && dict=("-dict=dicts/$t.dict")
  mkdir -p "corpus/$t"
  echo "== $t: ${seconds}s"
  # 2 s per input and 2 GB at most: a template that runs away fails the run.
  rc=0
  cargo +nightly fuzz run "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$seconds" -timeout=2 -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" > "$t.log" 2>&1 || rc=$?
  grep -E 'stat::number_of_executed_units|stat::peak_rss_mb|^SUMMARY|ERROR: libFuzzer|panicked at|Done [0-9]+ runs' "$t.log" || true
  grep -E '^#[0-9]+' "$t.log" | tail -1 || true
  [ "$rc" -eq 0 ] || { echo "fuzz target $t failed (exit $rc): fuzz/$t.log, fuzz/artifacts/$t"; exit 1; }
done
