#!/usr/bin/env python3
"""The control channel of a running container: `moat exec` (status, env, cwd,
user, --detach with its keeper process ending like the exec'd process),
`kill --all`, `ps`, `events --stats`, and the container's pid dying of the
signal that ended its first process (as containerd's shim reads it).

Usage: test_exec.py MOAT"""
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

MOAT = None
BUSYBOX = shutil.which("busybox") or "/bin/busybox"
TIMEOUT = 20
APPLETS = ["sh", "echo", "sleep", "true", "cat", "id", "env", "pwd", "kill"]


def read_pid(path):
    with open(path) as f:
        return int(f.read())


def setUpModule():
    # Orphans (the keepers of created containers, exec --detach processes)
    # come back to us to be waited on, as to containerd's shim.
    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


class ExecTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="moat-exec-")
        self.pid = None
        self.addCleanup(self.cleanup)  # runs even when setUp fails
        self.root = os.path.join(self.tmp, "state")
        self.bundle = os.path.join(self.tmp, "bundle")
        self.pidfile = os.path.join(self.tmp, "pid")
        rootfs = os.path.join(self.bundle, "rootfs", "bin")
        os.makedirs(rootfs)
        shutil.copy(BUSYBOX, os.path.join(rootfs, "busybox"))
        for a in APPLETS:
            os.symlink("busybox", os.path.join(rootfs, a))
        cfg = {"ociVersion": "1.0.2",
               "process": {"terminal": False, "user": {"uid": 0, "gid": 0},
                           "args": ["sleep", "60"], "env": ["PATH=/bin", "A=1"],
                           "cwd": "/"},
               "root": {"path": "rootfs"},
               "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}}
        with open(os.path.join(self.bundle, "config.json"), "w") as f:
            json.dump(cfg, f)
        # The kernel process keeps create's stdio (the app's): a file, not
        # a pipe we would wait on.
        with open(os.path.join(self.tmp, "create.err"), "w+") as err:
            r = subprocess.run([MOAT, "--root", self.root, "create", "--bundle", self.bundle,
                                "--pid-file", self.pidfile, "c"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=err, timeout=TIMEOUT)
            err.seek(0)
            self.assertEqual(r.returncode, 0, err.read())
        with open(self.pidfile) as f:
            self.pid = int(f.read())
        self.moat("start", "c")

    def cleanup(self):
        subprocess.run([MOAT, "--root", self.root, "kill", "c", "KILL"],
                       capture_output=True, timeout=TIMEOUT)
        if self.pid is None and os.path.exists(self.pidfile):
            self.pid = read_pid(self.pidfile)
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ChildProcessError, ProcessLookupError):
                pass
        subprocess.run([MOAT, "--root", self.root, "delete", "--force", "c"],
                       capture_output=True, timeout=TIMEOUT)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def moat(self, *args, ok=True, **kw):
        kw.setdefault("capture_output", True)
        r = subprocess.run([MOAT, "--root", self.root] + list(args), text=True,
                           timeout=TIMEOUT, **kw)
        if ok:
            self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def test_exec_status_env_cwd_user(self):
        self.assertEqual(self.moat("exec", "c", "echo", "hi").stdout, "hi\n")
        self.assertEqual(self.moat("exec", "c", "sh", "-c", "exit 7", ok=False).returncode, 7)
        r = self.moat("exec", "--env", "B=2", "-e", "A=3", "--cwd", "/bin", "-u", "1000:1001",
                      "c", "sh", "-c", "echo $A $B; pwd; id")
        self.assertEqual(r.stdout, "3 2\n/bin\nuid=1000 gid=1001\n")
        r = self.moat("exec", "c", "nosuch", ok=False)
        self.assertEqual(r.returncode, 127)
        self.assertIn("nosuch: command not found", r.stderr)
        r = self.moat("exec", "c", "sh", "-c", "kill -TERM $$", ok=False)
        self.assertEqual(r.returncode, 128 + signal.SIGTERM)

    def test_exec_process_file(self):
        proc = {"args": ["sh", "-c", "echo $X; pwd"], "env": ["X=from-file"], "cwd": "/bin",
                "user": {"uid": 0, "gid": 0}, "terminal": False}
        path = os.path.join(self.tmp, "process.json")
        with open(path, "w") as f:
            json.dump(proc, f)
        self.assertEqual(self.moat("exec", "--process", path, "c").stdout, "from-file\n/bin\n")

    def test_exec_detach_ends_like_the_process(self):
        epid = os.path.join(self.tmp, "epid")
        self.moat("exec", "--detach", "--pid-file", epid, "c", "sleep", "50",
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, capture_output=False)
        pid = read_pid(epid)
        for _ in range(100):  # until both have exec'd
            ps = self.moat("ps", "c").stdout
            if "sleep 50" in ps and "sleep 60" in ps:
                break
            time.sleep(0.05)
        self.assertIn("sleep 50", ps)
        self.assertIn("sleep 60", ps)
        os.kill(pid, signal.SIGTERM)  # as containerd kills an exec'd process
        _, st = os.waitpid(pid, 0)
        self.assertTrue(os.WIFSIGNALED(st) and os.WTERMSIG(st) == signal.SIGTERM, st)
        self.moat("exec", "--detach", "--pid-file", epid, "c", "sh", "-c", "exit 3",
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, capture_output=False)
        _, st = os.waitpid(read_pid(epid), 0)
        self.assertEqual(os.WEXITSTATUS(st), 3)

    def test_kill_all_and_exit_by_signal(self):
        epid = os.path.join(self.tmp, "epid")
        self.moat("exec", "--detach", "--pid-file", epid, "c", "sleep", "50",
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, capture_output=False)
        for _ in range(100):  # until it has exec'd
            if "sleep 50" in self.moat("ps", "c").stdout:
                break
            time.sleep(0.05)
        self.moat("kill", "--all", "c", "TERM")
        _, st = os.waitpid(read_pid(epid), 0)
        self.assertTrue(os.WIFSIGNALED(st) and os.WTERMSIG(st) == signal.SIGTERM, st)
        # The container's pid dies of the signal that ended its first process.
        _, st = os.waitpid(self.pid, 0)
        self.assertTrue(os.WIFSIGNALED(st) and os.WTERMSIG(st) == signal.SIGTERM, st)
        self.assertIn('"stopped"', self.moat("state", "c").stdout)

    def test_exec_ends_with_its_cli(self):
        cli = subprocess.Popen([MOAT, "--root", self.root, "exec", "c", "sleep", "40"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if "sleep 40" in self.moat("ps", "c").stdout:
                break
            time.sleep(0.05)
        cli.kill()  # SIGKILL: the sandbox sees its control connection close
        cli.wait()
        for _ in range(100):
            if "sleep 40" not in self.moat("ps", "c").stdout:
                break
            time.sleep(0.05)
        self.assertNotIn("sleep 40", self.moat("ps", "c").stdout)

    def test_ps_timeout(self):
        """A kernel that does not answer (stopped here) gives a clear error
        after the client's timeout, never a hang."""
        for _ in range(100):  # until the first process has exec'd
            if "sleep 60" in self.moat("ps", "c").stdout:
                break
            time.sleep(0.05)
        with open("/proc/%d/task/%d/children" % (self.pid, self.pid)) as f:
            kernel = int(f.read().split()[0])
        os.kill(kernel, signal.SIGSTOP)
        try:
            t = time.monotonic()
            r = self.moat("ps", "c", ok=False)
            took = time.monotonic() - t
        finally:
            os.kill(kernel, signal.SIGCONT)
        self.assertEqual(r.returncode, 1)
        self.assertIn("did not answer within 10 s", r.stderr)
        self.assertTrue(9 < took < 15, took)
        self.assertIn("sleep 60", self.moat("ps", "c").stdout)

    def test_events_stats(self):
        for _ in range(100):  # until the first process exists
            ev = json.loads(self.moat("events", "--stats", "c").stdout)
            if ev["data"]["pids"]["current"] == 1:
                break
            time.sleep(0.02)
        self.assertEqual(ev["type"], "stats")
        self.assertEqual(ev["id"], "c")
        self.assertEqual(ev["data"]["pids"]["current"], 1)
        self.assertIn("usage", ev["data"]["memory"]["usage"])


def main():
    global MOAT
    MOAT = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
