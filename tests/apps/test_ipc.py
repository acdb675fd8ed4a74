"""IPC under moat (issue 6): an asyncio echo server and client over an
AF_UNIX socket (epoll, socketpair wake-ups, accept, stream I/O), and
selectors over eventfd-like objects, with the same output as natively."""

import os

from moattest import MoatTestCase, main, moat, native

PY = '/usr/bin/python3'

ECHO = r'''
import asyncio, os, tempfile
N = 10000
async def handle(r, w):
    while True:
        line = await r.readline()
        if not line:
            break
        w.write(line)
        await w.drain()
    w.close()
async def run(path):
    srv = await asyncio.start_unix_server(handle, path)
    r, w = await asyncio.open_unix_connection(path)
    got = 0
    for i in range(N):
        w.write(b'msg %d\n' % i)
        if i % 100 == 99:
            await w.drain()
            for j in range(i - 99, i + 1):
                line = await r.readline()
                assert line == b'msg %d\n' % j, line
                got += 1
    w.close()
    srv.close()
    await srv.wait_closed()
    print('echoed', got)
d = tempfile.mkdtemp()
asyncio.run(run(os.path.join(d, 's')))
os.unlink(os.path.join(d, 's'))
os.rmdir(d)
'''

PAIR = r'''
import socket, selectors, os
a, b = socket.socketpair()
sel = selectors.DefaultSelector()
sel.register(b, selectors.EVENT_READ, 'b')
print(type(sel).__name__, sel.select(0))
a.sendall(b'x' * 100000)
n = 0
while n < 100000:
    for key, ev in sel.select(5):
        n += len(b.recv(65536))
print('got', n)
fd = os.eventfd(0)
os.eventfd_write(fd, 3)
print('eventfd', os.eventfd_read(fd))
'''

SHARED = r'''
import multiprocessing as mp, os, mmap
from multiprocessing import shared_memory
def child(name):
    s = shared_memory.SharedMemory(name=name)
    s.buf[:5] = b'child'
    s.close()
if __name__ == '__main__':
    mp.set_start_method('fork')
    shm = shared_memory.SharedMemory(create=True, size=10000)
    shm.buf[100:105] = b'hello'
    p = mp.Process(target=child, args=(shm.name,))
    p.start(); p.join()
    print('shm', bytes(shm.buf[:5]), bytes(shm.buf[100:105]), p.exitcode)
    shm.close(); shm.unlink()
    fd = os.memfd_create('py', os.MFD_CLOEXEC)
    os.ftruncate(fd, 8192)
    m = mmap.mmap(fd, 8192)
    pid = os.fork()
    if pid == 0:
        m[4096:4100] = b'memf'
        os._exit(0)
    os.waitpid(pid, 0)
    print('memfd', m[4096:4100], os.readlink('/proc/self/fd/%d' % fd))
    print('read', os.pread(fd, 4, 4096))
'''


class Ipc(MoatTestCase):
    def same(self, *argv, timeout=120):
        n = native(*argv, timeout=timeout)
        self.assertEqual(n.rc, 0, 'natively: %r' % n)
        m = moat(*argv, timeout=timeout)
        self.assertRan(m, 0, n.stdout)
        return m

    def test_asyncio_unix_echo(self):
        self.same(PY, '-c', ECHO)

    def test_socketpair_selector_eventfd(self):
        self.same(PY, '-c', PAIR)

    def test_shared_memory_and_memfd(self):
        """multiprocessing.shared_memory (shm_open on /dev/shm) across a
        forked process, and a memfd mapped with Python's mmap."""
        self.same(PY, '-c', SHARED)

    def test_ipcs_limits(self):
        """ipcs -l / -u read the limits (/proc/sys/kernel, IPC_INFO) and the
        usage (SHM_INFO, SEM_INFO, MSG_INFO) exactly as in a fresh IPC
        namespace natively (unshare -i: the host's is never touched)."""
        if not os.path.exists('/usr/bin/ipcs'):
            self.skipTest('util-linux ipcs not installed')
        cmd = 'ipcs -l; ipcs -u'
        n = native('unshare', '-i', '/bin/sh', '-c', cmd, timeout=60)
        self.assertEqual(n.rc, 0, n)
        m = moat('/bin/sh', '-c', cmd, timeout=60)
        self.assertRan(m, 0, n.stdout)

    def test_ipcmk_ipcs(self):
        """util-linux ipcmk/ipcs/ipcrm on the sandbox's own IPC namespace
        (moat only: natively they would touch the host's)."""
        if not os.path.exists('/usr/bin/ipcs'):
            self.skipTest('util-linux ipcs not installed')
        m = moat('/bin/sh', '-c',
                 'ipcmk -M 8192 >/dev/null && ipcmk -S 3 >/dev/null && ipcmk -Q >/dev/null && '
                 'ipcs -m; ipcs -s; ipcs -q; ipcrm -a && ipcs -m -s -q', timeout=60)
        self.assertNoCrash(m)
        self.assertEqual(m.rc, 0, m)
        out = m.stdout
        self.assertRegex(out, r'0x[0-9a-f]+ 0 +root +644 +8192 +0', out)
        self.assertRegex(out, r'0x[0-9a-f]+ 0 +root +644 +3', out)
        self.assertRegex(out, r'0x[0-9a-f]+ 0 +root +644 +0 +0', out)
        # after ipcrm -a, the last listing shows the three empty tables
        self.assertEqual(out.count('0x'), 3, out)


if __name__ == '__main__':
    main()
