#!/usr/bin/env python3
"""Whole-command benchmarks of ctxray against baselines, run alternately.

usage: run.py CONTEXT [--runs N] [--ctxray PATH] [--docker20 ORACLE_BIN] [--dockerpy ORACLE_PY]
       run.py --scaling SIZE=DIR [SIZE=DIR ...] [--runs N] [--docker20 ORACLE_BIN] [--dockerpy ORACLE_PY]
       run.py CONTEXT --ignore-lines N [--runs N]
       run.py --pair CMD1 CMD2 [--runs N]

Default: each pair runs alternately N times (after one warm-up each);
medians, the ratio ctxray/baseline and the peak RSS of each command are
printed.

--scaling: for each SIZE=DIR (SIZE one of small, large, huge), DIR is reused
if it holds a finished corpus, else generated with corpus.py; the same pairs
run on each, then the cost per entry of each command is compared between
the sizes (ratio 1.00 = linear scaling).

--ignore-lines N: the context's .dockerignore is copied twice, padded with
generated rules to 10 lines and to N lines (rules that change little of
what is sent: exact paths that do not exist, `**/name` and `dir/**` of names
that do not occur, a few realistic duplicates and anchored exceptions), and
ctxray's `report` (with and without its lint section), `ls`, `pack`, `lint`
and `explain` are timed with each
(`--ignore-file`), alternately.
"""
import argparse, atexit, os, random, shlex, signal, statistics, subprocess, sys, tempfile, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))


class TimedOut(Exception):
    pass


# A child of this script starts with its RSS high-water mark at this
# script's own RSS (~14 MiB: the kernel carries it across exec), so peak RSS
# is measured by GNU time, whose children start from its few hundred KiB.
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
RSS_FILE = tempfile.NamedTemporaryFile(delete=False).name
# In memory where possible: writing it to disk would leave writeback that
# slows the jobs that follow.
PACK_OUT = tempfile.NamedTemporaryFile(
    suffix=".tar", delete=False, dir="/dev/shm" if os.path.isdir("/dev/shm") else None).name
atexit.register(lambda: [os.unlink(f) for f in (RSS_FILE, PACK_OUT) if os.path.exists(f)])


def run(cmd, timeout=None):
    argv = ["bash", "-c", cmd]
    if GNU_TIME:
        argv = [GNU_TIME, "-o", RSS_FILE, "-f", "%M"] + argv
    t = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    fired = []

    def kill():
        fired.append(1)
        os.killpg(p.pid, signal.SIGKILL)

    timer = threading.Timer(timeout, kill) if timeout else None
    if timer:
        timer.start()
    _, status, ru = os.wait4(p.pid, 0)
    if timer:
        timer.cancel()
    dt = time.perf_counter() - t
    err = p.stderr.read().decode(errors="replace")
    if fired:
        raise TimedOut(cmd)
    if status != 0:
        sys.exit(f"failed ({status}): {cmd}\n{err}")
    kib = ru.ru_maxrss
    if GNU_TIME:
        kib = int(open(RSS_FILE).read().split()[-1])
    return dt, kib / 1024  # MiB: peak of the largest process of the command


def alternate(cmds, runs, timeout=None):
    """Runs each command once (warm-up), then all of them in turn `runs`
    times. Returns [(median seconds, peak RSS MiB)], None for a command that
    timed out (it is not run again)."""
    times, rss = alternate_all(cmds, runs, timeout)
    return [None if t is None else (statistics.median(t), r) for t, r in zip(times, rss)]


def alternate_all(cmds, runs, timeout=None):
    """`alternate`, returning every time: ([seconds of each run, or None if
    it timed out], [peak RSS MiB])."""
    times = [[] for _ in cmds]
    rss = [0.0 for _ in cmds]
    dead = [False for _ in cmds]
    for rep in range(runs + 1):
        for i, c in enumerate(cmds):
            if dead[i]:
                continue
            try:
                t, r = run(c, timeout)
            except TimedOut:
                dead[i] = True
                continue
            rss[i] = max(rss[i], r)
            if rep > 0:
                times[i].append(t)
    return [None if dead[i] else times[i] for i in range(len(cmds))], rss


