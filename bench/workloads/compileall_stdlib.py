#!/usr/bin/python3 -B
"""Workload: a Python build-like job, compileall of a fixed part of the stdlib.
  compileall_stdlib.py [--count]

Compiles (force, one worker, no multiprocessing) the top-level modules of the
interpreter's stdlib directory and the packages in PACKAGES into a fresh
directory under /tmp (sys.pycache_prefix, so nothing is written next to the
sources), then checks the result: one .pyc per source file under the fresh
directory, and no file under the stdlib directory modified since the start;
the fresh directory is removed afterwards. Prints "pyc N" and "result ms N"
(wall time of the compilation, measured inside); exits 1 if a file failed to
compile or a check failed. --count only prints the stdlib directory, the
number of source files and their total size in bytes.
"""

import compileall
import os
import shutil
import sys
import sysconfig
import tempfile
import time

PACKAGES = ["asyncio", "collections", "concurrent", "email", "html", "http", "importlib",
            "json", "logging", "multiprocessing", "unittest", "urllib", "xml", "xmlrpc"]


def sources(lib):
    """The top-level modules, the package directories, and the number and
    total size of the source files among them."""
    top = sorted(os.path.join(lib, f) for f in os.listdir(lib) if f.endswith(".py"))
    pkgs = [os.path.join(lib, p) for p in PACKAGES]
    files = list(top)
    for p in pkgs:
        for d, dirs, names in os.walk(p):
            dirs[:] = [x for x in dirs if x != "__pycache__"]
            files += [os.path.join(d, f) for f in names if f.endswith(".py")]
    return top, pkgs, len(files), sum(os.path.getsize(f) for f in files)


def newer_than(lib, t0):
    """Files under LIB whose mtime is at or after T0 (written by this run)."""
    out = []
    for d, _, files in os.walk(lib):
        for f in files:
            p = os.path.join(d, f)
            try:
                if os.lstat(p).st_mtime >= t0:
                    out.append(p)
            except OSError:
                pass
    return out


def main():
    lib = sysconfig.get_paths()["stdlib"]
    top, pkgs, expected, size = sources(lib)
    if sys.argv[1:] == ["--count"]:
        print(lib, expected, size)
        return 0
    out = tempfile.mkdtemp(prefix="moatbench-pyc-", dir="/tmp")
    sys.pycache_prefix = out
    wall0 = time.time() - 1  # mtime granularity slack
    t = time.perf_counter()
    ok = True
    for f in top:
        ok = bool(compileall.compile_file(f, quiet=1, force=True)) and ok
    for p in pkgs:
        ok = bool(compileall.compile_dir(p, quiet=1, force=True, workers=1)) and ok
    ms = (time.perf_counter() - t) * 1000
    sys.pycache_prefix = None
    got = 0
    for d, _, files in os.walk(out):
        got += sum(f.endswith(".pyc") for f in files)
    bad = newer_than(lib, wall0)
    if not ok:
        print("compileall: some files did not compile", file=sys.stderr)
    if got != expected:
        print(f"compileall: {got} .pyc files under {out}, expected {expected}", file=sys.stderr)
    if bad:
        print(f"compileall: {len(bad)} files under {lib} were written, e.g. {bad[0]}",
              file=sys.stderr)
    shutil.rmtree(out, ignore_errors=True)
    if not ok or got != expected or bad:
        return 1
    print(f"pyc {got}")
    print(f"result ms {ms:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
