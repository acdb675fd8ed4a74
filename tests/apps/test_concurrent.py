#!/usr/bin/env python3
"""Several sandboxes at once, each forking processes that make and end
threads (tests/apps/forkthreads.c), on every platform.

This is the regression test of the systrap race of issue 8: when a
process's threads and the process itself ended together, a thread's
context was still using its address space while the process's last
context freed it; with 6-8 sandboxes at once the kernel hung or crashed
(heap corruption). Each round starts ROUNDS sandboxes together; all must
print "done" and exit 0.

    test_concurrent.py MOAT FORKTHREADS
"""

import subprocess
import time

import moattest

SANDBOXES = 6
ROUNDS = 3
FORKS = 30


class Concurrent(moattest.MoatTestCase):
    def platform_ok(self, platform):
        r = moattest.run([moattest.MOAT, 'do', '--platform=' + platform, '/bin/true'])
        return r.rc == 0, r

    def rounds(self, platform):
        ok, r = self.platform_ok(platform)
        if not ok and platform == 'systrap' and 'FSGSBASE' in r.stderr:
            self.skipTest('the host does not allow systrap: ' + r.stderr.strip())
        self.assertTrue(ok, r)
        prog = moattest.EXTRA[0]
        for rnd in range(ROUNDS):
            procs = [subprocess.Popen([moattest.MOAT, 'do', '--platform=' + platform, prog,
                                       str(FORKS)],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, start_new_session=True)
                     for _ in range(SANDBOXES)]
            deadline = time.monotonic() + 60
            results = []
            for p in procs:
                try:
                    out, err = p.communicate(timeout=max(1, deadline - time.monotonic()))
                    results.append((p.returncode, out, err))
                except subprocess.TimeoutExpired:
                    moattest.kill_group(p.pid)
                    out, err = p.communicate()
                    results.append((None, out, err))
            bad = [(rc, out[-300:], err[-500:]) for rc, out, err in results
                   if rc != 0 or out != b'done\n']
            self.assertEqual(bad, [], 'round %d on %s: %d of %d sandboxes failed (rc None = hung)'
                             % (rnd, platform, len(bad), SANDBOXES))

    def test_systrap(self):
        self.rounds('systrap')

    def test_ptrace(self):
        self.rounds('ptrace')


if __name__ == '__main__':
    moattest.main()
