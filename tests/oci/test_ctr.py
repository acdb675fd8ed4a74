#!/usr/bin/env python3
"""containerd end to end with moat as the runc binary of the
io.containerd.runc.v2 shim: starts a private containerd (root, state and
socket in a temporary directory), imports a busybox image written here as an
OCI image layout (layer tar, config, manifest, index), and drives it with
`ctr run --runc-binary MOAT`: output, exit codes, a detached task with
`ctr task exec` and `ctr task kill`. Skipped (exit 77) with the reason when
containerd or ctr is not installed or cannot start. Always stops containerd
and removes what it made.

Usage: test_ctr.py MOAT"""
import gzip
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time

from test_docker import private_run, skip, sweep  # shared with the docker test

BUSYBOX = shutil.which("busybox") or "/bin/busybox"
DEADLINE = time.monotonic() + 100  # the whole test stays under 2 minutes
APPLETS = ["sh", "echo", "sleep", "cat", "id", "true", "hostname", "ps", "trap"]
IMAGE = "docker.io/library/moat-ctr-bb:latest"
NS = "moat-test"


def left():
    return max(1.0, DEADLINE - time.monotonic())


def blob(layout, data, media_type):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", d), "wb") as f:
        f.write(data)
    return {"mediaType": media_type, "digest": "sha256:" + d, "size": len(data)}


def oci_image_tar(tmp):
    """An OCI image layout (image-spec 1.0) holding a busybox rootfs, as the
    tarball `ctr image import` reads."""
    root = os.path.join(tmp, "rootfs")
    os.makedirs(os.path.join(root, "bin"))
    for d in ("proc", "dev", "sys", "tmp", "etc", "root", "run"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy(BUSYBOX, os.path.join(root, "bin", "busybox"))
    for a in APPLETS:
        os.symlink("busybox", os.path.join(root, "bin", a))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        t.add(root, arcname=".")
    layer_tar = raw.getvalue()
    layout = os.path.join(tmp, "layout")
    os.makedirs(os.path.join(layout, "blobs", "sha256"))
    layer = blob(layout, gzip.compress(layer_tar, mtime=0),
                 "application/vnd.oci.image.layer.v1.tar+gzip")
    config = {
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"], "WorkingDir": "/"},
        "rootfs": {"type": "layers",
                   "diff_ids": ["sha256:" + hashlib.sha256(layer_tar).hexdigest()]},
    }
    cfg = blob(layout, json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json")
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": cfg, "layers": [layer]}
    man = blob(layout, json.dumps(manifest).encode(),
               "application/vnd.oci.image.manifest.v1+json")
    man["annotations"] = {"io.containerd.image.name": IMAGE,
                          "org.opencontainers.image.ref.name": "latest"}
    man["platform"] = {"architecture": "amd64", "os": "linux"}
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [man]}, f)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    path = os.path.join(tmp, "image.tar")
    with tarfile.open(path, "w") as t:
        for name in ("oci-layout", "index.json", "blobs"):
            t.add(os.path.join(layout, name), arcname=name)
    return path


