"""CPython's own file-system tests under moat (issue 5, "Done when"):
`python3 -m test test_os test_stat test_shutil test_tempfile test_glob
test_fileio test_posixpath test_pathlib` (Debian's libpython3.11-testsuite)
runs inside `moat do` and natively; every test must end the same way on
both sides (ok, skipped with the same reason, or failed), and natively all
pass. About 15 s natively and 35 s under ptrace on the CI machine, so the
whole list runs in CI.

MOAT_PYSUITE_SET=net (meson test app-pysuite-net) runs issue 6's waiting,
signal and socket modules instead; see NET below for which of them and why.

MOAT_PYSUITE_TESTS="test_a test_b" runs another list the same way
(e.g. test_io test_zipfile test_tarfile by hand)."""

import os
import re
import unittest

from moattest import MoatTestCase, main, moat, native

PY = '/usr/bin/python3'
FS = 'test_os test_stat test_shutil test_tempfile test_glob test_fileio test_posixpath test_pathlib'
# Issue 6 lists test_socket test_selectors test_epoll test_poll test_asyncio
# test_signal test_threading test_subprocess. CI runs the ones that fit its
# time budget under ptrace; README.md, "Tests", gives how the others compare
# when run by hand with MOAT_PYSUITE_TESTS. test_socket's VSOCK tests are
# left out: they hang natively on hosts without a vsock transport.
NET = 'test_epoll test_poll test_selectors test_signal test_socket -i *VSOCK*'
SETS = {'fs': (FS, 1000), 'net': (NET, 800)}
SET = os.environ.get('MOAT_PYSUITE_SET', 'fs')
TESTS = os.environ.get('MOAT_PYSUITE_TESTS', SETS[SET][0]).split()
# Fewest tests a native run must list (a guard against a broken run).
MIN_TESTS = SETS[SET][1] if 'MOAT_PYSUITE_TESTS' not in os.environ else 1
TIMEOUT = 600

LINE = re.compile(r'^(\w+) \(([\w.]+)\)(?:\n.*?)? \.\.\. (ok|skipped|FAIL|ERROR|expected failure|'
                  r'unexpected success)(.*)$', re.M)


def outcomes(text):
    """{test id: outcome (with the skip reason, pids masked)}."""
    out = {}
    for name, cls, what, rest in LINE.findall(text):
        if what == 'skipped':
            what += re.sub(r'@test_\d+_', '@test_N_', rest)
        out['%s.%s' % (cls, name)] = what
    return out


def failures(text):
    """The FAIL/ERROR reports of a -v run (or its tail when there are none)."""
    blocks = re.findall(r'^={50,}\n((?:FAIL|ERROR): .*?)(?=^={50,}|^-{50,}\nRan )', text,
                        re.M | re.S)
    return '\n'.join(blocks)[-6000:] if blocks else text[-3000:]


class PySuiteTest(MoatTestCase):
    def test_suite(self):
        if not os.path.exists('/usr/lib/python3.11/test/test_os.py'):
            self.fail('libpython3.11-testsuite is not installed (tools/deps-debian.sh)')
        args = [PY, '-m', 'test', '-v'] + TESTS
        n = native(*args, cwd=self.tmp, timeout=TIMEOUT)
        if n.rc != 0:
            # The native run is the reference: a failure there is the host's
            # (seen once under a loaded parallel suite); run it once more.
            print('native run failed, rerunning it:', failures(n.stdout))
            n = native(*args, cwd=self.tmp, timeout=TIMEOUT)
        self.assertFalse(n.timed_out, 'native run timed out')
        self.assertEqual(n.rc, 0, failures(n.stdout))
        m = moat(*args, cwd=self.tmp, timeout=TIMEOUT)
        self.assertNoCrash(m)
        no, mo = outcomes(n.stdout), outcomes(m.stdout)
        self.assertGreater(len(no), MIN_TESTS, 'the native run listed too few tests')
        diff = {k: (no.get(k), mo.get(k)) for k in set(no) | set(mo) if no.get(k) != mo.get(k)}
        if diff and len(diff) <= 5:
            # A few tests assert wall-clock bounds (test_epoll: a ready poll
            # returns within 10 ms) that a loaded 2-core CI machine misses
            # under ptrace now and then: run just those once more in moat.
            print('rerunning in moat:', diff)
            names = sorted({k.rsplit('.', 1)[-1] for k in diff})
            r = moat(*(args + [a for n in names for a in ('-m', n)]), cwd=self.tmp,
                     timeout=TIMEOUT)
            mo.update({k: v for k, v in outcomes(r.stdout).items() if k in diff})
            diff = {k: (no.get(k), mo.get(k)) for k in diff if no.get(k) != mo.get(k)}
            if not diff:
                return
        self.assertEqual(diff, {}, 'tests that end differently (native, moat)')
        self.assertEqual(m.rc, 0, failures(m.stdout))
        self.assertIn('Tests result: SUCCESS', m.stdout)


if __name__ == '__main__':
    main()
