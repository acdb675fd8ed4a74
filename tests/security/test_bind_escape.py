#!/ usr / bin / env python3
"""Escape tests for read-write host binds (`moat do -v HOST:/data`): from
inside, try to create, write, link or rename files outside HOST on the host
through dangling and swapped symlinks, "..", hard links and renames across
mounts, while a host thread keeps swapping a directory of HOST with a
symlink that points outside. Every change must land inside HOST (or in the
sandbox's memory), never beside it.

Usage: python3 test_bind_escape.py MOAT"""
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

MOAT = None

INSIDE = r'''
import errno, os, sys
top = sys.argv[1]
out = []
def attempt(name, fn):
    try:
        fn()
        out.append(name + ": ok")
    except OSError as e:
        out.append(name + ": " + errno.errorcode.get(e.errno, str(e.errno)))
def create(p):
    fd = os.open(p, os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, b"ESCAPED")
    os.close(fd)
#a legitimate write, the control
attempt("control", lambda: create("/data/ok"))
#dangling symlinks made on the host, pointing outside the bind
attempt("dangling-abs", lambda: create("/data/dangling"))
attempt("dangling-rel", lambda: create("/data/rel_up/x"))
attempt("dir-link", lambda: create("/data/dir_link/y"))
attempt("mkdir-via-link", lambda: os.mkdir("/data/dir_link/d"))
#".." out of the bind's root
attempt("dotdot", lambda: create("/data/../" + top.lstrip("/") + "/outside/dotdot"))
attempt("dotdot-secret", lambda: create("/data/../../../../" + top.lstrip("/") + "/secret"))
#hard links and renames across the bind's edge
attempt("link-out", lambda: os.link("/data/ok", "/tmp/hl"))
attempt("link-in", lambda: os.link(top + "/secret", "/data/secret_link"))
attempt("rename-out", lambda: os.rename("/data/ok2", "/tmp/moved"))
attempt("rename-in", lambda: os.rename(top + "/secret", "/data/stolen"))
attempt("symlink-then-write", lambda: (os.symlink(top + "/outside/via_new_link", "/data/newlink"),
                                       create("/data/newlink")))
#races with the host swapping / data / swap between a directory and a symlink
n = 0
for i in range(300):
    for fn in (lambda: create("/data/swap/f%d" % i),
               lambda: os.mkdir("/data/swap/d%d" % i),
               lambda: os.rename("/data/swap/f%d" % i, "/data/swap/g%d" % i),
               lambda: os.link("/data/ok", "/data/swap/h%d" % i),
               lambda: os.symlink("x", "/data/swap/s%d" % i),
               lambda: os.chmod("/data/swap/f%d" % i, 0o777)):
        try:
            fn()
            n += 1
        except OSError:
            pass
out.append("race ops done")
print("\n".join(out))
print("done")
'''


class BindEscapeTest(unittest.TestCase):
    def setUp(self):
        self.top = tempfile.mkdtemp(prefix="moat-bindesc-")
        self.vol = os.path.join(self.top, "vol")
        self.outside = os.path.join(self.top, "outside")
        os.makedirs(self.vol)
        os.makedirs(self.outside)
        self.token = "SECRET-" + secrets.token_hex(8)
        self.secret = os.path.join(self.top, "secret")
        with open(self.secret, "w") as f:
            f.write(self.token + "\n")
        with open(os.path.join(self.vol, "ok2"), "w") as f:
            f.write("ok2\n")
        os.symlink(os.path.join(self.outside, "created"), os.path.join(self.vol, "dangling"))
        os.symlink("../outside", os.path.join(self.vol, "rel_up"))
        os.symlink(self.outside, os.path.join(self.vol, "dir_link"))
        self.stop = threading.Event()

    def tearDown(self):
        self.stop.set()
        shutil.rmtree(self.top, ignore_errors=True)

    def swapper(self):
        swap = os.path.join(self.vol, "swap")
        while not self.stop.is_set():
            try:
                os.mkdir(swap)
            except OSError:
                pass
            try:
                shutil.rmtree(swap)
            except OSError:
                pass
            try:
                os.symlink(self.outside, swap)
            except OSError:
                pass
            try:
                os.unlink(swap)
            except OSError:
                pass

    def outside_files(self):
        found = []
        for d, dirs, files in os.walk(self.outside):
            found += [os.path.join(d, n) for n in dirs + files]
        return found

    def test_no_escape_through_rw_bind(self):
        t = threading.Thread(target=self.swapper, daemon=True)
        t.start()
        try:
            p = subprocess.run([MOAT, "do", "-v", self.vol + ":/data", "--", "python3", "-c",
                                INSIDE, self.top], capture_output=True, text=True, timeout=240)
        finally:
            self.stop.set()
            t.join(10)
        out = p.stdout
        self.assertIn("done", out, "the script did not finish:\n" + out + p.stderr)
        lines = dict(l.split(": ", 1) for l in out.splitlines() if ": " in l)
#The control write went through to the host.
        self.assertEqual(lines.get("control"), "ok", out)
        with open(os.path.join(self.vol, "ok")) as f:
            self.assertEqual(f.read(), "ESCAPED")
#Nothing appeared outside the bind; the secret is untouched.
        self.assertEqual(self.outside_files(), [], "files escaped the bind:\n" + out)
        with open(self.secret) as f:
            self.assertEqual(f.read().strip(), self.token, "the secret was changed")
        self.assertTrue(os.path.exists(self.secret))
#Links and renames across the bind's edge fail with EXDEV.
        for name in ("link-out", "link-in", "rename-out", "rename-in"):
            self.assertEqual(lines.get(name), "EXDEV", name + ":\n" + out)
        self.assertFalse(os.path.exists(os.path.join(self.vol, "secret_link")))
        self.assertFalse(os.path.exists(os.path.join(self.vol, "stolen")))
        self.assertTrue(os.path.exists(os.path.join(self.vol, "ok2")))
#Symlinks the host made stay symlinks; nothing was written through
#them on the host.
        for name in ("dangling", "rel_up", "dir_link"):
            self.assertTrue(os.path.islink(os.path.join(self.vol, name)), name)
#The link the sandbox made is on the host as a symlink(as runc's
#would be), and its target was not created there.
        self.assertTrue(os.path.islink(os.path.join(self.vol, "newlink")))
        self.assertFalse(os.path.exists(os.path.join(self.outside, "via_new_link")))
#The host root did not get the ".." attempt either.
        self.assertFalse(os.path.exists(os.path.join(self.outside, "dotdot")))


def main():
    global MOAT
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    MOAT = os.path.abspath(sys.argv[1])
    prog = unittest.main(argv=[sys.argv[0]], exit=False, verbosity=2)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
