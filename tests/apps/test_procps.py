#!/usr/bin/env python3
"""procps under `moat do`: ps, top, pgrep and pkill see the sandbox's
processes (PID 1 first, the commands running, nothing of the host) and act
on them.

    test_procps.py MOAT
"""

import os
import re
import shutil

import moattest
from moattest import moat

PS = shutil.which('ps') or '/usr/bin/ps'
TOP = shutil.which('top') or '/usr/bin/top'
PGREP = shutil.which('pgrep') or '/usr/bin/pgrep'


def script(body):
    """A shell script run as the sandbox's init: two sleepers in the
    background (one at nice 5), BODY, then the sleepers are ended."""
    return ('sleep 60 & S1=$!; nice -n 5 sleep 61 & S2=$!; ' + body +
            '; kill $S1 $S2 2>/dev/null; wait')


class Procps(moattest.MoatTestCase):
    def setUp(self):
        super().setUp()
        for tool in (PS, TOP, PGREP):
            if not os.access(tool, os.X_OK):
                self.fail('%s is missing (procps: tools/deps-debian.sh)' % tool)

    def test_ps_ef(self):
        r = moat('/bin/sh', '-c', script('ps -ef'))
        self.assertRan(r, 0)
        lines = r.stdout.splitlines()
        self.assertRegex(lines[0], r'^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$')
        rows = [l.split(None, 7) for l in lines[1:]]
        by_pid = {int(row[1]): row for row in rows}
        self.assertIn(1, by_pid, r.stdout)
        self.assertEqual(by_pid[1][2], '0', 'PID 1 has no parent in the sandbox')
        self.assertTrue(by_pid[1][7].startswith('/bin/sh -c sleep 60'), by_pid[1])
        cmds = sorted(row[7] for row in rows)
        self.assertEqual(cmds, sorted([by_pid[1][7], 'sleep 60', 'sleep 61', 'ps -ef']),
                         'exactly the sandbox\'s processes, nothing of the host:\n' + r.stdout)
        for row in rows:
            if row[1] != '1':
                self.assertEqual(row[2], '1', 'every other process is a child of PID 1: %r' % row)
            self.assertEqual(row[0], 'root')

    def test_ps_columns(self):
        r = moat('/bin/sh', '-c', script('ps -o pid=,ppid=,ni=,stat=,comm='))
        self.assertRan(r, 0)
        rows = {row[4]: row for row in (l.split() for l in r.stdout.splitlines())
                if len(row) == 5}
        self.assertEqual(set(rows), {'sh', 'sleep', 'ps'} | set(), r.stdout)
        # The sandbox starts at the caller's nice value (the suite may run
        # under nice): nice -n 5 shows as 5 more.
        base = int(rows['sh'][2])
        nices = sorted(int(row[2]) for row in (l.split() for l in r.stdout.splitlines())
                       if row[4] == 'sleep')
        self.assertEqual(nices, [base, base + 5], 'nice -n 5 shows as NI +5:\n' + r.stdout)
        self.assertEqual(rows['sh'][:2], ['1', '0'])
        self.assertTrue(rows['sh'][3].startswith('S'), rows['sh'])
        self.assertTrue(rows['ps'][3].startswith('R'), 'ps runs: %r' % rows['ps'])

    def test_ps_aux(self):
        r = moat('/bin/sh', '-c', script('ps aux'))
        self.assertRan(r, 0)
        lines = r.stdout.splitlines()
        self.assertTrue(lines[0].startswith('USER'), lines[0])
        self.assertEqual(len(lines), 1 + 4, r.stdout)
        self.assertRegex(lines[1], r'^root\s+1\s')

    def test_top(self):
        r = moat('/bin/sh', '-c', script('top -bn1 -w 200'))
        self.assertRan(r, 0)
        m = re.search(r'^Tasks:\s+(\d+) total,\s+(\d+) running,\s+(\d+) sleeping', r.stdout, re.M)
        self.assertIsNotNone(m, r.stdout)
        self.assertEqual(int(m.group(1)), 4, 'sh, two sleeps and top:\n' + r.stdout)
        self.assertGreaterEqual(int(m.group(2)), 1, 'top itself runs')
        head = r.stdout.split('\n\n', 1)[1].splitlines()
        self.assertRegex(head[0].strip(), r'^PID\s+USER\s+PR\s+NI')
        rows = [l.split() for l in head[1:] if l.strip()]
        self.assertEqual(sorted(row[-1] for row in rows), ['sh', 'sleep', 'sleep', 'top'], r.stdout)
        pids = sorted(int(row[0]) for row in rows)
        self.assertEqual(pids[0], 1)
        self.assertLess(pids[-1], 100, 'sandbox pids, not the host\'s')
        base = [int(row[3]) for row in rows if row[-1] == 'sh'][0]
        nis = sorted(int(row[3]) for row in rows if row[-1] == 'sleep')
        self.assertEqual(nis, [base, base + 5], r.stdout)
        self.assertRegex(r.stdout, r'MiB Mem :\s+[0-9.]+ total')

    def test_pgrep_pkill(self):
        body = ('pgrep -x sleep | tr "\\n" " "; echo; pgrep -x -l sh; '
                'pgrep -f "sleep 61" >/dev/null && echo found-61; '
                'pgrep -x nosuchprog; echo none=$?; '
                'pkill -x -f "sleep 60"; wait $S1; echo s1=$?; '
                'pgrep -x sleep | wc -l; '
                'pkill -STOP -f "sleep 61"; sleep 0.2; ps -o stat= -p $S2; '
                'pkill -CONT -f "sleep 61"; pkill -f "sleep 61"; wait $S2; echo s2=$?')
        r = moat('/bin/sh', '-c', script(body))
        self.assertRan(r, 0)
        out = r.stdout.splitlines()
        self.assertEqual(out[0].split(), ['2', '3'], r.stdout)
        self.assertEqual(out[1], '1 sh')
        self.assertEqual(out[2], 'found-61')
        self.assertEqual(out[3], 'none=1')
        self.assertEqual(out[4], 's1=143', 'pkill sent SIGTERM to sleep 60')
        self.assertEqual(out[5].strip(), '1')
        self.assertTrue(out[6].strip().startswith('T'), 'pkill -STOP stopped it: %r' % out[6])
        self.assertEqual(out[7], 's2=143')


if __name__ == '__main__':
    moattest.main()
