#!/usr/bin/env python3
"""`moat do --strace` logs the app's syscalls; the app's own output is untouched.

    test_strace.py MOAT
"""

import os

import moattest
from moattest import BUSYBOX, moat


class Strace(moattest.MoatTestCase):
    def test_strace_to_stderr(self):
        r = moat('--strace', BUSYBOX, 'echo', 'hi')
        self.assertRan(r, 0, 'hi\n')
        self.assertIn('write(1, ', r.stderr, r)

    def test_strace_to_debug_log(self):
        log = os.path.join(self.tmp, 'debug.log')
        r = moat('--strace', '--debug-log=' + log, BUSYBOX, 'echo', 'hi')
        self.assertRan(r, 0, 'hi\n')
        with open(log, errors='replace') as f:
            text = f.read()
        self.assertIn('write(1, ', text)
        self.assertNotIn('write(1, ', r.stderr, 'the trace went to stderr too')

    def test_strace_shows_exit_status(self):
        r = moat('--strace', BUSYBOX, 'sh', '-c', 'exit 3')
        self.assertRan(r, 3, '')
        self.assertIn('exit_group(3', r.stderr, r)

    def test_no_trace_without_the_flag(self):
        r = moat(BUSYBOX, 'echo', 'hi')
        self.assertRan(r, 0, 'hi\n')
        self.assertEqual(r.stderr, '', r)


if __name__ == '__main__':
    moattest.main()
