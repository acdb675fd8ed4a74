#!/usr/bin/env python3
"""A syscall moat does not implement returns ENOSYS to the app.

    test_enosys.py MOAT ENOSYS_PROBE

Reuses the enosys probe of tests/syscalls (unassigned numbers, -1).
"""

import moattest
from moattest import moat


class Enosys(moattest.MoatTestCase):
    def test_unknown_syscalls_return_enosys(self):
        r = moat(moattest.EXTRA[0], cwd=self.tmp)
        self.assertRan(r, 0)
        lines = r.stdout.splitlines()
        self.assertTrue(any(l.startswith('1..') for l in lines), r)
        bad = [l for l in lines if l.startswith('not ok')]
        self.assertEqual(bad, [], r)
        self.assertTrue(any('ENOSYS' in l and l.startswith('ok ') for l in lines), r)


if __name__ == '__main__':
    moattest.main()
