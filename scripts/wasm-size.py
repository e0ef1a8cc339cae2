#!/usr/bin/env python3
"""The size of the release WASM and its JS as the server sends them (after
`bash scripts/build.sh`): raw, and the precompressed gzip and brotli files.
Exits 1 when a file is missing, or when `--budget KB` is given and the gzipped
files are larger than that in all (the workflow UI's budget is 700 KB)."""

import argparse
import os
import sys

parser = argparse.ArgumentParser()
parser.add_argument("pkg", nargs="?", default="target/site/pkg")
parser.add_argument("--budget", type=float, help="largest gzipped size in all, in KB (1,000 bytes)")
args = parser.parse_args()
pkg = args.pkg
names = ["purple-cross.wasm", "purple-cross.js"]
kb = lambda b: f"{b / 1000:9.0f}"
print(f"{'file':22} {'raw KB':>9} {'gzip KB':>9} {'br KB':>9}")
totals = [0, 0, 0]
for name in names:
    path = os.path.join(pkg, name)
    sizes = [os.path.getsize(p) if os.path.exists(p) else None for p in (path, path + ".gz", path + ".br")]
    if None in sizes:
        sys.exit(f"{path} or its .gz/.br is missing: build first (bash scripts/build.sh)")
    totals = [t + s for t, s in zip(totals, sizes)]
    print(f"{name:22} {kb(sizes[0])} {kb(sizes[1])} {kb(sizes[2])}")
print(f"{'in all':22} {kb(totals[0])} {kb(totals[1])} {kb(totals[2])}")
if args.budget is not None and totals[1] / 1000 > args.budget:
    sys.exit(f"over budget: {totals[1] / 1000:.0f} KB gzipped in all, the budget is {args.budget:.0f} KB")
