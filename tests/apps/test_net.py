"""Inet sockets under moat (issue 6): an asyncio TCP echo over 127.0.0.1,
raw sockets refused, --network=none (a loopback of the sandbox's own) and
--network=host (the host's), redis-server with redis-benchmark inside one
sandbox, and nginx inside `moat do --network=host` serving curl and wrk on
the host (when those are installed: tools/deps-debian.sh lists them)."""

import hashlib
import os
import re
import signal
import shutil
import socket
import subprocess
import time

import moattest
from moattest import MoatTestCase, kill_group, main, moat, native, run


def _status(pid):
    out = {}
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                k, _, v = line.partition(':')
                out[k] = v.strip()
    except OSError:
        pass
    return out


def MOAT_BIN():
    return moattest.MOAT

PY = '/usr/bin/python3'

ECHO = r'''
import asyncio
N = 10000
async def handle(r, w):
    while True:
        line = await r.readline()
        if not line:
            break
        w.write(line)
        await w.drain()
    w.close()
async def run():
    srv = await asyncio.start_server(handle, '127.0.0.1', 0)
    port = srv.sockets[0].getsockname()[1]
    r, w = await asyncio.open_connection('127.0.0.1', port)
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
asyncio.run(run())
'''

RAW = r'''
import socket
for fam, typ, proto in ((socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
                        (socket.AF_PACKET, socket.SOCK_RAW, 0)):
    try:
        socket.socket(fam, typ, proto)
        print('opened')
    except OSError as e:
        print(e.errno)
'''

