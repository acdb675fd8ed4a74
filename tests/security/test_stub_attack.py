#!/usr/bin/env python3
"""App code attacks the platform stub (tests/security/stub_attack.c): jumps
into the stub's code with its own syscall arguments, scribbles on the
stub's writable pages, writes its read-only ones, remaps the stub region,
leaves data in the stub for the next process that may get it.
On every platform each attack ends the attacking child or is emulated as an
app syscall, never maps the memory file for real (exit 99), and the kernel
survives ("alive" at the end). On systrap, where app threads can reach the
stub's syscall instructions, every jump must kill the child.

    test_stub_attack.py MOAT STUB_ATTACK
"""
import os
import re
import subprocess
import sys
import unittest

MOAT = None
ATTACK = None
MODES = ["jump-mmap", "jump-other", "jump-start", "scribble", "write-ro", "remap", "recycle",
         "tramp", "state-scribble", "fd-scribble"]


def patching_possible():
    """systrap patches syscalls only where the host lets the stub map page 0x1000."""
    try:
        with open("/proc/sys/vm/mmap_min_addr") as f:
            return int(f.read()) <= 0x1000
    except (OSError, ValueError):
        return False


class StubAttack(unittest.TestCase):
    def run_on(self, platform, env=None):
        p = subprocess.run([MOAT, "do", "--platform=" + platform, ATTACK] + MODES,
                           capture_output=True, text=True, timeout=240, env=env)
        out = p.stdout
        self.assertEqual(p.returncode, 0, "moat failed:\n" + out + p.stderr)
        self.assertRegex(out, r"(?m)^alive \d+$", "the sandbox did not survive:\n" + out)
        self.assertNotIn("exit 99", out, "an app mapped the memory file:\n" + out)
        self.assertRegex(out, r"jump-mmap: [1-9]\d* syscall instructions", out)
        self.assertIn("scribble: ", out, "syscalls after scribbling failed:\n" + out)
        self.assertRegex(out, r"write-ro 0x7ffbf0001000: signal 11", out)
        self.assertIn("mmap refused", out, out)
        self.assertRegex(out, r"jump-start 0x[0-9a-f]+: (signal 9|exit 0)", out)
        # Nothing a process leaves in the stub (systrap recycles stubs of
        # exited processes) reaches the next one.
        self.assertRegex(out, r"recycle: 20 rounds, 0 leaks", out)
        # A process whose threads wreck each other's platform state still
        # ends (systrap: the kernel stops waiting for a thread that cannot
        # answer its interrupt); none on ptrace.
        self.assertRegex(out, r"(?m)^state-scribble: (none|exit 0|signal 9)$", out)
        # Garbage over the page where systrap's helper receives the host
        # files it maps: a mapping fails or reads the file, never another.
        self.assertRegex(out, r"(?m)^fd-scribble: [1-9]\d* maps, 0 wrong; after: 0 wrong$", out)
        return out

    def test_ptrace(self):
        self.run_on("ptrace")

    def test_systrap(self):
        out = self.run_on("systrap")
        jumps = re.findall(r"^jump-(?:mmap|other) 0x[0-9a-f]+: (.*)$", out, re.M)
        # exit 98: the pair was not in executable memory (no code ran).
        jumps = [j for j in jumps if j != "exit 98"]
        self.assertTrue(jumps)
        self.assertEqual(set(jumps), {"signal 9"}, "a jump into the stub survived:\n" + out)
        if not patching_possible():
            self.assertIn("tramp: none", out)
            return
        # Syscall patching (on by default): the trampolines exist, and no
        # jump into them or their common code, nor a garbage thread page,
        # hurts the kernel ("alive" above) or leaves an unkillable child.
        self.assertRegex(out, r"tramp: [1-9]\d* trampolines, entry in the stub: yes", out)
        self.assertEqual(re.findall(r"^tramp-fallback \S+: (.*)$", out, re.M),
                         ["exit 42", "exit 42"], out)
        self.assertRegex(out, r"tramp-mid: \d+ jumps ended, \d+ killed", out)
        self.assertRegex(out, r"tramp-wait 0: (killed|exit \d+|signal \d+)", out)
        self.assertRegex(out, r"tramp-scribble 0: (exit \d+|signal \d+)", out)
        for line in re.findall(r"^tramp-bad-stack \S+: (.*)$", out, re.M):
            self.assertNotEqual(line, "killed", out)

    def test_systrap_nopatch(self):
        env = dict(os.environ, MOAT_SYSTRAP_PATCH="0")
        out = self.run_on("systrap", env)
        self.assertIn("tramp: none", out)


if __name__ == "__main__":
    MOAT, ATTACK = sys.argv[1], sys.argv[2]
    unittest.main(argv=sys.argv[:1], verbosity=2)
