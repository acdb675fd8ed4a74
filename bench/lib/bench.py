#!/usr/bin/env python3
"""moat's benchmark harness: every workload in every runtime, side by side.

Called by bench/run (which installs packages and builds moat first). Builds
the static workloads, lays out an OCI bundle per workload, runs each workload
in native, runc, crun, runsc (ptrace) and moat, and writes bench/RESULTS.md.

Every child runs in its own process group under a timeout; a cell that times
out, exits non-zero or prints no result line is reported as "fail" and the
run goes on. Containers are deleted afterwards, nothing is left running.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BENCH = os.path.join(ROOT, "bench")
OUT = os.path.join(BENCH, ".out")
BIN = os.path.join(OUT, "bin")
ROOTFS = os.path.join(OUT, "rootfs")
# The python rows' container root: an empty skeleton on which the bundle binds
# the host's /usr and /etc read-only (see make_pyroot).
PYROOT = os.path.join(OUT, "pyroot")
PYTHON = "/usr/bin/python3"  # Debian's, the same file in every runtime
BUNDLES = os.path.join(OUT, "bundles")
# BENCH_MOAT=/path/to/moat measures another moat build (bench/run then does
# not build moat itself).
MOAT = os.path.abspath(os.environ.get("BENCH_MOAT")
                       or os.path.join(ROOT, "build", "src", "moat"))
BUSYBOX = "/usr/bin/busybox"  # the same path on the host and in the rootfs
ID_PREFIX = "moatbench-"

RUNTIMES = ["native", "runc", "crun", "runsc", "moat", "moat-systrap", "moat-systrap-nopatch"]
# moat runtimes and the options each runs with ("moat" is ptrace, the
# fallback platform; "moat-systrap" the default one, with syscall patching;
# "moat-systrap-nopatch" the same without it).
MOAT_RTS = {"moat": ["--platform=ptrace"], "moat-systrap": ["--platform=systrap"],
            "moat-systrap-nopatch": ["--platform=systrap", "--no-syscall-patch"]}

# name: (title, unit shown, scale from the workload's unit, higher is better)
WORKLOADS = {
    "getppid": ("getppid loop", "ns/call", 1.0, False),
    "clock_gettime": ("clock_gettime loop", "ns/call", 1.0, False),
    "open_close": ("open + close", "ns/pair", 1.0, False),
    "stat": ("stat", "ns/call", 1.0, False),
    "fork_wait": ("fork + exit + wait", "µs", 1.0, False),
    "thread_create": ("thread create + join", "µs", 1.0, False),
    "page_touch": ("touch 256 MiB fresh anon", "ns/page", 1.0, False),
    "pipe": ("1 GiB through a pipe", "MiB/s", 1.0, True),
    "mmap_munmap": ("mmap + munmap 1 MiB", "µs", 1.0, False),
    "start_true": ("start-to-exit /bin/true", "ms (wall)", 1.0, False),
    "docker_true": ("docker run --rm IMG true", "ms (wall)", 1.0, False),
    "python_pass": ("start-to-exit python3 -c pass", "ms (wall)", 1.0, False),
    "compileall": ("python3 compileall, stdlib part → /tmp", "ms", 1.0, False),
    "idle_cpu": ("idle sandbox (sleep): host CPU", "% of a CPU", 1.0, False),
    "idle_mem": ("idle sandbox (sleep): host memory (PSS)", "MiB", 1.0, False),
    "getdents_10k": ("list a 10,000-entry dir (rootfs)", "µs", 1.0, False),
    "read_root": ("read 1 GiB, rootfs", "MiB/s", 1.0, True),
    "write_root": ("write 1 GiB, rootfs", "MiB/s", 1.0, True),
    "read_tmpfs": ("read 1 GiB, tmpfs", "MiB/s", 1.0, True),
    "write_tmpfs": ("write 1 GiB, tmpfs", "MiB/s", 1.0, True),
    "tcp_stream": ("1 GiB over loopback TCP", "MiB/s", 1.0, True),
    "redis_set": ("redis-benchmark SET", "req/s", 1.0, True),
    "redis_get": ("redis-benchmark GET", "req/s", 1.0, True),
    "nginx_wrk": ("nginx + wrk (4 KiB file)", "req/s", 1.0, True),
}
# Rows run by another row's binary.
BINARY = {"getdents_10k": "getdents", "read_root": "fs_read", "write_root": "fs_write",
          "read_tmpfs": "fs_read", "write_tmpfs": "fs_write",
          "redis_set": "redis.sh", "redis_get": "redis.sh", "nginx_wrk": "nginx_wrk.sh",
          "compileall": "compileall_stdlib.py"}
# Rows that are scripts (bench/workloads/*.sh) running a real server and its
# client inside one sandbox over 127.0.0.1; the containers' rootfs gets those
# programs and their libraries (APP_PROGRAMS) and a tmpfs /tmp.
SCRIPT_WORKLOADS = {"redis_set", "redis_get", "nginx_wrk"}
APP_PROGRAMS = ["/usr/bin/redis-server", "/usr/bin/redis-cli", "/usr/bin/redis-benchmark",
                "/usr/sbin/nginx", "/usr/bin/wrk"]
# The file a file-system row works on: (path in a container, path natively
# and in moat, which see the host tree). The rootfs rows use files of the
# bundle's rootfs (bench/.out/rootfs); the tmpfs rows /dev/shm, a tmpfs in
# every runtime (the bundles' /dev/shm is enlarged to 2 GiB for them).
FS_PATHS = {
    "getdents_10k": ("/bench/dir10k", os.path.join(ROOTFS, "bench", "dir10k")),
    "read_root": ("/bench/big.dat", os.path.join(ROOTFS, "bench", "big.dat")),
    "write_root": ("/tmp/moatbench-write", os.path.join(ROOTFS, "tmp", "moatbench-write")),
    "read_tmpfs": ("/dev/shm/moatbench-read", "/dev/shm/moatbench-read"),
    "write_tmpfs": ("/dev/shm/moatbench-write", "/dev/shm/moatbench-write"),
}
# The start-to-exit rows run in this many rounds, every runtime in each.
START_ROUNDS = 4
# Rows measured from outside (not a workload binary's result line).
OUTSIDE_WORKLOADS = {"start_true", "docker_true", "python_pass", "idle_cpu", "idle_mem"}
NOT_APPLICABLE = {("docker_true", "native")}
# Rows that run the host's python3: their containers' bundle is PYROOT with
# the host's /usr and /etc bound read-only (the busybox rootfs of the other
# rows is left as it is); natively and in moat (which sees the host tree) the
# same files are used directly.
PY_WORKLOADS = {"python_pass", "compileall"}
# Native-only calibration, measured next to getppid in every repetition.
FLOOR = "sysemu_floor"
LOOP_WORKLOADS = {"getppid", "clock_gettime", "open_close", "stat", "fork_wait", "thread_create",
                  "mmap_munmap", "getdents_10k"}

# Settings of a full run and of --quick.
MODES = {
    "full": dict(reps=7, py_reps=5, budget=0.5, touch_reps=3, pipe_reps=1, pipe_mib=1024,
                 start_runs=40, docker_runs=10, idle_secs=10, loop_timeout=30, heavy_timeout=90, start_timeout=120, fs_timeout=240,
                 app_reps=3, redis_n=100000, wrk_secs=5, app_timeout=600),
    "quick": dict(reps=3, py_reps=1, budget=0.2, touch_reps=1, pipe_reps=1, pipe_mib=1024,
                  start_runs=10, docker_runs=5, idle_secs=5, loop_timeout=15, heavy_timeout=30, start_timeout=45, fs_timeout=240,
                  app_reps=1, redis_n=10000, wrk_secs=2, app_timeout=180),
}

MOAT_REV = None  # set by main() when the run starts

RESULT_RE = re.compile(r"^result (\S+) ([0-9.eE+-]+)\s*$", re.M)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes

def run_bounded(cmd, timeout, on_timeout=None):
    """Runs cmd in its own process group; on timeout kills the group and
    calls on_timeout() (which deletes a container whose processes live
    outside the group). Returns (rc or None on timeout, stdout, stderr,
    seconds)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
        return p.returncode, out.decode(errors="replace"), err.decode(errors="replace"), time.monotonic() - t0
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if on_timeout:
            on_timeout()
        try:
            out, err = p.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            # Something outside the group (a runsc sandbox) holds the pipes.
            p.kill()
            for f in (p.stdout, p.stderr):
                f.close()
            p.wait()
            out, err = b"", b""
        return None, out.decode(errors="replace"), err.decode(errors="replace"), time.monotonic() - t0