def pair_only(a):
    """--pair: two arbitrary commands, alternately, with their spread."""
    t, rss = alternate_all(a.pair, a.runs)
    for cmd, ts, r in zip(a.pair, t, rss):
        ts = sorted(ts)
        q = statistics.quantiles(ts, n=4) if len(ts) > 1 else [ts[0]] * 3
        print(f"median {ts[len(ts) // 2] * 1000:.1f} ms  quartiles {q[0] * 1000:.1f}–{q[2] * 1000:.1f}  "
              f"range {ts[0] * 1000:.1f}–{ts[-1] * 1000:.1f} ms  peak RSS {r:.0f} MiB  :: {cmd}")
    ma, mb = (statistics.median(x) for x in t)
    print(f"ratio of medians (second / first): {mb / ma:.2f}; {a.runs} alternating runs")


def pair(name, ours, base, runs):
    (ma, ra), (mb, rb) = alternate([ours, base], runs)
    print(f"| {name} | {ma:.3f} s | {mb:.3f} s | {ma / mb:.2f}x | {ra:.0f} MiB | {rb:.0f} MiB |")
    sys.stdout.flush()
    return ma, mb, ra, rb


def sent_list(x, c):
    lst = tempfile.NamedTemporaryFile(delete=False).name
    subprocess.run(f"{x} ls -0 --engine classic {c} > {lst}", shell=True, check=True)
    return lst, open(lst, "rb").read().count(b"\0")


def jobs(x, c, lst, docker20, dockerpy=None):
    """(name, ctxray command, baseline command, per-entry denominator, runs divisor)."""
    out = []
    out.append(("`pack` vs GNU tar on the same list", f"{x} pack --engine classic -o - {c} | cat >/dev/null",
                f"tar -C {c} --null --no-recursion -T {lst} -cf - | cat >/dev/null", "sent", 1))
    if docker20:
        # The same sink for both: the archive streamed through a pipe.
        out.append(("`pack` vs Docker 20.10's Go code", f"{x} pack --engine classic -o - {c} | cat >/dev/null",
                    f"{shlex.quote(docker20)} tar --engine docker20 {c} /dev/stdout | cat >/dev/null", "sent", 2))
    out.append(("`report` vs `du -sb`", f"{x} report --json {c} >/dev/null", f"du -sb {c} >/dev/null", "all", 1))
    # The lint checks walk the context a second time: without them, the walk alone.
    out.append(("`report --no-lint` vs `du -sb`", f"{x} report --json --no-lint {c} >/dev/null",
                f"du -sb {c} >/dev/null", "all", 1))
    out.append(("`ls` vs `find -printf ''`", f"{x} ls {c} >/dev/null", f"find {c} -printf '' >/dev/null", "all", 1))
    if dockerpy:
        # docker-py's writer seeks, so both write a file (docker-py's own
        # rules and bytes, not Docker's: a second baseline, for speed only).
        out.append(("`pack -o FILE` vs docker-py's `utils.build.tar`",
                    f"{x} pack --engine classic -o {PACK_OUT} {c}",
                    f"python3 {shlex.quote(dockerpy)} tar {c} {PACK_OUT}", "sent", 3))
    return out


HEADER = ("| job | ctxray | baseline | ratio | ctxray peak RSS | baseline peak RSS |\n"
          "|---|---|---|---|---|---|")