class Containerd:
    def __init__(self, moat):
        self.tmp = tempfile.mkdtemp(prefix="moat-ctr-", dir="/tmp")
        self.sock = os.path.join(self.tmp, "containerd.sock")
        self.moat = moat
        self.proc = None

    def log(self):
        try:
            with open(os.path.join(self.tmp, "containerd.log")) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def start(self):
        ctd = shutil.which("containerd")
        if not ctd or not shutil.which("ctr") or not shutil.which("containerd-shim-runc-v2"):
            skip("containerd, ctr or containerd-shim-runc-v2 is not installed "
                 "(Debian: containerd)")
        if os.geteuid() != 0:
            skip("containerd needs root")
        croot = os.path.join(self.tmp, "c")
        cfg = os.path.join(self.tmp, "containerd.toml")
        # The CRI plugin is of no use here (and wants things this host may
        # lack); the native snapshotter needs no overlay support.
        with open(cfg, "w") as f:
            f.write(f'version = 2\nroot = "{croot}/root"\nstate = "{croot}/state"\n'
                    f'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                    f'[grpc]\n  address = "{self.sock}"\n'
                    f'[ttrpc]\n  address = "{self.sock}.ttrpc"\n')
        logf = open(os.path.join(self.tmp, "containerd.log"), "w")
        self.proc = subprocess.Popen([ctd, "--config", cfg], stdout=logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        for _ in range(100):
            if self.proc.poll() is not None:
                break
            if os.path.exists(self.sock) and self.ctr("version", check=False,
                                                      timeout=5).returncode == 0:
                return
            time.sleep(0.1)
        skip("containerd did not start: " + self.log())

    def ctr(self, *args, check=True, timeout=None, **kw):
        r = subprocess.run(["ctr", "--address", self.sock, "--namespace", NS] + list(args),
                           capture_output=True, text=True,
                           timeout=min(timeout or 30, left()), **kw)
        if check and r.returncode != 0:
            raise AssertionError(f"ctr {' '.join(args)}: exit {r.returncode}\n"
                                 f"{r.stdout}{r.stderr}")
        return r

    def run_args(self, *extra):
        return ["run", "--snapshotter", "native", "--runtime", "io.containerd.runc.v2",
                "--runc-binary", self.moat] + list(extra)

    def stop(self):
        try:
            if self.proc and self.proc.poll() is None:
                for t in self.ctr("task", "ls", "-q", check=False, timeout=5).stdout.split():
                    self.ctr("task", "kill", "-s", "KILL", t, check=False, timeout=5)
                    self.ctr("task", "rm", "-f", t, check=False, timeout=5)
                for c in self.ctr("container", "ls", "-q", check=False, timeout=5).stdout.split():
                    self.ctr("container", "rm", c, check=False, timeout=5)
        except (subprocess.SubprocessError, OSError) as e:
            print(f"teardown: {e}")
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        sweep(self.tmp, self.sock)


def main():
    moat = os.path.abspath(sys.argv[1])
    private_run("ctr", "containerd")
    c = Containerd(moat)
    failures = []

    def check(name, fn):
        try:
            fn()
            print(f"ok: {name}")
        except Exception as e:  # noqa: BLE001 -- reported and counted
            print(f"FAIL: {name}: {e}")
            failures.append(name)

    try:
        c.start()
        r = c.ctr("image", "import", oci_image_tar(c.tmp))
        assert IMAGE in c.ctr("image", "ls", "-q").stdout, r.stdout + r.stderr

        def run_rm():
            r = c.ctr(*c.run_args("--rm", IMAGE, "t-echo", "echo", "hi"))
            assert r.stdout == "hi\n", repr(r.stdout + r.stderr)
            # moat's kernel answered, not the host's.
            r = c.ctr(*c.run_args("--rm", IMAGE, "t-osrel", "cat",
                                  "/proc/sys/kernel/osrelease"))
            assert r.stdout.strip().endswith("-moat"), repr(r.stdout + r.stderr)

        def exit_code():
            r = c.ctr(*c.run_args("--rm", IMAGE, "t-exit", "sh", "-c", "exit 7"), check=False)
            assert r.returncode == 7, (r.returncode, r.stdout, r.stderr)

        def detached():
            c.ctr(*c.run_args("-d", IMAGE, "t-det", "sh", "-c",
                              "trap 'exit 9' USR1; while true; do sleep 0.1; done"))
            try:
                st = ""
                for _ in range(50):
                    st = c.ctr("task", "ls").stdout
                    if "t-det" in st and "RUNNING" in st:
                        break
                    time.sleep(0.1)
                assert "RUNNING" in st, st
                r = c.ctr("task", "exec", "--exec-id", "e1", "t-det", "sh", "-c",
                          "echo from-exec; id -u")
                assert r.stdout == "from-exec\n0\n", repr(r.stdout + r.stderr)
                r = c.ctr("task", "exec", "--exec-id", "e2", "t-det", "sh", "-c", "exit 5",
                          check=False)
                assert r.returncode == 5, (r.returncode, r.stderr)
                # runc's `ps --format json`: the sandbox's host pids.
                r = c.ctr("task", "ps", "t-det")
                assert len(r.stdout.strip().split("\n")) >= 3, r.stdout
                # The app's trap runs: the signal reached it inside the sandbox.
                c.ctr("task", "kill", "-s", "USR1", "t-det")
                st = ""
                for _ in range(100):
                    st = c.ctr("task", "ls").stdout
                    if "STOPPED" in st:
                        break
                    time.sleep(0.1)
                assert "STOPPED" in st, st
                # ctr reports the status the shim read from moat's keeper.
                r = c.ctr("task", "rm", "t-det")
                assert "exit code 9" in r.stdout + r.stderr, r.stdout + r.stderr
            finally:
                c.ctr("task", "kill", "-s", "KILL", "t-det", check=False)
                c.ctr("task", "rm", "-f", "t-det", check=False)
                c.ctr("container", "rm", "t-det", check=False)
            assert "t-det" not in c.ctr("container", "ls", "-q").stdout

        def kill_term():
            c.ctr(*c.run_args("-d", IMAGE, "t-term", "sleep", "100"))
            try:
                t = time.monotonic()
                c.ctr("task", "kill", "t-term")  # SIGTERM
                st = ""
                for _ in range(100):
                    st = c.ctr("task", "ls").stdout
                    if "STOPPED" in st:
                        break
                    time.sleep(0.1)
                assert "STOPPED" in st and time.monotonic() - t < 5, st
            finally:
                c.ctr("task", "rm", "-f", "t-term", check=False)
                c.ctr("container", "rm", "t-term", check=False)

        check("ctr run --rm", run_rm)
        check("ctr run: exit code", exit_code)
        check("ctr run -d, task exec, ps, kill USR1", detached)
        check("ctr task kill (TERM)", kill_term)
    finally:
        if failures:
            print("--- containerd log ---\n" + c.log())
        c.stop()
    if failures:
        print(f"{len(failures)} failed: {', '.join(failures)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