def quiet(cmd, timeout=30):
    try:
        run_bounded(cmd, timeout)
    except FileNotFoundError:
        pass


# ------------------------------------------------------------------ prepare

def build_workloads():
    os.makedirs(BIN, exist_ok=True)
    src = os.path.join(BENCH, "workloads")
    hdr = os.path.join(src, "bench.h")
    for name in sorted(set(BINARY.get(w, w) for w in WORKLOADS)) + [FLOOR]:
        c = os.path.join(src, name + ".c")
        if name.endswith((".sh", ".py")):
            shutil.copy2(os.path.join(src, name), os.path.join(BIN, name))
            os.chmod(os.path.join(BIN, name), 0o755)
            continue
        if not os.path.exists(c):
            continue
        out = os.path.join(BIN, name)
        if (os.path.exists(out) and os.path.getmtime(out) > os.path.getmtime(c)
                and os.path.getmtime(out) > os.path.getmtime(hdr)):
            continue
        subprocess.run(["gcc", "-O2", "-static", "-pthread", "-Wall", "-Wextra", "-Werror",
                        "-o", out, c], check=True)


def copy_into_rootfs(path):
    """Copies host file PATH (following links) to the same path in the rootfs."""
    real = os.path.realpath(path)
    dst = os.path.join(ROOTFS, path.lstrip("/"))
    if os.path.lexists(dst):
        return
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copy2(real, dst)


def add_app_programs():
    """The servers and clients of SCRIPT_WORKLOADS with their shared
    libraries (as ldd lists them) and the loader, at their host paths."""
    for d in ("lib", "lib64"):
        os.makedirs(os.path.join(ROOTFS, "usr", d), exist_ok=True)
        if not os.path.lexists(os.path.join(ROOTFS, d)):
            os.symlink("usr/" + d, os.path.join(ROOTFS, d))
    for prog in APP_PROGRAMS:
        if not os.path.exists(prog):
            log(f"bench: {prog} is missing; its workloads will fail")
            continue
        copy_into_rootfs(prog)
        out = subprocess.run(["ldd", prog], capture_output=True, text=True).stdout
        for lib in re.findall(r"(/\S+)", out):
            if os.path.exists(lib):
                copy_into_rootfs(lib)
    with open(os.path.join(ROOTFS, "etc", "group"), "w") as f:
        f.write("root:x:0:\n")


