"""File-system work under moat (issue 5, "Done when"): each command runs
inside `moat do` and natively, and must give the same result: tar czf of
/usr/share/doc then tar tzf | wc -l, cp -a of /usr/lib/python3 then
diff -r, Python's sqlite3 filling 100k rows in /tmp, find /usr -name
'*.py' | wc -l, ls -la /proc/self/, cat /proc/cpuinfo /proc/meminfo.

A root app reads what native root reads: directories of the host tree that
only their owner may read (mode 0700 of another uid, e.g.
/usr/share/polkit-1/rules.d) are listed, so find's stderr and status are
compared too; an app without the capability gets EACCES from moat's VFS."""

import os

from moattest import MoatTestCase, main, moat, native

SH = '/bin/sh'
PY = '/usr/bin/python3'
SLOW = 150  # seconds per command (tar czf of /usr/share/doc is ~12 s natively)

SQL = r'''
import os, sqlite3, sys
p = sys.argv[1]
c = sqlite3.connect(p)
c.execute("create table t (id integer primary key, name text, v real)")
c.executemany("insert into t (name, v) values (?, ?)",
              (("n%d" % i, i * 0.5) for i in range(100000)))
c.commit()
c.execute("create index ti on t(name)")
print(c.execute("select count(*), sum(v), max(name) from t").fetchone())
print(c.execute("select id from t where name = 'n4242'").fetchone())
print(c.execute("select count(*) from t where v between 100 and 200").fetchone())
c.execute("delete from t where id % 2 = 0")
c.commit()
c.execute("vacuum")
print(c.execute("select count(*) from t").fetchone())
print(c.execute("pragma integrity_check").fetchone())
c.close()
print(os.path.getsize(p) > 0)
os.unlink(p)
'''


LIMITS = r'''
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
def w(name, v):
    with open('/proc/sys/fs/inotify/' + name, 'w') as f:
        f.write('%d\n' % v)
def err():
    return errno.errorcode.get(ctypes.get_errno())
w('max_user_instances', 2)
a, b = libc.inotify_init1(0), libc.inotify_init1(0)
print('third instance', libc.inotify_init1(0), err())
os.close(b)
print('after a close', libc.inotify_init1(0) >= 0)
w('max_user_watches', 1)
print('watch 1', libc.inotify_add_watch(a, b'/tmp', 0x100))
print('watch 2', libc.inotify_add_watch(a, b'/etc', 0x100), err())
print('the same file again', libc.inotify_add_watch(a, b'/tmp', 0x200))
w('max_user_instances', 128)
w('max_user_watches', 10)
w('max_queued_events', 3)
q = libc.inotify_init1(os.O_NONBLOCK)
print('watch', libc.inotify_add_watch(q, b'/tmp', 0x100))
for i in range(5):
    open('/tmp/lim%d' % i, 'w').close()
n = ctypes.c_int()
libc.ioctl(q, 0x541B, ctypes.byref(n))
print('queued bytes', n.value)
try:
    w('max_queued_events', -1)
except OSError as e:
    print('negative', errno.errorcode[e.errno])
'''

LIMITS_OUT = """third instance -1 EMFILE
after a close True
watch 1 1
watch 2 -1 ENOSPC
the same file again 1
watch 1
queued bytes 112
negative EINVAL
"""


