#!/usr/bin/env python3
"""Resource limits that protect the host (issue 9): inside
`moat do --memory=256m --pids=64`, on every platform, a fork bomb, a 100 GiB
allocation (touched) and an fd leak each end inside the sandbox (EAGAIN,
ENOMEM or SIGKILL of the app with a log line, EMFILE), a 1 GiB sparse file
read near the limit costs no memory (its holes stay holes), moat exits with the
app's status, and nothing is left on the host: the sandbox's cgroup
directories are gone and every process that was in them is gone.

    test_limits.py MOAT LIMITS_HELPER
"""
import os
import subprocess
import sys
import time
import unittest

MOAT = None
HELPER = None
PLATFORMS = ["ptrace", "systrap"]
TIMEOUT = 150


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from leftover import alive, cgroup_dirs, procs_of  # noqa: E402


class Limits(unittest.TestCase):
    def run_sandbox(self, platform, mode, extra=()):
        argv = [MOAT, "--platform=" + platform, "do", "--memory=256m", "--pids=64", *extra,
                HELPER, mode, "hold"]
        # The helper holds the sandbox open until its stdin closes, which
        # happens once its cgroup and processes were seen (a fast run could
        # otherwise end between two looks).
        hold_r, hold_w = os.pipe()
        p = subprocess.Popen(argv, stdin=hold_r, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True)
        os.close(hold_r)
        seen_dirs, seen_procs = set(), set()
        deadline = time.time() + TIMEOUT
        while p.poll() is None and time.time() < deadline:
            d = cgroup_dirs(p.pid)
            seen_dirs.update(d)
            seen_procs.update(procs_of(d))
            if seen_dirs and seen_procs and hold_w >= 0:
                os.close(hold_w)
                hold_w = -1
            time.sleep(0.05 if hold_w >= 0 else 0.01)
        if hold_w >= 0:
            os.close(hold_w)
        if p.poll() is None:
            os.killpg(p.pid, 9)
            p.wait()
            self.fail("%s on %s: no end after %ds" % (mode, platform, TIMEOUT))
        out, err = p.communicate()
        out, err = out.decode(errors="replace"), err.decode(errors="replace")
        self.assertTrue(seen_dirs, "%s: the sandbox never had a cgroup" % mode)
        self.assertTrue(any("/memory" in d or "/pids/" in d or
                            d.startswith("/sys/fs/cgroup/moat/") for d in seen_dirs), seen_dirs)
        # Nothing left behind on the host.
        left = [d for d in seen_dirs if os.path.exists(d)]
        self.assertEqual(left, [], "cgroup directories left behind")
        self.assertEqual(cgroup_dirs(p.pid), [])
        end = time.time() + 5
        while time.time() < end and any(alive(x) for x in seen_procs):
            time.sleep(0.05)
        self.assertEqual([x for x in seen_procs if alive(x)], [], "processes left behind")
        return p.returncode, out, err

    def check(self, mode, expect_out):
        for platform in PLATFORMS:
            with self.subTest(platform=platform):
                t0 = time.time()
                rc, out, err = self.run_sandbox(platform, mode)
                msg = "rc=%d\nstdout:\n%s\nstderr:\n%s" % (rc, out, err[-3000:])
                self.assertEqual(rc, 0, msg)
                self.assertIn("contained:", out, msg)
                for e in expect_out:
                    self.assertRegex(out, e, msg)
                self.assertNotIn("kernel died", err, msg)
                print("%s on %s: %.1fs: %s" % (mode, platform, time.time() - t0,
                                               out.strip().splitlines()[0]),
                      file=sys.stderr)
                return_err = err
        return return_err

    def test_fork_bomb(self):
        self.check("forkbomb", [r"fork failed with EAGAIN", r"fork works again"])

    def test_memory_hog(self):
        for platform in PLATFORMS:
            with self.subTest(platform=platform):
                rc, out, err = self.run_sandbox(platform, "memhog")
                msg = "rc=%d\nstdout:\n%s\nstderr:\n%s" % (rc, out, err[-3000:])
                self.assertEqual(rc, 0, msg)
                self.assertRegex(out, r"contained: (the 100 GiB toucher died of signal 9|"
                                 r"mmap failed with ENOMEM)", msg)
                self.assertIn("memory works again", out, msg)
                if "signal 9" in out:
                    # The kill is explained on stderr.
                    self.assertRegex(err, r"memory limit", msg)
                self.assertNotIn("kernel died", err, msg)

    def test_fd_leak(self):
        self.check("fdleak", [r"fds then Too many open files", r"open works again"])

    def test_sparse_file_at_limit(self):
        self.check("sparse", [r"sparse file read as zeros"])

    def test_cli_killed(self):
        """SIGKILL of the CLI: its cgroup goes at the next moat do."""
        p = subprocess.Popen([MOAT, "do", "--pids=64", "sleep", "30"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        dirs = []
        end = time.time() + 20
        while time.time() < end and not procs_of(dirs):
            dirs = cgroup_dirs(p.pid)
            time.sleep(0.05)
        self.assertTrue(dirs)
        procs = procs_of(dirs)
        p.kill()
        p.wait()
        r = subprocess.run([MOAT, "do", "--pids=8", "true"], timeout=60)
        self.assertEqual(r.returncode, 0)
        end = time.time() + 5
        while time.time() < end and (any(os.path.exists(d) for d in dirs) or
                                     any(alive(x) for x in procs)):
            time.sleep(0.05)
        self.assertEqual([d for d in dirs if os.path.exists(d)], [])
        self.assertEqual([x for x in procs if alive(x)], [])

    def test_flags(self):
        r = subprocess.run([MOAT, "do", "--pids=0", "true"], capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 125)
        self.assertIn(b"bad --pids", r.stderr)
        r = subprocess.run([MOAT, "do", "--cpus=x", "true"], capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 125)
        self.assertIn(b"bad --cpus", r.stderr)
        # The limits are in the cgroup while it runs.
        r = subprocess.run([MOAT, "do", "--memory=256m", "--pids=64", "--cpus=0.5", "sh", "-c",
                            "cat /proc/self/status >/dev/null; echo ok"],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"ok\n")


if __name__ == "__main__":
    MOAT = os.path.abspath(sys.argv[1])
    HELPER = os.path.abspath(sys.argv[2])
    if os.geteuid() != 0:
        print("1..0 # SKIP host cgroups need root")
        sys.exit(77)
    unittest.main(argv=sys.argv[:1], verbosity=2)
