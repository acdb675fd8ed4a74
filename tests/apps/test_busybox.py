#!/usr/bin/env python3
"""busybox under `moat do`: output, exit codes, PID 1, the writable overlay.

    test_busybox.py MOAT
"""

import hashlib
import os
import uuid

import moattest
from moattest import BUSYBOX, moat, native


class Basics(moattest.MoatTestCase):
    def test_echo(self):
        self.assertRan(moat(BUSYBOX, 'echo', 'hi'), 0, 'hi\n')

    def test_echo_after_double_dash(self):
        self.assertRan(moat('--', BUSYBOX, 'echo', 'hi'), 0, 'hi\n')

    def test_exit_status(self):
        self.assertRan(moat(BUSYBOX, 'sh', '-c', 'exit 3'), 3, '')

    def test_exit_status_range(self):
        for code in (0, 1, 42, 125, 255):
            with self.subTest(code=code):
                self.assertRan(moat(BUSYBOX, 'sh', '-c', 'exit %d' % code), code, '')

    def test_false(self):
        self.assertRan(moat(BUSYBOX, 'false'), 1, '')

    def test_pid_is_1(self):
        self.assertRan(moat(BUSYBOX, 'sh', '-c', 'echo $$'), 0, '1\n')

    def test_args_are_passed_verbatim(self):
        args = ['a b', '', '*', '$HOME', 'ünï', '-n', "'q'"]
        r = moat(BUSYBOX, 'sh', '-c', 'for a in "$@"; do echo "[$a]"; done', 'sh', *args)
        self.assertRan(r, 0, ''.join('[%s]\n' % a for a in args))

    def test_stdin_is_inherited(self):
        self.assertRan(moat(BUSYBOX, 'cat', stdin=b'from stdin\n'), 0, 'from stdin\n')

    def test_stderr_is_inherited(self):
        r = moat(BUSYBOX, 'sh', '-c', 'echo to-err >&2; echo to-out')
        self.assertRan(r, 0, 'to-out\n')
        self.assertEqual(r.stderr, 'to-err\n')


