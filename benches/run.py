#!/usr/bin/env python3
"""Whole-command benchmarks of ctxray against baselines, run alternately.

usage: run.py CONTEXT [--runs N] [--ctxray PATH] [--docker20 ORACLE_BIN]

Each pair runs alternately N times (after one warm-up each); medians, the
ratio ctxray/baseline and the peak RSS of each command are printed.
"""
import argparse, os, shlex, statistics, subprocess, sys, tempfile, time

def run(cmd):
    t = time.perf_counter()
    p = subprocess.Popen(["bash", "-c", cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t
    err = p.stderr.read().decode(errors="replace")
    if status != 0:
        sys.exit(f"failed ({status}): {cmd}\n{err}")
    return dt, ru.ru_maxrss / 1024  # MiB

def pair(name, ours, base, runs):
    run(ours); run(base)
    a, b, ra, rb = [], [], 0, 0
    for _ in range(runs):
        t, r = run(ours); a.append(t); ra = max(ra, r)
        t, r = run(base); b.append(t); rb = max(rb, r)
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"| {name} | {ma:.3f} s | {mb:.3f} s | {ma / mb:.2f}x | {ra:.0f} MiB | {rb:.0f} MiB |")
    sys.stdout.flush()

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("context")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--ctxray", default="target/release/ctxray")
    ap.add_argument("--docker20", help="path to the Go oracle binary (engine docker20 = Docker 20.10's own code)")
    a = ap.parse_args()
    c, x = shlex.quote(a.context), shlex.quote(a.ctxray)
    lst = tempfile.NamedTemporaryFile(delete=False).name
    subprocess.run(f"{x} ls -0 --engine classic {c} > {lst}", shell=True, check=True)
    n = open(lst, "rb").read().count(b"\0")
    print(f"context {a.context}: {n} entries sent (classic); {a.runs} alternating runs, medians\n")
    print("| job | ctxray | baseline | ratio | ctxray peak RSS | baseline peak RSS |")
    print("|---|---|---|---|---|---|")
    pair("`pack` vs GNU tar on the same list", f"{x} pack --engine classic -o - {c} | cat >/dev/null",
         f"tar -C {c} --null --no-recursion -T {lst} -cf - | cat >/dev/null", a.runs)
    if a.docker20:
        out = tempfile.NamedTemporaryFile(delete=False).name
        pair("`pack` vs Docker 20.10's Go code", f"{x} pack --engine classic -o - {c} | cat >/dev/null",
             f"{shlex.quote(a.docker20)} tar --engine docker20 {c} {out}", max(1, a.runs // 2))
    pair("`report` vs `du -sb`", f"{x} report --json {c} >/dev/null", f"du -sb {c} >/dev/null", a.runs)
    pair("`ls` vs `find -printf ''`", f"{x} ls {c} >/dev/null", f"find {c} -printf '' >/dev/null", a.runs)
    os.unlink(lst)

main()
