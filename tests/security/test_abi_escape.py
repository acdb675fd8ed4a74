#!/usr/bin/env python3
"""Escape attempts through other syscall ABIs and at moat's own processes
(issue 9), on every platform: int 0x80 (the 32-bit ABI: refused with a
signal, never run as the x86-64 call of the same number), x32 and
out-of-range numbers (ENOSYS), the vsyscall page, sysenter and other
interrupt vectors (a signal or moat's own answer), ptrace /
process_vm_readv / /proc/PID/mem / kill / pidfd of a process outside the
sandbox (not even nameable: ESRCH/ENOENT, or the call is refused), no pid
inside names moat's kernel process or a stub, kill(-1) reaches only the
sandbox; a block device made with mknod, /dev/mem, /dev/kmem, /dev/port
and a host abstract unix socket give nothing; a new procfs shows only the
sandbox; the classic chroot escape reaches no host file; and keyctl, bpf, perf_event_open, userfaultfd, io_uring, kexec,
module loading, iopl/ioperm, swapon, acct refused (ENOSYS or EPERM; the
ENOSYS ones logged). The host process stays alive and untouched.

    test_abi_escape.py MOAT ABI_ESCAPE
"""
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

MOAT = None
HELPER = None
PLATFORMS = ["ptrace", "systrap"]
REFUSED = ["keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
           "io_uring_setup", "kexec_load", "kexec_file_load", "init_module", "finit_module",
           "delete_module", "iopl", "ioperm", "swapon", "acct", "lookup_dcookie"]


class AbiEscape(unittest.TestCase):
    def run_platform(self, platform):
        host = subprocess.Popen(["sleep", "300"])
        log = tempfile.NamedTemporaryFile(prefix="moat-abi-", suffix=".log", delete=False)
        log.close()
        # The sandbox's root is a directory; the secret sits beside it.
        top = tempfile.mkdtemp(prefix="moat-abi-root-")
        root = os.path.join(top, "root")
        os.makedirs(os.path.join(root, "bin"))
        os.makedirs(os.path.join(root, "tmp"))
        shutil.copy(HELPER, os.path.join(root, "bin", "abi-escape"))
        secret = os.path.join(top, "secret")
        token = "SECRET-" + secrets.token_hex(8)
        with open(secret, "w") as f:
            f.write(token)
        abstract = "moat-abi-escape-%d" % os.getpid()
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind("\0" + abstract)
        srv.listen(8)
        srv.setblocking(False)
        try:
            p = subprocess.run([MOAT, "--platform=" + platform, "do", "--debug",
                                "--debug-log=" + log.name, "--root=" + root, "/bin/abi-escape",
                                str(host.pid), abstract, secret],
                               capture_output=True, text=True, timeout=120)
            self.assertIsNone(host.poll(), "the host process was killed")
            with open(log.name) as f:
                dlog = f.read()
            try:
                c, _ = srv.accept()
                c.close()
                self.fail("the sandbox connected to a host abstract socket")
            except BlockingIOError:
                pass
            self.assertNotIn(token, p.stdout + p.stderr)
        finally:
            srv.close()
            host.kill()
            host.wait()
            os.unlink(log.name)
            shutil.rmtree(top, ignore_errors=True)
        out = p.stdout
        msg = "%s\nstdout:\n%s\nstderr:\n%s" % (platform, out, p.stderr[-2000:])
        self.assertEqual(p.returncode, 0, msg)
        self.assertIn("done\n", out, msg)
        res = dict(l.split(": ", 1) for l in out.splitlines() if ": " in l)
        return res, dlog, msg

    def check(self, platform):
        res, dlog, msg = self.run_platform(platform)
        for k in ("int80 getpid", "int80 mkdir", "int80 nr1000", "int80 kill -1"):
            self.assertRegex(res[k], r"^signal (9|11)$", k + "\n" + msg)
        self.assertEqual(res["int80 mkdir made a dir"], "no", msg)
        for k in ("x32 getpid", "x32 ioctl", "syscall 100000", "syscall -1"):
            self.assertEqual(res[k], "ENOSYS", k + "\n" + msg)
        for k in ("vsyscall gettimeofday", "vsyscall time"):
            self.assertRegex(res[k], r"^(ret \d+|signal (9|11))$", k + "\n" + msg)
        self.assertRegex(res["sysenter"], r"^signal (4|11)$", msg)
        self.assertEqual(res["int 0x81"], "signal 11", msg)
        for k in ("kill host pid", "kill host pid SIGKILL", "kill host pgrp", "tgkill host pid",
                  "pidfd_open host pid"):
            self.assertEqual(res[k], "ESRCH", k + "\n" + msg)
        for k in ("ptrace attach host pid", "process_vm_readv host pid"):
            self.assertIn(res[k], ("ESRCH", "ENOSYS", "EPERM"), k + "\n" + msg)
        for k in ("open host /proc/PID/mem", "open host /proc/PID/root"):
            self.assertEqual(res[k], "ENOENT", k + "\n" + msg)
        self.assertEqual(res["pids named besides 1"], "0, without a /proc entry: 0", msg)
        self.assertIn(res["ptrace attach own child"], ("ENOSYS", "ret 0", "EPERM"), msg)
        self.assertIn(res["own child /proc/PID/mem"], ("kernel half unreadable", "ENOENT"), msg)
        self.assertEqual(res["kill -1 SIGKILL"], "ret 0", msg)
        self.assertEqual(res["own child after kill -1"], "killed", msg)
        for k in REFUSED:
            self.assertIn(res[k], ("ENOSYS", "EPERM"), k + "\n" + msg)
            if res[k] == "ENOSYS":
                self.assertRegex(dlog, r"unsupported syscall %s \(" % re.escape(k),
                                 k + " not logged")
        self.assertIn(res["mknod block 8:0"], ("EPERM", "ret 0"), msg)
        if res["mknod block 8:0"] == "ret 0":
            self.assertIn(res["open mknod'ed disk"], ("ENXIO", "ENODEV", "EPERM", "EACCES"), msg)
        for k in ("open /dev/mem", "open /dev/kmem", "open /dev/port"):
            self.assertIn(res[k], ("ENOENT", "EPERM", "EACCES"), k + "\n" + msg)
        self.assertIn(res["connect host abstract socket"], ("ECONNREFUSED", "ENOENT"), msg)
        self.assertEqual(res["pids in a new procfs besides 1"], "0", msg)
        self.assertIn(res["open secret-like host path after chroot escape"], ("ENOENT", "EACCES"),
                      msg)
        if platform == "ptrace":
            self.assertIn("int 0x80 (the 32-bit syscall ABI) is not supported", dlog)

    def test_ptrace(self):
        self.check("ptrace")

    def test_systrap(self):
        self.check("systrap")


if __name__ == "__main__":
    MOAT = os.path.abspath(sys.argv[1])
    HELPER = os.path.abspath(sys.argv[2])
    unittest.main(argv=sys.argv[:1], verbosity=2)
