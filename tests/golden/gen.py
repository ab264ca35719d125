#!/usr/bin/env python3
"""Generates the differential test corpus in tests/golden/.

    python3 tests/golden/gen.py --oracle DIR [--only NAME ...] [--keep]

DIR is the oracle directory (it holds cli/capture.sh and bin/oracle). For each
case it writes:

    cases/<name>.json          the tree spec (format: README.md)
    out/<name>.tree.txt        canonical listing of the materialized tree
    out/<name>.classic.tar     what the real `docker build` (DOCKER_BUILDKIT=0) uploaded
    out/<name>.classic.txt     entry names of that tar, in tar order (dirs end in '/')
    out/<name>.classic.err     instead of .tar/.txt when docker refused (temp path -> <CTX>)
    out/<name>.buildkit.txt    `oracle list --engine buildkit --walk-order`
    out/<name>.buildkit.err    instead of .txt when the oracle failed

Python 3.11, standard library only. Deterministic: the hand-written cases are
fixed and the random ones come from fixed seeds.
"""
import argparse
import json
import os
import random
import re
import shutil
import socket
import stat
import subprocess
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CASES_DIR = os.path.join(HERE, "cases")
OUT_DIR = os.path.join(HERE, "out")

DEFAULT_MTIME = 1600000000
DEFAULT_MODE = {"file": 0o644, "fifo": 0o644, "dir": 0o755, "socket": 0o755}
DOCKERFILE_TEXT = "FROM scratch\nCOPY . /ctx/\n"

# ---------------------------------------------------------------------------
# Entry constructors (key order is the JSON key order)


def _p(path):
    if isinstance(path, bytes):
        try:
            path.decode("utf-8")
        except UnicodeDecodeError:
            return {"path_hex": path.hex()}
        path = path.decode("utf-8")
    return {"path": path}


def F(path, content="", mode=None, mtime=None, size=None):
    e = _p(path)
    e["type"] = "file"
    if mode is not None:
        e["mode"] = "%04o" % mode
    if mtime is not None:
        e["mtime"] = mtime
    if size is not None:
        e["size"] = size
    elif isinstance(content, bytes):
        e["content_hex"] = content.hex()
    else:
        e["content"] = content
    return e


def D(path, mode=None, mtime=None):
    e = _p(path)
    e["type"] = "dir"
    if mode is not None:
        e["mode"] = "%04o" % mode
    if mtime is not None:
        e["mtime"] = mtime
    return e


def L(path, target, mtime=None):
    e = _p(path)
    e["type"] = "symlink"
    if mtime is not None:
        e["mtime"] = mtime
    if isinstance(target, bytes):
        e["target_hex"] = target.hex()
    else:
        e["target"] = target
    return e


def H(path, target):
    e = _p(path)
    e["type"] = "hardlink"
    e["target"] = target
    return e


def FIFO(path, mode=None, mtime=None):
    e = _p(path)
    e["type"] = "fifo"
    if mode is not None:
        e["mode"] = "%04o" % mode
    if mtime is not None:
        e["mtime"] = mtime
    return e


def SOCK(path, mode=None, mtime=None):
    e = _p(path)
    e["type"] = "socket"
    if mode is not None:
        e["mode"] = "%04o" % mode
    if mtime is not None:
        e["mtime"] = mtime
    return e


def DF(path="Dockerfile", mtime=1700000000):
    return F(path, DOCKERFILE_TEXT, mtime=mtime)


def IGN(*lines, path=".dockerignore", mtime=1700000001):
    """An ignore file: the lines joined with LF, with a final LF."""
    return F(path, "".join(l + "\n" for l in lines), mtime=mtime)


def IGN_RAW(data, path=".dockerignore", mtime=1700000001):
    return F(path, data, mtime=mtime)


def case(name, description, entries, dockerfile=None):
    return {"name": name, "description": description, "dockerfile": dockerfile, "entries": entries}


# ---------------------------------------------------------------------------
# Hand-designed cases


