#!/usr/bin/env python3
"""The kernel process's own confinement (issue 9, the second wall): while an
app runs, on every platform, the kernel process (the child of `moat do`,
named moat-kernel) has its seccomp filter (Seccomp: 2), no_new_privs, no
effective, permitted or bounding capability but CAP_NET_BIND_SERVICE and
CAP_DAC_READ_SEARCH for a root caller's apps, and an empty root directory
(no host path). A host syscall outside the allow-list ends the sandbox with
one clear line, never a hang.

    test_confine.py MOAT
"""
import os
import subprocess
import sys
import time
import unittest

MOAT = None
PLATFORMS = ["ptrace", "systrap"]


def status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def status_or_none(pid, key):
    try:
        return status(pid).get(key)
    except OSError:
        return None


def kernel_of(cli_pid, timeout=20):
    """The moat-kernel child of the CLI, once its app is running."""
    end = time.time() + timeout
    while time.time() < end:
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                st = status(int(d))
            except OSError:
                continue
            if st.get("PPid") == str(cli_pid) and st.get("Name") == "moat-kernel":
                return int(d)
        time.sleep(0.05)
    return None


class Confine(unittest.TestCase):
    def check_platform(self, platform):
        env = dict(os.environ)
        env.pop("MOAT_SECCOMP", None)
        # The app says "ready" once it runs, i.e. after confinement.
        p = subprocess.Popen([MOAT, "do", "--platform=" + platform, "--", "/bin/busybox", "sh",
                              "-c", "echo ready; read x"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env)
        try:
            self.assertEqual(p.stdout.readline(), b"ready\n")
            pid = kernel_of(p.pid)
            self.assertIsNotNone(pid, "no moat-kernel child of the CLI")
            st = status(pid)
            self.assertEqual(st["Seccomp"], "2", st)
            self.assertEqual(st["NoNewPrivs"], "1", st)
            # Only CAP_NET_BIND_SERVICE and CAP_DAC_READ_SEARCH may stay, and
            # only when the app may have them (a root caller): the kernel
            # binds the app's privileged ports and reads files of the rootfs
            # after checking the app's own capability.
            net_bind = (1 << 10 | 1 << 2) if os.geteuid() == 0 else 0
            if os.geteuid() == 0:
                self.assertEqual(int(st["CapEff"], 16), 1 << 10 | 1 << 2, st)
            for cap in ("CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"):
                allowed = net_bind if cap in ("CapEff", "CapPrm", "CapBnd") else 0
                self.assertEqual(int(st[cap], 16) & ~allowed, 0, "%s: %s" % (cap, st[cap]))
            # Every kernel thread carries the filter (TSYNC) and no more
            # capabilities than the main one: capabilities are per thread,
            # so a thread started before confinement would keep them all.
            for tid in os.listdir("/proc/%d/task" % pid):
                tst = status_task(pid, int(tid))
                self.assertEqual(tst["Seccomp"], "2", "thread %s: %r" % (tid, tst))
                for cap in ("CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"):
                    allowed = net_bind if cap in ("CapEff", "CapPrm", "CapBnd") else 0
                    self.assertEqual(int(tst[cap], 16) & ~allowed, 0,
                                     "thread %s %s: %s" % (tid, cap, tst[cap]))
            # Stubs (the app's host processes) hold no capability at all.
            stubs = [int(d) for d in os.listdir("/proc") if d.isdigit()
                     and status_or_none(int(d), "PPid") == str(pid)
                     and status_or_none(int(d), "Name") == "moat-stub"]
            self.assertTrue(stubs, "no moat-stub child of the kernel")
            for s in stubs:
                for tid in os.listdir("/proc/%d/task" % s):
                    tst = status_task(s, int(tid))
                    for cap in ("CapEff", "CapPrm", "CapInh", "CapAmb"):
                        self.assertEqual(int(tst[cap], 16), 0,
                                         "stub %d thread %s %s: %s" % (s, tid, cap, tst[cap]))
                    self.assertEqual(tst["Seccomp"], "2", "stub %d thread %s" % (s, tid))
            root = "/proc/%d/root" % pid
            self.assertEqual(os.listdir(root), [], "the kernel still sees host paths")
            self.assertNotEqual(os.stat(root).st_dev, os.stat("/").st_dev)
            p.stdin.write(b"x\n")
            p.stdin.flush()
            out, err = p.communicate(timeout=30)
            self.assertEqual(p.returncode, 0, err)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()

    def test_ptrace(self):
        self.check_platform("ptrace")

    def test_systrap(self):
        self.check_platform("systrap")

    def test_violation_kills(self):
        # MOAT_SECCOMP_SELFTEST makes the confined kernel call mkdirat(AT_FDCWD).
        for platform in PLATFORMS:
            env = dict(os.environ, MOAT_SECCOMP_SELFTEST="1")
            env.pop("MOAT_SECCOMP", None)
            p = subprocess.run([MOAT, "do", "--platform=" + platform, "--", "/bin/busybox",
                                "true"], capture_output=True, text=True, timeout=30, env=env)
            self.assertEqual(p.returncode, 128 + 31, p.stderr)
            self.assertIn("kernel made forbidden host syscall 258 (", p.stderr)
            self.assertIn("died of signal 31", p.stderr)

    def test_broker_mode_makes_no_socket(self):
        # `moat do` as root: the kernel stays in the caller's network
        # namespace and gets its sockets from the CLI, so its filter lets it
        # make none and name none (a bound unix socket pair would own an
        # abstract name there). With --network=host both are allowed.
        if os.geteuid() != 0:
            self.skipTest("the network broker is for root callers")
        for mode, nr in (("socket", 41), ("unix-bind", 49)):
            env = dict(os.environ, MOAT_SECCOMP_SELFTEST=mode)
            env.pop("MOAT_SECCOMP", None)
            p = subprocess.run([MOAT, "do", "--", "/bin/busybox", "true"], capture_output=True,
                               text=True, timeout=30, env=env)
            self.assertEqual(p.returncode, 128 + 31, p.stderr)
            self.assertIn("kernel made forbidden host syscall %d (" % nr, p.stderr)
            p = subprocess.run([MOAT, "do", "--network=host", "--", "/bin/busybox", "true"],
                               capture_output=True, text=True, timeout=30, env=env)
            self.assertEqual(p.returncode, 0, p.stderr)

    def test_log_mode(self):
        env = dict(os.environ, MOAT_SECCOMP="log", MOAT_SECCOMP_SELFTEST="1")
        p = subprocess.run([MOAT, "do", "--", "/bin/busybox", "echo", "hi"],
                           capture_output=True, text=True, timeout=30, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "hi\n")
        self.assertIn("forbidden host syscall 258", p.stderr)
        self.assertIn("[MOAT_SECCOMP=log: allowed]", p.stderr)

    def test_debug_seccomp(self):
        p = subprocess.run([MOAT, "debug", "seccomp"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"(?m)^openat +257 .*O_NOFOLLOW")
        self.assertRegex(p.stdout, r"(?m)^mmap +9 .*no PROT_EXEC")
        self.assertRegex(p.stdout, r"\d+ distinct host syscalls")
        self.assertNotRegex(p.stdout, r"(?m)^(execve|mount|pivot_root|chroot|open) ")


def status_task(pid, tid):
    out = {}
    with open("/proc/%d/task/%d/status" % (pid, tid)) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


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
