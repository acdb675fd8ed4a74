"""Memory accounting under `moat do`: the sandbox memory limit (--memory)
ends an app that needs more inside the sandbox, never harming the host, and
memory the app frees goes back to the host."""

import os
import subprocess
import time

import moattest
from moattest import MoatTestCase, main, moat

PY = '/usr/bin/python3'
MIB = 1 << 20
LIMIT_LINE = 'sandbox memory limit (268435456 bytes) reached: killed pid'

TOUCH_1G = '''
import sys
b = bytearray(1 << 30)
b[::4096] = b"x" * (1 << 18)
print(len(b), flush=True)
sys.stdin.readline()
del b
print("freed", flush=True)
sys.stdin.readline()
'''


def kernel_pid(cli_pid, deadline):
    """The moat-kernel process under the CLI, or None."""
    while time.monotonic() < deadline:
        for pid in moattest.descendants(cli_pid):
            st = moattest.proc_status(pid)
            if st and st.get('Name') == 'moat-kernel':
                return pid
        time.sleep(0.05)
    return None


def memfile_bytes(kpid):
    """Bytes of pages the host holds for the sandbox's memory file."""
    fd_dir = '/proc/%d/fd' % kpid
    best = 0
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
            if 'moat-memory' not in target or 'refs' in target:
                continue
            best = max(best, os.stat(os.path.join(fd_dir, fd)).st_blocks * 512)
        except OSError:
            pass
    return best


class Memory(MoatTestCase):
    def test_huge_allocation_fails_inside(self):
        # One 100 GiB request is more than the sandbox may ever hold: ENOMEM,
        # as Linux's overcommit heuristic answers one larger than RAM+swap.
        r = moat('--memory=256m', PY, '-c',
                 'try:\n bytearray(100 << 30)\nexcept MemoryError:\n print("MemoryError")',
                 timeout=60)
        self.assertRan(r, 0, 'MemoryError\n')

    def test_hog_is_killed(self):
        hog = 'l = []\nwhile True:\n l.append(bytearray(16 << 20))'
        t0 = time.monotonic()
        r = moat('--memory=256m', PY, '-c', hog, timeout=60)
        self.assertNoCrash(r)
        # SIGKILL (137) once task.c raises the signal mm_fault_signal() asks
        # for; SIGBUS (135) from the older mm_fault() path.
        self.assertIn(r.rc, (128 + 9, 128 + 7), r)
        self.assertIn(LIMIT_LINE, r.stderr, r)
        self.assertLess(time.monotonic() - t0, 30)
        # The host is fine: the next sandbox runs.
        self.assertRan(moat('--memory=256m', '/bin/echo', 'ok'), 0, 'ok\n')

    def test_shell_capture_past_the_limit_is_killed(self):
        # dash's $(...) reads its pipe 128 bytes at a time into a buffer
        # that glibc grows with mremap: the page past the limit ends the
        # shell with SIGKILL and the log line, on both platforms. (A 64 MiB
        # limit takes ~9 s unloaded, all of it moving the bytes through the
        # pipe; the kill itself follows the refused page within ~50 ms.)
        cmd = 'x=$(head -c 40000000 /dev/zero | tr "\\0" a); echo ${#x}'
        for platform in ('systrap', 'ptrace'):
            with self.subTest(platform=platform):
                t0 = time.monotonic()
                r = moat('--platform=' + platform, '--memory=16m', '/bin/sh', '-c', cmd,
                         timeout=90)
                self.assertNoCrash(r)
                self.assertEqual(r.rc, 128 + 9, r)
                self.assertEqual(r.stdout, '', r)
                self.assertIn('sandbox memory limit (16777216 bytes) reached: killed pid', r.stderr, r)
                self.assertEqual(r.stderr.count('sandbox memory limit'), 1, r)
                self.assertLess(time.monotonic() - t0, 45)

    def test_hog_in_c_via_mmap_noreserve(self):
        # MAP_NORESERVE escapes the commit check; the pages themselves are
        # refused by the host at the limit.
        prog = ('import mmap\n'
                'm = mmap.mmap(-1, 8 << 30, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | 0x4000)\n'
                'for i in range(0, 8 << 30, 4096):\n m[i] = 1\n')
        r = moat('--memory=256m', PY, '-c', prog, timeout=60)
        self.assertNoCrash(r)
        self.assertIn(r.rc, (128 + 9, 128 + 7), r)
        self.assertIn(LIMIT_LINE, r.stderr, r)

    def test_bad_flag(self):
        for v in ('', '0', '12x', '-5m', '100'):
            r = moat('--memory=' + v, '/bin/true')
            self.assertEqual(r.rc, 125, r)

    def test_meminfo_is_the_sandboxs(self):
        # /proc/meminfo and sysinfo(2) show the sandbox: MemTotal is the
        # --memory limit, and what the app allocates, shares or keeps in
        # tmpfs moves AnonPages, Shmem, Mapped and MemFree accordingly.
        prog = '''
import mmap, os, re
def mi():
    return {k: int(v) for k, v in re.findall(r"^([A-Za-z_()]+):\\s+(\\d+)", open("/proc/meminfo").read(), re.M)}
a = mi()
b = bytearray(64 << 20)
b[::4096] = b"x" * (len(b) // 4096)
m = mmap.mmap(-1, 32 << 20)
m[::4096] = b"y" * ((32 << 20) // 4096)
with open("/dev/shm/f", "wb") as f:
    f.write(b"z" * (16 << 20))
c = mi()
phys = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 1024
print(a["MemTotal"], phys)
print(c["AnonPages"] - a["AnonPages"] >= 63 << 10, c["Shmem"] - a["Shmem"] >= 47 << 10,
      c["Mapped"] - a["Mapped"] >= 31 << 10, a["MemFree"] - c["MemFree"] >= 110 << 10)
print(c["MemFree"] == c["MemAvailable"], c["Cached"] == c["Shmem"],
      c["AnonPages"] + c["Shmem"] <= c["MemTotal"] - c["MemFree"] + 64)
'''
        r = moat('--memory=512m', PY, '-c', prog, timeout=60)
        self.assertRan(r, 0, '524288 524288\nTrue True True True\nTrue True True\n')
        with open('/proc/meminfo') as f:
            host_total = [l.split()[1] for l in f if l.startswith('MemTotal:')][0]
        r = moat('/bin/grep', 'MemTotal:', '/proc/meminfo', timeout=60)
        self.assertNoCrash(r)
        self.assertEqual(r.stdout.split()[1], host_total, r)

    def test_gib_freed_returns_to_host(self):
        p = subprocess.Popen([moattest.MOAT, 'do', PY, '-c', TOUCH_1G],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            kpid = kernel_pid(p.pid, deadline)
            self.assertIsNotNone(kpid)
            self.assertEqual(p.stdout.readline(), b'1073741824\n')
            peak = memfile_bytes(kpid)
            p.stdin.write(b'\n')
            p.stdin.flush()
            self.assertEqual(p.stdout.readline(), b'freed\n')
            after = memfile_bytes(kpid)
            p.stdin.write(b'\n')
            p.stdin.close()
            self.assertEqual(p.wait(timeout=60), 0)
        finally:
            moattest.kill_group(p.pid)
            p.wait()
            p.stdout.close()
            p.stderr.close()
        print('memory file: %d MiB resident at peak, %d MiB after del' % (peak >> 20, after >> 20))
        self.assertGreater(peak, 1000 * MIB, 'touched GiB not resident: %d' % peak)
        self.assertLess(after, peak - 1000 * MIB, 'not returned: peak %d after %d' % (peak, after))


if __name__ == '__main__':
    main()
