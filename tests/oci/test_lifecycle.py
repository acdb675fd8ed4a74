#!/usr/bin/env python3
"""OCI lifecycle of `moat` against runc: the same bundles driven through both
runtimes, comparing what a caller such as containerd observes (state JSON
fields, statuses, exit codes, signals, errors for bad bundles, leftovers).

Usage: test_lifecycle.py MOAT   (runc is used when installed; its half of
each comparison is skipped otherwise)."""
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
RUNC = shutil.which("runc")
BUSYBOX = shutil.which("busybox") or "/bin/busybox"
TIMEOUT = 20
APPLETS = ["sh", "echo", "sleep", "true", "false", "cat", "ls", "id", "env", "pwd",
           "touch", "hostname", "test", "mkdir", "head", "tr"]


def make_rootfs(path):
    os.makedirs(os.path.join(path, "bin"))
    for d in ("proc", "dev", "sys", "tmp", "etc"):
        os.makedirs(os.path.join(path, d), exist_ok=True)
    shutil.copy(BUSYBOX, os.path.join(path, "bin", "busybox"))
    for a in APPLETS:
        os.symlink("busybox", os.path.join(path, "bin", a))


def base_config(args, **process):
    proc = {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": args,
            "env": ["PATH=/bin", "HOME=/root"], "cwd": "/", "noNewPrivileges": True}
    proc.update(process)
    return {
        "ociVersion": "1.0.2",
        "process": proc,
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "oci-test",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "mode=1777"]},
        ],
        "linux": {"namespaces": [{"type": t} for t in
                                 ("pid", "ipc", "uts", "mount", "network")]},
        "annotations": {"org.example.test": "yes"},
    }


class Runtime:
    def __init__(self, name, binary, root):
        self.name, self.binary, self.root = name, binary, root
        self.ids = set()

    def cmd(self, *args):
        return [self.binary, "--root", self.root] + list(args)

    def run(self, *args, timeout=TIMEOUT, stdin=subprocess.DEVNULL):
        """Runs a command whose output we read (not one that leaves a
        container holding its stdio)."""
        return subprocess.run(self.cmd(*args), stdin=stdin, capture_output=True,
                              text=True, timeout=timeout)

    def run_files(self, outdir, *args, timeout=TIMEOUT):
        """Runs create / run -d: the container inherits stdio, so it goes
        to files. Returns (returncode, stdout path, stderr text)."""
        tag = "-".join(a.replace("/", "_") for a in args[-1:])
        out = os.path.join(outdir, "%s-%s-%d.out" % (self.name, tag, time.monotonic_ns()))
        err = out[:-4] + ".err"
        with open(out, "wb") as o, open(err, "wb") as e:
            p = subprocess.run(self.cmd(*args), stdin=subprocess.DEVNULL, stdout=o, stderr=e,
                               timeout=timeout)
        with open(err) as f:
            return p.returncode, out, f.read()

    def state(self, cid):
        p = self.run("state", cid)
        if p.returncode != 0:
            return None
        return json.loads(p.stdout)

    def wait_status(self, cid, want, timeout=10):
        end = time.monotonic() + timeout
        st = None
        while time.monotonic() < end:
            st = self.state(cid)
            if st and st["status"] == want:
                return st
            time.sleep(0.05)
        raise AssertionError("%s: %s never became %s (last: %s)" % (self.name, cid, want, st))

    def cleanup(self):
        for cid in list(self.ids):
            st = self.state(cid)
            if st and st["status"] != "stopped":
                self.run("kill", cid, "KILL")
            self.run("delete", "--force", cid)
        self.ids.clear()


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


