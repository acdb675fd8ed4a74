"""Shared helpers for the app tests (python3 stdlib only).

Each test file is run by meson as `python3 test_x.py MOAT [EXTRA...]`;
main() takes those arguments off argv before unittest sees it.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

TIMEOUT = 30
BUSYBOX = '/bin/busybox'

MOAT = None
EXTRA = []


def main():
    global MOAT, EXTRA
    if len(sys.argv) < 2:
        sys.exit('usage: %s MOAT [EXTRA...] [unittest options]' % sys.argv[0])
    MOAT = os.path.abspath(sys.argv[1])
    rest = sys.argv[2:]
    # meson passes built files relative to the build dir; tests change cwd.
    EXTRA = [os.path.abspath(a) for a in rest if not a.startswith('-')]
    opts = [a for a in rest if a.startswith('-')]
    unittest.main(argv=[sys.argv[0], '-v'] + opts)


class Result:
    def __init__(self, rc, out, err, timed_out):
        self.rc = rc            # exit code, -N if killed by signal N, None on timeout
        self.out = out          # bytes
        self.err = err          # bytes
        self.timed_out = timed_out

    @property
    def stdout(self):
        return self.out.decode(errors='replace')

    @property
    def stderr(self):
        return self.err.decode(errors='replace')

    def __repr__(self):
        return 'rc=%r stdout=%r stderr=%r%s' % (self.rc, clip(self.out), clip(self.err),
                                                ' (timed out)' if self.timed_out else '')


def clip(b, n=2000):
    """B's first and last N/2 bytes: a hang shows where it stopped."""
    return b if len(b) <= n else b[:n // 2] + b' [...] ' + b[-n // 2:]


def run(argv, cwd=None, env=None, stdin=b'', timeout=TIMEOUT):
    """Runs argv in its own process group; kills the whole group on timeout."""
    p = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    try:
        out, err = p.communicate(stdin, timeout=timeout)
        return Result(p.returncode, out, err, False)
    except subprocess.TimeoutExpired:
        kill_group(p.pid)
        out, err = p.communicate()
        return Result(None, out, err, True)


def kill_group(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def moat(*args, **kw):
    """Runs `MOAT do ARGS...`."""
    return run([MOAT, 'do'] + list(args), **kw)


def native(*args, **kw):
    return run(list(args), **kw)


# --- /proc scanning -------------------------------------------------------

def proc_status(pid):
    """The fields of /proc/PID/status as a dict, or None if it is gone."""
    try:
        with open('/proc/%d/status' % pid) as f:
            text = f.read()
    except OSError:
        return None
    fields = {}
    for line in text.splitlines():
        k, _, v = line.partition(':')
        fields[k] = v.strip()
    return fields


def start_time(pid):
    """Field 22 of /proc/PID/stat: tells a pid from a later reuse of it."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            data = f.read()
    except OSError:
        return None
    return int(data[data.rindex(')') + 2:].split()[19])


def all_pids():
    return [int(d) for d in os.listdir('/proc') if d.isdigit()]


def descendants(root):
    """Pids whose PPid chain leads to root (root excluded)."""
    children = {}
    for pid in all_pids():
        st = proc_status(pid)
        if st and 'PPid' in st:
            children.setdefault(int(st['PPid']), []).append(pid)
    out, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.append(c)
                todo.append(c)
    return out


def alive(pid, started):
    """Whether pid still runs as the same process (zombies count as gone)."""
    st = proc_status(pid)
    if st is None or start_time(pid) != started:
        return False
    return not st.get('State', '').startswith(('Z', 'X'))


def find_seccomp_stub(root, deadline):
    """Polls until a descendant of root has 'Seccomp: 2'; returns its pid or None."""
    while time.monotonic() < deadline:
        for pid in descendants(root):
            st = proc_status(pid)
            if st and st.get('Seccomp') == '2':
                return pid
        time.sleep(0.05)
    return None


class MoatTestCase(unittest.TestCase):
    """Fails (never skips) when moat is missing; gives each test a temp dir."""

    def setUp(self):
        if not (MOAT and os.path.isfile(MOAT) and os.access(MOAT, os.X_OK)):
            self.fail('moat binary %r does not exist or is not executable' % MOAT)
        self.tmp = tempfile.mkdtemp(prefix='moat-apptest-')

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def assertNoCrash(self, r):
        """The sandbox reported whatever it reported without crashing itself."""
        self.assertFalse(r.timed_out, 'moat timed out: %r' % r)
        self.assertIsNotNone(r.rc)
        self.assertGreaterEqual(r.rc, 0, 'moat itself was killed by a signal: %r' % r)
        self.assertNotIn('moat: internal', r.stderr, r)
        self.assertNotIn('AddressSanitizer', r.stderr, r)
        cores = [n for n in os.listdir(self.tmp) if n == 'core' or n.startswith('core.')]
        self.assertEqual(cores, [], 'core files left in the working directory')

    def assertRan(self, r, rc=0, stdout=None):
        self.assertNoCrash(r)
        self.assertEqual(r.rc, rc, r)
        if stdout is not None:
            self.assertEqual(r.stdout, stdout, r)