def hand_cases():
    C = []
    T = 1700000100  # base mtime for files

    C.append(case(
        "walk_order_sorting",
        "no .dockerignore; walk order is per-directory byte order, pre-order (SPEC d.4): a/ and its "
        "contents come before a-b, a.b, a0 although 'a-b' < 'a/' as full paths",
        [DF(), F("a/x", "x", mtime=T), F("a/y/z", "z", mtime=T + 1), F("a-b", "1", mtime=T + 2),
         F("a0", "2", mtime=T + 3), F("a.b", "3", mtime=T + 4), F("A", "4", mtime=T + 5),
         F("_u", "5", mtime=T + 6), F("a/-", "6", mtime=T + 7), F("b", "7", mtime=T + 8),
         F("~t", "8", mtime=T + 9), D("a", mtime=1650000000), D("a/y", mtime=1650000001)]))

    C.append(case(
        "exc_literal_reinclude",
        "build + !build/keep/**: legacy walker descends build/ and build/keep/ (literal exception "
        "prefix, SPEC c.2) but does not write them (c.3); BuildKit emits the parents lazily (c BuildKit 3)",
        [DF(), IGN("build", "!build/keep/**"),
         F("build/out.o", "o", mtime=T), F("build/keep/a/k.txt", "k", mtime=T + 1),
         F("build/keep/b.txt", "b", mtime=T + 2), F("build/other/c.txt", "c", mtime=T + 3),
         F("buildx/f", "f", mtime=T + 4), F("src/main.c", "m", mtime=T + 5)]))

    C.append(case(
        "exc_wildcard_dstar_node_modules",
        "**/node_modules + !**/node_modules/keep: wildcard exception never re-opens an excluded dir in "
        "the legacy walker (SPEC c.2, moby#30018) but does in BuildKit (c BuildKit 2)",
        [DF(), IGN("**/node_modules", "!**/node_modules/keep"),
         F("node_modules/keep", "k", mtime=T), F("node_modules/drop", "d", mtime=T + 1),
         F("app/node_modules/keep", "k2", mtime=T + 2), F("app/node_modules/sub/keep", "k3", mtime=T + 3),
         F("app/index.js", "i", mtime=T + 4)]))

    C.append(case(
        "exc_wildcard_any_keep",
        "vendor, cache/ excluded + !**/keep: legacy keeps only root 'keep'; BuildKit walks excluded dirs",
        [DF(), IGN("vendor", "cache/", "!**/keep"),
         F("vendor/keep", "1", mtime=T), F("vendor/x/keep", "2", mtime=T + 1),
         F("vendor/x/other", "3", mtime=T + 2), F("cache/keep", "4", mtime=T + 3),
         F("keep", "5", mtime=T + 4), F("other/keep", "6", mtime=T + 5)]))

    C.append(case(
        "exc_wildcard_star_file",
        "d* + !*/a.txt: classic never re-opens d1/, d2/ (wildcard exception); BuildKit re-includes "
        "d1/a.txt and d2/a.txt but not d2/deep/a.txt",
        [DF(), IGN("d*", "!*/a.txt"),
         F("d1/a.txt", "a", mtime=T), F("d1/b.txt", "b", mtime=T + 1), F("d2/a.txt", "a2", mtime=T + 2),
         F("d2/deep/a.txt", "a3", mtime=T + 3), F("e/a.txt", "e", mtime=T + 4), F("da.txt", "x", mtime=T + 5)]))

    C.append(case(
        "exc_prefix_text_check",
        "foo + !foo*/bar, lib + !lib*, tmp + !tmp/: the legacy descend test is a text-prefix test on "
        "the exception (SPEC c.2), 'foo*/bar/' does not start with 'foo/'",
        [DF(), IGN("foo", "!foo*/bar", "lib", "!lib*", "tmp", "!tmp/"),
         F("foo/bar", "1", mtime=T), F("foo/baz", "2", mtime=T + 1), F("foobar/bar", "3", mtime=T + 2),
         F("lib/x", "4", mtime=T + 3), F("tmp/t", "5", mtime=T + 4)]))

    C.append(case(
        "parent_quirk_af_not_a",
        "a/f + !a: MatchesUsingParentResults quirk (SPEC b.4): a/f stays excluded although !a is last",
        [DF(), IGN("a/f", "!a"),
         F("a/f", "f", mtime=T), F("a/g", "g", mtime=T + 1), F("a/sub/f", "sf", mtime=T + 2),
         F("b/f", "bf", mtime=T + 3)]))

    C.append(case(
        "parent_quirk_star_f",
        "*/f + !a (SPEC b.4 variant): a/f and b/f excluded",
        [DF(), IGN("*/f", "!a"),
         F("a/f", "f", mtime=T), F("a/g", "g", mtime=T + 1), F("b/f", "bf", mtime=T + 2),
         F("b/g", "bg", mtime=T + 3)]))

    C.append(case(
        "parent_quirk_a_star",
        "a/* + !a (SPEC b.4 variant): children of a excluded, a/ itself included",
        [DF(), IGN("a/*", "!a"),
         F("a/f", "f", mtime=T), F("a/d/x", "x", mtime=T + 1), F("ab/f", "y", mtime=T + 2)]))

    C.append(case(
        "last_match_wins",
        "evaluation order: last matching line wins (SPEC b.5); an exception before the exclusion is useless",
        [DF(), IGN("!NOTES.md", "*.md", "!README.md", "!CHANGELOG.md", "CHANGELOG.md", "docs", "!docs/keep.md"),
         F("README.md", "r", mtime=T), F("CHANGELOG.md", "c", mtime=T + 1), F("NOTES.md", "n", mtime=T + 2),
         F("a.md", "a", mtime=T + 3), F("docs/x.md", "x", mtime=T + 4), F("docs/keep.md", "k", mtime=T + 5),
         F("docs/drop.txt", "d", mtime=T + 6), F("sub/y.md", "y", mtime=T + 7)]))

    C.append(case(
        "dstar_positions",
        "** at start, middle, end (SPEC b.1): **/*.log, a/**/b (matches a/b), x/** (not x itself), **/tmp/**",
        [DF(), IGN("**/*.log", "a/**/b", "x/**", "**/tmp/**"),
         F("app.log", "1", mtime=T), F("d/e/f.log", "2", mtime=T + 1), F("a/b", "3", mtime=T + 2),
         F("a/x/b", "4", mtime=T + 3), F("a/x/y/b", "5", mtime=T + 4), F("a/bb", "6", mtime=T + 5),
         F("x/1", "7", mtime=T + 6), F("x/y/2", "8", mtime=T + 7), F("tmp/t", "9", mtime=T + 8),
         F("q/tmp/t", "10", mtime=T + 9), D("q/tmp/e"), F("xy", "11", mtime=T + 10)]))

    C.append(case(
        "dstar_everything_with_exceptions",
        "** excludes all; !src/**/*.rs re-opens src/ (its text starts with 'src/') but not src/lib/ "
        "for the legacy walker; !keep.txt; Dockerfile/.dockerignore re-added by Trim (SPEC d.3)",
        [DF(), IGN("**", "!src/**/*.rs", "!keep.txt"),
         F("keep.txt", "k", mtime=T), F("src/main.rs", "m", mtime=T + 1), F("src/lib/util.rs", "u", mtime=T + 2),
         F("src/readme", "r", mtime=T + 3), F("other/x.rs", "x", mtime=T + 4)]))

    C.append(case(
        "dstar_suffix",
        "**foo is a plain suffix test (matches xfoo, a/bfoo; SPEC b.1), **/bar needs a '/' boundary, **.tmp",
        [DF(), IGN("**foo", "**/bar", "**.tmp"),
         F("foo", "1", mtime=T), F("xfoo", "2", mtime=T + 1), F("a/bfoo", "3", mtime=T + 2),
         F("a/foo", "4", mtime=T + 3), F("foox", "5", mtime=T + 4), F("bar", "6", mtime=T + 5),
         F("abar", "7", mtime=T + 6), F("z/bar", "8", mtime=T + 7), F("q.tmp", "9", mtime=T + 8),
         F("z/y.tmp", "10", mtime=T + 9), F("z/keep", "11", mtime=T + 10)]))

    C.append(case(
        "a_dstar_b",
        "a**b = a(.../)?b: matches ab, a/b, ax/b, not axb (SPEC b.2); c** prefix; **d** regexp",
        [DF(), IGN("a**b", "c**", "**d**"),
         F("ab", "1", mtime=T), F("a/b", "2", mtime=T + 1), F("ax/b", "3", mtime=T + 2), F("axb", "4", mtime=T + 3),
         F("a/x/b", "5", mtime=T + 4), F("a/x/c", "6", mtime=T + 5), F("c", "7", mtime=T + 6),
         F("cat/x", "8", mtime=T + 7), F("xc", "9", mtime=T + 8), F("d", "10", mtime=T + 9),
         F("dx", "11", mtime=T + 10), F("xdx", "12", mtime=T + 11), F("q/dz", "13", mtime=T + 12),
         F("q/zd", "14", mtime=T + 13)]))

    C.append(case(
        "root_anchoring",
        "*.pyc, node_modules, __pycache__, .DS_Store only match at the root (SPEC b.3)",
        [DF(), IGN("*.pyc", "node_modules", "__pycache__", ".DS_Store"),
         F("a.pyc", "1", mtime=T), F("src/b.pyc", "2", mtime=T + 1), F("node_modules/x", "3", mtime=T + 2),
         F("web/node_modules/y", "4", mtime=T + 3), F("__pycache__/c", "5", mtime=T + 4),
         F("src/__pycache__/d", "6", mtime=T + 5), F(".DS_Store", "7", mtime=T + 6),
         F("src/.DS_Store", "8", mtime=T + 7)]))

    C.append(case(
        "char_classes",
        "Go regexp classes (SPEC b.2): [^a] negates, [!b] is the set {!,b}, [[:alpha:]], [[:digit:]], "
        "[a-c], ? is one rune (matches e-acute), classes never match '/'",
        [DF(), IGN("[^a]1.txt", "[!b]2.txt", "[[:alpha:]][[:digit:]].c", "[a-c]x", "?.q", "k[^x]z"),
         F("a1.txt", "1", mtime=T), F("b1.txt", "2", mtime=T + 1), F("!2.txt", "3", mtime=T + 2),
         F("b2.txt", "4", mtime=T + 3), F("c2.txt", "5", mtime=T + 4), F("x1.c", "6", mtime=T + 5),
         F("11.c", "7", mtime=T + 6), F("ax", "8", mtime=T + 7), F("dx", "9", mtime=T + 8),
         F("\u00e9.q", "10", mtime=T + 9), F("ab.q", "11", mtime=T + 10), F("k/z", "12", mtime=T + 11),
         F("kyz", "13", mtime=T + 12), F("kxz", "14", mtime=T + 13)]))

    C.append(case(
        "escapes",
        "backslash escapes are regexp escapes (SPEC b.2): \\*, \\#, \\?, \\[ \\], \\\\ literal; \\d \\w \\s "
        "classes; a\\b = word boundary (matches a, hence a/inner)",
        [DF(), IGN("\\*star", "\\#hash", "file\\d", "a\\b", "\\?q", "\\[br\\]", "w\\w", "sp\\sace", "\\\\back"),
         F("*star", "1", mtime=T), F("xstar", "2", mtime=T + 1), F("#hash", "3", mtime=T + 2),
         F("file1", "4", mtime=T + 3), F("filex", "5", mtime=T + 4), F("a/inner", "6", mtime=T + 5),
         F("ab", "7", mtime=T + 6), F("?q", "8", mtime=T + 7), F("xq", "9", mtime=T + 8),
         F("[br]", "10", mtime=T + 9), F("b", "11", mtime=T + 10), F("w_", "12", mtime=T + 11),
         F("w-", "13", mtime=T + 12), F("sp ace", "14", mtime=T + 13), F("\\back", "15", mtime=T + 14),
         F("back", "16", mtime=T + 15)]))

    C.append(case(
        "caret_anchor",
        "^ is not escaped (SPEC b.2): ^foo* matches foobar not ^foobar; a^b* matches nothing; ^lit "
        "(exact type) and **/^x (suffix type) are literal",
        [DF(), IGN("^foo*", "a^b*", "^lit", "**/^x"),
         F("foobar", "1", mtime=T), F("^foobar", "2", mtime=T + 1), F("ab", "3", mtime=T + 2),
         F("a^b", "4", mtime=T + 3), F("a^bc", "5", mtime=T + 4), F("^lit", "6", mtime=T + 5),
         F("lit", "7", mtime=T + 6), F("d/^x", "8", mtime=T + 7), F("^x", "9", mtime=T + 8), F("x", "10", mtime=T + 9)]))

    C.append(case(
        "regex_literals",
        ". + ( ) { } $ | are literal in Docker >= 23 (SPEC b.7)",
        [DF(), IGN("a+b*", "x{2}*", "(p)*", "c|d*", "$v*", "d.t*"),
         F("a+b", "1", mtime=T), F("aab", "2", mtime=T + 1), F("x{2}", "3", mtime=T + 2), F("xx", "4", mtime=T + 3),
         F("(p)", "5", mtime=T + 4), F("p", "6", mtime=T + 5), F("c|d", "7", mtime=T + 6), F("c", "8", mtime=T + 7),
         F("d", "9", mtime=T + 8), F("$v", "10", mtime=T + 9), F("v", "11", mtime=T + 10),
         F("d.t", "12", mtime=T + 11), F("dxt", "13", mtime=T + 12)]))

    C.append(case(
        "regex_pipe_braces_live",
        "SURPRISE vs SPEC b.7: in regexp-type patterns | { } are NOT escaped (patternmatcher's escapeBytes "
        "bitmap drops chars >= 64), so *.js|*.ts is an unanchored alternation and x{2}? a repeat; in "
        "exact-type patterns (no wildcard) they stay literal (m|n)",
        [DF(), IGN("*.js|*.ts", "x{2}?", "*.{js,ts}", "m|n"),
         F("a.js", "1", mtime=T), F("a.jsx", "2", mtime=T + 1), F("a.json", "3", mtime=T + 2),
         F("b.ts", "4", mtime=T + 3), F("sub/c.ts", "5", mtime=T + 4), F("sub/c.tsx", "6", mtime=T + 5),
         F("sub/d.js", "7", mtime=T + 6), F("xx1", "8", mtime=T + 7), F("x{2}1", "9", mtime=T + 8),
         F("e.js", "10", mtime=T + 9), F("e.{js,ts}", "11", mtime=T + 10), F("m|n", "12", mtime=T + 11),
         F("m", "13", mtime=T + 12), F("n", "14", mtime=T + 13)]))

    C.append(case(
        "class_spans_slash",
        "SURPRISE vs SPEC b.2: negated classes and \\W \\S [[:punct:]] are plain RE2 and DO match '/': "
        "p[^a]q matches p/q, w\\Wz matches w/z",
        [DF(), IGN("p[^a]q", "w\\Wz", "s\\Sz", "src[[:punct:]]gen", "k[a-z]z"),
         F("p/q", "1", mtime=T), F("pxq", "2", mtime=T + 1), F("paq", "3", mtime=T + 2),
         F("w/z", "4", mtime=T + 3), F("w z", "5", mtime=T + 4), F("wxz", "6", mtime=T + 5),
         F("s/z", "7", mtime=T + 6), F("src/gen", "8", mtime=T + 7), F("src-gen", "9", mtime=T + 8),
         F("src/other", "10", mtime=T + 9), F("k/z", "11", mtime=T + 10), F("kyz", "12", mtime=T + 11)]))

    C.append(case(
        "dockerignore_symlink",
        ".dockerignore is a symlink: the CLI opens (follows) it; the symlink itself is sent as a symlink",
        [DF(), L(".dockerignore", "conf/ignore", mtime=1700000001), IGN("*.log", "conf", path="conf/ignore"),
         F("a.log", "1", mtime=T), F("b", "2", mtime=T + 1)]))

    C.append(case(
        "ignorefile_bom_crlf",
        "reader (SPEC a.2-a.6): BOM removed on line 1 only, CRLF, lone CR is not a line break, "
        "TrimSpace, '! neg' exception",
        [DF(), IGN_RAW(b"\xef\xbb\xbffoo\r\nbar\r\n\xef\xbb\xbfbaz\r\none\rtwo\n  spaced  \r\n\tz\t\nne*\n! neg"),
         F("foo", "1", mtime=T), F("bar", "2", mtime=T + 1), F("baz", "3", mtime=T + 2),
         F("\ufeffbaz", "4", mtime=T + 3), F("one", "5", mtime=T + 4), F("two", "6", mtime=T + 5),
         F("one\rtwo", "7", mtime=T + 6), F("spaced", "8", mtime=T + 7), F("  spaced  ", "9", mtime=T + 8),
         F("z", "10", mtime=T + 9), F("neg", "11", mtime=T + 10), F("new", "12", mtime=T + 11)]))

    C.append(case(
        "ignorefile_comments",
        "comments only when '#' is the first byte; ' #x' is a pattern; no inline comments; \\#esc; "
        "leading blank lines; no final newline (SPEC a.4)",
        [DF(), IGN_RAW("\n\n   \n# comment\n #notcomment\nfoo # inline\n\\#esc\nlast"),
         F("# comment", "1", mtime=T), F("comment", "2", mtime=T + 1), F("#notcomment", "3", mtime=T + 2),
         F("foo # inline", "4", mtime=T + 3), F("foo", "5", mtime=T + 4), F("#esc", "6", mtime=T + 5),
         F("esc", "7", mtime=T + 6), F("last", "8", mtime=T + 7)]))

    C.append(case(
        "trailing_slash",
        "a trailing / is cleaned away (SPEC a.7, g.3): foo/ excludes the file foo; ignored/* + !ignored/*/ "
        "re-includes files too",
        [DF(), IGN("foo/", "ignored/*", "!ignored/*/", "dir/"),
         F("foo", "1", mtime=T), F("ignored/a.txt", "2", mtime=T + 1), F("ignored/sub/b.txt", "3", mtime=T + 2),
         F("dir/x", "4", mtime=T + 3), F("dirx", "5", mtime=T + 4)]))

    C.append(case(
        "dotdot_patterns",
        "Clean normalisation (SPEC a.7): ../foo and foo/../../bar never match; x/../baz = baz; ./qux, "
        "/abs, //dbl anchored; . and / match nothing; /*.tmp = *.tmp",
        [DF(), IGN("../foo", "foo/../../bar", "x/../baz", "./qux", "/abs", "//dbl", ".", "/", "/*.tmp"),
         F("foo", "1", mtime=T), F("bar", "2", mtime=T + 1), F("baz", "3", mtime=T + 2), F("qux", "4", mtime=T + 3),
         F("abs", "5", mtime=T + 4), F("dbl", "6", mtime=T + 5), F("x/baz", "7", mtime=T + 6),
         F("a.tmp", "8", mtime=T + 7), F("sub/b.tmp", "9", mtime=T + 8)]))

    C.append(case(
        "excluded_build_files",
        "Dockerfile and .dockerignore excluded: TrimBuildFilesFromExcludes re-adds them to the classic "
        "tar (SPEC d.3); BuildKit leaves them out (e.4)",
        [DF(), IGN(".dockerignore", "Dockerfile", "*.txt"),
         F("a.txt", "1", mtime=T), F("b.md", "2", mtime=T + 1)]))

    C.append(case(
        "dockerfile_dstar_parent_bug",
        "**/docker with -f docker/Dockerfile: Trim uses the deprecated Matches, misses the ** parent, "
        "so the Dockerfile is not re-added (SPEC d.3); a real daemon would fail to locate it",
        [F("docker/Dockerfile", DOCKERFILE_TEXT, mtime=1700000000), IGN("**/docker"),
         F("docker/entry.sh", "e", mtime=T), F("src/docker/x", "x", mtime=T + 1), F("app.py", "a", mtime=T + 2)],
        dockerfile="docker/Dockerfile"))

    C.append(case(
        "dockerfile_dir_pattern_ok",
        "docker with -f docker/Dockerfile: Trim re-adds docker/Dockerfile (SPEC d.3), the dir itself is not written",
        [F("docker/Dockerfile", DOCKERFILE_TEXT, mtime=1700000000), IGN("docker"),
         F("docker/entry.sh", "e", mtime=T), F("app.py", "a", mtime=T + 1)],
        dockerfile="docker/Dockerfile"))

    C.append(case(
        "subdir_dockerfile_specific_ignore",
        "-f sub/Dockerfile with sub/Dockerfile.dockerignore: BuildKit uses only the specific file, the "
        "legacy CLI only the root one (SPEC e.2)",
        [F("sub/Dockerfile", DOCKERFILE_TEXT, mtime=1700000000), IGN("*.log", "sub/*.md"),
         IGN("*.txt", "sub/Dockerfile.dockerignore", path="sub/Dockerfile.dockerignore"),
         F("a.log", "1", mtime=T), F("a.txt", "2", mtime=T + 1), F("sub/b.txt", "3", mtime=T + 2),
         F("sub/c.md", "4", mtime=T + 3)],
        dockerfile="sub/Dockerfile"))

    C.append(case(
        "subdir_dockerfile_no_specific",
        "-f sub/Dockerfile, root .dockerignore excludes sub: classic re-adds sub/Dockerfile without sub/ "
        "(Trim + literal prefix descend); BuildKit leaves sub out",
        [F("sub/Dockerfile", DOCKERFILE_TEXT, mtime=1700000000), IGN("sub", "*.log"),
         F("sub/x", "x", mtime=T), F("a.log", "1", mtime=T + 1), F("b", "2", mtime=T + 2),
         F("sub/app.Dockerfile.dockerignore", "x\n", mtime=T + 3)],
        dockerfile="sub/Dockerfile"))

    C.append(case(
        "dockerfile_symlink",
        "Dockerfile is a symlink into an excluded dir: the CLI resolves symlinks (SPEC d.1.2) before Trim",
        [L("Dockerfile", "docker/Dockerfile.real", mtime=1700000000),
         F("docker/Dockerfile.real", DOCKERFILE_TEXT, mtime=1700000002), IGN("docker"),
         F("docker/other", "o", mtime=T), F("app", "a", mtime=T + 1)]))

    C.append(case(
        "lowercase_dockerfile",
        "only 'dockerfile' exists (CLI fallback, SPEC d.1.2) and is excluded: Trim re-adds 'dockerfile'",
        [F("dockerfile", DOCKERFILE_TEXT, mtime=1700000000), IGN("dockerfile", "*.txt"),
         F("a.txt", "1", mtime=T), F("b", "2", mtime=T + 1)]))

    p60 = "p" * 60
    n60 = "n" * 60
    d90 = ["d%d" % i + "x" * 88 for i in range(3)]
    C.append(case(
        "long_names",
        "USTAR prefix/name split for paths > 100 bytes, PAX for > 255, for a last component > 100, "
        "for dir names whose trailing '/' pushes them to 101, prefix exactly 155 vs 156, long symlink "
        "and hardlink targets (SPEC d.5)",
        [DF(),
         F(p60 + "/" + n60, "split", mtime=T),
         F("/".join(d90) + "/" + "f" * 90, "pax", mtime=T + 1),
         F("x" * 120, "longbase", mtime=T + 2),
         F("y" * 100, "exact100", mtime=T + 3),
         D("e" * 99, mtime=T + 4), D("g" * 100, mtime=T + 5),
         F("q" * 155 + "/f", "p155", mtime=T + 6), F("r" * 156 + "/f", "p156", mtime=T + 7),
         L("ln100", "t" * 100, mtime=T + 8), L("ln101", "t" * 101, mtime=T + 9),
         H("h/" + "z" * 120, p60 + "/" + n60)]))

    C.append(case(
        "non_ascii_names",
        "non-ASCII names need PAX (SPEC d.5); NFC vs NFD are different names (SPEC a.9); pattern caf\u00e9 "
        "matches only NFC; *.md matches \u00fc.md",
        [DF(), IGN("caf\u00e9", "*.md", "\u65e5\u672c/*.bin"),
         F("caf\u00e9", "nfc", mtime=T), F("cafe\u0301", "nfd", mtime=T + 1),
         F("\u65e5\u672c/\u6587\u4ef6.txt", "cjk", mtime=T + 2), F("\u65e5\u672c/x.bin", "b", mtime=T + 3),
         F("\u00fc.md", "u", mtime=T + 4), F("\u00fcber/a", "a", mtime=T + 5),
         L("l\u00e9", "\u00fcber/a", mtime=T + 6), F("emoji\U0001F600", "e", mtime=T + 7)]))

    C.append(case(
        "non_utf8_names",
        "names with invalid UTF-8 bytes (raw bytes in PAX path); *.bin; a?b matches a<0xe9>b (invalid "
        "byte is one rune); symlink with a non-UTF-8 target",
        [DF(), IGN("*.bin", "a?b"),
         F(b"\xff.bin", "1", mtime=T), F(b"a\xe9b", "2", mtime=T + 1), F(b"\xc0/x", "3", mtime=T + 2),
         F(b"ok\xfe", "4", mtime=T + 3), L("lnk", b"\xc0/x", mtime=T + 4), F("plain", "5", mtime=T + 5)]))

    C.append(case(
        "symlinks",
        "symlinks are stored, never followed (SPEC d.4): dangling, to a dir, escaping the context, "
        "absolute, self-loop; patterns through a symlink dir match nothing",
        [DF(), IGN("abs", "todir/x"),
         F("realdir/x", "x", mtime=T), L("dang", "nowhere", mtime=T + 1), L("todir", "realdir", mtime=T + 2),
         L("out", "../../etc", mtime=T + 3), L("abs", "/etc/passwd", mtime=T + 4), L("abs2", "/etc", mtime=T + 5),
         L("self", "self", mtime=T + 6), L("realdir/up", "..", mtime=T + 7), L("sp", "a b/c", mtime=T + 8)]))

    C.append(case(
        "hardlinks",
        "hard links by inode in walk order (SPEC d.4): later names become hardlink entries to the first "
        "written name; if the first name is excluded the next is a regular file",
        [DF(), IGN("aa"),
         F("h/a", "shared", mtime=T), H("h/b", "h/a"),
         F("aa/first", "excluded-first", mtime=T + 1), H("zz/second", "aa/first"),
         F("m/1", "m1", mtime=T + 2), H("m/0", "m/1"), H("m/2", "m/1"),
         F("e/empty", "", mtime=T + 3), H("e/empty2", "e/empty")]))

    C.append(case(
        "empty_dirs",
        "empty dirs are written by the legacy walker; ex excluded; ey/** keeps ey/ itself; BuildKit "
        "sends directories with nothing selected only if not excluded",
        [DF(), IGN("ex", "ey/**", "ez/sub"),
         D("e1", mtime=1650000000), D("e2/e3", mtime=1650000001), D("ex", mtime=1650000002),
         D("ey/in", mtime=1650000003), D("ez/sub", mtime=1650000004), D("e4", mode=0o700, mtime=1650000005)]))

    C.append(case(
        "special_modes",
        "setuid/setgid/sticky bits and odd permissions are stored without file-type bits (SPEC d.5); "
        "0600/0700/0555 dirs and 0000 files are readable by root",
        [DF(),
         F("suid", "s", mode=0o4755, mtime=T), F("sgid", "g", mode=0o2755, mtime=T + 1),
         F("both", "b", mode=0o6755, mtime=T + 2), F("stickyfile", "k", mode=0o1644, mtime=T + 3),
         D("tmpdir", mode=0o1777, mtime=T + 4), D("gdir", mode=0o2775, mtime=T + 5),
         F("d600/f", "f", mtime=T + 6), D("d600", mode=0o600, mtime=T + 7),
         F("d700/f", "f", mtime=T + 8), D("d700", mode=0o700, mtime=T + 9),
         F("d555/f", "f", mode=0o444, mtime=T + 10), D("d555", mode=0o555, mtime=T + 11),
         F("none", "n", mode=0o000, mtime=T + 12), F("all", "a", mode=0o777, mtime=T + 13),
         F("ro", "r", mode=0o400, mtime=T + 14)]))

    C.append(case(
        "fifo_socket_empty",
        "FIFOs are written as type '6'; sockets are dropped by the legacy tar writer but listed by "
        "BuildKit (SPEC d.4); 0-byte files",
        [DF(), IGN("s2.sock"),
         FIFO("p", mtime=T), FIFO("sub/p2", mode=0o600, mtime=T + 1), SOCK("s.sock", mtime=T + 2),
         SOCK("s2.sock", mtime=T + 3), F("empty", "", mtime=T + 4), F("sub/empty", "", mtime=T + 5)]))

    C.append(case(
        "block_sizes",
        "file sizes around the 512-byte block boundary and one 20000-byte file (size content abc..z)",
        [DF(), F("s0", size=0, mtime=T), F("s1", size=1, mtime=T), F("s511", size=511, mtime=T),
         F("s512", size=512, mtime=T), F("s513", size=513, mtime=T), F("s1024", size=1024, mtime=T),
         F("big", size=20000, mtime=T)]))

    C.append(case(
        "dstar_reinclude_then_exclude",
        "**, !util/docker/web, util/docker/web/foo (SPEC g.4): foo excluded, its siblings included",
        [DF(), IGN("**", "!util/docker/web", "util/docker/web/foo"),
         F("util/docker/web/foo", "1", mtime=T), F("util/docker/web/bar", "2", mtime=T + 1),
         F("util/docker/web/sub/x", "3", mtime=T + 2), F("util/other", "4", mtime=T + 3), F("top", "5", mtime=T + 4)]))

    C.append(case(
        "whitespace_names",
        "TrimSpace (SPEC a.5): ' lead' and 'trail ' patterns become lead/trail; names with blanks cannot "
        "be matched literally; inner blank and tab are kept",
        [DF(), IGN(" lead", "trail ", "mid dle", "tab\tx"),
         F(" lead", "1", mtime=T), F("lead", "2", mtime=T + 1), F("trail ", "3", mtime=T + 2),
         F("trail", "4", mtime=T + 3), F("mid dle", "5", mtime=T + 4), F("tab\tx", "6", mtime=T + 5)]))

    C.append(case(
        "case_sensitivity",
        "patterns are case-sensitive (SPEC a.9)",
        [DF(), IGN("readme.md", "[Bb]uild"),
         F("readme.md", "1", mtime=T), F("README.md", "2", mtime=T + 1), F("Readme.md", "3", mtime=T + 2),
         F("Build/x", "4", mtime=T + 3), F("build/y", "5", mtime=T + 4), F("BUILD/z", "6", mtime=T + 5)]))

    C.append(case(
        "exclude_star_reinclude",
        "* excludes every root entry; !src and !*.md re-include; src/x inherits the include via parent results",
        [DF(), IGN("*", "!src", "!*.md", "src/tmp"),
         F("a", "1", mtime=T), F("src/x", "2", mtime=T + 1), F("src/tmp/y", "3", mtime=T + 2),
         F("b.md", "4", mtime=T + 3), F("doc/c.md", "5", mtime=T + 4)]))

    C.append(case(
        "bad_pattern_range",
        "[z-a] compiles lazily and fails: 'error checking context: syntax error in pattern' (SPEC b.6)",
        [DF(), IGN("*.o", "[z-a]"), F("a", "1", mtime=T)]))

    C.append(case(
        "bad_pattern_lone_bang",
        "a line equal to '!' is rejected by patternmatcher.New (SPEC b.6)",
        [DF(), IGN("a", "!"), F("a", "1", mtime=T)]))

    C.append(case(
        "bad_pattern_windows_sep",
        "build\\output: \\o is an invalid escape (SPEC b.6, g.5)",
        [DF(), IGN("build\\output"), F("build/output", "1", mtime=T)]))

    C.append(case(
        "bad_pattern_unclosed_bracket",
        "[abc fails filepath.Match at New time (SPEC b.6)",
        [DF(), IGN("[abc"), F("a", "1", mtime=T)]))

    C.append(case(
        "bad_pattern_trailing_backslash",
        "bin\\ (Windows style) fails at New time (SPEC b.6)",
        [DF(), IGN("bin\\"), F("bin/x", "1", mtime=T)]))

    C.append(case(
        "bad_exception_unreached",
        "a + ![z-a] with no path 'a': the bad exception is never compiled, no error (SPEC b.6)",
        [DF(), IGN("a", "![z-a]"), F("b", "1", mtime=T)]))

    C.append(case(
        "bad_exception_reached",
        "a + ![z-a] with a path 'a': the exception is compiled once a matched -> error (SPEC b.6)",
        [DF(), IGN("a", "![z-a]"), F("a", "1", mtime=T), F("b", "2", mtime=T + 1)]))

    C.append(case(
        "dockerignore_is_dir",
        ".dockerignore is a directory: reading fails (SPEC a.1)",
        [DF(), F(".dockerignore/x", "1", mtime=T), F("a", "2", mtime=T + 1)]))

    C.append(case(
        "dockerignore_token_too_long",
        "a single ignore line longer than 64 KiB aborts the read (SPEC a.2)",
        [DF(), F(".dockerignore", size=70000, mtime=1700000001), F("a", "1", mtime=T)]))

    return C