class Lifecycle(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="moat-oci-")
        self.rootfs = os.path.join(self.tmp, "rootfs-src")
        make_rootfs(self.rootfs)
        self.runtimes = [Runtime("moat", MOAT, os.path.join(self.tmp, "state-moat"))]
        if RUNC and os.geteuid() == 0:
            self.runtimes.append(Runtime("runc", RUNC, os.path.join(self.tmp, "state-runc")))

    def tearDown(self):
        for rt in self.runtimes:
            rt.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)

    _n = 0

    def bundle(self, config, rootfs=True, raw=None):
        Lifecycle._n += 1
        b = os.path.join(self.tmp, "bundle%d" % Lifecycle._n)
        os.makedirs(b)
        if rootfs:
            shutil.copytree(self.rootfs, os.path.join(b, "rootfs"), symlinks=True)
        if raw is not None:
            with open(os.path.join(b, "config.json"), "w") as f:
                f.write(raw)
        elif config is not None:
            with open(os.path.join(b, "config.json"), "w") as f:
                json.dump(config, f)
        return b

    def create(self, rt, cid, bundle, *extra):
        rt.ids.add(cid)
        rc, out, err = rt.run_files(self.tmp, "create", "--bundle", bundle, *extra, cid)
        self.assertEqual(rc, 0, "%s create: %s" % (rt.name, err))
        return out

    # ---- tests ----

    def test_version_and_features(self):
        p = subprocess.run([MOAT, "--version"], capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0)
        self.assertIn("moat version", p.stdout)
        p = subprocess.run([MOAT, "features"], capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0)
        f = json.loads(p.stdout)
        self.assertIn("ociVersionMax", f)
        self.assertIn("pid", f["linux"]["namespaces"])

    def test_spec(self):
        docs = {}
        for rt in self.runtimes:
            d = os.path.join(self.tmp, "spec-" + rt.name)
            os.makedirs(d)
            p = subprocess.run([rt.binary, "spec", "--bundle", d], capture_output=True,
                               text=True, timeout=TIMEOUT)
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(os.path.join(d, "config.json")) as f:
                docs[rt.name] = json.load(f)
            p = subprocess.run([rt.binary, "spec", "--bundle", d], capture_output=True,
                               text=True, timeout=TIMEOUT)
            self.assertNotEqual(p.returncode, 0, "%s spec overwrote config.json" % rt.name)
        m = docs["moat"]
        self.assertEqual(m["root"]["path"], "rootfs")
        self.assertEqual(m["process"]["args"], ["sh"])
        if "runc" in docs:
            r = docs["runc"]
            for key in ("ociVersion", "process", "root", "hostname", "mounts", "linux"):
                self.assertIn(key, m)
                self.assertIn(key, r)
            self.assertEqual(m["process"]["args"], r["process"]["args"])
            self.assertEqual(m["process"]["cwd"], r["process"]["cwd"])
            self.assertEqual(m["root"], r["root"])
            self.assertEqual(sorted(x["destination"] for x in m["mounts"]),
                             sorted(x["destination"] for x in r["mounts"]))

    def test_run_exit_code_and_output(self):
        b = self.bundle(base_config(["sh", "-c", "echo hello; exit 3"]))
        for rt in self.runtimes:
            rt.ids.add("r1")
            p = rt.run("run", "--bundle", b, "r1")
            self.assertEqual(p.returncode, 3, "%s: %s" % (rt.name, p.stderr))
            self.assertEqual(p.stdout, "hello\n", rt.name)
            self.assertIsNone(rt.state("r1"), "%s run left its state" % rt.name)

    def test_create_start_state_delete(self):
        b = self.bundle(base_config(["sh", "-c", "sleep 1; echo done"]))
        seen = {}
        for rt in self.runtimes:
            out = self.create(rt, "c1", b)
            st = rt.state("c1")
            self.assertEqual(st["status"], "created", rt.name)
            self.assertEqual(st["id"], "c1")
            self.assertEqual(st["bundle"], b)
            self.assertGreater(st["pid"], 0)
            self.assertTrue(pid_alive(st["pid"]))
            self.assertEqual(st.get("annotations"), {"org.example.test": "yes"}, rt.name)
            self.assertTrue(st["ociVersion"].startswith("1."))
            keys_created = set(st)
            p = rt.run("start", "c1")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(rt.state("c1")["status"], "running", rt.name)
            # starting twice is an error
            self.assertNotEqual(rt.run("start", "c1").returncode, 0, rt.name)
            st = rt.wait_status("c1", "stopped")
            self.assertEqual(st["pid"], 0, rt.name)
            with open(out) as f:
                self.assertEqual(f.read(), "done\n", rt.name)
            p = rt.run("delete", "c1")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIsNone(rt.state("c1"))
            self.assertNotEqual(rt.run("delete", "c1").returncode, 0)
            seen[rt.name] = keys_created
        if "runc" in seen:
            self.assertEqual(seen["moat"] - {"rootfs"}, seen["runc"] - {"rootfs"})

    def test_pid_file_and_list(self):
        b = self.bundle(base_config(["sleep", "30"]))
        for rt in self.runtimes:
            pidfile = os.path.join(self.tmp, rt.name + ".pid")
            self.create(rt, "p1", b, "--pid-file", pidfile)
            with open(pidfile) as f:
                self.assertEqual(int(f.read()), rt.state("p1")["pid"], rt.name)
            p = rt.run("list", "--format", "json")
            self.assertEqual(p.returncode, 0)
            lst = json.loads(p.stdout)
            self.assertEqual([(c["id"], c["status"]) for c in lst], [("p1", "created")])
            p = rt.run("list", "-q")
            self.assertEqual(p.stdout.split(), ["p1"])
            # deleting a created container kills it, without --force
            p = rt.run("delete", "p1")
            self.assertEqual(p.returncode, 0, "%s: %s" % (rt.name, p.stderr))

    def check_kill(self, sig_arg, want_exit):
        b = self.bundle(base_config(["sleep", "30"]))
        for rt in self.runtimes:
            self.create(rt, "k1", b)
            pid = rt.state("k1")["pid"]
            self.assertEqual(rt.run("start", "k1").returncode, 0)
            p = rt.run("kill", "k1", sig_arg)
            self.assertEqual(p.returncode, 0, "%s: %s" % (rt.name, p.stderr))
            rt.wait_status("k1", "stopped")
            self.assertFalse(pid_alive(pid))
            # the container is gone: kill fails, delete works
            self.assertNotEqual(rt.run("kill", "k1", "KILL").returncode, 0, rt.name)
            self.assertEqual(rt.run("delete", "k1").returncode, 0)
        del want_exit

    def test_kill_by_name(self):
        self.check_kill("SIGKILL", 137)

    def test_kill_by_number(self):
        self.check_kill("9", 137)

    def test_kill_term_default(self):
        b = self.bundle(base_config(["sh", "-c", "trap 'exit 7' TERM; sleep 30 & wait"]))
        for rt in self.runtimes:
            self.create(rt, "t1", b)
            self.assertEqual(rt.run("start", "t1").returncode, 0)
            time.sleep(0.3)
            p = rt.run("kill", "t1")
            self.assertEqual(p.returncode, 0, p.stderr)
            rt.wait_status("t1", "stopped")

    def test_kill_bad_signal(self):
        b = self.bundle(base_config(["sleep", "30"]))
        for rt in self.runtimes:
            self.create(rt, "s1", b)
            self.assertNotEqual(rt.run("kill", "s1", "NOSUCHSIG").returncode, 0, rt.name)
            self.assertEqual(rt.state("s1")["status"], "created")

    def test_delete_running_needs_force(self):
        b = self.bundle(base_config(["sleep", "30"]))
        for rt in self.runtimes:
            self.create(rt, "d1", b)
            pid = rt.state("d1")["pid"]
            rt.run("start", "d1")
            p = rt.run("delete", "d1")
            self.assertNotEqual(p.returncode, 0, rt.name)
            self.assertEqual(rt.state("d1")["status"], "running")
            p = rt.run("delete", "--force", "d1")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIsNone(rt.state("d1"))
            self.assertFalse(pid_alive(pid))

    def test_duplicate_id(self):
        b = self.bundle(base_config(["sleep", "30"]))
        for rt in self.runtimes:
            self.create(rt, "dup", b)
            rc, _, err = rt.run_files(self.tmp, "create", "--bundle", b, "dup")
            self.assertNotEqual(rc, 0, rt.name)
            self.assertEqual(rt.state("dup")["status"], "created")

    def test_process_fields(self):
        cfg = base_config(["sh", "-c", "echo $FOO; pwd; id -u; id -g"],
                          env=["PATH=/bin", "FOO=bar"], cwd="/tmp", user={"uid": 1000, "gid": 1001})
        b = self.bundle(cfg)
        for rt in self.runtimes:
            rt.ids.add("f1")
            p = rt.run("run", "--bundle", b, "f1")
            self.assertEqual(p.returncode, 0, "%s: %s" % (rt.name, p.stderr))
            self.assertEqual(p.stdout.split(), ["bar", "/tmp", "1000", "1001"], rt.name)

    def test_rlimits(self):
        # process.rlimits are the app's: moat's kernel enforces them; none
        # may land on the kernel process (FSIZE there would kill the whole
        # sandbox the first time it grows the memory file).
        script = ("ulimit -Sn; ulimit -Hn; ulimit -St; ulimit -Ht; "
                  "dd if=/dev/zero of=/tmp/f bs=1024 count=64 2>/dev/null; echo dd=$?; "
                  "wc -c </tmp/f; head -c 300000 /dev/zero | cat >/dev/null; echo big=$?")
        cfg = base_config(["sh", "-c", script], rlimits=[
            {"type": "RLIMIT_NOFILE", "soft": 64, "hard": 128},
            {"type": "RLIMIT_CPU", "soft": 100, "hard": 200},
            {"type": "RLIMIT_FSIZE", "soft": 8192, "hard": 8192}])
        b = self.bundle(cfg)
        outs = {}
        for rt in self.runtimes:
            rt.ids.add("rl1")
            p = rt.run("run", "--bundle", b, "rl1")
            self.assertEqual(p.returncode, 0, "%s: %s" % (rt.name, p.stderr))
            outs[rt.name] = p.stdout.split()
        # SIGXFSZ ends dd (128 + 25) after 8 KiB.
        self.assertEqual(outs["moat"], ["64", "128", "100", "200", "dd=153", "8192", "big=0"])
        if "runc" in outs:
            self.assertEqual(outs["moat"], outs["runc"])

    def test_no_new_privileges(self):
        # The app's own flag, as /proc/self/status shows it.
        for nnp in (True, False):
            b = self.bundle(base_config(["sh", "-c", "while read k v; do [ $k = NoNewPrivs: ]"
                                         " && echo $k $v; done </proc/self/status; true"],
                                        noNewPrivileges=nnp))
            for rt in self.runtimes:
                rt.ids.add("nnp")
                p = rt.run("run", "--bundle", b, "nnp")
                self.assertEqual(p.returncode, 0, "%s: %s" % (rt.name, p.stderr))
                self.assertEqual(p.stdout.split(), ["NoNewPrivs:", "1" if nnp else "0"],
                                 "%s noNewPrivileges=%s" % (rt.name, nnp))

    def test_tmpfs_mount(self):
        b = self.bundle(base_config(["sh", "-c", "echo x > /tmp/f && cat /tmp/f"]))
        for rt in self.runtimes:
            rt.ids.add("m1")
            p = rt.run("run", "--bundle", b, "m1")
            self.assertEqual(p.returncode, 0, "%s: %s" % (rt.name, p.stderr))
            self.assertEqual(p.stdout, "x\n", rt.name)
        self.assertFalse(os.path.exists(os.path.join(b, "rootfs", "tmp", "f")))

    def test_bind_mount(self):
        host = os.path.join(self.tmp, "hostdir")
        os.makedirs(host)
        with open(os.path.join(host, "greeting"), "w") as f:
            f.write("from the host\n")
        cfg = base_config(["cat", "/data/greeting"])
        cfg["mounts"].append({"destination": "/data", "type": "bind", "source": host,
                              "options": ["rbind", "ro"]})
        b = self.bundle(cfg)
        for rt in self.runtimes:
            rt.ids.add("b1")
            p = rt.run("run", "--bundle", b, "b1")
            self.assertEqual(p.returncode, 0, "%s: %s" % (rt.name, p.stderr))
            self.assertEqual(p.stdout, "from the host\n", rt.name)

    def test_bind_mount_read_write(self):
        # The same read-write and file binds through moat and runc: the
        # host sees the same files, with the same owners and modes.
        script = ("mkdir /data/d && echo w > /data/d/f && chmod 600 /data/d/f && "
                  "mv /data/d/f /data/d/g && ln -s g /data/d/l && rm /data/old && "
                  "cat /etc/single && echo appended >> /etc/single && "
                  "touch /ro/x 2>/dev/null || echo ro-refused")
        results = {}
        for rt in self.runtimes:
            host = os.path.join(self.tmp, "rw-" + rt.name)
            os.makedirs(host)
            os.chmod(host, 0o777)
            with open(os.path.join(host, "old"), "w") as f:
                f.write("old\n")
            single = os.path.join(self.tmp, "single-" + rt.name)
            with open(single, "w") as f:
                f.write("single\n")
            os.chmod(single, 0o666)
            cfg = base_config(["sh", "-c", script])
            cfg["process"]["user"] = {"uid": 1000, "gid": 1000}
            cfg["mounts"] += [
                {"destination": "/data", "type": "bind", "source": host, "options": ["rbind", "rw"]},
                {"destination": "/etc/single", "type": "bind", "source": single,
                 "options": ["rbind", "rw"]},
                {"destination": "/ro", "type": "bind", "source": host, "options": ["rbind", "ro"]}]
            b = self.bundle(cfg)
            rt.ids.add("rw1")
            p = rt.run("run", "--bundle", b, "rw1")
            self.assertEqual(p.returncode, 0, "%s: %s" % (rt.name, p.stderr))
            seen = {"stdout": p.stdout}
            for name in ("d", "d/g", "d/l"):
                st = os.lstat(os.path.join(host, name))
                seen[name] = (oct(st.st_mode), st.st_uid, st.st_gid)
            seen["old"] = os.path.exists(os.path.join(host, "old"))
            with open(os.path.join(host, "d", "g")) as f:
                seen["g"] = f.read()
            with open(single) as f:
                seen["single"] = f.read()
            results[rt.name] = seen
        m = results["moat"]
        self.assertEqual(m["stdout"], "single\nro-refused\n")
        self.assertEqual(m["d/g"], (oct(0o100600), 1000, 1000))
        self.assertFalse(m["old"])
        self.assertEqual(m["single"], "single\nappended\n")
        if "runc" in results:
            self.assertEqual(m, results["runc"])

    def check_bad_bundle(self, bundle, field):
        for rt in self.runtimes:
            rt.ids.add("bad")
            rc, _, err = rt.run_files(self.tmp, "create", "--bundle", bundle, "bad")
            self.assertNotEqual(rc, 0, "%s accepted a bad bundle" % rt.name)
            self.assertIsNone(rt.state("bad"), "%s left state behind" % rt.name)
            if rt.name == "moat":
                lines = [l for l in err.splitlines() if l.strip()]
                self.assertEqual(len(lines), 1, err)
                self.assertIn(field, lines[0])
                self.assertFalse(os.path.exists(os.path.join(rt.root, "bad")))
        out = subprocess.run(["ps", "-eo", "stat,args"], capture_output=True, text=True).stdout
        self.assertNotIn(bundle, out)

    def test_bad_missing_config(self):
        self.check_bad_bundle(self.bundle(None), "config.json")

    def test_bad_invalid_json(self):
        self.check_bad_bundle(self.bundle(None, raw='{"ociVersion": "1.0.2", "process": {'),
                              "invalid JSON")

    def test_bad_missing_rootfs(self):
        self.check_bad_bundle(self.bundle(base_config(["true"]), rootfs=False), "root.path")

    def test_bad_mount_source(self):
        cfg = base_config(["true"])
        cfg["mounts"].append({"destination": "/data", "type": "bind",
                              "source": "/nonexistent/moat-test", "options": ["rbind"]})
        self.check_bad_bundle(self.bundle(cfg), "mounts[3].source")

    def test_bad_namespace_type(self):
        cfg = base_config(["true"])
        cfg["linux"]["namespaces"].append({"type": "bogus"})
        self.check_bad_bundle(self.bundle(cfg), "linux.namespaces[5].type")

    def test_sysctl(self):
        """linux.sysctl: namespaced keys are set inside the container (moat:
        its kernel's IPC limits and names; net.* in the sandbox's network
        namespace), the others refused by name, as runc does."""
        cfg = base_config(["sh", "-c", "cat /proc/sys/kernel/msgmax /proc/sys/kernel/shmmni "
                           "/proc/sys/kernel/sem /proc/sys/fs/mqueue/queues_max "
                           "/proc/sys/kernel/domainname"])
        cfg["linux"]["sysctl"] = {"kernel.msgmax": "4321", "kernel.shmmni": "1234",
                                  "kernel.sem": "100 2000 50 300",
                                  "fs.mqueue.queues_max": "77",
                                  "kernel.domainname": "example.org",
                                  "net.ipv4.ip_unprivileged_port_start": "80"}
        b = self.bundle(cfg)
        for rt in self.runtimes:
            rt.ids.add("sc1")
            p = rt.run("run", "--bundle", b, "sc1")
            self.assertEqual(p.returncode, 0, "%s: %s" % (rt.name, p.stderr))
            self.assertEqual(p.stdout.split(), ["4321", "1234", "100", "2000", "50", "300", "77",
                                                "example.org"], rt.name)
        bad = [({"kernel.hostname": "x"}, None, "kernel.hostname"),
               ({"kernel.pid_max": "1000"}, None, "kernel.pid_max"),
               ({"vm.overcommit_memory": "1"}, None, "vm.overcommit_memory"),
               ({"net.ipv4.ip_forward": "1"}, "no-netns", "net.ipv4.ip_forward"),
               ({"kernel.msgmax": "lots"}, None, "kernel.msgmax")]
        for i, (sc, opt, key) in enumerate(bad):
            cfg = base_config(["true"])
            cfg["linux"]["sysctl"] = sc
            if opt == "no-netns":
                cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"]
                                              if n["type"] != "network"]
            b = self.bundle(cfg)
            for rt in self.runtimes:
                cid = "sc-bad%d" % i
                rt.ids.add(cid)
                p = rt.run("run", "--bundle", b, cid)
                self.assertNotEqual(p.returncode, 0, "%s accepted %s" % (rt.name, sc))
                if rt.name == "moat":
                    self.assertIn(key, p.stderr)
                    self.assertIsNone(rt.state(cid), "moat left state for %s" % sc)
        # A key runc takes that moat's kernel does not implement: refused
        # by name rather than ignored.
        cfg = base_config(["true"])
        cfg["linux"]["sysctl"] = {"kernel.shm_rmid_forced": "1"}
        p = self.runtimes[0].run("run", "--bundle", self.bundle(cfg), "sc-rmid")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("`kernel.shm_rmid_forced` is not supported by moat", p.stderr)

    HOOK = """#!/usr/bin/python3
import json, os, sys
st = json.load(sys.stdin)
with open(sys.argv[1], "a") as f:
    f.write("%s %s %s %s\\n" % (sys.argv[2], st["id"], st["status"], st["pid"] > 0))
sys.exit(int(os.environ.get("HOOK_EXIT", "0")))
"""

    def hook_config(self, args, log, kinds, fail=None):
        hook = os.path.join(self.tmp, "hook.py")
        with open(hook, "w") as f:
            f.write(self.HOOK)
        os.chmod(hook, 0o755)
        cfg = base_config(args)
        cfg["hooks"] = {k: [{"path": hook, "args": ["hook.py", log, k],
                             "env": ["HOOK_EXIT=%d" % (k == fail)], "timeout": 10}]
                        for k in kinds}
        return cfg

    def test_hooks_order_and_state(self):
        """prestart, createRuntime and createContainer run at create (status
        creating), poststart after start, poststop at delete (stopped), each
        with the state on stdin, in the same order as runc's."""
        kinds = ["prestart", "createRuntime", "createContainer", "poststart", "poststop"]
        logs = {}
        for rt in self.runtimes:
            log = os.path.join(self.tmp, "hooks-%s.log" % rt.name)
            b = self.bundle(self.hook_config(["sh", "-c", "sleep 0.2"], log, kinds))
            self.create(rt, "h1", b)
            with open(log) as f:
                at_create = f.read()
            self.assertEqual(rt.run("start", "h1").returncode, 0, rt.name)
            rt.wait_status("h1", "stopped")
            self.assertEqual(rt.run("delete", "h1").returncode, 0, rt.name)
            with open(log) as f:
                logs[rt.name] = (at_create, f.read())
        self.assertEqual(logs["moat"][0],
                         "prestart h1 creating True\ncreateRuntime h1 creating True\n"
                         "createContainer h1 creating True\n")
        self.assertEqual(logs["moat"][1].splitlines()[3:],
                         ["poststart h1 running True", "poststop h1 stopped False"])
        # runc 1.1 runs poststart hooks at create and no poststop hook at a
        # delete of a stopped container, both unlike runtime-spec: compare
        # the create-time hooks only.
        if "runc" in logs:
            self.assertEqual(logs["moat"][0],
                             "".join(l + "\n" for l in logs["runc"][0].splitlines()
                                     if not l.startswith("poststart")))

    # A startContainer hook: a program of the container's (busybox sh),
    # run inside it; it logs through a read-write bind of the log's dir.
    START_HOOK = """#!/bin/sh
st=$(cat)
case "$st" in *'"status":"created"'*|*'"status": "created"'*) s=created ;; *) s=other ;; esac
case "$st" in *'"pid":0,'*|*'"pid": 0,'*) p=False ;; *) p=True ;; esac
case "$st" in *'"id":"h1"'*|*'"id": "h1"'*) i=h1 ;; *) i=other ;; esac
echo "startContainer $i $s $p" >> "$1"
exit "${HOOK_EXIT:-0}"
"""

    def start_hook_config(self, log, fail=False):
        kinds = ["prestart", "createRuntime", "createContainer", "poststart"]
        inner = "/hooklog/" + os.path.basename(log)
        cfg = self.hook_config(["sh", "-c", "echo app >> " + inner], log, kinds)
        cfg["hooks"]["startContainer"] = [{"path": "/start-hook.sh",
                                           "args": ["start-hook.sh", inner],
                                           "env": ["HOOK_EXIT=%d" % fail], "timeout": 10}]
        cfg["mounts"].append({"destination": "/hooklog", "type": "bind",
                              "source": os.path.dirname(log), "options": ["rbind", "rw"]})
        b = self.bundle(cfg)
        with open(os.path.join(b, "rootfs", "start-hook.sh"), "w") as f:
            f.write(self.START_HOOK)
        os.chmod(os.path.join(b, "rootfs", "start-hook.sh"), 0o755)
        return b

    def test_start_container_hooks(self):
        """startContainer hooks run inside the container after start and
        before the user's program, with the state (status created, the
        container's pid) on stdin, in the same order as runc's; a failing
        one ends the container before its program runs."""
        logs = {}
        for rt in self.runtimes:
            d = os.path.join(self.tmp, "startlog-" + rt.name)
            os.makedirs(d)
            os.chmod(d, 0o777)
            log = os.path.join(d, "hooks.log")
            self.create(rt, "h1", self.start_hook_config(log))
            self.assertEqual(rt.run("start", "h1").returncode, 0, rt.name)
            rt.wait_status("h1", "stopped")
            self.assertEqual(rt.run("delete", "h1").returncode, 0, rt.name)
            with open(log) as f:
                # poststart: moat runs it at start, beside the container;
                # runc 1.1 at create (unlike runtime-spec): left out.
                logs[rt.name] = [l for l in f.read().splitlines()
                                 if not l.startswith("poststart")]
        self.assertEqual(logs["moat"], ["prestart h1 creating True",
                                        "createRuntime h1 creating True",
                                        "createContainer h1 creating True",
                                        "startContainer h1 created True", "app"])
        if "runc" in logs:
            self.assertEqual(logs["moat"], logs["runc"])
        for rt in self.runtimes:
            d = os.path.join(self.tmp, "startfail-" + rt.name)
            os.makedirs(d)
            os.chmod(d, 0o777)
            log = os.path.join(d, "hooks.log")
            out = self.create(rt, "h1f", self.start_hook_config(log, fail=True))
            self.assertEqual(rt.run("start", "h1f").returncode, 0, rt.name)
            rt.wait_status("h1f", "stopped")
            with open(log) as f:
                self.assertNotIn("app", f.read().split(), rt.name)
            rt.run("delete", "h1f")
            if rt.name == "moat":
                # The kernel's stderr is create's.
                with open(out[:-4] + ".err") as f:
                    err = f.read()
                self.assertIn("hooks.startContainer[0]: `/start-hook.sh` exited with status 1",
                              err)

    def test_hook_failure(self):
        """A failing createRuntime hook fails create with the hook named and
        leaves nothing behind; a failing poststart one is only a warning."""
        for rt in self.runtimes:
            log = os.path.join(self.tmp, "fail-%s.log" % rt.name)
            b = self.bundle(self.hook_config(["true"], log, ["createRuntime"],
                                             fail="createRuntime"))
            rt.ids.add("h2")
            rc, _, err = rt.run_files(self.tmp, "create", "--bundle", b, "h2")
            self.assertNotEqual(rc, 0, rt.name)
            if rt.name == "moat":
                self.assertIn("hooks.createRuntime[0]", err)
                self.assertIn("exited with status 1", err)
            self.assertIsNone(rt.state("h2"), rt.name)
            b = self.bundle(self.hook_config(["true"], log, ["poststart"], fail="poststart"))
            if rt.name == "moat":
                self.create(rt, "h3", b)
                p = rt.run("start", "h3")
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertIn("hooks.poststart[0]", p.stderr)

    @staticmethod
    def netns_ino(pid):
        return os.stat("/proc/%d/ns/net" % pid).st_ino

    def test_network_namespace(self):
        """No network namespace in the config: the caller's; one without a
        path: a new one (the container's pid is in it, for Docker's and
        CNI's hooks); one with a path: that one, whose interfaces the app
        sees."""
        holder = subprocess.Popen(["unshare", "--net", "sh", "-c",
                                   "ip link add moattest0 type bridge && exec sleep 60"])
        try:
            path = "/proc/%d/ns/net" % holder.pid
            end = time.monotonic() + 5
            while self.netns_ino(holder.pid) == self.netns_ino(os.getpid()) or \
                    b"moattest0" not in subprocess.run(
                        ["nsenter", "--net=" + path, "ip", "link"],
                        capture_output=True).stdout:
                self.assertLess(time.monotonic(), end, "the test's netns never came up")
                time.sleep(0.05)
            for rt in self.runtimes:
                host = self.netns_ino(os.getpid())
                cfg = base_config(["cat", "/proc/net/dev"])
                cfg["linux"]["namespaces"] = [{"type": t} for t in ("pid", "mount", "uts", "ipc")]
                self.create(rt, "n1", self.bundle(cfg))
                self.assertEqual(self.netns_ino(rt.state("n1")["pid"]), host, rt.name)
                rt.run("delete", "--force", "n1")
                cfg["linux"]["namespaces"].append({"type": "network"})
                self.create(rt, "n2", self.bundle(cfg))
                self.assertNotEqual(self.netns_ino(rt.state("n2")["pid"]), host, rt.name)
                rt.run("delete", "--force", "n2")
                cfg["linux"]["namespaces"][-1]["path"] = path
                out = self.create(rt, "n3", self.bundle(cfg))
                self.assertEqual(self.netns_ino(rt.state("n3")["pid"]),
                                 self.netns_ino(holder.pid), rt.name)
                self.assertEqual(rt.run("start", "n3").returncode, 0, rt.name)
                rt.wait_status("n3", "stopped")
                with open(out) as f:
                    self.assertIn("moattest0", f.read(), rt.name)
                rt.run("delete", "n3")
        finally:
            holder.kill()
            holder.wait()

    def cgroup_dir(self, rt, cid, ctl):
        """The container's v1 cgroup directory for controller CTL (moat's
        saved cgroup file; runc's from /proc/PID/cgroup)."""
        pid = rt.state(cid)["pid"]
        with open("/proc/%d/cgroup" % pid) as f:
            for line in f:
                _, ctls, path = line.rstrip("\n").split(":", 2)
                if ctl in ctls.split(","):
                    return os.path.join("/sys/fs/cgroup", ctl, path.lstrip("/"))
        return None

    def test_pause_resume(self):
        """pause freezes the whole sandbox (every process of its cgroup),
        state says paused, resume thaws; wrong states fail as runc's do."""
        if not os.path.exists("/sys/fs/cgroup/freezer/freezer.state") and \
                not os.path.exists("/sys/fs/cgroup/freezer"):
            self.skipTest("no v1 freezer hierarchy")
        b = self.bundle(base_config(
            ["sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done"]))
        for rt in self.runtimes:
            self.create(rt, "z1", b)
            # resume of a container that is not paused fails
            p = rt.run("resume", "z1")
            self.assertNotEqual(p.returncode, 0, rt.name)
            self.assertIn("not paused", p.stderr, rt.name)
            self.assertEqual(rt.run("start", "z1").returncode, 0)
            time.sleep(0.3)
            p = rt.run("pause", "z1")
            self.assertEqual(p.returncode, 0, "%s: %s" % (rt.name, p.stderr))
            self.assertEqual(rt.state("z1")["status"], "paused", rt.name)
            p = rt.run("list", "--format", "json")
            self.assertEqual([c["status"] for c in json.loads(p.stdout)], ["paused"], rt.name)
            fz = self.cgroup_dir(rt, "z1", "freezer")
            with open(os.path.join(fz, "freezer.state")) as f:
                self.assertEqual(f.read().strip(), "FROZEN", rt.name)
            with open(os.path.join(fz, "cgroup.procs")) as f:
                procs = [int(x) for x in f.read().split()]
            self.assertIn(rt.state("z1")["pid"], procs)
            # every process of the sandbox is frozen: none is running
            for pid in procs:
                with open("/proc/%d/stat" % pid) as f:
                    stat = f.read().rsplit(")", 1)[1].split()
                self.assertNotEqual(stat[0], "R", "%s: pid %d runs while paused" % (rt.name, pid))
            # pausing twice fails; so does deleting without --force
            p = rt.run("pause", "z1")
            self.assertNotEqual(p.returncode, 0, rt.name)
            self.assertIn("not running", p.stderr, rt.name)
            self.assertNotEqual(rt.run("delete", "z1").returncode, 0, rt.name)
            p = rt.run("resume", "z1")
            self.assertEqual(p.returncode, 0, "%s: %s" % (rt.name, p.stderr))
            self.assertEqual(rt.state("z1")["status"], "running", rt.name)
            with open(os.path.join(fz, "freezer.state")) as f:
                self.assertEqual(f.read().strip(), "THAWED", rt.name)
            # a paused container is removed by delete --force
            self.assertEqual(rt.run("pause", "z1").returncode, 0)
            pid = rt.state("z1")["pid"]
            p = rt.run("delete", "--force", "z1", timeout=15)
            self.assertEqual(p.returncode, 0, "%s: %s" % (rt.name, p.stderr))
            self.assertIsNone(rt.state("z1"))
            self.assertFalse(pid_alive(pid), rt.name)
            # pause of a stopped container fails
            b2 = self.bundle(base_config(["true"]))
            self.create(rt, "z2", b2)
            rt.run("start", "z2")
            rt.wait_status("z2", "stopped")
            p = rt.run("pause", "z2")
            self.assertNotEqual(p.returncode, 0, rt.name)
            self.assertIn("not running", p.stderr, rt.name)
            rt.run("delete", "z2")

    def test_pause_then_kill(self):
        """kill KILL of a paused moat container ends it (the sandbox is
        thawed to let it die)."""
        if not os.path.exists("/sys/fs/cgroup/freezer"):
            self.skipTest("no v1 freezer hierarchy")
        b = self.bundle(base_config(["sleep", "30"]))
        rt = self.runtimes[0]
        self.create(rt, "y1", b)
        self.assertEqual(rt.run("start", "y1").returncode, 0)
        self.assertEqual(rt.run("pause", "y1").returncode, 0)
        pid = rt.state("y1")["pid"]
        p = rt.run("kill", "y1", "KILL")
        self.assertEqual(p.returncode, 0, p.stderr)
        rt.wait_status("y1", "stopped")
        self.assertFalse(pid_alive(pid))
        self.assertEqual(rt.run("delete", "y1").returncode, 0)

    def test_update(self):
        """update changes the limits of a running container's cgroup (moat:
        the sandbox's, with its kernel's headroom; runc: the exact values)
        and, for pids, what the apps can start."""
        b = self.bundle(base_config(["sleep", "60"]))
        # The default cgroup path is moat/ID: an ID of this run's own, as
        # other checkouts' suites may run beside this one.
        u1 = "u1-%d" % os.getpid()
        forks = "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 3 & done; wait; echo end"
        for rt in self.runtimes:
            self.create(rt, u1, b)
            self.assertEqual(rt.run("start", u1).returncode, 0)
            p = rt.run("update", "--pids-limit", "10", "--memory", "256m", u1)
            self.assertEqual(p.returncode, 0, "%s: %s" % (rt.name, p.stderr))
            pd = self.cgroup_dir(rt, u1, "pids")
            md = self.cgroup_dir(rt, u1, "memory")
            with open(os.path.join(pd, "pids.max")) as f:
                pids_max = int(f.read())
            with open(os.path.join(md, "memory.limit_in_bytes")) as f:
                mem = int(f.read())
            if rt.name == "runc":
                self.assertEqual((pids_max, mem), (10, 256 << 20))
            else:
                # the apps' 10 tasks and 256 MiB, plus the kernel's own
                self.assertGreater(pids_max, 10)
                self.assertGreater(mem, 256 << 20)
                self.assertIn("memory limit", p.stderr)
                # the kernel refuses the 11th task: sh cannot fork them all
                p = rt.run("exec", u1, "sh", "-c", forks, timeout=30)
                self.assertIn("can't fork", p.stderr, p.stdout)
            # a resources file on stdin, as containerd passes it
            with open(self.write_json({"pids": {"limit": 50}, "cpu": {"shares": 512}})) as f:
                p = rt.run("update", "-r", "-", u1, stdin=f)
            self.assertEqual(p.returncode, 0, "%s: %s" % (rt.name, p.stderr))
            with open(os.path.join(pd, "pids.max")) as f:
                pids_max = int(f.read())
            with open(os.path.join(self.cgroup_dir(rt, u1, "cpu"), "cpu.shares")) as f:
                self.assertEqual(int(f.read()), 512, rt.name)
            if rt.name == "runc":
                self.assertEqual(pids_max, 50)
            else:
                self.assertGreater(pids_max, 50)
                p = rt.run("exec", u1, "sh", "-c", forks, timeout=30)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertNotIn("can't fork", p.stderr)
                self.assertEqual(p.stdout, "end\n")
            # unsupported options and bad values fail
            self.assertNotEqual(rt.run("update", "--memory", "lots", u1).returncode, 0)
            if rt.name == "moat":
                p = rt.run("update", "--cpuset-cpus", "0", u1)
                self.assertNotEqual(p.returncode, 0)
                self.assertIn("cpuset-cpus", p.stderr)
            rt.run("kill", u1, "KILL")
            rt.wait_status(u1, "stopped")
            self.assertNotEqual(rt.run("update", "--pids-limit", "5", u1).returncode, 0,
                                rt.name)

    def test_update_memory_in_kernel(self):
        """moat: update --memory of a running container created with a
        limit changes the limit its kernel enforces (MemTotal; an app past
        it is killed), not only the host cgroup's."""
        moat = self.runtimes[0]
        um = "um-%d" % os.getpid()
        # Its first process outlives the test: the shell fills below take
        # 8-12 s, but over 60 s on a loaded machine.
        cfg = base_config(["sleep", "600"])
        cfg["linux"]["resources"] = {"memory": {"limit": 32 << 20}}
        self.create(moat, um, self.bundle(cfg))
        self.assertEqual(moat.run("start", um).returncode, 0)
        fill = "x=$(head -c %d /dev/zero | tr '\\0' a); echo ${#x}"

        def memtotal():
            p = moat.run("exec", um, "head", "-1", "/proc/meminfo")
            self.assertEqual(p.returncode, 0, p.stderr)
            return int(p.stdout.split()[1])

        def stats():
            p = moat.run("events", "--stats", um)
            self.assertEqual(p.returncode, 0, p.stderr)
            return json.loads(p.stdout)

        self.assertEqual(memtotal(), 32768)
        # 20 MB (twice that at the shell's peak) do not fit in 32 MiB ...
        p = moat.run("exec", um, "sh", "-c", fill % 20000000, timeout=90)
        self.assertEqual(p.returncode, 137, p.stdout + p.stderr)
        # ... but do in 256 MiB.
        p = moat.run("update", "--memory", "256m", um)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("memory limit", p.stderr)
        self.assertEqual(memtotal(), 262144)
        p = moat.run("exec", um, "sh", "-c", fill % 20000000, timeout=90)
        self.assertEqual((p.returncode, p.stdout), (0, "20000000\n"), p.stderr)
        ev = stats()
        self.assertEqual(ev["data"]["memory"]["raw"]["app_limit"], 256 << 20)
        # Below what the apps hold: refused, the limit stays.
        holder = os.path.join(self.tmp, "holder.pid")
        with tempfile.TemporaryFile("w+") as err:
            p = subprocess.run(moat.cmd("exec", "--detach", "--pid-file", holder, um, "sh", "-c",
                                        "x=$(head -c 3000000 /dev/zero | tr '\\0' a); "
                                        "sleep 30"),
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=err, timeout=TIMEOUT)
            err.seek(0)
            self.assertEqual(p.returncode, 0, err.read())
        for _ in range(100):
            ev = stats()
            if ev["data"]["memory"]["raw"]["app_used"] > 5 << 20:
                break
            time.sleep(0.1)
        p = moat.run("update", "--memory", "4m", um)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("hold more than that", p.stderr)
        self.assertEqual(memtotal(), 262144)
        with open(holder) as f:
            os.kill(int(f.read()), signal.SIGKILL)  # the exec'd process goes with it
        for _ in range(100):
            ev = stats()
            if ev["data"]["memory"]["raw"]["app_used"] < 12 << 20:
                break
            time.sleep(0.1)
        # Lowered: 10 MB no longer fit in 16 MiB.
        p = moat.run("update", "--memory", "16m", um)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(memtotal(), 16384)
        p = moat.run("exec", um, "sh", "-c", fill % 10000000, timeout=90)
        self.assertEqual(p.returncode, 137, p.stdout + p.stderr)

    def write_json(self, obj):
        Lifecycle._n += 1
        path = os.path.join(self.tmp, "res%d.json" % Lifecycle._n)
        with open(path, "w") as f:
            json.dump(obj, f)
        return path

    def test_missing_container(self):
        for rt in self.runtimes:
            for args in (("state", "nope"), ("start", "nope"), ("kill", "nope", "KILL"),
                         ("delete", "nope")):
                p = rt.run(*args)
                self.assertNotEqual(p.returncode, 0, "%s %s" % (rt.name, args))

    def test_crashed_sandbox_is_stopped(self):
        """A kernel process that dies (SIGKILL from outside) is reported
        stopped at once; start then fails instead of hanging."""
        b = self.bundle(base_config(["sleep", "30"]))
        for rt in self.runtimes:
            self.create(rt, "x1", b)
            pid = rt.state("x1")["pid"]
            os.kill(pid, signal.SIGKILL)
            rt.wait_status("x1", "stopped", timeout=5)
            p = rt.run("start", "x1", timeout=10)
            self.assertNotEqual(p.returncode, 0, rt.name)
            self.assertEqual(rt.run("delete", "x1").returncode, 0)


if __name__ == "__main__":
    MOAT = os.path.abspath(sys.argv.pop(1))
    if os.geteuid() != 0:
        print("SKIP: the OCI lifecycle tests need root")
        sys.exit(77)
    unittest.main(verbosity=2)
