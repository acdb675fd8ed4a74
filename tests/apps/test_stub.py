#!/usr/bin/env python3
"""The app runs in a seccomp-confined stub, and killing moat leaves nothing behind.

    test_stub.py MOAT
"""

import os
import signal
import subprocess
import time

import moattest
from moattest import BUSYBOX


class Stub(moattest.MoatTestCase):
    def start(self, *args):
        p = subprocess.Popen([moattest.MOAT, 'do'] + list(args), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
        self.addCleanup(self.reap, p)
        return p

    def reap(self, p):
        if p.poll() is None:
            moattest.kill_group(p.pid)
        p.communicate()

    def test_stub_has_seccomp_filter(self):
        p = self.start(BUSYBOX, 'sleep', '3')
        stub = moattest.find_seccomp_stub(p.pid, time.monotonic() + 2.5)
        desc = moattest.descendants(p.pid)
        self.assertIsNotNone(stub, 'no descendant of moat (pid tree %r) has "Seccomp:\\t2"' % desc)
        try:
            out, err = p.communicate(timeout=moattest.TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail('moat do busybox sleep 3 did not finish')
        self.assertEqual(p.returncode, 0, err)

    def kill_and_check(self, whole_group):
        p = self.start(BUSYBOX, 'sleep', '30')
        stub = moattest.find_seccomp_stub(p.pid, time.monotonic() + 5)
        self.assertIsNotNone(stub, 'the app never started')
        tree = {pid: moattest.start_time(pid) for pid in moattest.descendants(p.pid)}
        tree = {pid: t for pid, t in tree.items() if t is not None}
        self.assertIn(stub, tree)
        if whole_group:
            os.killpg(p.pid, signal.SIGKILL)
        else:
            os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=moattest.TIMEOUT)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            left = [pid for pid, t in tree.items() if moattest.alive(pid, t)]
            if not left:
                break
            time.sleep(0.05)
        left = {pid: moattest.proc_status(pid) for pid, t in tree.items() if moattest.alive(pid, t)}
        for pid in left:  # leave the host clean even when the test fails
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.assertEqual(left, {}, 'processes of the killed sandbox are still running')

    def test_sigkill_process_group_leaves_nothing(self):
        self.kill_and_check(whole_group=True)

    def test_sigkill_moat_alone_leaves_nothing(self):
        self.kill_and_check(whole_group=False)


if __name__ == '__main__':
    moattest.main()