def compare(a):
    c, x = shlex.quote(a.context), shlex.quote(a.ctxray)
    lst, n = sent_list(x, c)
    print(f"context {a.context}: {n} entries sent (classic); {a.runs} alternating runs, medians\n")
    print(HEADER)
    for name, ours, base, _, div in jobs(x, c, lst, a.docker20, a.dockerpy):
        pair(name, ours, base, max(1, a.runs // div))
    os.unlink(lst)


def count_entries(d):
    out = subprocess.run(["find", d, "-mindepth", "1", "-printf", "."], capture_output=True, check=True)
    return len(out.stdout)


def ensure_corpus(size, d):
    # corpus.py writes the Dockerfile last: its presence means a finished corpus.
    if os.path.exists(os.path.join(d, "Dockerfile")):
        print(f"reusing {d} ({size})")
    else:
        print(f"generating {d} ({size}) ...")
        sys.stdout.flush()
        subprocess.run([sys.executable, os.path.join(HERE, "corpus.py"), d, size], check=True)


def scaling(a):
    x = shlex.quote(a.ctxray)
    specs = []
    for s in a.scaling:
        size, _, d = s.partition("=")
        if size not in ("small", "large", "huge") or not d:
            sys.exit(f"--scaling takes SIZE=DIR with SIZE small, large or huge: {s}")
        specs.append((size, d))
    for size, d in specs:
        ensure_corpus(size, d)
    print(f"\n{a.runs} alternating runs per pair, medians (the Docker 20.10 pair: half as many)\n")
    rows = {}  # (size, job) -> (t ours, t base, rss ours, rss base)
    counts = {}
    for size, d in specs:
        c = shlex.quote(d)
        lst, sent = sent_list(x, c)
        total = count_entries(d)
        counts[size] = {"all": total, "sent": sent}
        load = os.getloadavg()
        print(f"### {size}: {d}: {total} entries, {sent} sent (classic); load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n")
        print(HEADER)
        for name, ours, base, _, div in jobs(x, c, lst, a.docker20, a.dockerpy):
            rows[(size, name)] = pair(name, ours, base, max(1, a.runs // div))
        os.unlink(lst)
        print()
    commands(x, specs, a.runs)
    sizes = [s for s, _ in specs]
    if len(sizes) < 2:
        return
    print("Cost per entry relative to the next smaller size (1.00 = linear; entries: all for "
          "`report`/`du`/`ls`/`find`, sent for `pack`/`tar`/Docker):\n")
    print("| job | sizes | entries ratio | ctxray time ratio | ctxray per-entry ratio | baseline time ratio "
          "| baseline per-entry ratio | ctxray RSS | baseline RSS |")
    print("|---|---|---|---|---|---|---|---|---|")
    for lo, hi in zip(sizes, sizes[1:]):
        for name, _, _, denom, _ in jobs(x, "C", "L", a.docker20, a.dockerpy):
            ta, tb, ra, rb = rows[(lo, name)]
            ua, ub, sa, sb = rows[(hi, name)]
            nr = counts[hi][denom] / counts[lo][denom]
            print(f"| {name} | {hi}/{lo} | {nr:.1f}x | {ua / ta:.1f}x | {ua / ta / nr:.2f} | {ub / tb:.1f}x "
                  f"| {ub / tb / nr:.2f} | {ra:.0f} → {sa:.0f} MiB | {rb:.0f} → {sb:.0f} MiB |")


# Every command on its own (exit 1 from lint/check findings is not a failure).
COMMANDS = [
    ("report", "{x} report {c}"),
    ("report --no-lint", "{x} report --no-lint {c}"),
    ("ls", "{x} ls {c}"),
    ("pack -o -", "{x} pack -o - {c} | cat"),
    ("lint", "{x} lint --fail-on never {c}"),
    ("check", "{x} check {c} || [ $? = 1 ]"),
    ("explain", "{x} explain {c} src node_modules .git"),
]


def commands(x, specs, runs):
    """Time and peak RSS of every command at every size."""
    print("Every command (median time · peak RSS):\n")
    print("| command | " + " | ".join(size for size, _ in specs) + " |")
    print("|---|" + "---|" * len(specs))
    for name, cmd in COMMANDS:
        cells = []
        for _, d in specs:
            [(t, r)] = alternate([cmd.format(x=x, c=shlex.quote(d))], runs)
            cells.append(f"{t:.3f} s · {r:.0f} MiB")
        print(f"| `{name}` | " + " | ".join(cells) + " |")
        sys.stdout.flush()
    print()


# Names that occur in no corpus, so rules built from them exclude nothing.
def generated_rules(n, rng):
    realistic = ["**/*.pyc", "**/.DS_Store", "*.log", "**/*.swp", ".idea", ".vscode", "**/.pytest_cache",
                 "coverage", "**/*.egg-info", "npm-debug.log", ".env", "**/*.orig"]
    exts = ["py", "js", "ts", "rs", "go", "json", "md", "txt", "yaml", "toml"]
    out = []
    for i in range(n):
        k = rng.randrange(20)
        if k < 12:
            out.append(f"src/gen{rng.randrange(50)}/file{i}.{rng.choice(exts)}")
        elif k < 14:
            out.append(f"**/nosuchname{i}")
        elif k < 16:
            out.append(f"nosuchdir{i}/**")
        elif k < 17:
            out.append(f"*.noext{i}")
        elif k < 18:
            out.append(f"!src/gen{rng.randrange(50)}/keep{i}.py")
        else:
            out.append(rng.choice(realistic))
    return out


def ignore_lines(a):
    c, x = shlex.quote(a.context), shlex.quote(a.ctxray)
    base = os.path.join(a.context, ".dockerignore")
    orig = open(base).read().splitlines() if os.path.exists(base) else []
    rng = random.Random(7)
    extra = generated_rules(max(a.ignore_lines, 10), rng)
    files = {}
    for n in (10, a.ignore_lines):
        lines = orig + extra[:max(0, n - len(orig))]
        f = tempfile.NamedTemporaryFile("w", suffix=".dockerignore", delete=False)
        f.write("\n".join(lines) + "\n")
        f.close()
        files[n] = f.name
    sent = {}
    for n, f in files.items():
        out = subprocess.run(f"{x} ls -0 --engine classic --ignore-file {shlex.quote(f)} {c}", shell=True,
                             check=True, capture_output=True).stdout
        sent[n] = out.count(b"\0")
    load = os.getloadavg()
    print(f"context {a.context}: {len(orig)} lines of its own; sent (classic) with 10 lines: {sent[10]}, "
          f"with {a.ignore_lines}: {sent[a.ignore_lines]}; {a.runs} alternating runs, medians; "
          f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n")
    print(f"| job | 10 lines | {a.ignore_lines} lines | ratio | peak RSS 10 | peak RSS {a.ignore_lines} |")
    print("|---|---|---|---|---|---|")
    for name, cmd in [("`report`", "{x} report --ignore-file {f} {c} >/dev/null"),
                      ("`report --no-lint`", "{x} report --no-lint --ignore-file {f} {c} >/dev/null"),
                      ("`report --no-lint --json`", "{x} report --no-lint --json --ignore-file {f} {c} >/dev/null"),
                      ("`ls`", "{x} ls --ignore-file {f} {c} >/dev/null"),
                      ("`pack`", "{x} pack --engine classic --ignore-file {f} -o - {c} | cat >/dev/null"),
                      ("`lint`", "{x} lint --fail-on never --ignore-file {f} {c} >/dev/null"),
                      ("`explain`", "{x} explain --ignore-file {f} {c} src node_modules .git >/dev/null")]:
        cmds = [cmd.format(x=x, c=c, f=shlex.quote(files[n])) for n in (10, a.ignore_lines)]
        r = alternate(cmds, a.runs, a.timeout)
        (ta, ra) = r[0]
        if r[1] is None:
            print(f"| {name} | {ta:.3f} s | > {a.timeout:.0f} s (killed) | > {a.timeout / ta:.0f}x | {ra:.0f} MiB | - |")
        else:
            tb, rb = r[1]
            print(f"| {name} | {ta:.3f} s | {tb:.3f} s | {tb / ta:.2f}x | {ra:.0f} MiB | {rb:.0f} MiB |")
        sys.stdout.flush()
    for f in files.values():
        os.unlink(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("context", nargs="?")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--ctxray", default="target/release/ctxray")
    ap.add_argument("--docker20", help="path to the Go oracle binary (engine docker20 = Docker 20.10's own code)")
    ap.add_argument("--dockerpy", help="path to the Python oracle script (docker-py's utils.build.tar; needs the `docker` package)")
    ap.add_argument("--scaling", nargs="+", metavar="SIZE=DIR",
                    help="generate or reuse a corpus of each size in DIR and run every pair on each")
    ap.add_argument("--ignore-lines", type=int, metavar="N",
                    help="time ctxray with the .dockerignore padded to 10 lines and to N lines")
    ap.add_argument("--pair", nargs=2, metavar="CMD",
                    help="time two shell commands alternately (--runs times) and print their spread")
    ap.add_argument("--timeout", type=float, default=300,
                    help="--ignore-lines: kill a command after this many seconds (default 300)")
    a = ap.parse_args()
    if not GNU_TIME:
        print("note: no /usr/bin/time: peak RSS is at least this script's own RSS (~14 MiB)")
    if a.pair:
        pair_only(a)
    elif a.scaling:
        scaling(a)
    elif not a.context:
        ap.error("CONTEXT is required (unless --scaling)")
    elif a.ignore_lines:
        ignore_lines(a)
    else:
        compare(a)


main()