class FsTest(MoatTestCase):
    def both(self, script, timeout=SLOW):
        """Runs the sh SCRIPT (with $T a fresh temp dir) in moat and natively."""
        tm = os.path.join(self.tmp, 'm')
        tn = os.path.join(self.tmp, 'n')
        os.mkdir(tm)
        os.mkdir(tn)
        m = moat(SH, '-c', script, 'sh', tm, timeout=timeout)
        n = native(SH, '-c', script, 'sh', tn, timeout=timeout)
        self.assertNoCrash(m)
        self.assertFalse(n.timed_out, n)
        return m, n

    def test_tar(self):
        m, n = self.both('tar czf "$1/a.tgz" /usr/share/doc 2>/dev/null; echo rc=$?; '
                         'tar tzf "$1/a.tgz" | wc -l')
        self.assertEqual(m.stdout, n.stdout, (m, n))
        self.assertGreater(int(n.stdout.split()[-1]), 100)

    def test_cp_diff(self):
        # cp -a keeps contents, modes, times, sizes and symlinks: diff -r is
        # clean and the listings match (directory sizes are the file
        # system's own: not compared).
        m, n = self.both('cp -a /usr/lib/python3 "$1/p" && diff -r /usr/lib/python3 "$1/p" '
                         '&& echo same && cd "$1/p" && find . -type d -printf "%p %m %T@\\n" '
                         '-o -printf "%p %m %y %l %T@ %s\\n" | sort | md5sum')
        self.assertEqual(m.rc, 0, m)
        self.assertEqual(m.stdout, n.stdout, (m, n))
        self.assertTrue(m.stdout.startswith('same\n'), m)

    def test_sqlite(self):
        m = moat(PY, '-c', SQL, '/tmp/moat-fs-test.db', timeout=SLOW)
        n = native(PY, '-c', SQL, os.path.join(self.tmp, 't.db'), timeout=SLOW)
        self.assertRan(m)
        self.assertEqual(m.stdout, n.stdout, (m, n))
        self.assertIn('(100000, 2499975000.0, \'n99999\')', m.stdout)

    def test_find(self):
        m, n = self.both("find /usr -name '*.py' > \"$1/l\" 2>&1; echo rc=$?; wc -l < \"$1/l\"; "
                         "grep -v '[.]py$' \"$1/l\"; "
                         "find /usr/lib/python3 -type f -newer /usr/bin -o -type d -empty | wc -l")
        self.assertEqual(m.stdout, n.stdout, (m, n))
        self.assertEqual(m.stdout.split()[0], 'rc=0', m)
        self.assertGreater(int(m.stdout.split()[1]), 1000)

    def test_other_owners_0700_dir(self):
        # A directory of the host tree that only its owner (not root) may
        # read: root reads it as natively (CAP_DAC_READ_SEARCH: the kernel
        # process keeps it to read for such apps); uid 4243 without
        # capabilities gets EACCES from moat's own permission check.
        d = os.path.join(self.tmp, 'owned')
        os.mkdir(d, 0o700)
        with open(os.path.join(d, 'f'), 'w') as f:
            f.write('only for 4242\n')
        os.chmod(os.path.join(d, 'f'), 0o600)
        for p in (os.path.join(d, 'f'), d):
            os.chown(p, 4242, 4242)
        os.chmod(self.tmp, 0o755)
        script = 'ls "$1"; cat "$1/f"; cp -a "$1" /tmp/copy && cat /tmp/copy/f'
        m = moat(SH, '-c', script, 'sh', d, timeout=60)
        self.assertRan(m, stdout='f\nonly for 4242\nonly for 4242\n')
        n = native(SH, '-c', script.replace('/tmp/copy', self.tmp + '/copy'), 'sh', d)
        self.assertEqual(n.stdout, m.stdout, n)
        m = moat('/usr/bin/setpriv', '--reuid=4243', '--regid=4243', '--clear-groups', SH, '-c',
                 'ls "$1"; echo rc=$?; cat "$1/f"; echo rc=$?', 'sh', d, timeout=60)
        self.assertNoCrash(m)
        self.assertEqual(m.stdout, 'rc=2\nrc=1\n', m)
        self.assertIn('Permission denied', m.stderr, m)

    def test_ls_proc_self(self):
        m = moat('/bin/ls', '-la', '/proc/self/', timeout=60)
        self.assertRan(m)
        n = native('/bin/ls', '-la', '/proc/self/')
        def entries(out):
            return {l.split()[8]: l.split()[0] for l in out.splitlines()[1:]
                    if len(l.split()) >= 9}
        me, ne = entries(m.stdout), entries(n.stdout)
        self.assertTrue(m.stdout.startswith('total'), m)
        for want in ('cmdline', 'comm', 'cwd', 'environ', 'exe', 'fd', 'fdinfo', 'limits',
                     'maps', 'mountinfo', 'mounts', 'ns', 'root', 'smaps', 'stat', 'statm',
                     'status', 'task'):
            self.assertIn(want, me, m)
        # Every entry moat lists exists natively, with the same type and mode.
        for name, mode in me.items():
            self.assertIn(name, ne, name)
            self.assertEqual(mode, ne[name], '/proc/self/' + name)

    def test_inotify_limits(self):
        # /proc/sys/fs/inotify is the sandbox's own (the host's cannot be
        # changed by a test): root sets the limits and inotify enforces them
        # as inotify(7) says: EMFILE past max_user_instances, ENOSPC past
        # max_user_watches, and max_queued_events events plus one
        # IN_Q_OVERFLOW (3 CREATEs of 32 bytes with their names, then 16).
        m = moat(PY, '-c', LIMITS, timeout=60)
        self.assertRan(m, stdout=LIMITS_OUT)

    def test_cpuinfo_meminfo(self):
        m = moat('/bin/cat', '/proc/cpuinfo', '/proc/meminfo', timeout=60)
        n = native('/bin/cat', '/proc/cpuinfo', '/proc/meminfo')
        self.assertRan(m)
        def count(out, key):
            return sum(1 for l in out.splitlines() if l.split(':')[0].strip() == key)
        self.assertEqual(count(m.stdout, 'processor'), count(n.stdout, 'processor'), m)
        for key in ('MemTotal', 'MemFree', 'MemAvailable', 'Cached', 'SwapTotal'):
            self.assertEqual(count(m.stdout, key), 1, key)
        def lines(out, key):
            return {l.split(':', 1)[1].strip() for l in out.splitlines() if l.startswith(key)}
        self.assertEqual(lines(m.stdout, 'model name'), lines(n.stdout, 'model name'))
        # Flags come from CPUID; Linux adds synthetic ones (constant_tsc…).
        mf = set(' '.join(lines(m.stdout, 'flags')).split())
        nf = set(' '.join(lines(n.stdout, 'flags')).split())
        self.assertTrue(mf and mf <= nf, mf - nf)


if __name__ == '__main__':
    main()
