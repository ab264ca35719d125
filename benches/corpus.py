#!/usr/bin/env python3
"""Deterministic benchmark contexts shaped like real projects.

usage: corpus.py DIR [small|large|huge]   (default large)

large: ~100k entries, ~900 MB: Python sources with __pycache__, a .git with
loose objects and packs, nested node_modules, a .venv, a cargo target/, big
data files, and a .dockerignore with exceptions.
small: ~11k entries, ~150 MB; huge: ~1M entries, ~10 GB (check free disk).
"""
import os, random, sys

def main():
    root = sys.argv[1]
    size = sys.argv[2] if len(sys.argv) > 2 else "large"
    scale = {"small": 0.05, "large": 1.0, "huge": 10.0}[size]
    rng = random.Random(1234)
    os.makedirs(root, exist_ok=True)
    blob = bytes(rng.getrandbits(8) for _ in range(1 << 20))
    count = [0, 0]

    def write(path, n):
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            while n > 0:
                k = min(n, len(blob))
                f.write(blob[:k])
                n -= k
        count[0] += 1

    def small():
        return int(rng.lognormvariate(7.5, 1.2)) % 200_000

    # sources with __pycache__
    for i in range(int(400 * scale)):
        pkg = f"src/pkg{i % 40}/mod{i // 40}"
        for j in range(10):
            write(f"{pkg}/f{j}.py", small())
            write(f"{pkg}/__pycache__/f{j}.cpython-312.pyc", small())
    # .git: loose objects and packs
    for i in range(int(32000 * scale)):
        write(f".git/objects/{i % 256:02x}/{i:038x}", small() // 4)
    for i in range(max(1, int(4 * scale))):
        write(f".git/objects/pack/pack-{i:040x}.pack", 40 << 20)
        write(f".git/objects/pack/pack-{i:040x}.idx", 1 << 20)
    write(".git/HEAD", 23)
    # nested node_modules
    for app in range(max(1, int(6 * scale))):
        for m in range(2500):
            base = f"web/app{app}/node_modules/mod{m}"
            write(f"{base}/package.json", 600)
            write(f"{base}/index.js", small())
    # .venv and target
    for i in range(int(8000 * scale)):
        write(f".venv/lib/python3.12/site-packages/p{i % 300}/m{i}.py", small())
    for i in range(int(6000 * scale)):
        write(f"target/debug/deps/lib{i}.rlib", small())
    # big data files
    for i in range(max(1, int(6 * scale))):
        write(f"data/blob{i}.bin", 60 << 20)
    # keep/ exceptions
    for i in range(200):
        write(f"build/keep/k{i}.txt", 100)
        write(f"build/drop/d{i}.txt", 100)
    with open(os.path.join(root, ".dockerignore"), "w") as f:
        f.write(".git\n**/__pycache__\n**/node_modules\n.venv\ntarget\nbuild\n!build/keep/**\ndata/*.bin\n!data/blob0.bin\n")
    with open(os.path.join(root, "Dockerfile"), "w") as f:
        f.write("FROM scratch\nCOPY . /\n")
    print(f"{root}: {count[0]} files")

main()