# ---------------------------------------------------------------------------
# Seeded random cases

R_NAMES = ["a", "b", "c", "a-b", "a0", "a.b", "ab", "foo", "foo.txt", "bar.md", "x.pyc", "node_modules",
           "keep", "build", "src", "lib", "README.md", ".hidden", "Foo", "caf\u00e9", "a b", "a+b", "x{2}",
           "[x]", "#h", "!bang", "*", "q?", "_", "~", "docker", "out.log", "tmp", "d.d", "^c", "e$"]


def _glob_component(rng, comp):
    r = rng.random()
    if r < 0.25:
        return "*"
    if r < 0.35 and len(comp) > 1:
        i = rng.randrange(len(comp))
        return comp[:i] + "?" + comp[i + 1:]
    if r < 0.45 and len(comp) > 1:
        return comp[:1] + "*"
    if r < 0.52:
        return "*" + comp[-1:]
    if r < 0.60 and comp[0].isalnum():
        return "[%s%s]" % (comp[0], rng.choice("xyz0")) + comp[1:]
    if r < 0.66 and comp[0].isalnum():
        return "[^%s]" % rng.choice("abcx") + comp[1:]
    return comp


def _random_pattern(rng, paths):
    while True:
        pat = _random_pattern1(rng, paths)
        # an exclusion made only of wildcards (*, **/*, /*) would exclude nearly everything
        if pat.startswith("!") or pat.strip(" */?.") or not pat.strip():
            return pat


