#!/usr/bin/env python3
"""Volumes (`moat do -v HOST:DEST[:ro]`): the app's changes land in HOST
with the owners runc would give them, shared mappings and SQLite in WAL
mode work on them, `:ro`, `--read-only` and single-file volumes behave as
with Docker."""

import os
import sqlite3
import stat
import unittest

import moattest
from moattest import moat

SCRIPT = r'''
import mmap, os, sqlite3
d = "/data"
with open(d + "/from-host") as f:
    assert f.read() == "host\n"
os.makedirs(d + "/a/b")
with open(d + "/a/b/f", "w") as f:
    f.write("one\n")
os.rename(d + "/a/b/f", d + "/a/g")
os.chmod(d + "/a/g", 0o640)
os.symlink("g", d + "/a/link")
os.link(d + "/a/g", d + "/a/hard")
os.truncate(d + "/a/hard", 2)
os.utime(d + "/a/g", (1000000000, 1000000000))
os.unlink(d + "/gone")
os.rmdir(d + "/gone-dir")
os.mkfifo(d + "/fifo")
fd = os.open(d + "/prealloc", os.O_CREAT | os.O_WRONLY, 0o644)
os.posix_fallocate(fd, 0, 1 << 20)
os.close(fd)
os.setxattr(d + "/prealloc", "user.tag", b"v1")
assert os.getxattr(d + "/prealloc", "user.tag") == b"v1"
with open(d + "/m", "w+b") as f:
    f.write(b"\0" * 8192)
    f.flush()
    m = mmap.mmap(f.fileno(), 8192)
    m[0:6] = b"mapped"
    m.close()
db = sqlite3.connect(d + "/t.db")
db.execute("pragma journal_mode=wal")
db.execute("create table t(x)")
db.executemany("insert into t values(?)", [(i,) for i in range(10000)])
db.commit()
assert db.execute("select count(*), sum(x) from t").fetchone() == (10000, 49995000)
db.close()
os.setgid(1000)
os.setuid(1000)
with open(d + "/user-file", "w") as f:
    f.write("u\n")
os.mkdir(d + "/user-dir")
try:
    open(d + "/a/g", "a")
except PermissionError:
    print("denied as uid 1000")
print("done")
'''


class VolumeTest(moattest.MoatTestCase):
    def setUp(self):
        super().setUp()
        self.vol = os.path.join(self.tmp, 'vol')
        os.makedirs(os.path.join(self.vol, 'gone-dir'))
        os.chmod(self.vol, 0o777)
        with open(os.path.join(self.vol, 'from-host'), 'w') as f:
            f.write('host\n')
        with open(os.path.join(self.vol, 'gone'), 'w') as f:
            f.write('x')

    def test_read_write_volume(self):
        r = moat('-v', self.vol + ':/data', 'python3', '-c', SCRIPT, timeout=120)
        self.assertRan(r)
        self.assertIn('denied as uid 1000', r.stdout)
        self.assertIn('done', r.stdout)
        v = self.vol
        with open(os.path.join(v, 'a', 'g')) as f:
            self.assertEqual(f.read(), 'on')  # truncated through the hard link
        st = os.stat(os.path.join(v, 'a', 'g'))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o640)
        self.assertEqual(st.st_nlink, 2)
        self.assertEqual(int(st.st_mtime), 1000000000)
        self.assertEqual(os.readlink(os.path.join(v, 'a', 'link')), 'g')
        self.assertFalse(os.path.exists(os.path.join(v, 'a', 'b', 'f')))
        self.assertFalse(os.path.exists(os.path.join(v, 'gone')))
        self.assertFalse(os.path.exists(os.path.join(v, 'gone-dir')))
        self.assertTrue(stat.S_ISFIFO(os.lstat(os.path.join(v, 'fifo')).st_mode))
        st = os.stat(os.path.join(v, 'prealloc'))
        self.assertEqual(st.st_size, 1 << 20)
        self.assertGreaterEqual(st.st_blocks * 512, 1 << 20)  # really allocated
        self.assertEqual(os.getxattr(os.path.join(v, 'prealloc'), 'user.tag'), b'v1')
        with open(os.path.join(v, 'm'), 'rb') as f:
            self.assertEqual(f.read(6), b'mapped')
        db = sqlite3.connect(os.path.join(v, 't.db'))
        self.assertEqual(db.execute('select count(*) from t').fetchone(), (10000,))
        db.close()
        # Root in the sandbox is root on the host; uid 1000 is 1000 (no user
        # namespace, as runc without one).
        self.assertEqual(os.stat(os.path.join(v, 'a', 'g')).st_uid, 0)
        for name in ('user-file', 'user-dir'):
            st = os.stat(os.path.join(v, name))
            self.assertEqual((st.st_uid, st.st_gid), (1000, 1000), name)

    def test_read_only_volume_and_root(self):
        r = moat('--read-only', '-v', self.vol + ':/ro:ro', '/bin/busybox', 'sh', '-c',
                 'touch /ro/x; touch /x; cat /ro/from-host')
        self.assertRan(r, rc=0)
        self.assertEqual(r.stdout, 'host\n')
        self.assertEqual(r.stderr.count('Read-only file system'), 2, r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.vol, 'x')))

    def test_host_changes_are_seen(self):
        # Names are not cached: what the host does to the volume while the
        # sandbox runs shows inside (an editor on the host, another
        # container on the same volume).
        with open(os.path.join(self.vol, 'early'), 'w') as f:
            f.write('early\n')
        script = ('cat /data/late 2>/dev/null || echo no-late; exec 3</data/early; '
                  'while [ ! -e /data/late ]; do sleep 0.1; done; cat /data/late; '
                  'cat /data/early 2>/dev/null || echo early-gone; cat <&3')
        import threading
        import time

        def host_side():
            time.sleep(1)
            os.unlink(os.path.join(self.vol, 'early'))
            with open(os.path.join(self.vol, 'late.tmp'), 'w') as f:
                f.write('late\n')
            os.rename(os.path.join(self.vol, 'late.tmp'), os.path.join(self.vol, 'late'))
        t = threading.Thread(target=host_side)
        t.start()
        r = moat('-v', self.vol + ':/data', '/bin/busybox', 'sh', '-c', script, timeout=60)
        t.join()
        self.assertRan(r, stdout='no-late\nlate\nearly-gone\nearly\n')

    def test_file_volume(self):
        f = os.path.join(self.tmp, 'single')
        with open(f, 'w') as fh:
            fh.write('single\n')
        r = moat('-v', f + ':/etc/single', '/bin/busybox', 'sh', '-c',
                 'cat /etc/single; echo more >> /etc/single; rm /etc/single; echo rc=$?')
        self.assertRan(r)
        self.assertIn('single\n', r.stdout)
        self.assertIn('resource busy', r.stderr)  # a mount point cannot be removed
        with open(f) as fh:
            self.assertEqual(fh.read(), 'single\nmore\n')


if __name__ == '__main__':
    moattest.main()