def make_rootfs(names=()):
    """busybox-static with its applet links, merged-/usr like the host (so the
    workloads' default file /usr/bin/busybox resolves the same way), plus the
    workloads in /bench, and the files the file-system rows in NAMES read:
    /bench/dir10k (10,000 empty files) and /bench/big.dat (1 GiB)."""
    if os.path.exists(ROOTFS):
        shutil.rmtree(ROOTFS)
    ub = os.path.join(ROOTFS, "usr", "bin")
    os.makedirs(ub)
    shutil.copy2(BUSYBOX, os.path.join(ub, "busybox"))
    applets = subprocess.run([BUSYBOX, "--list"], check=True, capture_output=True,
                             text=True).stdout.split()
    for a in applets:
        if a != "busybox" and "/" not in a:
            os.symlink("busybox", os.path.join(ub, a))
    for link in ("bin", "sbin"):
        os.symlink("usr/bin", os.path.join(ROOTFS, link))
    for d in ("proc", "dev", "sys", "tmp", "etc", "bench"):
        os.makedirs(os.path.join(ROOTFS, d), exist_ok=True)
    with open(os.path.join(ROOTFS, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/:/bin/sh\n")
    for name in os.listdir(BIN):
        shutil.copy2(os.path.join(BIN, name), os.path.join(ROOTFS, "bench", name))
    os.chmod(os.path.join(ROOTFS, "tmp"), 0o1777)
    if "getdents_10k" in names:
        d = os.path.join(ROOTFS, "bench", "dir10k")
        os.makedirs(d)
        for i in range(10000):
            open(os.path.join(d, "f%05d" % i), "w").close()
    if "read_root" in names:
        chunk = b"\x5a" * (1 << 20)
        with open(os.path.join(ROOTFS, "bench", "big.dat"), "wb") as f:
            for _ in range(1024):
                f.write(chunk)
    if any(n in SCRIPT_WORKLOADS for n in names):
        add_app_programs()


def make_pyroot():
    """The python rows' container root: empty mount points and the host's
    merged-/usr links (bin -> usr/bin, lib64 -> usr/lib64 ...); the bundle
    binds the host's /usr and /etc on it read-only (make_bundle)."""
    if os.path.exists(PYROOT):
        shutil.rmtree(PYROOT)
    for d in ("usr", "etc", "tmp", "proc", "dev", "sys", "bench"):
        os.makedirs(os.path.join(PYROOT, d))
    os.chmod(os.path.join(PYROOT, "tmp"), 0o1777)
    for n in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        if os.path.islink("/" + n):
            os.symlink(os.readlink("/" + n), os.path.join(PYROOT, n))


def base_spec():
    tmp = os.path.join(OUT, "spec")
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    os.makedirs(tmp)
    subprocess.run(["runc", "spec", "--bundle", tmp], check=True)
    with open(os.path.join(tmp, "config.json")) as f:
        return json.load(f)


def make_bundle(spec, name, args):
    """An OCI bundle whose process is args; runc's default namespaces
    (including its own network namespace), no terminal, read-only root
    (writable for write_root; /dev/shm of 2 GiB for the tmpfs rows). The
    python rows' root is PYROOT with the host's /usr and /etc bound read-only
    on it, the workloads on /bench (read-only) and a tmpfs /tmp."""
    spec = json.loads(json.dumps(spec))
    spec["process"]["terminal"] = False
    spec["process"]["args"] = args
    spec["root"] = {"path": ROOTFS, "readonly": name != "write_root"}
    if name in PY_WORKLOADS:
        spec["root"] = {"path": PYROOT, "readonly": True}
        for src, dst in (("/usr", "/usr"), ("/etc", "/etc"), (BIN, "/bench")):
            spec["mounts"].append({"destination": dst, "type": "bind", "source": src,
                                   "options": ["rbind", "ro", "nosuid", "nodev"]})
        spec["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                               "options": ["nosuid", "nodev", "mode=1777"]})
    if name in ("read_tmpfs", "write_tmpfs"):
        for m in spec.get("mounts", []):
            if m.get("destination") == "/dev/shm":
                m["options"] = [o for o in m.get("options", []) if not o.startswith("size=")]
                m["options"].append("size=2g")
    spec["hostname"] = "moatbench"
    if name in SCRIPT_WORKLOADS:
        # The servers write their pid and temporary files under /tmp.
        spec["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                               "options": ["nosuid", "nodev", "mode=1777"]})
    d = os.path.join(BUNDLES, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(spec, f, indent=2)
    return d


def ensure_crun_cgroups():
    """crun on this host's hybrid cgroup layout needs the hugetlb v1
    controller mounted."""
    if not os.path.isdir("/sys/fs/cgroup/cpu"):
        return  # unified (v2-only) layout
    hp = "/sys/fs/cgroup/hugetlb"
    if os.path.ismount(hp):
        return
    os.makedirs(hp, exist_ok=True)
    r = subprocess.run(["mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", hp],
                       capture_output=True, text=True)
    if r.returncode != 0:
        log(f"bench: could not mount the hugetlb cgroup for crun: {r.stderr.strip()}")


def workload_args(name, mode, container=True):
    """Arguments of NAME's binary; CONTAINER: paths as a container sees them."""
    m = MODES[mode]
    if name in FS_PATHS:
        path = FS_PATHS[name][0 if container else 1]
        if name == "getdents_10k":
            return ["-t", str(m["budget"]), "-f", path]
        return ["-r", "1", "-m", str(m["pipe_mib"]), "-f", path]
    if name in LOOP_WORKLOADS or name == FLOOR:
        return ["-t", str(m["budget"])]
    if name == "page_touch":
        return ["-r", str(m["touch_reps"]), "-m", "256"]
    if name in ("pipe", "tcp_stream"):
        return ["-r", str(m["pipe_reps"]), "-m", str(m["pipe_mib"])]
    if name in ("redis_set", "redis_get"):
        return [name[len("redis_"):], "-n", str(m["redis_n"])]
    if name == "nginx_wrk":
        return ["-d", str(m["wrk_secs"])]
    return []


# ---------------------------------------------------------------- runtimes

def container_cmd(rt, bundle, cid):
    if rt == "runc":
        return ["runc", "run", "--bundle", bundle, cid]
    if rt == "crun":
        return ["crun", "run", "--bundle", bundle, cid]
    if rt == "runsc":
        return ["runsc", "--platform=ptrace", "--network=none", "run", "--bundle", bundle, cid]
    raise ValueError(rt)


def delete_container(rt, cid):
    if rt == "runsc":
        quiet(["runsc", "delete", "-force", cid])
    elif rt in ("runc", "crun"):
        quiet([rt, "delete", "-f", cid])


def sweep_containers():
    """Deletes every container of ours that any runtime still knows."""
    for rt in ("runc", "crun", "runsc"):
        if not shutil.which(rt):
            continue
        try:
            rc, out, _, _ = run_bounded([rt, "list", "-quiet" if rt == "runsc" else "-q"], 30)
        except FileNotFoundError:
            continue
        for line in out.splitlines():
            cid = line.split()[0] if line.split() else ""
            if cid.startswith(ID_PREFIX):
                log(f"bench: deleting leftover {rt} container {cid}")
                delete_container(rt, cid)


class Runner:
    def __init__(self, mode, moat_ok):
        self.mode = mode
        self.moat_ok = moat_ok
        self.seq = 0

    def workload_cmd(self, rt, name, args):
        binary = os.path.join(BIN, BINARY.get(name, name))
        if name in FS_PATHS and (rt == "native" or rt in MOAT_RTS):
            args = workload_args(name, self.mode, container=False)
        if rt == "native" and name == "compileall":
            # /tmp is a tmpfs in the containers and moat's in-memory layer in
            # moat: natively too, a tmpfs on /tmp in a private mount namespace
            # (the host's /tmp is neither used nor changed).
            return (["unshare", "--mount", "--propagation", "private", "sh", "-c",
                     'mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /tmp && exec "$0" "$@"',
                     binary] + args, None)
        if rt == "native":
            return [binary] + args, None
        if rt in MOAT_RTS:
            return [MOAT, "do"] + MOAT_RTS[rt] + ["--", binary] + args, None
        self.seq += 1
        cid = f"{ID_PREFIX}{name}-{os.getpid()}-{self.seq}"
        return container_cmd(rt, os.path.join(BUNDLES, name), cid), cid

    def run_once(self, rt, name, args, timeout):
        """One process run of a workload: (value, None) or (None, reason)."""
        if rt in MOAT_RTS and not self.moat_ok:
            return None, "moat not built"
        cmd, cid = self.workload_cmd(rt, name, args)
        try:
            rc, out, err, secs = run_bounded(
                cmd, timeout, (lambda: delete_container(rt, cid)) if cid else None)
        except FileNotFoundError as e:
            return None, f"not found: {e.filename}"
        if cid and rc != 0:
            delete_container(rt, cid)
        if rc is None:
            return None, f"timeout after {timeout:.0f} s"
        m = RESULT_RE.search(out)
        if rc != 0 or not m:
            tail = (err.strip().splitlines() or out.strip().splitlines() or [""])[-1]
            what = f"exit {rc}" if rc != 0 else "no result line"
            reason = f"{what}: {tail[:160]}" if tail else what
            if rt in MOAT_RTS:
                reason += self.moat_diagnose(MOAT_RTS[rt], name, args)
            return None, reason
        return float(m.group(2)), None

    def moat_diagnose(self, plat, name, args):
        """Reruns a failed moat cell briefly with --debug and names the
        syscalls moat reported as unsupported."""
        binary = os.path.join(BIN, BINARY.get(name, name))
        if name in FS_PATHS:
            args = workload_args(name, self.mode, container=False)
        cmd = [MOAT, "do"] + plat + ["--debug", "--",
               binary, "-t", "0.05"] if name in LOOP_WORKLOADS and name not in FS_PATHS else None
        if cmd is None:
            cmd = [MOAT, "do"] + plat + ["--debug", "--", binary] + args
        try:
            _, _, err, _ = run_bounded(cmd, 20)
        except OSError:
            return ""
        missing = sorted(set(re.findall(r"unsupported syscall (\w+)", err)))
        return f" (unsupported syscalls: {', '.join(missing)})" if missing else ""

    def start_to_exit(self, rt, runs, timeout, app=None, bundle="start_true"):
        """Median wall time of start-to-exit of /bin/true (or of the host
        command APP natively and in moat, and BUNDLE's process in a
        container), measured by hyperfine from outside, in ms."""
        if rt in MOAT_RTS and not self.moat_ok:
            return None, "moat not built", []
        cid = f"{ID_PREFIX}true-{os.getpid()}"
        app = app or f"{BUSYBOX} true"
        if rt == "native":
            cmd = app
        elif rt in MOAT_RTS:
            cmd = f"{MOAT} do {' '.join(MOAT_RTS[rt])} -- {app}"
        else:
            cmd = " ".join(container_cmd(rt, os.path.join(BUNDLES, bundle), cid))
        js = os.path.join(OUT, f"hyperfine-{rt}.json")
        if os.path.exists(js):
            os.remove(js)
        hf = ["hyperfine", "-N", "--style", "none", "--warmup", "2", "--runs", str(runs),
              "--export-json", js, cmd]
        rc, out, err, _ = run_bounded(
            hf, timeout,
            None if rt == "native" or rt in MOAT_RTS else (lambda: delete_container(rt, cid)))
        if rt != "native" and rt not in MOAT_RTS:
            if rc != 0:
                delete_container(rt, cid)
        if rc is None:
            return None, f"timeout after {timeout:.0f} s", []
        if rc != 0 or not os.path.exists(js):
            tail = (err.strip().splitlines() or [""])[-1]
            return None, f"hyperfine exit {rc}: {tail[:160]}", []
        with open(js) as f:
            res = json.load(f)["results"][0]
        times = [t * 1000 for t in res.get("times", [])]
        return res["median"] * 1000, None, times

    def idle(self, rt, secs):
        """An idle sandbox: `sleep` in RT. After 2 s of settling, the host
        CPU used by every process of the run (the launcher and all its
        descendants: CLI, kernel, stubs; runtime, shim-less container;
        runsc's sandbox and gofer) over SECS seconds, in % of one CPU, and
        their summed PSS at the end, in MiB. Returns (cpu, mem, reason)."""
        if rt in MOAT_RTS and not self.moat_ok:
            return None, None, "moat not built"
        app = [BUSYBOX, "sleep", str(secs + 30)]
        cid = None
        if rt == "native":
            cmd = app
        elif rt in MOAT_RTS:
            cmd = [MOAT, "do"] + MOAT_RTS[rt] + ["--"] + app
        else:
            self.seq += 1
            cid = f"{ID_PREFIX}idle-{os.getpid()}-{self.seq}"
            cmd = container_cmd(rt, os.path.join(BUNDLES, "idle"), cid)
        try:
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 start_new_session=True)
        except FileNotFoundError as e:
            return None, None, f"not found: {e.filename}"
        try:
            time.sleep(2)
            if p.poll() is not None:
                err = p.stderr.read().decode(errors="replace").strip().splitlines()
                return None, None, f"exit {p.returncode}: {(err or [''])[-1][:160]}"
            t0 = {pid: cpu_ticks(pid) for pid in process_tree(p.pid)}
            time.sleep(secs)
            tree = process_tree(p.pid)
            used = sum(cpu_ticks(pid) - t0[pid] for pid in tree if pid in t0)
            mem = sum(pss_kib(pid) for pid in tree) / 1024
            cpu = 100.0 * used / os.sysconf("SC_CLK_TCK") / secs
            return cpu, mem, None
        finally:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            p.wait()
            if cid:
                delete_container(rt, cid)


# What the compileall row found: the stdlib dir and its number of sources
# (asked of PYTHON), and the host's files under that dir modified during the
# row (there must be none: the workload writes only under /tmp).
PYC = {}


def compileall_sources():
    if "sources" not in PYC:
        try:
            r = subprocess.run([os.path.join(BIN, BINARY["compileall"]), "--count"],
                               capture_output=True, text=True, timeout=60)
            lib, n, size = r.stdout.split()
            PYC["lib"], PYC["sources"], PYC["bytes"] = lib, int(n), int(size)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            PYC["lib"], PYC["sources"], PYC["bytes"] = None, None, None
    return PYC["lib"], PYC["sources"], PYC["bytes"]


def host_usr_check(t0):
    lib, _, _ = compileall_sources()
    written = []
    for d, _, files in os.walk(lib or "/nonexistent"):
        for f in files:
            try:
                if os.lstat(os.path.join(d, f)).st_mtime >= t0 - 1:
                    written.append(os.path.join(d, f))
            except OSError:
                pass
    PYC["host_written"] = written
    if written:
        log(f"bench: compileall: {len(written)} host files under {lib} were written during"
            f" the row, e.g. {written[0]}")


def process_tree(root):
    """ROOT and all its descendants (pids)."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


def cpu_ticks(pid):
    """utime + stime of PID (all its threads), in clock ticks; 0 if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, ValueError, IndexError):
        return 0


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


# ------------------------------------------------------------------ report

def fmt(v):
    if v is None:
        return "fail"
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def fmt_ratio(r):
    if r is None:
        return "–"
    if r >= 100:
        return f"{r:,.0f}×"
    if r >= 10:
        return f"{r:.1f}×"
    return f"{r:.2f}×"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass

    def ver(cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
            return (r.stdout or r.stderr).strip().splitlines()[0]
        except Exception:
            return "not available"

    def git(*a):
        try:
            return subprocess.run(["git", "-C", ROOT] + list(a), capture_output=True,
                                  text=True, timeout=20).stdout.strip()
        except Exception:
            return ""

    dirty = git("status", "--porcelain", "--", "src", "meson.build")
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "os": ver(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "runc": ver(["runc", "--version"]),
        "crun": ver(["crun", "--version"]),
        "runsc": ver(["runsc", "--version"]),
        "hyperfine": ver(["hyperfine", "--version"]),
        # The commit bench/run built (main() reads it before measuring:
        # commits landing during a long run must not relabel it).
        "moat": MOAT_REV or git("rev-parse", "--short", "HEAD") + (
            " + uncommitted changes in src/" if dirty else ""),
    }


def targets(med):
    """The performance targets, each (text, verdict, detail)."""
    def g(w, rt):
        return med.get((w, rt))

    rows = []

    def add(text, value, limit, ok_if_le=True, note=""):
        if value is None or limit is None:
            rows.append((text, "n/a (fail)", note or "a needed cell failed"))
            return
        ok = value <= limit if ok_if_le else value >= limit
        rows.append((text, "met" if ok else "not met", note))

    # The syscall targets are the default platform's (systrap); "moat" is ptrace.
    st = "moat-systrap"
    m, p, r = g("getppid", st), g("getppid", "moat"), g("getppid", "runsc")
    add("getppid (systrap) ≤ ½ moat-ptrace", m, p / 2 if p else None,
        note=f"systrap {fmt(m)} ns vs ptrace/2 = {fmt(p / 2 if p else None)} ns")
    add("getppid (systrap) ≤ 1/10 runsc", m, r / 10 if r else None,
        note=f"systrap {fmt(m)} ns vs runsc/10 = {fmt(r / 10 if r else None)} ns")
    add("getppid (systrap) ≤ 1.5 µs", m, 1500,
        note=f"systrap {fmt(m)} ns with syscall patching (default);"
             f" {fmt(g('getppid', 'moat-systrap-nopatch'))} ns without")
    m, r = g("open_close", st), g("open_close", "runsc")
    add("open+close (systrap) ≤ 1/10 of runsc", m, r / 10 if r else None,
        note=f"systrap {fmt(m)} ns vs runsc/10 = {fmt(r / 10 if r else None)} ns")
    m, r = g("fork_wait", st), g("fork_wait", "runsc")
    add("fork+wait (systrap) ≤ 1/5 of runsc", m, r / 5 if r else None,
        note=f"systrap {fmt(m)} µs vs runsc/5 = {fmt(r / 5 if r else None)} µs")
    m, n = g("page_touch", st), g("page_touch", "native")
    add("page touch (systrap) ≤ 2× native", m, 2 * n if n else None,
        note=f"systrap {fmt(m)} ns/page vs 2×native = {fmt(2 * n if n else None)}")
    m, n = g("pipe", st), g("pipe", "native")
    add("pipe (systrap) ≥ ½ native", m, n / 2 if n else None, ok_if_le=False,
        note=f"systrap {fmt(m)} MiB/s vs native/2 = {fmt(n / 2 if n else None)}")
    m, c = g("start_true", st), g("start_true", "crun")
    add("start-to-exit (systrap) ≤ crun", m, c,
        note=f"systrap {fmt(m)} ms vs crun {fmt(c)} ms")
    m, n = g("python_pass", st), g("python_pass", "native")
    add("python3 -c pass (systrap) ≤ 2× native", m, 2 * n if n else None,
        note=f"systrap {fmt(m)} ms vs 2×native = {fmt(2 * n if n else None)} ms")
    m = g("idle_cpu", st)
    add("idle sandbox (systrap) < 1% of a CPU", m, 1.0,
        note=f"systrap {fmt(m)}% over the run's whole process tree")
    m, n = g("idle_mem", st), g("idle_mem", "native")
    add("idle sandbox (systrap) ≤ 5 MB host memory over the app's own", m,
        n + 5 * 1e6 / 2**20 if n is not None else None,
        note=f"systrap {fmt(m)} MiB PSS vs native sleep {fmt(n)} MiB + 4.77 MiB")
    return rows


def cpu_idle_fraction(secs):
    """The machine's idle share of CPU time over SECS seconds (/proc/stat)."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[3] + v[4], sum(v)  # idle + iowait, total
    i0, t0 = sample()
    time.sleep(secs)
    i1, t1 = sample()
    return (i1 - i0) / max(1, t1 - t0)


def settle(limit=5.0):
    """Waits (at most LIMIT seconds) until the machine is quiet: what the
    last runtime left behind (runsc's sandbox and gofer exiting, a
    container's cgroup being removed) must not fall on the next one."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and cpu_idle_fraction(0.2) < 0.9:
        pass


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def render(args, mode, names, rts, med, raw, fails, mach, build_note, elapsed, loads):
    L = []
    L.append("# moat benchmarks: native, runc, crun, runsc (ptrace) and moat (ptrace, systrap)")
    L.append("")
    L.append("Produced by `bench/run`; regenerate with the command below. Medians;"
             " lower is better except the MiB/s and req/s rows. `fail` = the runtime could not run"
             " the workload (see Failures).")
    L.append("")
    L.append("## Machine and command")
    L.append("")
    L.append(f"- command: `{args}` ({mode} mode, {elapsed:.0f} s)")
    L.append(f"- date: {mach['date']}")
    L.append(f"- CPU: {mach['cpu']}, nproc {mach['nproc']}")
    L.append(f"- kernel: {mach['kernel']}, {mach['os']}")
    L.append(f"- load average (1, 5, 15 min) at start: {loads[0]}; at end: {loads[1]}"
             f" (other jobs on the machine add noise; compare ratios within one run)")
    L.append(f"- runc: {mach['runc']}; crun: {mach['crun']}; runsc: {mach['runsc']}"
             f" (`--platform=ptrace --network=none`); {mach['hyperfine']}")
    L.append(f"- moat: {mach['moat']} (`moat do --platform=ptrace` as moat,"
             f" `--platform=systrap` as moat-systrap, `--platform=systrap --no-syscall-patch`"
             f" as moat-systrap-nopatch); build: {build_note}")
    L.append("")
    L.append("## Results")
    L.append("")
    head = ["workload", "unit"] + rts
    if "moat" in rts and "runc" in rts:
        head.append("moat/runc")
    if "moat" in rts and "runsc" in rts:
        head.append("moat/runsc")
    if "moat-systrap" in rts and "runsc" in rts:
        head.append("systrap/runsc")
    L.append("| " + " | ".join(head) + " |")
    L.append("|" + "|".join(["---", "---"] + ["---:"] * (len(head) - 2)) + "|")
    for w in names:
        title, unit, _, _ = WORKLOADS[w]
        nat = med.get((w, "native"))
        cells = [title, unit]
        for rt in rts:
            v = med.get((w, rt))
            if (w, rt) in NOT_APPLICABLE:
                cells.append("–")
            elif rt == "native" or v is None or not nat:
                cells.append(fmt(v))
            else:
                cells.append(f"{fmt(v)} ({fmt_ratio(v / nat)})")
        if "moat/runc" in head:
            cells.append(fmt_ratio(ratio(med.get((w, "moat")), med.get((w, "runc")))))
        if "moat/runsc" in head:
            cells.append(fmt_ratio(ratio(med.get((w, "moat")), med.get((w, "runsc")))))
        if "systrap/runsc" in head:
            cells.append(fmt_ratio(ratio(med.get((w, "moat-systrap")), med.get((w, "runsc")))))
        L.append("| " + " | ".join(cells) + " |")
    L.append("")
    L.append("Ratios in parentheses are to native (for the MiB/s and req/s rows, a ratio below 1 means"
             " slower).")
    L.append("")
    floor = med.get((FLOOR, "native"))
    if floor is not None:
        mg = med.get(("getppid", "moat"))
        L.append(f"Calibration: a bare PTRACE_SYSEMU round trip (minimal tracer, tracer and"
                 f" tracee on one CPU, `bench/workloads/{FLOOR}.c`) took **{fmt(floor)} ns**"
                 f" during this run; it is the floor under any ptrace-platform syscall.")
        if mg is not None and mg > floor:
            L.append(f"moat's getppid is {fmt(mg)} ns, {fmt_ratio(mg / floor)} the floor:"
                     f" {fmt(mg - floor)} ns go to moat's own dispatch and bookkeeping.")
        elif mg is not None:
            L.append(f"moat's getppid is {fmt(mg)} ns ({fmt_ratio(mg / floor)} the floor):"
                     f" at the floor within noise, so the ptrace handoffs, not moat's own"
                     f" code, are the whole cost.")
        L.append("")
    if "moat" in rts or "moat-systrap" in rts:
        L.append("## Targets (moat)")
        L.append("")
        L.append("| target | verdict | detail |")
        L.append("|---|---|---|")
        for text, verdict, note in targets(med):
            L.append(f"| {text} | {verdict} | {note} |")
        L.append("")
    if fails:
        L.append("## Failures")
        L.append("")
        for (w, rt), reason in sorted(fails.items()):
            L.append(f"- {w} / {rt}: {reason}")
        L.append("")
    L.append("## Method")
    L.append("")
    m = MODES[mode]
    L.append(f"- Each workload is a static C program (`bench/workloads/`) that prints"
             f" `result <unit> <value>`. Loop workloads calibrate a batch size, run"
             f" batches for {m['budget']} s and report the median per-op time over the"
             f" batches; page touch reports the median of {m['touch_reps']} fresh 256 MiB"
             f" mappings; pipe moves {m['pipe_mib']} MiB in 64 KiB writes from a forked child"
             f" ({m['pipe_reps']} transfer per process).")
    if any(w in names for w in ("tcp_stream", "redis_set", "redis_get", "nginx_wrk")):
        L.append(f"- Network rows run client and server inside one sandbox over 127.0.0.1"
                 f" (moat and runsc: --network=none, a loopback of their own; runc: its own"
                 f" network namespace): loopback TCP moves {m['pipe_mib']} MiB in 64 KiB"
                 f" writes from a forked child; redis rows are `redis-benchmark -q -n"
                 f" {m['redis_n']} -t set|get` (50 clients) against redis-server; nginx + wrk is"
                 f" nginx 1 worker serving a 4 KiB file to `wrk -t1 -c16 -d{m['wrk_secs']}s`."
                 f" These rows run {m['app_reps']} time(s) per runtime (loopback TCP:"
                 f" {m['reps']}); the containers' rootfs gets redis, nginx and wrk with their"
                 f" libraries (bench/workloads/redis.sh, nginx_wrk.sh).")
    L.append(f"- Each cell is the median of {m['reps']} process runs, interleaved across"
             f" runtimes (rep 1 of every runtime, then rep 2, ...). A cell that fails"
             f" once is not retried.")
    L.append("- open+close and stat use `/usr/bin/busybox`, which is the same path"
             " (behind the merged-/usr `/bin` link) on the host and in the rootfs.")
    L.append("- File-system rows (`getdents.c`, `fs_read.c`, `fs_write.c`): listing"
             " `/bench/dir10k` (10,000 empty files in the bundle's rootfs: open, getdents64"
             " with a 32 KiB buffer to the end, close); 1 GiB in 1 MiB read(2)s of"
             " `/bench/big.dat` (rootfs, page-cache warm on the host) or of a file first"
             " written on `/dev/shm` (tmpfs); 1 GiB in 1 MiB write(2)s to a new file, closed"
             " and not fsynced, in the rootfs's `/tmp` (writable root for that bundle: runc and"
             " crun write the host disk's page cache, runsc its rootfs overlay, moat its"
             " memory upper layer) or on `/dev/shm`. Natively and in moat the same files are"
             " named by their host path under `bench/.out/rootfs`.")
    L.append("- Containers: one OCI bundle per workload from `runc spec` (runc's default"
             " namespaces including network, no terminal, read-only rootfs of busybox-static"
             " + applet links + the workloads in `/bench`); `run --bundle`. Native and moat"
             " run the same binaries from `bench/.out/bin`; moat sees the host `/` read-only.")
    L.append("- Nothing is pinned by the harness. Cross-core wake-ups are slow on this"
             " kind of VM (40-60 µs), so anything that hands off between two processes or"
             " threads depends on where the scheduler puts them: native pipe is about"
             " 1.2 GB/s across two cores and about 4 GB/s on one (`taskset -c 0`), and"
             " runsc (whose tracer is not pinned to its stub) swings between ~15 and"
             " ~60 µs per syscall from one run to the next. moat pins each tracer thread"
             " with its stub.")
    L.append(f"- Idle rows: `busybox sleep` started in each runtime; after 2 s of"
             f" settling, the CPU time (utime+stime) of the launcher and all its descendants"
             f" (moat: CLI, kernel process, stubs; runc/crun: the runtime's `run` process and"
             f" the container; runsc: its sandbox and gofer too) over {m['idle_secs']} s, and"
             f" their summed PSS (`/proc/PID/smaps_rollup`) at the end. One run per runtime.")
    if PY_WORKLOADS & set(names):
        L.append(f"- Python rows run Debian's `{PYTHON}` in every runtime. The containers get a"
                 f" bundle of their own: a read-only root that is an empty skeleton"
                 f" (`bench/.out/pyroot`: mount points and the host's merged-/usr links `/bin`,"
                 f" `/lib64` ...) with the host's `/usr` and `/etc` bound on it read-only, the"
                 f" workloads on `/bench` (read-only) and a tmpfs `/tmp`; the busybox rootfs and"
                 f" the bundles of the other rows are unchanged. Natively and under `moat do`"
                 f" (which sees the host `/` read-only, writes going to its in-memory layer)"
                 f" the same files are used directly, so every runtime loads the same"
                 f" interpreter, libraries and stdlib.")
    if "python_pass" in names:
        L.append(f"- python3 -c pass: like start-to-exit, hyperfine of `{PYTHON} -c pass`"
                 f" natively and under `moat do`, `run --bundle` of the python bundle in the"
                 f" containers.")
    if "compileall" in names:
        lib, n, size = compileall_sources()
        w = PYC.get("host_written")
        host = ("not checked" if w is None else "none" if not w else
                f"{len(w)}, e.g. `{w[0]}`")
        L.append(f"- compileall (`bench/workloads/compileall_stdlib.py`, run as `python3 -B`):"
                 f" compileall (force, one worker) of the top-level modules of `{lib}` and the"
                 f" packages asyncio, collections, concurrent, email, html, http, importlib,"
                 f" json, logging, multiprocessing, unittest, urllib, xml, xmlrpc ({n} source"
                 f" files, {(size or 0) / 1e6:.1f} MB) into a fresh directory under `/tmp` (`sys.pycache_prefix`);"
                 f" the value is the wall time of the compilation measured inside (interpreter"
                 f" start-up excluded: that is the python3 -c pass row). Every run then counts"
                 f" the .pyc files in that directory (the cell fails unless there are {n}) and"
                 f" checks that no file under `{lib}` was modified, and removes the directory."
                 f" `/tmp` is a fresh tmpfs in the containers (the bundle's), natively too (mounted"
                 f" on `/tmp` in a private mount namespace, `unshare --mount`: the host's `/tmp`"
                 f" is a disk) and moat's in-memory layer in moat. Median of"
                 f" {m['py_reps']} runs per runtime, interleaved. Host files under `{lib}`"
                 f" modified during the row, checked from outside: {host}.")
    L.append(f"- start-to-exit: hyperfine `-N`, wall clock from outside, {START_ROUNDS} rounds"
             f" with every runtime in turn in each, 2 warm-ups + {m['start_runs'] // START_ROUNDS}"
             f" runs a round after the machine is quiet again (at least 90% idle over 0.2 s,"
             f" waiting at most 5 s), the median of all its runs; native = exec of `/usr/bin/busybox true`, moat ="
             f" `moat do --platform=ptrace|systrap -- /usr/bin/busybox true`, containers = `run"
             f" --bundle` of a bundle whose process is `/bin/true`.")
    L.append("")
    L.append("## Raw repetitions")
    L.append("")
    L.append("<details><summary>per-run values</summary>")
    L.append("")
    for (w, rt), vals in sorted(raw.items()):
        if vals:
            shown = vals if len(vals) <= 12 else [min(vals), statistics.median(vals), max(vals)]
            label = "" if len(vals) <= 12 else " (min, median, max)"
            L.append(f"- {w} / {rt}{label}: " + ", ".join(fmt(v) for v in shown))
    L.append("")
    L.append("</details>")
    L.append("")
    return "\n".join(L)


def print_table(names, rts, med):
    w0 = max(len(WORKLOADS[n][0]) for n in names) + 2
    line = f"{'workload':<{w0}}{'unit':<11}" + "".join(f"{rt:>16}" for rt in rts)
    if "moat" in rts and "runc" in rts:
        line += f"{'moat/runc':>12}"
    if "moat" in rts and "runsc" in rts:
        line += f"{'moat/runsc':>12}"
    print(line)
    for w in names:
        nat = med.get((w, "native"))
        row = f"{WORKLOADS[w][0]:<{w0}}{WORKLOADS[w][1]:<11}"
        for rt in rts:
            v = med.get((w, rt))
            s = fmt(v) if rt == "native" or v is None or not nat else f"{fmt(v)} ({fmt_ratio(v / nat)})"
            if (w, rt) in NOT_APPLICABLE:
                s = "–"
            row += f"{s:>16}"
        if "moat" in rts and "runc" in rts:
            row += f"{fmt_ratio(ratio(med.get((w, 'moat')), med.get((w, 'runc')))):>12}"
        if "moat" in rts and "runsc" in rts:
            row += f"{fmt_ratio(ratio(med.get((w, 'moat')), med.get((w, 'runsc')))):>12}"
        print(row)


# -------------------------------------------------------------------- main

def docker_start_to_exit(rts, runs, note, med, raw):
    """`docker run --rm --runtime=R IMG /bin/true` for every container
    runtime, through one private dockerd and containerd (tests/oci/
    test_docker.py's Daemons: state in a temp dir, their own network
    namespace), median wall time of RUNS runs after one warm-up."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "oci"))
    import test_docker as td
    td.DEADLINE = time.monotonic() + 3600
    paths = {"moat": MOAT, "crun": shutil.which("crun"), "runsc": shutil.which("runsc")}
    d = td.Daemons(MOAT)
    d.runtimes = {}
    for rt in rts:
        if rt in MOAT_RTS:
            d.runtimes[rt] = {"path": MOAT, "runtimeArgs": list(MOAT_RTS[rt])}
        elif rt in ("crun", "runsc") and paths[rt]:
            d.runtimes[rt] = {"path": paths[rt]}
            if rt == "runsc":
                # runsc's own network stack refuses Docker's namespace here.
                d.runtimes[rt]["runtimeArgs"] = ["--platform=ptrace", "--network=none"]
    try:
        try:
            d.start()
        except SystemExit:
            for rt in rts:
                if rt != "native":
                    note("docker_true", rt, None, "dockerd did not start: " + d.log("dockerd.log")[-200:])
            return
        with open(td.image_tar(d.tmp), "rb") as f:
            d.docker("import", "-c", "ENV PATH=/bin", "-", "moat-bb", stdin=f)
        for rt in rts:
            if rt == "native":
                continue  # not a container: shown as –
            if rt != "runc" and rt not in d.runtimes:
                note("docker_true", rt, None, "not installed")
                continue
            cmd = ["docker", "-H", "unix://" + d.sock, "run", "--rm", "--network=none",
                   "--runtime=" + rt, "moat-bb", "true"]
            times = []
            for i in range(runs + 1):
                t = time.monotonic()
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
                if p.returncode != 0:
                    note("docker_true", rt, None, (p.stderr or "exit %d" % p.returncode)[-200:])
                    break
                if i:
                    times.append((time.monotonic() - t) * 1000)
            else:
                raw[("docker_true", rt)] = times
                med[("docker_true", rt)] = statistics.median(times)
                log(f"  {'docker_true':<14} {rt:<12} {fmt(med[('docker_true', rt)])} ms")
    finally:
        d.stop()
        sys.path.pop(0)


def main():
    ap = argparse.ArgumentParser(prog="bench/run", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer, shorter repetitions (< 2 min)")
    ap.add_argument("--only", default="", help="comma-separated workloads and/or runtimes to run"
                    f" (workloads: {','.join(WORKLOADS)}; runtimes: {','.join(RUNTIMES)})")
    ap.add_argument("--moat-build", default="unknown", help=argparse.SUPPRESS)
    ap.add_argument("--command", default="bench/run", help=argparse.SUPPRESS)
    ap.add_argument("--output", default=None,
                    help="where to write the report (default bench/RESULTS.md; with --only,"
                    " bench/.out/RESULTS-only.md so a partial run does not replace the full one)")
    a = ap.parse_args()
    mode = "quick" if a.quick else "full"
    if a.output is None:
        a.output = os.path.join(OUT if a.only else BENCH,
                                "RESULTS-only.md" if a.only else "RESULTS.md")
    m = MODES[mode]

    only = [s for s in a.only.split(",") if s]
    bad = [s for s in only if s not in WORKLOADS and s not in RUNTIMES]
    if bad:
        ap.error(f"unknown name(s) in --only: {','.join(bad)}")
    names = [w for w in WORKLOADS if w in only] or list(WORKLOADS)
    rts = [r for r in RUNTIMES if r in only] or list(RUNTIMES)

    global MOAT_REV
    MOAT_REV = machine()["moat"]
    t_start = time.monotonic()
    load_start = loadavg()
    moat_ok = os.access(MOAT, os.X_OK)
    if any(r in MOAT_RTS for r in rts) and not moat_ok:
        log(f"bench: {MOAT} is missing: every moat cell will be 'fail'")

    build_workloads()
    make_rootfs(names)
    if any(r in rts for r in ("runc", "crun", "runsc")):
        if PY_WORKLOADS & set(names):
            make_pyroot()
        spec = base_spec()
        for w in names:
            if w == "docker_true":
                continue
            if w in ("idle_cpu", "idle_mem"):
                make_bundle(spec, "idle", ["/bin/sleep", str(m["idle_secs"] + 30)])
            elif w == "start_true":
                make_bundle(spec, w, ["/bin/true"])
            elif w == "python_pass":
                make_bundle(spec, w, [PYTHON, "-c", "pass"])
            else:
                make_bundle(spec, w, ["/bench/" + BINARY.get(w, w)] + workload_args(w, mode))
    if "crun" in rts:
        ensure_crun_cgroups()
    sweep_containers()

    runner = Runner(mode, moat_ok)
    med, raw, fails = {}, {}, {}
    idle_done = False

    def note(w, rt, v, reason):
        raw.setdefault((w, rt), [])
        if v is None:
            fails[(w, rt)] = reason
            log(f"  {w:<14} {rt:<12} fail: {reason}")
        else:
            raw[(w, rt)].append(v)

    try:
        for w in names:
            log(f"bench: {w}")
            if w == "docker_true":
                if shutil.which("dockerd"):
                    docker_start_to_exit(rts, m["docker_runs"], note, med, raw)
                continue
            if w in ("idle_cpu", "idle_mem"):
                if idle_done:
                    continue  # one run measures both rows
                idle_done = True
                for rt in rts:
                    cpu, mem, reason = runner.idle(rt, m["idle_secs"])
                    for row, v in (("idle_cpu", cpu), ("idle_mem", mem)):
                        if row not in names:
                            continue
                        if v is None:
                            note(row, rt, None, reason)
                        else:
                            raw[(row, rt)] = [v]
                            med[(row, rt)] = v
                            log(f"  {row:<14} {rt:<12} {fmt(v)} {WORKLOADS[row][1]}")
                continue
            if w in ("start_true", "python_pass"):
                # START_ROUNDS rounds, every runtime in turn in each: the
                # machine's drift over the row (minutes) falls on all of
                # them alike, as in the interleaved rows.
                app = f"{PYTHON} -c pass" if w == "python_pass" else None
                per = max(1, m["start_runs"] // START_ROUNDS)
                times_of = {rt: [] for rt in rts if (w, rt) not in NOT_APPLICABLE}
                for _ in range(START_ROUNDS):
                    for rt, times in times_of.items():
                        if (w, rt) in fails:
                            continue
                        settle()
                        v, reason, got = runner.start_to_exit(rt, per, m["start_timeout"], app, w)
                        if v is None:
                            note(w, rt, None, reason)
                        times.extend(got)
                for rt, times in times_of.items():
                    raw[(w, rt)] = times
                    if (w, rt) not in fails and times:
                        med[(w, rt)] = statistics.median(times)
                        log(f"  {w:<14} {rt:<12} {fmt(med[(w, rt)])} ms")
                continue
            args = workload_args(w, mode)
            timeout = m["loop_timeout"] if w in LOOP_WORKLOADS else m["heavy_timeout"]
            if w in FS_PATHS and w != "getdents_10k":
                # 1 GiB to a host disk waits for writeback under load.
                timeout = m["fs_timeout"]
            reps = m["reps"]
            if w in SCRIPT_WORKLOADS:
                timeout, reps = m["app_timeout"], m["app_reps"]
            if w == "compileall":
                timeout, reps = m["app_timeout"], m["py_reps"]
                compileall_sources()
                t_row = time.time()
            for rep in range(reps):
                for rt in rts:
                    if (w, rt) in fails:
                        continue
                    v, reason = runner.run_once(rt, w, args, timeout)
                    note(w, rt, v, reason)
                if w == "getppid" and (FLOOR, "native") not in fails:
                    v, reason = runner.run_once("native", FLOOR, args, timeout)
                    note(FLOOR, "native", v, reason)
            if w == "getppid" and raw.get((FLOOR, "native")):
                med[(FLOOR, "native")] = statistics.median(raw[(FLOOR, "native")])
                log(f"  {FLOOR:<14} native  {fmt(med[(FLOOR, 'native')])} ns/call")
            if w == "compileall":
                host_usr_check(t_row)
            for rt in rts:
                vals = raw.get((w, rt), [])
                if (w, rt) not in fails and vals:
                    med[(w, rt)] = statistics.median(vals)
                    log(f"  {w:<14} {rt:<12} {fmt(med[(w, rt)])} {WORKLOADS[w][1]}")
    finally:
        sweep_containers()

    elapsed = time.monotonic() - t_start
    print()
    print_table(names, rts, med)
    report = render(a.command, mode, names, rts, med, raw, fails, machine(),
                    a.moat_build, elapsed, (load_start, loadavg()))
    with open(a.output, "w") as f:
        f.write(report)
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump({"mode": mode, "median": {f"{w}/{rt}": v for (w, rt), v in med.items()},
                   "raw": {f"{w}/{rt}": v for (w, rt), v in raw.items()},
                   "fail": {f"{w}/{rt}": r for (w, rt), r in fails.items()}}, f, indent=1)
    print(f"\nbench: wrote {os.path.relpath(a.output, ROOT)} ({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
