#!/usr/bin/env python3
"""Prints what the browser downloads of the wasm, gzipped (-9), from a site
built with `cargo leptos build --release --split`:

- the main file, which every page loads (and a page without islands
  loads nothing else);
- for each island, the main file plus the files split off for it
  (`__wasm_split_manifest.json` lists them; a page fetches them when it
  hydrates that island; no page shows more than one island);
- all wasm files together.

Exits 1 when the largest page's total is above the target (KB, argv[2]).
Usage: wasm_size.py SITE_PKG_DIR TARGET_KB
"""
import gzip
import json
import pathlib
import sys

pkg = pathlib.Path(sys.argv[1])
target_kb = int(sys.argv[2])


def gz(path: pathlib.Path) -> int:
    return len(gzip.compress(path.read_bytes(), 9))


main = pkg / "calbridge.wasm"
main_gz = gz(main)
manifest = json.loads((pkg / "__wasm_split_manifest.json").read_text())
sizes = {f.stem: gz(f) for f in pkg.glob("*.wasm") if f != main}
pages = {}
for split, files in manifest.items():
    # "outlook_sync_loader_6151…" -> "outlook_sync"
    name = split.strip("_").rsplit("_", 1)[0].removesuffix("_loader")
    pages[name] = main_gz + sum(sizes[f] for f in files)
largest = max(pages, key=pages.get)
kb = lambda n: f"{n / 1024:.0f} KB"
print(f"wasm main file: {kb(main.stat().st_size)} after wasm-opt, {kb(main_gz)} gzipped")
for name, total in sorted(pages.items(), key=lambda p: p[1]):
    print(f"wasm page with the {name} island: {kb(total)} gzipped (main + the island's files)")
print(f"wasm all files: {kb(main_gz + sum(sizes.values()))} gzipped, {len(sizes) + 1} files")
verdict = "MISSED" if pages[largest] > target_kb * 1024 else "met"
print(
    f"wasm: largest page (the {largest} island) {kb(pages[largest])} gzipped, "
    f"a page without islands {kb(main_gz)} "
    f"(target <= {target_kb} KB) {verdict}"
)
sys.exit(1 if verdict == "MISSED" else 0)
