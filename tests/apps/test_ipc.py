"""IPC under moat (issue 6): an asyncio echo server and client over an
AF_UNIX socket (epoll, socketpair wake-ups, accept, stream I/O), and
selectors over eventfd-like objects, with the same output as natively."""

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


if __name__ == '__main__':
    main()
