#!/usr/bin/env python3
"""Docker end to end with moat as a runtime: starts a private containerd and
dockerd (no bridge, no iptables, state in a temporary directory), registers
moat in daemon.json, imports a busybox image from a rootfs tarball and runs
containers through `--runtime=moat`. Skipped (exit 77) with the reason when
the daemons are not installed or cannot start here. Always stops them.

Usage: test_docker.py MOAT"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time

BUSYBOX = shutil.which("busybox") or "/bin/busybox"
DEADLINE = time.monotonic() + 110  # the whole test stays under 2 minutes
APPLETS = ["sh", "echo", "sleep", "cat", "ls", "id", "true", "hostname", "ps", "ip", "head", "tr"]
NGINX = "/usr/sbin/nginx"
NGINX_CONF = """user root;
worker_processes 1;
daemon off;
pid /tmp/nginx.pid;
error_log stderr;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path /tmp/body;
    proxy_temp_path /tmp/proxy;
    fastcgi_temp_path /tmp/fastcgi;
    uwsgi_temp_path /tmp/uwsgi;
    scgi_temp_path /tmp/scgi;
    server { listen 80; root /www; }
}
"""


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(77)


def left():
    return max(1.0, DEADLINE - time.monotonic())


class Daemons:
    def __init__(self, moat):
        self.tmp = tempfile.mkdtemp(prefix="moat-docker-", dir="/tmp")
        self.sock = os.path.join(self.tmp, "docker.sock")
        self.csock = os.path.join(self.tmp, "containerd.sock")
        self.procs = []
        self.moat = moat
        # Runtimes in daemon.json (bench/ adds crun and runsc beside moat).
        self.runtimes = {"moat": {"path": moat}}

    def spawn(self, args, log):
        f = open(os.path.join(self.tmp, log), "w")
        p = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs.append(p)
        return p

    def log(self, name):
        try:
            with open(os.path.join(self.tmp, name)) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def start(self):
        ctd = shutil.which("containerd")
        dockerd = shutil.which("dockerd")
        if not ctd or not dockerd or not shutil.which("docker"):
            skip("dockerd, containerd or docker is not installed (Debian: docker.io containerd)")
        if os.geteuid() != 0:
            skip("dockerd needs root")
        croot = os.path.join(self.tmp, "containerd")
        cfg = os.path.join(self.tmp, "containerd.toml")
        with open(cfg, "w") as f:
            f.write(f'version = 2\nroot = "{croot}/root"\nstate = "{croot}/state"\n'
                    f'[grpc]\n  address = "{self.csock}"\n'
                    f'[plugins."io.containerd.grpc.v1.cri"]\n  disable_cgroup = true\n')
        c = self.spawn([ctd, "--config", cfg], "containerd.log")
        for _ in range(100):
            if os.path.exists(self.csock) or c.poll() is not None:
                break
            time.sleep(0.1)
        if not os.path.exists(self.csock):
            skip("containerd did not start: " + self.log("containerd.log"))
        daemon_json = os.path.join(self.tmp, "daemon.json")
        with open(daemon_json, "w") as f:
            json.dump({"runtimes": self.runtimes}, f)
        # dockerd runs in a network namespace of its own: its bridge, veths,
        # iptables rules and published ports live there, never on the host.
        d = self.spawn(["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$0" "$@"',
                        dockerd, "--config-file", daemon_json,
                        "--containerd", self.csock,
                        "--data-root", os.path.join(self.tmp, "data"),
                        "--exec-root", os.path.join(self.tmp, "exec"),
                        "--pidfile", os.path.join(self.tmp, "docker.pid"),
                        "-H", "unix://" + self.sock,
                        "--storage-driver=vfs"], "dockerd.log")
        self.dockerd = d
        for _ in range(200):
            if d.poll() is not None:
                break
            if os.path.exists(self.sock) and self.docker("info", check=False,
                                                         timeout=10).returncode == 0:
                return
            time.sleep(0.2)
        skip("dockerd did not start: " + self.log("dockerd.log"))

    def docker(self, *args, check=True, timeout=None, **kw):
        r = subprocess.run(["docker", "-H", "unix://" + self.sock] + list(args),
                           capture_output=True, text=True,
                           timeout=min(timeout or 60, left()), **kw)
        if check and r.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)}: exit {r.returncode}\n"
                                 f"{r.stdout}{r.stderr}")
        return r

    def stop(self):
        # Whatever happens here, the daemons below are stopped.
        try:
            if os.path.exists(self.sock):
                r = subprocess.run(["docker", "-H", "unix://" + self.sock, "ps", "-aq"],
                                   capture_output=True, text=True, timeout=10)
                ids = r.stdout.split()
                if ids:
                    subprocess.run(["docker", "-H", "unix://" + self.sock, "rm", "-f"] + ids,
                                   capture_output=True, timeout=15)
        except (subprocess.SubprocessError, OSError) as e:
            print(f"teardown: {e}")
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
        sweep(self.tmp, self.csock)


def sweep(tmp, containerd_sock):
    """After the daemons stopped (also test_ctr.py's): kills shims and
    sandboxes of ours that outlived them (their command line names TMP, or
    a shim of CONTAINERD_SOCK), unmounts what they left under TMP, deepest
    first, and removes TMP."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if tmp.encode() in cmd or (b"containerd-shim" in cmd and
                                   containerd_sock.encode() in cmd):
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
    with open("/proc/self/mountinfo") as f:
        mounts = [l.split()[4] for l in f if tmp in l.split()[4]]
    for m in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", m], capture_output=True)
    shutil.rmtree(tmp, ignore_errors=True)


