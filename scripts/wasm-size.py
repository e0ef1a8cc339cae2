#!/usr/bin/env python3
"""What each page's first load downloads of the release WASM and JS
(`cargo leptos build --release --split --precompress` first): the main
module, its JS, the split loader, and the chunks of the page's lazy route
(from `__wasm_split_manifest.json`). Prints a table: raw, gzip, brotli
(the precompressed files the server sends)."""

import gzip
import json
import os
import sys

pkg = sys.argv[1] if len(sys.argv) > 1 else "target/site/pkg"


def size(name):
    path = os.path.join(pkg, name)
    raw = os.path.getsize(path)
    gz = os.path.getsize(path + ".gz") if os.path.exists(path + ".gz") else len(gzip.compress(open(path, "rb").read(), 9))
    br = os.path.getsize(path + ".br") if os.path.exists(path + ".br") else 0
    return raw, gz, br


def total(names):
    return tuple(sum(size(n)[i] for n in names) for i in range(3))


base = ["purple-cross.wasm", "purple-cross.js"]
manifest_path = os.path.join(pkg, "__wasm_split_manifest.json")
manifest = json.load(open(manifest_path)) if os.path.exists(manifest_path) else {}
loader = [f for f in os.listdir(pkg) if f.startswith("__wasm_split.") and f.endswith(".js")]
everything = [f for f in os.listdir(pkg) if f.endswith((".wasm", ".js"))]

kb = lambda b: f"{b / 1024:8.0f}"
print(f"{'first load of':24} {'files':>5} {'raw KB':>8} {'gzip KB':>8} {'br KB':>8}")
rows = [("any page (shell only)", base + loader)]
for split, chunks in sorted(manifest.items()):
    page = split.strip("_").rsplit("_view_", 1)[0]
    rows.append((page, base + loader + [c + ".wasm" for c in chunks]))
rows.append(("all files", everything))
for label, names in rows:
    raw, gz, br = total(names)
    print(f"{label:24} {len(names):5d} {kb(raw)} {kb(gz)} {kb(br)}")
