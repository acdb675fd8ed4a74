"""Dynamically linked Debian programs (glibc, ld.so) and Python run in moat
exactly as natively: the issue-3 and issue-4 "done when" commands."""

import os

import moattest
from moattest import MoatTestCase, main, moat, native, run

PY = '/usr/bin/python3'


class Dynamic(MoatTestCase):
    def same(self, *argv, rc=0, timeout=60):
        n = native(*argv, timeout=timeout)
        self.assertEqual(n.rc, rc, 'natively: %r' % n)
        m = moat(*argv, timeout=timeout)
        self.assertRan(m, rc, n.stdout)
        return m

    def test_ls(self):
        self.same('/bin/ls', '-la', '/usr/bin')

    def test_ls_into_head(self):
        # The issue's `moat do /bin/ls -la /usr/bin | head`: head leaves
        # early, the same lines come out. ls is the sandbox's init there,
        # which Linux spares SIGPIPE (it sees EPIPE), so a shell runs it:
        # ls, a child, dies of SIGPIPE without a word, as natively.
        cmd = '"$0" -la /usr/bin | head; echo "status ${PIPESTATUS[0]}"'
        n = run(['/bin/bash', '-c', cmd, '/bin/ls'], timeout=60)
        m = run(['/bin/bash', '-c', cmd.replace('"$0"', '"$0" do /bin/ls'), moattest.MOAT],
                timeout=60)
        self.assertEqual(n.stdout.splitlines()[-1], 'status 141', n)
        self.assertEqual(m.stdout.splitlines()[:-1], n.stdout.splitlines()[:-1], m)
        sh = '"$0" -c \'/bin/ls -la /usr/bin; echo "ls: $?" >&2\' | head'
        n = run(['/bin/bash', '-c', sh, '/bin/bash'], timeout=60)
        m = run(['/bin/bash', '-c', sh.replace('"$0"', '"$0" do /bin/bash'), moattest.MOAT],
                timeout=60)
        self.assertEqual(n.stderr, 'ls: 141\n', n)
        self.assertEqual((m.rc, m.stdout, m.stderr), (0, n.stdout, n.stderr), m)

    def test_env(self):
        self.same('/usr/bin/env')

    def test_bash(self):
        self.same('/bin/bash', '-c', 'echo $BASH_VERSION; for i in 1 2 3; do echo $i; done | wc -l')

    def test_perl(self):
        if os.path.exists('/usr/bin/perl'):
            self.same('/usr/bin/perl', '-e', 'print 1+1, "\\n"')

    def test_python_stdlib(self):
        self.same(PY, '-c', 'import json,hashlib,sqlite3; print(sum(range(10**6)))')

    def test_bash_background_jobs(self):
        # The three jobs finish in any order, natively too.
        m = moat('/bin/bash', '-c',
                 'for i in 1 2 3; do (sleep 0.1; echo $i) & done; wait; '
                 'echo done | tr a-z A-Z | cat', timeout=60)
        self.assertNoCrash(m)
        self.assertEqual(m.rc, 0, m)
        lines = m.stdout.split('\n')
        self.assertEqual(sorted(lines[:3]), ['1', '2', '3'], m)
        self.assertEqual(lines[3:], ['DONE', ''], m)

    def test_yes_head_wc(self):
        self.same('/bin/sh', '-c', 'yes | head -n 100000 | wc -l')


class Python(MoatTestCase):
    def py(self, code, timeout=90):
        n = native(PY, '-c', code, timeout=timeout)
        self.assertEqual(n.rc, 0, 'natively: %r' % n)
        m = moat(PY, '-c', code, timeout=timeout)
        self.assertRan(m, 0, n.stdout)

    def test_threading(self):
        self.py('''
import threading
lock = threading.Lock(); cond = threading.Condition(lock)
state = {"n": 0, "turn": 0}
def work(i):
    for _ in range(100):
        with lock: state["n"] += 1
    with cond:
        while state["turn"] != i: cond.wait()
        state["turn"] += 1; cond.notify_all()
ts = [threading.Thread(target=work, args=(i,)) for i in range(64)]
[t.start() for t in ts]; [t.join() for t in ts]
print(state["n"], state["turn"])
''')

    def test_subprocess_pipes(self):
        self.py('''
import subprocess
r = subprocess.run(["sh", "-c", "cat; echo err >&2; exit 4"], input=b"hello",
                   capture_output=True)
print(r.returncode, r.stdout, r.stderr)
''')

    def test_signals(self):
        self.py('''
import os, signal, time
got = []
signal.signal(signal.SIGALRM, lambda s, f: got.append("alarm"))
signal.signal(signal.SIGUSR1, lambda s, f: got.append("usr1"))
signal.alarm(1)
t = time.monotonic(); time.sleep(1.5)
os.kill(os.getpid(), signal.SIGUSR1)
print(got, round(time.monotonic() - t))
''')

    def test_multiprocessing_pool(self):
        self.py('''
import multiprocessing as mp
def sq(x): return x * x
if __name__ == "__main__":
    with mp.Pool(4) as p:
        print(p.map(sq, range(20)))
''')


class Forwarding(MoatTestCase):
    def test_sigterm_reaches_the_app(self):
        # SIGTERM to the moat CLI is delivered to the app's handler.
        import signal
        import subprocess
        import time
        from moattest import MOAT
        code = ('import signal, sys, time\n'
                'signal.signal(signal.SIGTERM, lambda s, f: (print("term", flush=True), '
                'sys.exit(5)))\n'
                'print("ready", flush=True)\n'
                # Short sleeps: a signal that lands between Python's check and
                # its next sleep (a race natively too) is seen 50 ms later.
                'for _ in range(600): time.sleep(0.05)\n')
        p = subprocess.Popen([MOAT, 'do', PY, '-c', code], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True)
        try:
            self.assertEqual(p.stdout.readline(), b'ready\n')
            p.send_signal(signal.SIGTERM)
            out, err = p.communicate(timeout=20)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.assertEqual(out, b'term\n', err)
        self.assertEqual(p.returncode, 5, err)

    def test_sigint_default_kills_the_app(self):
        import signal
        import subprocess
        from moattest import MOAT
        p = subprocess.Popen([MOAT, 'do', '/bin/sleep', '30'], start_new_session=True)
        try:
            import time
            time.sleep(0.5)
            p.send_signal(signal.SIGINT)
            p.wait(timeout=20)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.assertEqual(p.returncode, 128 + signal.SIGINT)


if __name__ == '__main__':
    main()