class Overlay(moattest.MoatTestCase):
    """The root is the host's / read-only with an in-memory writable layer."""

    def test_write_in_etc_stays_inside(self):
        name = '/etc/moat-test-%s' % uuid.uuid4().hex
        before = set(os.listdir('/etc'))
        r = moat(BUSYBOX, 'sh', '-c', 'echo x > %s; cat %s' % (name, name))
        self.assertRan(r, 0, 'x\n')
        self.assertFalse(os.path.lexists(name), '%s leaked to the host' % name)
        self.assertEqual(set(os.listdir('/etc')), before, 'the host /etc changed')

    def test_writes_anywhere_stay_inside(self):
        tag = 'moat-test-%s' % uuid.uuid4().hex
        top_before = set(os.listdir('/'))
        script = ('echo a > /{t}-root && mkdir /tmp/{t}-dir && echo b > /tmp/{t}-dir/f && '
                  'mkdir -p /usr/{t}/x/y && cat /{t}-root /tmp/{t}-dir/f && ls /usr/{t}/x').format(t=tag)
        r = moat(BUSYBOX, 'sh', '-c', script)
        self.assertRan(r, 0, 'a\nb\ny\n')
        for p in ('/%s-root' % tag, '/tmp/%s-dir' % tag, '/usr/%s' % tag):
            self.assertFalse(os.path.lexists(p), '%s leaked to the host' % p)
        self.assertEqual(set(os.listdir('/')), top_before, 'the host / changed')
        self.assertEqual({n for n in os.listdir('/tmp') if tag in n}, set(),
                         'files with the tag appeared in the host /tmp')

    def test_host_files_are_visible(self):
        path = os.path.join(self.tmp, 'visible')
        with open(path, 'w') as f:
            f.write('host content\n')
        self.assertRan(moat(BUSYBOX, 'cat', path), 0, 'host content\n')

    def test_modifying_a_host_file_does_not_change_it(self):
        path = os.path.join(self.tmp, 'keep')
        with open(path, 'w') as f:
            f.write('original\n')
        st = os.stat(path)
        r = moat(BUSYBOX, 'sh', '-c',
                 'echo changed > {p}; echo more >> {p}; cat {p}'.format(p=path))
        self.assertRan(r, 0, 'changed\nmore\n')
        with open(path) as f:
            self.assertEqual(f.read(), 'original\n')
        st2 = os.stat(path)
        self.assertEqual((st.st_ino, st.st_size, st.st_mtime_ns), (st2.st_ino, st2.st_size, st2.st_mtime_ns))

    def test_deleting_a_host_file_does_not_delete_it(self):
        path = os.path.join(self.tmp, 'stay')
        with open(path, 'w') as f:
            f.write('here\n')
        r = moat(BUSYBOX, 'sh', '-c', 'rm {p} && test ! -e {p} && echo gone'.format(p=path))
        self.assertRan(r, 0, 'gone\n')
        self.assertTrue(os.path.exists(path), 'the host file was deleted')

    def test_new_files_in_a_host_dir_stay_inside(self):
        r = moat(BUSYBOX, 'sh', '-c', 'echo new > made-inside && cat made-inside', cwd=self.tmp)
        self.assertRan(r, 0, 'new\n')
        self.assertEqual(os.listdir(self.tmp), [], 'the host temp dir got files')

    def test_each_run_starts_clean(self):
        name = '/tmp/moat-test-%s' % uuid.uuid4().hex
        self.assertRan(moat(BUSYBOX, 'sh', '-c', 'echo 1 > %s' % name), 0, '')
        r = moat(BUSYBOX, 'sh', '-c', 'test -e %s && echo still-there || echo clean' % name)
        self.assertRan(r, 0, 'clean\n')


class Tools(moattest.MoatTestCase):
    """busybox tools reading host files give the same output as natively."""

    def setUp(self):
        super().setUp()
        self.data = os.path.join(self.tmp, 'data.bin')
        blob = hashlib.sha256(b'seed').digest() * 4096  # 128 KiB, deterministic
        blob += b'line one\nline two\n\nlast line without newline'
        with open(self.data, 'wb') as f:
            f.write(blob)
        self.blob = blob

    def same_as_native(self, *args, cwd=None):
        n = native(BUSYBOX, *args, cwd=cwd)
        self.assertEqual(n.rc, 0, 'natively: %r' % n)
        m = moat(BUSYBOX, *args, cwd=cwd)
        self.assertRan(m, 0)
        self.assertEqual(m.out, n.out, 'output differs from native')
        return m

    def test_cat_is_byte_exact(self):
        m = self.same_as_native('cat', self.data)
        self.assertEqual(m.out, self.blob)

    def test_sha256sum(self):
        m = self.same_as_native('sha256sum', self.data)
        self.assertEqual(m.stdout.split()[0], hashlib.sha256(self.blob).hexdigest())

    def test_wc(self):
        self.same_as_native('wc', self.data)
        self.same_as_native('wc', '-l', '-c', self.data)

    def test_head_tail_od(self):
        self.same_as_native('head', '-c', '100', self.data)
        self.same_as_native('tail', '-n', '2', self.data)
        self.same_as_native('od', '-A', 'x', '-t', 'x1', '-N', '64', self.data)

    def test_ls_la_of_a_host_dir(self):
        # A dir two levels below /tmp, so that ".." is not /tmp (whose link
        # count changes as other tests run).
        top = os.path.join(self.tmp, 'listing')
        os.mkdir(top)
        os.mkdir(os.path.join(top, 'sub'))
        os.symlink('../data.bin', os.path.join(top, 'link'))
        with open(os.path.join(top, 'file'), 'w') as f:
            f.write('x' * 5000)
        os.chmod(os.path.join(top, 'file'), 0o640)
        self.same_as_native('ls', '-la', top)
        self.same_as_native('ls', '-lan', '--full-time', top)

    def test_ls_la_root(self):
        m = moat(BUSYBOX, 'ls', '-la', '/')
        self.assertRan(m, 0)
        names = {line.split()[-1] if ' -> ' not in line else line.split(' -> ')[0].split()[-1]
                 for line in m.stdout.splitlines()[1:]}
        for want in ('.', '..', 'etc', 'usr', 'tmp'):
            self.assertIn(want, names, m.stdout)
        if os.path.islink('/bin'):
            self.assertIn('bin -> %s' % os.readlink('/bin'), m.stdout)

    def test_find_and_stat(self):
        self.same_as_native('find', self.tmp)
        self.same_as_native('stat', '-c', '%n %s %a %F %h %u %g %Y', self.data)


