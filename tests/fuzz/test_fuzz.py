#!/usr/bin/env python3
"""Runs the syscall fuzzer (syscall_fuzz.c) inside moat for SECONDS and
checks that moat's kernel never crashed: moat exits with the fuzzer's
status 0 (no kernel SIGSEGV/abort, no hang), stderr has no kernel-death
line, the fuzzer printed its syscall count, the kernel made no host syscall
its seccomp filter forbids (MOAT_SECCOMP=log with MOAT_SECCOMP_LOG: the file
must stay empty; the filter is what confines the kernel's host path access
to openat relative to the directory fds it holds, with O_NOFOLLOW), and
nothing is left on the host (the sandbox's cgroup and every process that
was in it are gone). On failure the output (with the seed to replay) is
saved to $MOAT_FUZZ_DIR (default: the temp directory).

    test_fuzz.py MOAT SYSCALL_FUZZ SECONDS [PLATFORM...]
"""
import os
import re
import subprocess
import sys
import tempfile
import time

BAD = [r"kernel died", r"kernel made forbidden host syscall", r"Segmentation fault", r"Aborted",
       r"[Aa]ssertion", r"AddressSanitizer", r"runtime error", r"BUG", r"internal error",
       r"Bad system call"]


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from leftover import alive, cgroup_dirs, procs_of  # noqa: E402


def hang_report(pids):
    """Each thread of PIDS: name, state, host kernel wait channel, the
    syscall it is in, and its host kernel stack (root reads it), for a hang
    that must be told from the report alone."""
    lines = []
    for pid in sorted(pids):
        try:
            tids = sorted(int(t) for t in os.listdir("/proc/%d/task" % pid))
        except OSError:
            continue
        for tid in tids:
            base = "/proc/%d/task/%d/" % (pid, tid)
            info = []
            for name in ("comm", "wchan", "syscall", "stack"):
                try:
                    with open(base + name) as f:
                        info.append(f.read().strip())
                except OSError:
                    info.append("?")
            stat = ""
            try:
                with open(base + "stat") as f:
                    stat = f.read().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                pass
            lines.append("%d/%d %s %s wchan=%s syscall=%s\n    %s" % (
                pid, tid, info[0], stat, info[1], info[2], info[3].replace("\n", "\n    ")))
    return "\n".join(lines)


def run(moat, fuzz, seconds, platform):
    argv = [moat] + (["--platform=" + platform] if platform else []) + \
        ["do", "--memory=1g", "--pids=512", fuzz, "--in-sandbox", "-t", str(seconds), "-w", "4"]
    t0 = time.time()
    # The kernel's host seccomp filter in log mode, its report in a file of
    # its own (opened before the kernel confines itself): every host syscall
    # outside the allow-list and its argument checks is written there, and
    # the run goes on, so the file lists each kind of stray host call the
    # whole run made instead of the run ending at the first.
    seclog = tempfile.NamedTemporaryFile(prefix="moat-fuzz-seccomp-", suffix=".log",
                                         delete=False)
    seclog.close()
    env = dict(os.environ, MOAT_SECCOMP="log", MOAT_SECCOMP_LOG=seclog.name)
    env.pop("MOAT_SECCOMP_SELFTEST", None)
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True, env=env)
    dirs, procs = set(), set()
    deadline = t0 + seconds + 90
    import threading
    out = {}

    def reader(name, f):
        out[name] = f.read().decode(errors="replace")
    threads = [threading.Thread(target=reader, args=(n, f))
               for n, f in (("out", p.stdout), ("err", p.stderr))]
    for t in threads:
        t.start()
    while p.poll() is None and time.time() < deadline:
        d = cgroup_dirs(p.pid)
        dirs.update(d)
        procs.update(procs_of(d))
        time.sleep(0.2)
    hung = p.poll() is None
    report = hang_report(procs | set(procs_of(cgroup_dirs(p.pid)))) if hung else ""
    if hung:
        os.killpg(p.pid, 9)
        p.wait()
    for t in threads:
        t.join()
    problems = []
    if hung:
        problems.append("no end %d s after the fuzzer's deadline (a kernel hang); where "
                        "each thread of the sandbox waited:\n%s" % (90, report))
    elif p.returncode != 0:
        problems.append("moat exited %d" % p.returncode)
    for b in BAD:
        m = re.search(b, out["err"])
        if m:
            problems.append("stderr: %r" % out["err"][max(0, m.start() - 200):m.end() + 200])
    with open(seclog.name, errors="replace") as f:
        stray = f.read()
    os.unlink(seclog.name)
    if stray:
        problems.append("the kernel made host syscalls its seccomp filter forbids:\n" +
                        stray[:4000])
    if "MOAT_SECCOMP=log" not in out["err"]:
        problems.append("the kernel did not run its seccomp filter in log mode")
    m = re.search(r"syscall-fuzz: (\d+) syscalls executed", out["out"])
    if not m:
        problems.append("no syscall count printed")
    end = time.time() + 10
    while time.time() < end and (any(os.path.exists(d) for d in dirs) or
                                 any(alive(x) for x in procs)):
        time.sleep(0.1)
    left = [d for d in dirs if os.path.exists(d)]
    if left:
        problems.append("cgroups left: %s" % left)
    leaked = [x for x in procs if alive(x)]
    if leaked:
        problems.append("processes left: %s" % leaked)
    count = int(m.group(1)) if m else 0
    print("%s: %s in %.0f s; %d syscalls" % (platform or os.environ.get("MOAT_PLATFORM",
                                                                       "default platform"),
                                             "FAIL" if problems else "ok",
                                             time.time() - t0, count))
    for line in out["out"].splitlines():
        print("  " + line)
    if problems:
        d = os.environ.get("MOAT_FUZZ_DIR", tempfile.gettempdir())
        path = os.path.join(d, "moat-fuzz-fail-%d.txt" % int(time.time()))
        with open(path, "w") as f:
            f.write("argv: %s\nproblems:\n%s\n--- stdout\n%s\n--- stderr\n%s\n" %
                    (argv, "\n".join(problems), out["out"], out["err"][-200000:]))
        for pr in problems:
            print("  problem: " + pr[:2000])
        print("  saved: " + path)
    return not problems


def main():
    moat, fuzz, seconds = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), \
        int(sys.argv[3])
    # No platform named: moat's own default (systrap, or MOAT_PLATFORM), so
    # tools/test.sh's two passes fuzz both platforms.
    platforms = sys.argv[4:] or [None]
    if os.geteuid() != 0:
        print("1..0 # SKIP the fuzzer's sandbox uses host cgroups (root)")
        return 77
    ok = all([run(moat, fuzz, seconds, pl) for pl in platforms])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