def _random_pattern1(rng, paths):
    r = rng.random()
    if r < 0.06:
        return rng.choice(["# a comment", "", "   ", "!*", "!**", "#!keep"])
    if not paths or r < 0.12:
        comps = [rng.choice(R_NAMES) for _ in range(rng.randint(1, 2))]
    else:
        comps = rng.choice(paths).split("/")
        if len(comps) > 1 and rng.random() < 0.4:
            comps = comps[:rng.randint(1, len(comps) - 1)]
    comps = [_glob_component(rng, c) if rng.random() < 0.45 else c for c in comps]
    pat = "/".join(comps)
    r = rng.random()
    if r < 0.2:
        pat = "**/" + pat
    elif r < 0.27:
        pat = pat + "/**"
    elif r < 0.32:
        pat = "**" + pat
    elif r < 0.37:
        pat = "/" + pat
    elif r < 0.41:
        pat = pat + "/"
    elif r < 0.44:
        pat = "./" + pat
    if rng.random() < 0.33:
        pat = "!" + pat
    if rng.random() < 0.05:
        pat = " " + pat
    return pat


def _exception_patterns(rng, kinds):
    """Exclude some directories, then try to re-include files below them with literal and
    wildcard exceptions (where the legacy builder and BuildKit differ, SPEC c)."""
    dirs = [p for p in kinds if kinds[p] == "dir"]
    files = [p for p in kinds if kinds[p] != "dir"]
    pats = []
    for d in rng.sample(dirs, min(len(dirs), rng.randint(1, 3))):
        pats.append(rng.choice([d, "**/" + d.split("/")[-1], d + "/", d.split("/")[0] + "*"]))
    for f in rng.sample(files, min(len(files), rng.randint(1, 4))):
        comps = f.split("/")
        base = comps[-1]
        choices = ["!" + f, "!**/" + base, "!" + "/".join(["*"] * len(comps[:-1]) + [base])]
        if len(comps) > 1:
            choices += ["!" + comps[0] + "/**", "!" + "/".join(comps[:-1]) + "/*", "!" + comps[0] + "/**/" + base]
        pats.append(rng.choice(choices))
    if rng.random() < 0.5:
        pats.append(rng.choice(files))
    return pats


