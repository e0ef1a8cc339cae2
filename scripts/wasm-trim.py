#!/usr/bin/env python3
"""Replaces the bodies of the WASM's asynchronous-hydration functions with
`unreachable` (what the Rust and WebAssembly book's `wasm-snip` does), so that
`wasm-opt` then drops them and everything only they reach.

Why: Leptos erases our views (`erase_components`) into `AnyView`, a struct of
function pointers that holds, for every erased view type, a `hydrate_async`
entry beside `build`, `rebuild` and `hydrate_from_server`. Only
`leptos::mount::hydrate_lazy` starts asynchronous hydration; this app hydrates
with `hydrate_body` (synchronous), so no `hydrate_async` ever runs. The
compiler cannot see that through the pointers (tachys says so beside the
struct), and kept 150 copies: 116 KB of code, 40 KB of the gzipped WASM.

What is trimmed: every function whose name says `hydrate_async`, except drop
glue (`drop_in_place`), and except any that live code calls directly. LLVM
merges functions that compile to the same code and keeps one name for them:
helpers of `hydrate_async` (`get_guard`, `prep`, inner closures) are often the
very functions the live synchronous `hydrate` calls. So the module's direct
calls are read (through binaryen's `wasm-dis`), and a candidate called from a
function that is not trimmed is kept, with everything it calls. The
attributes' sibling entry `hydrate_from_template` is dead too but is left: it
mostly compiles to the same code as the live `hydrate_from_server`. The
Playwright suite fails on any `unreachable` trap in the browser.

Usage: wasm-trim.py MODULE (rewritten in place; it must still have its name
section, so cargo-leptos runs wasm-opt with `-g`: see Cargo.toml). Exits 1 when
nothing matched, which means the build changed shape and this step needs a look.
"""

import os
import re
import subprocess
import sys
import tempfile

TRIM = re.compile(r"hydrate_async")
KEEP = re.compile(r"drop_in_place")
# A body with no locals that traps: local-declaration count 0, `unreachable`, `end`.
TRAP = b"\x00\x00\x0b"


def read_uleb(buf, i):
    value = shift = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def uleb(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def sections(module):
    i = 8
    while i < len(module):
        kind = module[i]
        size, start = read_uleb(module, i + 1)
        yield kind, module[start : start + size]
        i = start + size


FUNC = re.compile(r'^ \(func \$(?:"((?:[^"\\]|\\.)*)"|(\S+))')
CALL = re.compile(r'\bcall \$(?:"((?:[^"\\]|\\.)*)"|([^\s)]+))')


def functions(path):
    """Every defined function in code-section order, as (name, names of the
    functions it calls directly), read from binaryen's `wasm-dis`."""
    with tempfile.TemporaryDirectory() as tmp:
        wat = os.path.join(tmp, "module.wat")
        subprocess.run(["wasm-dis", path, "-o", wat], check=True)
        found = []
        with open(wat, encoding="utf-8", errors="replace") as f:
            for line in f:
                m = FUNC.match(line)
                if m:
                    found.append((m.group(1) or m.group(2), set()))
                elif found:
                    found[-1][1].update(c.group(1) or c.group(2) for c in CALL.finditer(line))
    return found


def choose(path, count):
    """The defined functions (by index in the code section) to trim, and how
    many candidates were kept because live code calls them."""
    found = functions(path)
    if len(found) != count:
        sys.exit(f"wasm-trim: wasm-dis listed {len(found)} functions, the code section has {count}")
    candidates = {i for i, (name, _) in enumerate(found) if TRIM.search(name) and not KEEP.search(name)}
    index = {name: i for i, (name, _) in enumerate(found)}
    callees = [{index[c] for c in calls if c in index} for _, calls in found]
    kept = set()
    pending = [c for i in range(count) if i not in candidates for c in callees[i] if c in candidates]
    while pending:
        i = pending.pop()
        if i in kept:
            continue
        kept.add(i)
        pending.extend(c for c in callees[i] if c in candidates)
    return candidates - kept, len(kept)


def trim(module, path):
    parts = list(sections(module))
    count = next(read_uleb(p, 0)[0] for k, p in parts if k == 10)
    chosen, kept = choose(path, count)
    out = bytearray(module[:8])
    trimmed = saved = 0
    for kind, payload in parts:
        if kind == 10:  # code
            i = read_uleb(payload, 0)[1]
            code = bytearray(uleb(count))
            for index in range(count):
                size, start = read_uleb(payload, i)
                body = payload[start : start + size]
                i = start + size
                if index in chosen:
                    trimmed += 1
                    saved += size - len(TRAP)
                    body = TRAP
                code += uleb(len(body)) + body
            payload = bytes(code)
        out.append(kind)
        out += uleb(len(payload)) + payload
    return bytes(out), trimmed, saved, kept


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    path = sys.argv[1]
    with open(path, "rb") as f:
        module = f.read()
    if module[:4] != b"\0asm":
        sys.exit(f"wasm-trim: {path} is not a WebAssembly module")
    trimmed_module, trimmed, saved, kept = trim(module, path)
    if trimmed == 0:
        sys.exit(
            "wasm-trim: no hydrate_async function to trim (no function names: was wasm-opt run "
            "without -g? or the build changed shape); check the build before shipping it"
        )
    with open(path, "wb") as f:
        f.write(trimmed_module)
    print(
        f"wasm-trim: {trimmed} asynchronous-hydration functions trapped ({saved / 1000:.0f} KB of code "
        f"before wasm-opt); {kept} kept, called by live code"
    )


if __name__ == "__main__":
    main()
