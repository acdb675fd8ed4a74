"""What a `moat do` run may leave on the host: its cgroup directories and
the processes that were in them (used by tests/fuzz/test_fuzz.py and
tests/security/test_limits.py to check that nothing is left behind).
"""
import glob
import os


def cgroup_dirs(cli_pid):
    """The `moat do` run's cgroup directories (every hierarchy)."""
    name = "do-%d-*" % cli_pid
    return (glob.glob("/sys/fs/cgroup/*/moat/" + name) +
            glob.glob("/sys/fs/cgroup/*/**/moat/" + name, recursive=True) +
            glob.glob("/sys/fs/cgroup/moat/" + name))


def start_time(pid):
    """Field 22 of /proc/PID/stat, or None once it is gone or a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]


def procs_of(dirs):
    """(pid, start time) of every process in DIRS: a pid alone could be
    reused by another process of the host later."""
    out = set()
    for d in dirs:
        try:
            with open(os.path.join(d, "cgroup.procs")) as f:
                pids = [int(x) for x in f.read().split()]
        except OSError:
            continue
        for pid in pids:
            st = start_time(pid)
            if st is not None:
                out.add((pid, st))
    return out


def alive(proc):
    pid, st = proc
    return start_time(pid) == st