FETCH = r'''
import sys, urllib.request
try:
    body = urllib.request.urlopen('http://127.0.0.1:%s/probe.txt' % sys.argv[1], timeout=10).read()
    print('got', body.decode().strip())
except Exception as e:
    print('failed', type(e).__name__)
'''


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Net(MoatTestCase):
    def test_asyncio_tcp_echo(self):
        n = native(PY, '-c', ECHO, timeout=120)
        self.assertEqual(n.rc, 0, n)
        m = moat(PY, '-c', ECHO, timeout=120)
        self.assertRan(m, 0, n.stdout)
        self.assertEqual(m.stdout, 'echoed 10000\n')

    def test_raw_and_packet_refused(self):
        m = moat(PY, '-c', RAW)
        self.assertRan(m, 0, '1\n97\n')  # EPERM; AF_PACKET: EAFNOSUPPORT

    def test_network_modes(self):
        with open(os.path.join(self.tmp, 'probe.txt'), 'w') as f:
            f.write('hello from the host\n')
        port = free_port()
        srv = subprocess.Popen([PY, '-m', 'http.server', '--bind', '127.0.0.1', str(port)],
                               cwd=self.tmp, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.time() + 20
            while time.time() < deadline:
                try:
                    socket.create_connection(('127.0.0.1', port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            h = moat('--network=host', PY, '-c', FETCH, str(port))
            self.assertRan(h, 0, 'got hello from the host\n')
            for args in (['--network=none'], []):
                n = moat(*args, PY, '-c', FETCH, str(port))
                self.assertRan(n, 0, 'failed URLError\n')
        finally:
            kill_group(srv.pid)
            srv.wait()

    def test_namespace_made_on_first_socket(self):
        # `moat do` as root makes the sandbox's network namespace when the
        # sandbox asks for its first socket (the CLI makes it and hands the
        # sockets over): the kernel process itself stays in the caller's,
        # and the sandbox's listening socket is not in the host's.
        if os.geteuid() != 0:
            self.skipTest('the network broker is for root callers')
        host_ns = os.readlink('/proc/self/ns/net')
        port = free_port()
        prog = ('import socket, sys\n'
                'print("ready", flush=True)\n'
                'sys.stdin.readline()\n'
                's = socket.socket()\n'
                's.bind(("127.0.0.1", %d))\n'
                's.listen()\n'
                'print("listening", flush=True)\n'
                'sys.stdin.readline()\n' % port)
        p = subprocess.Popen([MOAT_BIN(), 'do', PY, '-c', prog], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
        try:
            self.assertEqual(p.stdout.readline(), b'ready\n')
            kernels = [int(d) for d in os.listdir('/proc') if d.isdigit() and
                       _status(int(d)).get('PPid') == str(p.pid) and
                       _status(int(d)).get('Name') == 'moat-kernel']
            self.assertEqual(len(kernels), 1, kernels)
            self.assertEqual(os.readlink('/proc/%d/ns/net' % kernels[0]), host_ns)
            self.assertEqual(os.readlink('/proc/%d/ns/net' % p.pid), host_ns,
                             'a namespace made before any socket')
            p.stdin.write(b'\n')
            p.stdin.flush()
            self.assertEqual(p.stdout.readline(), b'listening\n')
            self.assertNotEqual(os.readlink('/proc/%d/ns/net' % p.pid), host_ns)
            self.assertEqual(os.readlink('/proc/%d/ns/net' % kernels[0]), host_ns)
            with self.assertRaises(OSError):
                socket.create_connection(('127.0.0.1', port), timeout=2).close()
            p.stdin.write(b'\n')
            p.stdin.close()
            self.assertEqual(p.wait(timeout=30), 0, p.stderr.read())
        finally:
            kill_group(p.pid)
            p.wait()
            p.stdout.close()
            p.stderr.close()

    def test_bad_network_flag(self):
        m = moat('--network=bridge', '/bin/true')
        self.assertEqual(m.rc, 125, m)
        self.assertIn('--network', m.stderr)

    def test_redis_benchmark(self):
        # Issue 6's run: 100,000 requests per command. With systrap's fast
        # hand-off it took 29-35 s on systrap and 33 s on ptrace (load
        # average 3-6; 5 s natively); under the load of parallel test runs
        # (load average 10-15) it took up to 250 s, hence the generous
        # timeout (and app-net's meson timeout of 600 s).
        server = shutil.which('redis-server')
        bench = shutil.which('redis-benchmark')
        cli = shutil.which('redis-cli')
        if not server or not bench or not cli:
            self.skipTest('redis-server / redis-cli / redis-benchmark not installed')
        script = (
            '%s --port 6399 --bind 127.0.0.1 --save "" --appendonly no --daemonize no '
            '>/dev/null 2>&1 &\n'
            'pid=$!\n'
            'for i in $(seq 100); do %s -p 6399 ping >/dev/null 2>&1 && break; '
            'sleep 0.1; done\n'
            '%s -p 6399 -q -n 100000 -t set,get\n'
            'kill $pid\n'
            'wait $pid\n'
            'true\n' % (server, cli, bench))
        m = moat('/bin/sh', '-c', script, timeout=450)
        self.assertRan(m)
        out = m.stdout.replace('\r', '\n')
        self.assertRegex(out, r'SET: [0-9.]+ requests per second', m.stderr)
        self.assertRegex(out, r'GET: [0-9.]+ requests per second', m.stderr)


NGINX_CONF = '''daemon off;
worker_processes 2;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  sendfile on;
  default_type application/octet-stream;
  server {{ listen 127.0.0.1:{port}; root {tmp}/www; }}
}}
'''


class Nginx(MoatTestCase):
    def test_nginx_host_network(self):
        nginx = '/usr/sbin/nginx'
        curl = shutil.which('curl')
        wrk = shutil.which('wrk')
        if not os.path.exists(nginx) or not curl or not wrk:
            self.skipTest('nginx, curl or wrk not installed (tools/deps-debian.sh)')
        # nginx's workers run as nobody: they must be able to read the files.
        os.chmod(self.tmp, 0o755)
        www = os.path.join(self.tmp, 'www')
        os.mkdir(www, 0o755)
        body = os.urandom(1 << 20)
        with open(os.path.join(www, 'big.bin'), 'wb') as f:
            f.write(body)
        with open(os.path.join(www, 'small.txt'), 'w') as f:
            f.write('hello\n')
        port = free_port()
        conf = os.path.join(self.tmp, 'nginx.conf')
        with open(conf, 'w') as f:
            f.write(NGINX_CONF.format(tmp=self.tmp, port=port))
        srv = subprocess.Popen([MOAT_BIN(), 'do', '--network=host', '--', nginx, '-p', self.tmp,
                                '-c', conf, '-e', os.path.join(self.tmp, 'error.log')],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
        try:
            deadline = time.time() + 30
            while time.time() < deadline:
                try:
                    socket.create_connection(('127.0.0.1', port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            got = os.path.join(self.tmp, 'got.bin')
            c = run([curl, '-sS', '--max-time', '30', '-o', got, '-w', '%{http_code}',
                     'http://127.0.0.1:%d/big.bin' % port], timeout=60)
            self.assertEqual(c.rc, 0, c)
            self.assertEqual(c.stdout, '200', c)
            with open(got, 'rb') as f:
                self.assertEqual(hashlib.sha256(f.read()).hexdigest(),
                                 hashlib.sha256(body).hexdigest(), '1 MiB body differs')
            w = run([wrk, '-t2', '-c16', '-d2s', 'http://127.0.0.1:%d/small.txt' % port],
                    timeout=60)
            self.assertEqual(w.rc, 0, w)
            m = re.search(r'Requests/sec:\s+([0-9.]+)', w.stdout)
            self.assertIsNotNone(m, w)
            self.assertGreater(float(m.group(1)), 0)
            self.assertNotIn('Non-2xx', w.stdout, w)
            self.assertNotIn('Socket errors', w.stdout, w)
            # SIGTERM reaches nginx (the sandbox's init): it exits, and so does moat.
            os.kill(srv.pid, signal.SIGTERM)
            srv.wait(timeout=30)
            self.assertIn(srv.returncode, (0, 128 + signal.SIGTERM, -signal.SIGTERM))
        finally:
            kill_group(srv.pid)
            srv.wait()


if __name__ == '__main__':
    main()
