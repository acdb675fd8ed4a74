#!/usr/bin/env python3
"""Escape tests: from inside `moat do --root=DIR`, try to reach a secret file
that sits beside DIR on the host (.., symlinks, /proc/*/root and cwd, openat2,
rename races, a bind mount's source moved out while in use, a thread
moving a directory during ".." walks, hard links). Every attempt must stay
inside the sandbox root.

Usage: python3 test_escape.py MOAT [HELPER]   (HELPER: escape_helper built
static; compiled with cc when not given)."""
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import unittest

MOAT = None
HELPER = None


class EscapeTest(unittest.TestCase):
    def setUp(self):
        self.top = tempfile.mkdtemp(prefix="moat-escape-")
        self.root = os.path.join(self.top, "root")
        os.makedirs(os.path.join(self.root, "bin"))
        os.makedirs(os.path.join(self.root, "tmp"))
        self.token = "SECRET-" + secrets.token_hex(8)
        self.secret = os.path.join(self.top, "secret")
        with open(self.secret, "w") as f:
            f.write(self.token + "\n")
        shutil.copy(HELPER, os.path.join(self.root, "bin", "escape"))
        with open(os.path.join(self.root, "inside"), "w") as f:
            f.write("INSIDE-OK\n")

    def tearDown(self):
        shutil.rmtree(self.top, ignore_errors=True)

    def test_no_escape(self):
        p = subprocess.run([MOAT, "do", "--root=" + self.root, "--", "/bin/escape",
                            self.secret], capture_output=True, text=True, timeout=60)
        out = p.stdout
        self.assertIn("done", out, "helper did not finish:\n" + out + p.stderr)
        self.assertIn("inside control: read INSIDE-OK\n", out, "files in the root unreadable")
        self.assertNotIn(self.token, out, "the secret leaked:\n" + out)
        self.assertNotIn(self.token, p.stderr)
        # The sandbox's files did not land beside the root on the host.
        for name in ("abs", "rel", "hard", "hard2", "z"):
            self.assertFalse(os.path.exists(os.path.join(self.top, name)))
        with open(self.secret) as f:
            self.assertEqual(f.read().strip(), self.token, "the secret was changed")
        self.assertIn("cwd after chdir dotdot: /\n", out)
        self.assertNotIn("bind mount:", out, "the in-sandbox bind mount failed:\n" + out)
        self.assertIn("bind mount moved-out dotdots: ENOENT\n", out, out)
        self.assertIn("bind mount moved-out openat dotdots: ENOENT\n", out, out)
        self.assertRegex(out, r"rename race with a thread: \d+ opens refused, 0 succeeded\n")


def main():
    global MOAT, HELPER
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    MOAT = os.path.abspath(sys.argv[1])
    tmp = None
    if len(sys.argv) > 2:
        HELPER = os.path.abspath(sys.argv[2])
    else:
        tmp = tempfile.mkdtemp()
        HELPER = os.path.join(tmp, "escape")
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "escape_helper.c")
        subprocess.run(["cc", "-O1", "-static", "-o", HELPER, src], check=True)
    try:
        prog = unittest.main(argv=[sys.argv[0]], exit=False, verbosity=2)
        return 0 if prog.result.wasSuccessful() else 1
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
