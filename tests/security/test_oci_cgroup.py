#!/usr/bin/env python3
"""OCI linux.resources and linux.cgroupsPath (issue 7 via issue 9's cgroup
module): `moat create` puts the keeper, the kernel process and every stub in
one host cgroup with memory, pids and CPU limits; `events --stats` reads it;
pids.limit makes fork fail with EAGAIN inside; memory.limit kills the app
that needs more; `delete` removes the cgroup (nothing left on the host).

    test_oci_cgroup.py MOAT
"""
import ctypes
import glob
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
TIMEOUT = 30
MIB = 1 << 20


def setUpModule():
    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def is_v2():
    return os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def own_cgroup(ctl):
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctls, path = line.rstrip("\n").split(":", 2)
            if (ctl == "" and ctls == "") or ctl in ctls.split(","):
                return path
    return "/"


def cgroup_dir(ctl, path):
    """Where cgroupsPath PATH lives in the hierarchy of controller CTL."""
    if is_v2():
        base = "/sys/fs/cgroup"
        own = own_cgroup("")
    else:
        base = [d for d in glob.glob("/sys/fs/cgroup/*")
                if ctl in os.path.basename(d).split(",")][0]
        own = own_cgroup(ctl)
    if not path.startswith("/"):
        path = own.rstrip("/") + "/" + path
    return base + path


def read(d, f):
    with open(os.path.join(d, f)) as fh:
        return fh.read().strip()