def random_case(seed):
    rng = random.Random(seed)
    kinds = {}  # path -> kind (includes implicit dirs)
    entries = []
    files = []
    n = rng.randint(8, 18)
    tries = 0
    mt = lambda: 1500000000 + rng.randrange(10 ** 8)
    while len(entries) < n and tries < 500:
        tries += 1
        depth = rng.choice([1, 1, 2, 2, 2, 3, 3, 4])
        comps = [rng.choice(R_NAMES) for _ in range(depth)]
        path = "/".join(comps)
        if path in kinds or path in ("Dockerfile", ".dockerignore"):
            continue
        if any(kinds.get("/".join(comps[:i]), "dir") != "dir" for i in range(1, depth)):
            continue
        r = rng.random()
        if r < 0.58:
            e = F(path, "%s:%d\n" % (path, seed) * rng.randint(0, 3), mtime=mt(),
                  mode=rng.choice([None, None, None, 0o600, 0o755, 0o444, 0o4755]))
            kind = "file"
            files.append(path)
        elif r < 0.72:
            e = D(path, mtime=mt(), mode=rng.choice([None, None, 0o700, 0o775, 0o1777]))
            kind = "dir"
        elif r < 0.84:
            target = rng.choice([rng.choice(list(kinds) or ["x"]), "../outside", "/etc", "missing", "."])
            e = L(path, target, mtime=mt())
            kind = "symlink"
        elif r < 0.94 and files:
            e = H(path, rng.choice(files))
            kind = "hardlink"
        elif r < 0.97:
            e = FIFO(path, mtime=mt())
            kind = "fifo"
        else:
            continue
        for i in range(1, depth):
            kinds.setdefault("/".join(comps[:i]), "dir")
        kinds[path] = kind
        entries.append(e)
    paths = sorted(kinds)
    dirs = [p for p in paths if kinds[p] == "dir"]
    dockerfile = None
    if dirs and rng.random() < 0.3:
        dockerfile = rng.choice(dirs) + "/Dockerfile"
        if dockerfile in kinds:
            dockerfile = None
    if seed > 18:
        pats = _exception_patterns(rng, kinds)
    else:
        pats = [_random_pattern(rng, paths) for _ in range(rng.randint(2, 9))]
    head = [DF(dockerfile or "Dockerfile", mtime=mt()), IGN(*pats, mtime=mt())]
    if dockerfile and rng.random() < 0.5:
        spats = [_random_pattern(rng, paths) for _ in range(rng.randint(1, 5))]
        head.append(IGN(*spats, path=dockerfile + ".dockerignore", mtime=mt()))
    name = "random_%02d" % seed
    kind = "exception-heavy ignore file" if seed > 18 else "ignore file"
    return case(name, "seeded random tree and %s (seed %d)" % (kind, seed), head + entries,
                dockerfile=dockerfile)