def image_tar(tmp):
    root = os.path.join(tmp, "rootfs")
    os.makedirs(os.path.join(root, "bin"))
    for d in ("proc", "dev", "sys", "tmp", "etc", "root"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy(BUSYBOX, os.path.join(root, "bin", "busybox"))
    for a in APPLETS:
        os.symlink("busybox", os.path.join(root, "bin", a))
    path = os.path.join(tmp, "rootfs.tar")
    with tarfile.open(path, "w") as t:
        t.add(root, arcname=".")
    return path


def nginx_image_tar(tmp, payload):
    """A rootfs with Debian's nginx, the libraries it links and a 1 MiB file
    to serve (PAYLOAD), as a tarball for `docker import`."""
    root = os.path.join(tmp, "nginx-rootfs")
    for d in ("etc/nginx", "www", "tmp", "proc", "dev", "sys", "var/log/nginx",
              "var/lib/nginx", "run", "usr/sbin"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    libs = subprocess.run(["ldd", NGINX], capture_output=True, text=True,
                          check=True).stdout.split()
    for lib in [NGINX] + [w for w in libs if w.startswith("/")]:
        dest = os.path.join(root, lib.lstrip("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy(os.path.realpath(lib), dest)
    with open(os.path.join(root, "etc/nginx/nginx.conf"), "w") as f:
        f.write(NGINX_CONF)
    with open(os.path.join(root, "etc/passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n")
    with open(os.path.join(root, "etc/group"), "w") as f:
        f.write("root:x:0:\n")
    with open(os.path.join(root, "www", "big"), "wb") as f:
        f.write(payload)
    path = os.path.join(tmp, "nginx.tar")
    with tarfile.open(path, "w") as t:
        t.add(root, arcname=".")
    return path


def private_run(name="docker", needs="dockerd"):
    """Re-runs this test (also test_ctr.py, NAME ctr) in a mount namespace
    of its own with a tmpfs on /run: the shims' sockets (/run/containerd/s),
    ctr's fifos, dockerd's /run/docker and the runc roots never touch the
    host's. NEEDS names the daemon in the skip message of a non-root run."""
    var = "MOAT_%s_PRIVATE" % name.upper()
    if os.environ.get(var) == "1":
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=755", "moat-%s-run" % name, "/run"],
                       check=True)
        return
    if os.geteuid() != 0:
        skip("%s needs root" % needs)
    if not shutil.which("unshare"):
        skip("unshare (util-linux) is not installed")
    os.environ[var] = "1"
    os.execvp("unshare", ["unshare", "--mount", "--propagation", "private", "--",
                          sys.executable] + sys.argv)


def main():
    moat = os.path.abspath(sys.argv[1])
    private_run()
    d = Daemons(moat)
    failures = []

    def check(name, fn):
        try:
            fn()
            print(f"ok: {name}")
        except Exception as e:  # noqa: BLE001 -- reported and counted
            print(f"FAIL: {name}: {e}")
            failures.append(name)

    try:
        d.start()
        tar = image_tar(d.tmp)
        with open(tar, "rb") as f:
            d.docker("import", "-c", "ENV PATH=/bin", "-", "moat-bb", stdin=f)

        def run_rm():
            r = d.docker("run", "--rm", "--runtime=moat", "moat-bb", "echo", "hi")
            assert r.stdout == "hi\n", repr(r.stdout + r.stderr)
            # moat's kernel answered, not the host's.
            r = d.docker("run", "--rm", "--runtime=moat", "moat-bb", "cat",
                         "/proc/sys/kernel/osrelease")
            assert r.stdout.strip().endswith("-moat"), repr(r.stdout + r.stderr)
            r = d.docker("run", "--rm", "--runtime=moat", "moat-bb", "sh", "-c", "exit 3",
                         check=False)
            assert r.returncode == 3, (r.returncode, r.stderr)

        def detached():
            cid = d.docker("run", "-d", "--runtime=moat", "moat-bb", "sh", "-c",
                           "echo started; exec sleep 100").stdout.strip()
            try:
                r = d.docker("exec", cid, "echo", "from-exec")
                assert r.stdout == "from-exec\n", repr(r.stdout + r.stderr)
                r = d.docker("exec", cid, "sh", "-c", "exit 5", check=False)
                assert r.returncode == 5, (r.returncode, r.stderr)
                for _ in range(50):
                    logs = d.docker("logs", cid).stdout
                    if "started" in logs:
                        break
                    time.sleep(0.1)
                assert logs == "started\n", repr(logs)
                t = time.monotonic()
                d.docker("stop", "-t", "2", cid)
                took = time.monotonic() - t
                st = json.loads(d.docker("inspect", cid).stdout)[0]["State"]
                # sleep dies of SIGTERM at once: exit 143, no 2 s wait for KILL.
                assert st["ExitCode"] == 143 and took < 2, (st, took)
            finally:
                d.docker("rm", "-f", cid, check=False)
            r = d.docker("ps", "-aq", "--filter", "id=" + cid)
            assert r.stdout.strip() == "", r.stdout

        def stop_timeout():
            cid = d.docker("run", "-d", "--runtime=moat", "moat-bb", "sh", "-c",
                           "trap '' TERM; while true; do sleep 1; done").stdout.strip()
            try:
                time.sleep(0.5)
                t = time.monotonic()
                d.docker("stop", "-t", "1", cid)
                st = json.loads(d.docker("inspect", cid).stdout)[0]["State"]
                assert st["ExitCode"] == 137, st  # KILL after the timeout
                assert time.monotonic() - t < 8
            finally:
                d.docker("rm", "-f", cid, check=False)

        def network_none():
            r = d.docker("run", "--rm", "--runtime=moat", "--network=none", "moat-bb",
                         "echo", "isolated")
            assert r.stdout == "isolated\n", repr(r.stdout + r.stderr)

        def in_pty(cmd):
            # docker -t wants a terminal on its side: script(1) gives it one.
            p = subprocess.Popen(["script", "-qec", cmd, "/dev/null"], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            try:
                out, _ = p.communicate(timeout=min(20, left()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                raise AssertionError(f"{cmd}: timed out")
            return p.returncode, out.decode(errors="replace")

        def terminals():
            h = "unix://" + d.sock
            rc, out = in_pty(f"docker -H {h} run -it --rm --runtime=moat moat-bb "
                             "sh -c 'echo in-pty; exit 4'")
            assert rc == 4 and "in-pty\r\n" in out, (rc, out)
            cid = d.docker("run", "-d", "--runtime=moat", "moat-bb", "sleep", "100").stdout.strip()
            try:
                rc, out = in_pty(f"docker -H {h} exec -it {cid} sh -c 'echo exec-pty; exit 5'")
                assert rc == 5 and "exec-pty\r\n" in out, (rc, out)
                r = d.docker("top", cid)
                assert "moat" in r.stdout, r.stdout
            finally:
                d.docker("rm", "-f", cid, check=False)

        def user():
            r = d.docker("run", "--rm", "--runtime=moat", "--user", "1000:1000", "moat-bb", "id")
            # Docker lists the primary gid in additionalGids, as runc shows it.
            assert r.stdout == "uid=1000 gid=1000 groups=1000\n", repr(r.stdout + r.stderr)

        def volume():
            vol = os.path.join(d.tmp, "vol")
            os.makedirs(vol)
            os.chmod(vol, 0o777)
            with open(os.path.join(vol, "from-host"), "w") as f:
                f.write("host\n")
            r = d.docker("run", "--rm", "--runtime=moat", "-v", vol + ":/data", "--user",
                         "1000:1000", "moat-bb", "sh", "-c",
                         "cat /data/from-host && echo made > /data/new && mkdir /data/d && "
                         "mv /data/new /data/d/moved && ls -n /data/d")
            assert "host\n" in r.stdout and " 1000 " in r.stdout, repr(r.stdout + r.stderr)
            st = os.stat(os.path.join(vol, "d", "moved"))
            assert (st.st_uid, st.st_gid) == (1000, 1000), (st.st_uid, st.st_gid)
            with open(os.path.join(vol, "d", "moved")) as f:
                assert f.read() == "made\n"
            r = d.docker("run", "--rm", "--runtime=moat", "-v", vol + ":/data:ro", "moat-bb",
                         "sh", "-c", "touch /data/x", check=False)
            assert r.returncode != 0 and "Read-only" in r.stderr, repr(r.stdout + r.stderr)
            assert not os.path.exists(os.path.join(vol, "x"))

        def read_only():
            r = d.docker("run", "--rm", "--runtime=moat", "--read-only", "--tmpfs", "/tmp",
                         "moat-bb", "sh", "-c",
                         "touch /x 2>&1; touch /tmp/y && echo tmp-ok; grep ' / ' /proc/mounts")
            assert "Read-only file system" in r.stdout and "tmp-ok" in r.stdout, \
                repr(r.stdout + r.stderr)
            # Docker's own file binds: /etc/hostname is the container's.
            r = d.docker("run", "--rm", "--runtime=moat", "--hostname", "moathost", "moat-bb",
                         "cat", "/etc/hostname")
            assert r.stdout == "moathost\n", repr(r.stdout + r.stderr)

        def bridge_and_publish():
            # The default bridge network: the container's own eth0 and
            # address (Docker's prestart hook configured the sandbox's
            # network namespace), seen through moat's netlink.
            r = d.docker("run", "--rm", "--runtime=moat", "moat-bb", "ip", "-4", "addr")
            assert "eth0" in r.stdout and "172.17." in r.stdout, repr(r.stdout + r.stderr)
            if not os.path.exists(NGINX):
                print("skip: -p with nginx: nginx is not installed")
                return
            payload = os.urandom(1 << 20)
            with open(nginx_image_tar(d.tmp, payload), "rb") as f:
                d.docker("import", "-c", 'CMD ["/usr/sbin/nginx"]', "-", "moat-nginx", stdin=f)
            cid = d.docker("run", "-d", "--runtime=moat", "-p", "8080:80",
                           "moat-nginx").stdout.strip()
            try:
                # "The host" is dockerd's network namespace (see Daemons).
                curl = ["nsenter", "--net=/proc/%d/ns/net" % d.dockerd.pid, "curl", "-sf",
                        "--max-time", "10", "http://127.0.0.1:8080/big"]
                got = b""
                for _ in range(50):
                    got = subprocess.run(curl, capture_output=True, timeout=left()).stdout
                    if got:
                        break
                    time.sleep(0.2)
                assert got == payload, (len(got), d.docker("logs", cid, check=False).stderr)
            finally:
                d.docker("rm", "-f", cid, check=False)

        def memory_limit():
            # 40 MB held by the shell (twice that at its peak): past
            # --memory=64m, the app is killed (exit 137); 16 MB fits.
            fill = "x=$(head -c %d /dev/zero | tr '\\0' a); echo ${#x}"
            r = d.docker("run", "--rm", "--runtime=moat", "--memory=64m", "moat-bb", "sh", "-c",
                         fill % 16000000, timeout=90)
            assert r.stdout == "16000000\n", repr(r.stdout + r.stderr)
            r = d.docker("run", "--rm", "--runtime=moat", "--memory=64m", "moat-bb", "sh", "-c",
                         fill % 40000000, check=False, timeout=90)
            assert r.returncode == 137, (r.returncode, r.stdout, r.stderr)

        check("docker run --rm", run_rm)
        check("docker run --memory=64m", memory_limit)
        if shutil.which("curl") and shutil.which("nsenter"):
            check("docker bridge network, -p 8080:80 to nginx", bridge_and_publish)
        check("docker run -d, exec, logs, stop, rm", detached)
        check("docker stop: KILL after the timeout", stop_timeout)
        check("docker run --network=none", network_none)
        check("docker run --user 1000:1000", user)
        check("docker run -v hostdir:/data (read-write, :ro)", volume)
        check("docker run --read-only, /etc/hostname", read_only)
        if shutil.which("script"):
            check("docker run -it, exec -it (pty), top", terminals)
    finally:
        if failures:
            print("--- dockerd log ---\n" + d.log("dockerd.log"))
        d.stop()
    if failures:
        print(f"{len(failures)} failed: {', '.join(failures)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
