#!/usr/bin/env python3
"""Bad input and dying apps: moat answers like a shell, in one line, and never crashes.

    test_errors.py MOAT FAULT

Exit codes follow bash (checked on this host): a command that is not found
is 127 ("command not found" / "No such file or directory"), and so is a
script whose #! interpreter is missing (execve gives ENOENT); a file that is
found but cannot be executed (a directory, no x bit, an ELF for another
machine, a non-ELF binary) is 126. A text file without "#!" is also 126 here:
execve(2) fails with ENOEXEC and moat, like runc and crun, does not retry it
with /bin/sh as bash and execvp(3) do. An app killed by signal N makes moat
exit with 128+N.
"""

import os
import struct
import subprocess
import time
import uuid

import moattest
from moattest import BUSYBOX, moat


def aarch64_elf_header():
    """A 64-byte ELF64 header for EM_AARCH64 (183), ET_EXEC, no program headers."""
    ident = b'\x7fELF' + bytes([2, 1, 1, 0]) + bytes(8)
    return ident + struct.pack('<HHIQQQIHHHHHH', 2, 183, 1, 0x400000, 64, 0, 0, 64, 56, 0, 64, 0, 0)


class BadInput(moattest.MoatTestCase):
    def assertOneLineError(self, r, rc, *mentions):
        self.assertNoCrash(r)
        self.assertEqual(r.rc, rc, r)
        self.assertEqual(r.out, b'', r)
        lines = r.stderr.strip('\n').split('\n')
        self.assertEqual(len(lines), 1, 'want one line on stderr: %r' % r)
        self.assertTrue(lines[0].strip(), r)
        for m in mentions:
            self.assertIn(m, lines[0])

    def make(self, name, data, mode=0o755):
        path = os.path.join(self.tmp, name)
        with open(path, 'wb') as f:
            f.write(data)
        os.chmod(path, mode)
        return path

    def test_missing_absolute_command(self):
        path = '/nonexistent-%s/cmd' % uuid.uuid4().hex
        self.assertOneLineError(moat(path), 127, path)

    def test_missing_command_in_path(self):
        name = 'no-such-command-%s' % uuid.uuid4().hex
        self.assertOneLineError(moat(name), 127, name)

    def test_missing_relative_command(self):
        self.assertOneLineError(moat('./nothing-here', cwd=self.tmp), 127, 'nothing-here')

    def test_no_command_at_all(self):
        r = moat()
        self.assertNoCrash(r)
        self.assertNotEqual(r.rc, 0, r)
        self.assertEqual(len(r.stderr.strip('\n').split('\n')), 1, r)

    def test_text_file_without_shebang(self):
        path = self.make('text-no-shebang', b'echo should not run\nexit 5\n')
        self.assertOneLineError(moat(path), 126, 'text-no-shebang')

    def test_binary_non_elf(self):
        path = self.make('garbage.bin', b'garbage\0\0\0\x01\x02\x03' * 8)
        self.assertOneLineError(moat(path), 126, 'garbage.bin')

    def test_directory(self):
        self.assertOneLineError(moat(self.tmp), 126, os.path.basename(self.tmp))

    def test_directory_in_path(self):
        os.mkdir(os.path.join(self.tmp, 'dircmd'))
        env = dict(os.environ, PATH=self.tmp + ':/usr/bin:/bin')
        r = moat('dircmd', env=env)
        # bash: a directory found in $PATH is skipped, so "command not found".
        self.assertOneLineError(r, 127, 'dircmd')

    def test_not_executable(self):
        path = self.make('no-x-bit', b'#!/bin/busybox sh\necho hi\n', mode=0o644)
        self.assertOneLineError(moat(path), 126, 'no-x-bit')

    def test_elf_for_another_machine(self):
        path = self.make('aarch64.elf', aarch64_elf_header())
        self.assertOneLineError(moat(path), 126, 'aarch64.elf')

    def test_truncated_elf(self):
        path = self.make('truncated.elf', aarch64_elf_header()[:20])
        self.assertOneLineError(moat(path), 126, 'truncated.elf')

    def test_shebang_to_missing_interpreter(self):
        path = self.make('bad-interp', b'#!/nonexistent/interpreter\necho hi\n')
        r = moat(path)
        # bash 5.2: "cannot execute: required file not found", 127 (execve gives ENOENT).
        self.assertOneLineError(r, 127, 'bad-interp')

    def test_sandbox_keeps_working_after_errors(self):
        self.make('garbage.bin', b'\0\1\2\3' * 16)
        moat(os.path.join(self.tmp, 'garbage.bin'))
        self.assertRan(moat(BUSYBOX, 'echo', 'fine'), 0, 'fine\n')