def all_cases():
    cs = hand_cases() + [random_case(s) for s in range(1, 25)]
    names = [c["name"] for c in cs]
    assert len(names) == len(set(names)), "duplicate case names"
    return cs


# ---------------------------------------------------------------------------
# Materializer (tests/it/treespec.rs implements exactly the same rules)


def entry_path(e):
    if "path_hex" in e:
        return bytes.fromhex(e["path_hex"])
    return e["path"].encode("utf-8")


def file_bytes(e):
    if "content_hex" in e:
        return bytes.fromhex(e["content_hex"])
    if "size" in e:
        return bytes(97 + (i % 26) for i in range(e["size"]))
    return e.get("content", "").encode("utf-8")


def link_target(e):
    if "target_hex" in e:
        return bytes.fromhex(e["target_hex"])
    return e["target"].encode("utf-8")


def materialize(case, root):
    """Creates the case's tree below the existing, empty directory root (bytes)."""
    meta = {}  # rel path -> (kind, mode, mtime)
    for e in case["entries"]:
        rel = entry_path(e)
        kind = e["type"]
        parts = rel.split(b"/")
        assert rel and all(parts) and b"." not in parts and b".." not in parts, rel
        for i in range(1, len(parts)):
            anc = b"/".join(parts[:i])
            if anc in meta:
                assert meta[anc][0] == "dir", (rel, anc)
            else:
                os.mkdir(os.path.join(root, anc))
                meta[anc] = ("dir", 0o755, DEFAULT_MTIME)
        full = os.path.join(root, rel)
        mode = int(e["mode"], 8) if "mode" in e else DEFAULT_MODE.get(kind)
        mtime = e.get("mtime", DEFAULT_MTIME)
        if kind == "dir":
            if rel in meta:
                assert meta[rel][0] == "dir", rel
            else:
                os.mkdir(full)
        else:
            assert rel not in meta, "duplicate entry %r" % rel
            if kind == "file":
                fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(file_bytes(e))
            elif kind == "symlink":
                os.symlink(link_target(e), full)
            elif kind == "hardlink":
                os.link(os.path.join(root, e["target"].encode("utf-8")), full)
            elif kind == "fifo":
                os.mkfifo(full, 0o600)
            elif kind == "socket":
                assert len(full) < 100, "socket path too long: %r" % full
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    s.bind(full)
                finally:
                    s.close()
            else:
                raise ValueError("unknown entry type %r" % kind)
        meta[rel] = (kind, mode, mtime)
    # deepest first: chmod (not symlinks), then set mtime (lutimes); hardlinks share the inode
    for rel in sorted(meta, key=lambda p: (-p.count(b"/"), p)):
        kind, mode, mtime = meta[rel]
        full = os.path.join(root, rel)
        if kind == "hardlink":
            continue
        if kind != "symlink":
            os.chmod(full, mode)
        os.utime(full, ns=(mtime * 10 ** 9, mtime * 10 ** 9), follow_symlinks=False)