class Shell(moattest.MoatTestCase):
    """sh builtins, arithmetic and redirections: same output and files as natively."""

    SCRIPT = r'''
set -e
i=0; s=0
while [ $i -lt 10 ]; do i=$((i + 1)); s=$((s + i * i)); done
echo "sum of squares: $s"
echo "arith: $(( (7 * 6) % 5 )) $(( 1 << 10 )) $(( -3 / 2 ))"
f() { local x="$1"; echo "f got $x"; return 4; }
f arg || echo "f returned $?"
case "foo.c" in *.c) echo "case: c file";; *) echo "case: other";; esac
x=abc; echo "${#x} ${x%c} ${x#a} ${y:-default}"
echo one > out.txt
echo two >> out.txt
printf '%s-%d\n' three 3 >> out.txt
read first rest < out.txt; echo "read: $first"
while read line; do echo "line: $line"; done < out.txt
echo err-line 2> err.txt >&2
cat err.txt
{ echo grouped; echo twice; } > grp.txt
mkdir -p d/e && echo deep > d/e/f && cat d/e/f
test -f out.txt && [ -d d ] && echo "tests ok"
set -- a b c; echo "argc $# last ${3}"
unset x; echo "x=${x-unset}"
cd d/e && cat f; cd ../..
cat out.txt grp.txt > all.txt; wc -l < all.txt
exit 7
'''

    PIPES = r'''
echo "subst: $(echo inner | tr a-z A-Z)"
printf 'b\na\nc\n' | sort | head -n 2
seq 1 1000 | wc -l
yes | head -n 3
echo "$(seq 1 5 | tr '\n' ' ')"
'''

    def test_script_matches_native(self):
        ndir = os.path.join(self.tmp, 'native')
        mdir = os.path.join(self.tmp, 'moat')
        os.mkdir(ndir)
        os.mkdir(mdir)
        n = native(BUSYBOX, 'sh', '-c', self.SCRIPT, cwd=ndir)
        self.assertEqual(n.rc, 7, 'natively: %r' % n)
        m = moat(BUSYBOX, 'sh', '-c', self.SCRIPT, cwd=mdir)
        self.assertRan(m, 7, n.stdout)
        self.assertEqual(m.stderr, n.stderr)
        self.assertEqual(os.listdir(mdir), [], 'files made inside reached the host')

    def test_pipelines_match_native(self):
        n = native(BUSYBOX, 'sh', '-c', self.PIPES, cwd=self.tmp)
        self.assertEqual(n.rc, 0, 'natively: %r' % n)
        m = moat(BUSYBOX, 'sh', '-c', self.PIPES, cwd=self.tmp)
        self.assertRan(m, 0, n.stdout)

    def test_redirection_into_file_then_read(self):
        r = moat(BUSYBOX, 'sh', '-c',
                 'cd /tmp && echo hello > r.txt && echo world >> r.txt && cat r.txt && wc -c < r.txt')
        self.assertRan(r, 0, 'hello\nworld\n12\n')


if __name__ == '__main__':
    moattest.main()