class Signals(moattest.MoatTestCase):
    """An app killed by a signal: moat exits 128+signal, without crashing itself.

    The app is PID 1, and like a namespace's init on Linux it ignores signals
    it has no handler for when they come from inside (kill -9 $$ does nothing)
    but still dies of a fault. Signals that must kill are therefore sent to
    a child, whose status the shell reports.
    """

    def fault(self, mode, sig):
        fault = moattest.EXTRA[0]
        n = moattest.native(fault, mode)
        self.assertEqual(n.rc, -sig, 'natively: %r' % n)
        r = moat(fault, mode, cwd=self.tmp)
        self.assertNoCrash(r)
        self.assertEqual(r.rc, 128 + sig, r)

    def test_access_after_munmap(self):
        self.fault('unmapped', 11)

    def test_null_write(self):
        self.fault('null', 11)

    def test_write_to_readonly_page(self):
        self.fault('readonly', 11)

    def test_no_fault(self):
        self.assertRan(moat(moattest.EXTRA[0], 'none'), 0, '')

    def test_child_status(self):
        fault = moattest.EXTRA[0]
        script = ('%s unmapped; echo "segv $?"; %s abort; echo "abrt $?"; '
                  'sh -c \'kill -9 $$\'; echo "kill $?"; exit 9') % (fault, fault)
        r = moat(BUSYBOX, 'sh', '-c', script, cwd=self.tmp)
        self.assertRan(r, 9, 'segv 139\nabrt 134\nkill 137\n')

    def test_pid1_ignores_its_own_sigkill(self):
        script = 'kill -9 $$; echo survived'
        n = moattest.native('unshare', '-pf', '--kill-child', BUSYBOX, 'sh', '-c', script)
        self.assertEqual((n.rc, n.stdout), (0, 'survived\n'), 'natively, as PID 1: %r' % n)
        self.assertRan(moat(BUSYBOX, 'sh', '-c', script), 0, 'survived\n')


class ExitCode(moattest.MoatTestCase):
    """The CLI exits with the code of the sandbox's first process. When that
    was the last process, the kernel says so at once and the CLI exits
    without waiting for the host to free the sandbox; the kernel dies with
    the CLI all the same (PR_SET_PDEATHSIG)."""

    def kernel_of(self, cli):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for pid in moattest.descendants(cli):
                st = moattest.proc_status(pid)
                if st and st.get('Name') == 'moat-kernel':
                    return pid, moattest.start_time(pid)
            time.sleep(0.02)
        self.fail('no moat-kernel under the CLI %d' % cli)

    def test_last_process_exit_code_and_teardown(self):
        p = subprocess.Popen([moattest.MOAT, 'do', BUSYBOX, 'sh', '-c', 'read x; exit 7'],
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            kernel, started = self.kernel_of(p.pid)
            p.stdin.write(b'go\n')
            p.stdin.close()
            self.assertEqual(p.wait(timeout=moattest.TIMEOUT), 7)
            deadline = time.monotonic() + 10
            while moattest.alive(kernel, started) and time.monotonic() < deadline:
                time.sleep(0.02)
            self.assertFalse(moattest.alive(kernel, started), 'the kernel outlived the CLI')
        finally:
            moattest.kill_group(p.pid)
            p.wait()

    def test_exit_code_with_processes_left(self):
        # The first process exits while another still runs: the kernel ends
        # the other and the CLI waits for the kernel, as before.
        r = moat(BUSYBOX, 'sh', '-c', 'sleep 30 & echo started; exit 5')
        self.assertRan(r, 5, 'started\n')

    def test_low_open_file_limit(self):
        # Under RLIMIT_NOFILE 60 the stubs' start-up moved their fds to 64
        # and failed ("the stub did not start").
        r = moattest.run(['sh', '-c', 'ulimit -n 60 && exec "$0" do "$1" echo fine',
                          moattest.MOAT, BUSYBOX])
        self.assertRan(r, 0, 'fine\n')

    def test_signal_of_last_process(self):
        r = moat(moattest.EXTRA[0], 'null', cwd=self.tmp)
        self.assertNoCrash(r)
        self.assertEqual(r.rc, 128 + 11, r)


class HostFdLimit(moattest.MoatTestCase):
    """moat's kernel holds a host fd per app file and per cached rootfs
    inode: under the usual soft RLIMIT_NOFILE of 1024 a walk of /usr/lib
    failed with EMFILE. The kernel raises its own soft limit to the hard
    one; the app still sees the caller's limits."""

    def test_find_under_soft_1024(self):
        import resource
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        if hard != resource.RLIM_INFINITY and hard < 8192:
            self.skipTest('hard RLIMIT_NOFILE %d: nothing to raise to' % hard)
        tree = '/usr/lib'
        n = moattest.native('find', tree, '-xdev')
        self.assertEqual(n.rc, 0, n)
        script = 'ulimit -Sn 1024 && exec "$0" do "$1" sh -c "ulimit -Sn; find %s -xdev | wc -l"' % tree
        r = moattest.run(['sh', '-c', script, moattest.MOAT, BUSYBOX])
        self.assertRan(r, 0, '1024\n%d\n' % n.stdout.count('\n'))


if __name__ == '__main__':
    moattest.main()
