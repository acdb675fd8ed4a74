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

    def mapped_program(self, env=None):
        """Starts python3 in moat; returns the host pids whose maps hold its
        program file (the stubs map read-only program files straight from
        the host on systrap, with no copy in the memory file)."""
        prog = os.path.realpath('/usr/bin/python3')
        p = subprocess.Popen([moattest.MOAT, 'do', prog, '-c',
                              'import time; print("ready", flush=True); time.sleep(30)'],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True,
                             env=dict(os.environ, **(env or {})))
        self.addCleanup(self.reap, p)
        self.assertEqual(p.stdout.readline(), b'ready\n')
        found = []
        for pid in moattest.descendants(p.pid):
            try:
                with open('/proc/%d/maps' % pid) as f:
                    lines = [l for l in f if l.rstrip().endswith(' ' + prog)]
            except OSError:
                continue
            if lines and moattest.proc_status(pid).get('Seccomp') == '2':
                found.append((pid, lines))
        return found

    def test_program_files_mapped_from_host(self):
        found = self.mapped_program()
        if os.environ.get('MOAT_PLATFORM') == 'ptrace':
            self.assertEqual(found, [], 'ptrace has no map_file: the memory file backs all')
            return
        self.assertEqual(len(found), 1, found)
        # Its text, read-only and private: app writes would fault to moat.
        self.assertTrue(any(' r-xp ' in l for l in found[0][1]), found)
        self.assertFalse(any('w' in l.split()[1] for l in found[0][1]), found)
        # MOAT_MAP_FILES=0 copies it into the memory file instead.
        self.assertEqual(self.mapped_program({'MOAT_MAP_FILES': '0'}), [])

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