class OciCgroup(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="moat-cg-")
        self.root = os.path.join(self.tmp, "state")
        self.bundle = os.path.join(self.tmp, "bundle")
        self.ids = []
        self.parents = []
        self.addCleanup(self.cleanup)
        rootfs = os.path.join(self.bundle, "rootfs", "bin")
        os.makedirs(rootfs)
        shutil.copy(BUSYBOX, os.path.join(rootfs, "busybox"))
        for a in ["sh", "sleep", "true", "cat", "head", "dd", "echo"]:
            os.symlink("busybox", os.path.join(rootfs, a))

    def cleanup(self):
        for i in self.ids:
            subprocess.run([MOAT, "--root", self.root, "delete", "--force", i],
                           capture_output=True, timeout=TIMEOUT)
        for p in self.parents:
            for ctl in (["memory", "pids", "cpu", "cpuacct", "freezer"] if not is_v2() else [""]):
                try:
                    os.rmdir(cgroup_dir(ctl, p))
                except (OSError, IndexError):
                    pass
        # Orphaned keepers come back to us.
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def moat(self, *args, check=True, global_args=()):
        r = subprocess.run([MOAT, "--root", self.root, *global_args, *args],
                           capture_output=True, text=True, timeout=TIMEOUT)
        if check:
            self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def create(self, cid, args, resources, cgroups_path=None, global_args=()):
        cfg = {"ociVersion": "1.0.2",
               "process": {"terminal": False, "user": {"uid": 0, "gid": 0},
                           "args": args, "env": ["PATH=/bin"], "cwd": "/"},
               "root": {"path": "rootfs"},
               "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}],
                         "resources": resources}}
        if cgroups_path:
            cfg["linux"]["cgroupsPath"] = cgroups_path
        with open(os.path.join(self.bundle, "config.json"), "w") as f:
            json.dump(cfg, f)
        self.ids.append(cid)
        # The kernel process keeps create's stdio (the app's): files, not
        # pipes we would wait on.
        with open(os.path.join(self.tmp, cid + ".out"), "w+") as out:
            r = subprocess.run([MOAT, "--root", self.root, *global_args, "create", "--bundle",
                                self.bundle, cid], stdin=subprocess.DEVNULL, stdout=out,
                               stderr=out, timeout=TIMEOUT)
            out.seek(0)
            self.assertEqual(r.returncode, 0, out.read())
        return json.loads(self.moat("state", cid).stdout)["pid"]

    def output(self, cid):
        with open(os.path.join(self.tmp, cid + ".out")) as f:
            return f.read()

    def wait_stopped(self, cid):
        end = time.time() + TIMEOUT
        while time.time() < end:
            if json.loads(self.moat("state", cid).stdout)["status"] == "stopped":
                return
            time.sleep(0.05)
        self.fail("%s did not stop" % cid)

    def test_limits_applied_and_removed(self):
        path = "/moat-test-%d/c1" % os.getpid()
        self.parents.append("/moat-test-%d" % os.getpid())
        pid = self.create("c1", ["sleep", "30"],
                          {"memory": {"limit": 128 * MIB, "swap": 128 * MIB},
                           "pids": {"limit": 32},
                           "cpu": {"shares": 512, "quota": 50000, "period": 100000},
                           "devices": [{"allow": False, "access": "rwm"}]},
                          cgroups_path=path)
        mem, pids, cpu = (cgroup_dir("memory", path), cgroup_dir("pids", path),
                          cgroup_dir("cpu", path))
        if is_v2():
            self.assertEqual(read(cpu, "cpu.max"), "50000 100000")
            host_mem = int(read(mem, "memory.max"))
            host_pids = int(read(pids, "pids.max"))
        else:
            self.assertEqual(read(cpu, "cpu.cfs_quota_us"), "50000")
            self.assertEqual(read(cpu, "cpu.cfs_period_us"), "100000")
            self.assertEqual(read(cpu, "cpu.shares"), "512")
            host_mem = int(read(mem, "memory.limit_in_bytes"))
            host_pids = int(read(pids, "pids.max"))
        # The app's 128 MiB plus the kernel's headroom; 32 app tasks plus
        # the platform's host tasks.
        self.assertGreaterEqual(host_mem, 128 * MIB)
        self.assertLessEqual(host_mem, 512 * MIB)
        self.assertGreater(host_pids, 32)
        procs = [int(x) for x in read(pids, "cgroup.procs").split()]
        self.assertIn(pid, procs)  # the keeper, and the kernel and its stubs
        self.assertGreaterEqual(len(procs), 2)
        self.moat("start", "c1")
        ev = json.loads(self.moat("events", "--stats", "c1").stdout)
        self.assertEqual(ev["data"]["memory"]["usage"]["limit"], host_mem)
        self.assertGreater(ev["data"]["memory"]["usage"]["usage"], 0)
        self.assertGreater(ev["data"]["memory"]["raw"]["host_tasks"], 2)
        self.moat("kill", "c1", "KILL")
        self.wait_stopped("c1")
        self.assertTrue(os.path.isdir(mem))  # as runc: until delete
        self.moat("delete", "c1")
        self.ids.remove("c1")
        for d in (mem, pids, cpu):
            self.assertFalse(os.path.exists(d), d)
        for p in procs:
            self.assertFalse(os.path.exists("/proc/%d" % p) and
                             read("/proc/%d" % p, "stat").rsplit(")", 1)[1].split()[0] != "Z",
                             "process %d left behind" % p)

    def test_default_path_and_force_delete(self):
        pid = self.create("c2", ["sleep", "30"], {"pids": {"limit": 16}})
        d = cgroup_dir("pids", "moat/c2" if not is_v2() else "/moat/c2")
        self.assertIn(pid, [int(x) for x in read(d, "cgroup.procs").split()])
        self.moat("start", "c2")
        self.moat("delete", "--force", "c2")
        self.ids.remove("c2")
        self.assertFalse(os.path.exists(d))

    def test_run_removes_cgroup(self):
        """`moat run` deletes the container when its process ends: the
        cgroup goes with it."""
        cfg = {"ociVersion": "1.0.2",
               "process": {"terminal": False, "user": {"uid": 0, "gid": 0},
                           "args": ["sh", "-c", "cat /proc/self/status >/dev/null; exit 3"],
                           "env": ["PATH=/bin"], "cwd": "/"},
               "root": {"path": "rootfs"},
               "linux": {"resources": {"pids": {"limit": 16}}}}
        with open(os.path.join(self.bundle, "config.json"), "w") as f:
            json.dump(cfg, f)
        d = cgroup_dir("pids", "moat/r9" if not is_v2() else "/moat/r9")
        with open(os.path.join(self.tmp, "r9.out"), "w") as out:
            r = subprocess.run([MOAT, "--root", self.root, "run", "--bundle", self.bundle, "r9"],
                               stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                               timeout=TIMEOUT)
        self.assertEqual(r.returncode, 3, self.output("r9"))
        self.assertFalse(os.path.exists(d), d)

    def test_pids_limit_fork_fails(self):
        self.create("c3", ["sh", "-c",
                           "i=0; while [ $i -lt 40 ]; do sleep 5 & i=$((i+1)); done; echo end"],
                    {"pids": {"limit": 8}})
        self.moat("start", "c3")
        self.wait_stopped("c3")
        out = self.output("c3")
        # busybox sh reports the failed fork; the sandbox never exceeds 8.
        self.assertRegex(out, r"(?i)(resource temporarily unavailable|can't fork|fork)")

    def test_memory_limit_kills_app(self):
        self.create("c4", ["sh", "-c", "dd if=/dev/zero bs=100M count=1 of=/dev/null; "
                           "echo status $?; dd if=/dev/zero bs=32M count=1 of=/dev/null; "
                           "echo status $?"],
                    {"memory": {"limit": 64 * MIB}})
        self.moat("start", "c4")
        self.wait_stopped("c4")
        # 100 MiB is refused (ENOMEM, or SIGKILL when touched); 32 MiB fits.
        self.assertRegex(self.output("c4"), r"(out of memory|Killed)[^\n]*\n*status (1|137)\n")
        self.assertRegex(self.output("c4"), r"status 0\n$")

    def test_systemd_path(self):
        slice_ = "moattest%d.slice" % os.getpid()
        self.parents.append("/" + slice_)
        self.create("c5", ["true"], {"pids": {"limit": 16}},
                    cgroups_path=slice_ + ":moat:c5", global_args=["--systemd-cgroup"])
        d = cgroup_dir("pids", "/%s/moat-c5.scope" % slice_)
        self.assertTrue(os.path.isdir(d), d)
        self.moat("delete", "--force", "c5")
        self.ids.remove("c5")
        self.assertFalse(os.path.exists(d))

    def test_bad_resources(self):
        cfg_args = ["true"]
        for res, field in [({"memory": {"limit": "1g"}}, "linux.resources.memory.limit"),
                           ({"pids": {"limit": 1.5}}, "linux.resources.pids.limit"),
                           ({"memory": {"limit": 64 * MIB, "swap": MIB}},
                            "linux.resources.memory.swap")]:
            cfg = {"ociVersion": "1.0.2",
                   "process": {"args": cfg_args, "cwd": "/", "user": {"uid": 0, "gid": 0}},
                   "root": {"path": "rootfs"}, "linux": {"resources": res}}
            with open(os.path.join(self.bundle, "config.json"), "w") as f:
                json.dump(cfg, f)
            r = subprocess.run([MOAT, "--root", self.root, "create", "--bundle", self.bundle,
                                "bad"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, timeout=TIMEOUT)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(field, r.stderr)
            self.assertFalse(os.path.exists(os.path.join(self.root, "bad")))


if __name__ == "__main__":
    MOAT = os.path.abspath(sys.argv[1])
    if os.geteuid() != 0:
        print("1..0 # SKIP host cgroups need root")
        sys.exit(77)
    unittest.main(argv=sys.argv[:1], verbosity=2)