def esc(b):
    return "".join(chr(c) if 0x21 <= c <= 0x7E and c != 0x5C else "\\x%02x" % c for c in b)


def tree_listing(root):
    """Canonical listing: per entry (sorted by raw path bytes) path, type, mode (incl. suid bits),
    mtime, size (files), symlink target, hardlink group (non-dirs with nlink > 1)."""
    items = []

    def walk(rel):
        d = os.path.join(root, rel) if rel else root
        for name in os.listdir(d):
            r = rel + b"/" + name if rel else name
            st = os.lstat(os.path.join(root, r))
            items.append((r, st))
            if stat.S_ISDIR(st.st_mode):
                walk(r)

    walk(b"")
    items.sort(key=lambda x: x[0])
    groups = {}
    out = []
    for r, st in items:
        m = st.st_mode
        kind = ("dir" if stat.S_ISDIR(m) else "file" if stat.S_ISREG(m) else "symlink" if stat.S_ISLNK(m)
                else "fifo" if stat.S_ISFIFO(m) else "socket" if stat.S_ISSOCK(m) else "other")
        ns = st.st_mtime_ns
        mtime = str(ns // 10 ** 9) if ns % 10 ** 9 == 0 else "%d.%09d" % (ns // 10 ** 9, ns % 10 ** 9)
        size = str(st.st_size) if kind == "file" else "-"
        target = esc(os.readlink(os.path.join(root, r))) if kind == "symlink" else "-"
        hl = "-"
        if kind != "dir" and st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            groups.setdefault(key, len(groups) + 1)
            hl = str(groups[key])
        out.append("%s\t%s\t%04o\t%s\t%s\t%s\t%s\n" % (esc(r), kind, m & 0o7777, mtime, size, target, hl))
    return "".join(out).encode("ascii")


def rmtree(root):
    for dirpath, dirnames, _ in os.walk(root):
        for d in dirnames:
            p = os.path.join(dirpath, d)
            if not os.path.islink(p):
                os.chmod(p, 0o755)
    shutil.rmtree(root)


# ---------------------------------------------------------------------------
# Running docker and the oracle

BANNER = re.compile(rb"DEPRECATED: The legacy builder is deprecated.*?environment-variable\.\n\n?", re.S)


def clean_err(data, ctx):
    data = BANNER.sub(b"", data)
    for p in sorted({ctx, os.path.realpath(ctx)}, key=len, reverse=True):
        data = data.replace(p, b"<CTX>")
    return data.strip() + b"\n"


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def run_case(c, oracle_dir, keep=False):
    name = c["name"]
    ctx = tempfile.mkdtemp(prefix="cx").encode()
    try:
        materialize(c, ctx)
        write(os.path.join(OUT_DIR, name + ".tree.txt"), tree_listing(ctx))
        df = c["dockerfile"]
        # classic: the real docker CLI against the fake daemon
        tar_path = os.path.join(OUT_DIR, name + ".classic.tar")
        args = [os.path.join(oracle_dir, "cli", "capture.sh"), ctx, tar_path.encode()]
        if df:
            args += [b"-f", os.path.join(ctx, df.encode())]
        r = subprocess.run(args, capture_output=True)
        if r.returncode != 0:
            if os.path.exists(tar_path):
                os.unlink(tar_path)
            write(os.path.join(OUT_DIR, name + ".classic.err"), clean_err(r.stderr, ctx))
            classic = "ERR"
        else:
            names = []
            with tarfile.open(tar_path, encoding="utf-8", errors="surrogateescape") as tf:
                for m in tf:
                    n = m.name.encode("utf-8", "surrogateescape")
                    names.append(n + (b"/" if m.isdir() else b"") + b"\n")
            write(os.path.join(OUT_DIR, name + ".classic.txt"), b"".join(names))
            classic = "%d entries" % len(names)
        # buildkit: the Go oracle
        args = [os.path.join(oracle_dir, "bin", "oracle"), "list", "--engine", "buildkit", "--walk-order"]
        if df:
            args += ["--dockerfile", df]
        r = subprocess.run(args + [ctx], capture_output=True)
        if r.returncode != 0:
            write(os.path.join(OUT_DIR, name + ".buildkit.err"), clean_err(r.stderr, ctx))
            bk = "ERR"
        else:
            write(os.path.join(OUT_DIR, name + ".buildkit.txt"), r.stdout)
            bk = "%d entries" % r.stdout.count(b"\n")
        print("%-40s classic %-12s buildkit %s" % (name, classic, bk))
    finally:
        if keep:
            print("  kept", ctx.decode(errors="replace"))
        else:
            rmtree(ctx)


def dump_case(c):
    lines = ["{",
             ' "name": %s,' % json.dumps(c["name"]),
             ' "description": %s,' % json.dumps(c["description"]),
             ' "dockerfile": %s,' % json.dumps(c["dockerfile"]),
             ' "entries": [']
    lines.append(",\n".join("  " + json.dumps(e) for e in c["entries"]))
    lines += [" ]", "}"]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--oracle", required=True, help="oracle directory (holds cli/capture.sh and bin/oracle)")
    ap.add_argument("--only", action="append", help="regenerate only this case (repeatable)")
    ap.add_argument("--keep", action="store_true", help="keep the materialized temp contexts")
    a = ap.parse_args()
    oracle_dir = os.path.abspath(a.oracle)
    for p in ("cli/capture.sh", "bin/oracle"):
        if not os.access(os.path.join(oracle_dir, p), os.X_OK):
            sys.exit("gen.py: %s/%s missing (run the oracle's build.sh)" % (oracle_dir, p))
    cases = all_cases()
    if a.only:
        cases = [c for c in cases if c["name"] in a.only]
    else:
        for d in (CASES_DIR, OUT_DIR):
            if os.path.isdir(d):
                shutil.rmtree(d)
    os.makedirs(CASES_DIR, exist_ok=True)
    os.makedirs(OUT_DIR, exist_ok=True)
    for c in cases:
        for suffix in ("tree.txt", "classic.tar", "classic.txt", "classic.err", "buildkit.txt", "buildkit.err"):
            p = os.path.join(OUT_DIR, "%s.%s" % (c["name"], suffix))
            if os.path.exists(p):
                os.unlink(p)
        with open(os.path.join(CASES_DIR, c["name"] + ".json"), "w", encoding="utf-8") as f:
            f.write(dump_case(c))
        run_case(c, oracle_dir, a.keep)
    print("%d cases" % len(cases))


if __name__ == "__main__":
    main()
