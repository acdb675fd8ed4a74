#!/usr/bin/env python3
"""A Docker-default-like seccomp profile applied inside moat: a filter
generated from a JSON list of blocked syscalls (EPERM) is installed by the
app itself (seccomp-exec) before it runs busybox sh; the blocked calls fail
with EPERM, everything else works, and the outputs match a native run.

The OCI half (OciSeccomp): a bundle whose config.json carries a profile
shaped like Docker's default (defaultAction SCMP_ACT_ERRNO, an allow list,
personality and clone allowed only for some arguments, x86-64/x86/x32)
plus rules with every argument operator; moat's kernel installs the
compiled filter on the container's process (and on `moat exec`'d ones);
the probe's results must equal a native run under the very program moat
compiled (`moat debug seccomp-profile`, installed by seccomp-exec), and
runc's when runc can run the bundle here.

Usage: python3 test_seccomp_profile.py MOAT SECCOMP_EXEC SECCOMP_OCI_PROBE"""
import ctypes
import errno
import re
import time
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

MOAT = None
HELPER = None
BUSYBOX = '/bin/busybox'

# The OCI/Docker profile format, reduced to what this test needs.
PROFILE = json.loads('''
{
  "defaultAction": "SCMP_ACT_ALLOW",
  "architectures": ["SCMP_ARCH_X86_64"],
  "syscalls": [
    {"names": ["mount", "umount2", "keyctl", "add_key", "ptrace", "unshare",
               "pivot_root", "kexec_load", "init_module", "bpf"],
     "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
  ]
}
''')

# x86-64 numbers of the names above (the ABI never renumbers).
NR = {'mount': 165, 'umount2': 166, 'keyctl': 250, 'add_key': 248, 'ptrace': 101,
      'unshare': 272, 'pivot_root': 155, 'kexec_load': 246, 'init_module': 175, 'bpf': 321}

BPF_LD_W_ABS, BPF_JEQ_K, BPF_RET_K = 0x20, 0x15, 0x06
RET_KILL_PROCESS, RET_ERRNO, RET_ALLOW = 0x80000000, 0x00050000, 0x7fff0000
AUDIT_ARCH_X86_64 = 0xc000003e


def insn(code, jt, jf, k):
    return struct.pack('<HBBI', code, jt, jf, k)


def compile_profile(profile):
    """The profile as a classic-BPF program: arch check, then one compare
    per blocked syscall, then the default action."""
    assert profile['defaultAction'] == 'SCMP_ACT_ALLOW'
    prog = [insn(BPF_LD_W_ABS, 0, 0, 4), insn(BPF_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
            insn(BPF_RET_K, 0, 0, RET_KILL_PROCESS), insn(BPF_LD_W_ABS, 0, 0, 0)]
    for rule in profile['syscalls']:
        assert rule['action'] == 'SCMP_ACT_ERRNO'
        for name in rule['names']:
            prog.append(insn(BPF_JEQ_K, 0, 1, NR[name]))
            prog.append(insn(BPF_RET_K, 0, 0, RET_ERRNO | rule['errnoRet']))
    prog.append(insn(BPF_RET_K, 0, 0, RET_ALLOW))
    return b''.join(prog)


SCRIPT = r'''
echo start
grep '^Seccomp:' /proc/self/status
grep '^NoNewPrivs:' /proc/self/status
mkdir -p /tmp/seccomp-profile-mnt
mount -t tmpfs none /tmp/seccomp-profile-mnt 2>&1; echo "mount rc=$?"
umount /tmp 2>&1; echo "umount rc=$?"
unshare -m true 2>&1; echo "unshare rc=$?"
echo hello | tr a-z A-Z
ls /proc/self/fd >/dev/null && echo ls-ok
'''


class SeccompProfile(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='moat-seccomp-profile-')
        self.prog = os.path.join(self.dir, 'profile.bpf')
        with open(self.prog, 'wb') as f:
            f.write(compile_profile(PROFILE))

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_sh(self, prefix):
        argv = prefix + [HELPER, self.prog, BUSYBOX, 'sh', '-c', SCRIPT]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)

    def test_profile(self):
        if not os.path.exists(BUSYBOX):
            self.skipTest('no ' + BUSYBOX)
        native = self.run_sh([])
        inside = self.run_sh([MOAT, 'do', '--'])
        self.assertEqual(native.returncode, 0, native.stderr)
        self.assertIn('mount rc=', native.stdout)
        self.assertIn('Seccomp:\t2', inside.stdout)
        self.assertIn('HELLO', inside.stdout)
        self.assertIn('ls-ok', inside.stdout)
        self.assertNotIn('mount rc=0', inside.stdout)
        self.assertNotIn('unshare rc=0', inside.stdout)
        self.assertEqual(inside.stdout, native.stdout, 'moat stderr: ' + inside.stderr)
        self.assertEqual(inside.returncode, 0, inside.stderr)


NAMES_H = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'src', 'abi',
                       'linux', 'syscall_names.h')
# Refused as Docker's default profile refuses them without extra
# capabilities (the default action: EPERM).
BLOCKED = {'acct', 'add_key', 'bpf', 'clock_adjtime', 'clock_settime', 'create_module',
           'delete_module', 'finit_module', 'get_kernel_syms', 'get_mempolicy', 'init_module',
           'ioperm', 'iopl', 'kcmp', 'kexec_file_load', 'kexec_load', 'keyctl',
           'lookup_dcookie', 'mbind', 'mount', 'move_pages', 'name_to_handle_at',
           'nfsservctl', 'open_by_handle_at', 'perf_event_open', 'pivot_root',
           'process_vm_readv', 'process_vm_writev', 'ptrace', 'query_module', 'quotactl',
           'reboot', 'request_key', 'set_mempolicy', 'setns', 'settimeofday', 'swapon',
           'swapoff', 'sysfs', '_sysctl', 'umount2', 'unshare', 'uselib', 'userfaultfd',
           'ustat', 'vhangup', 'io_uring_setup', 'io_uring_enter', 'io_uring_register',
           'fsopen', 'fsmount', 'fsconfig', 'fspick', 'move_mount', 'open_tree'}
CONDITIONAL = {'personality', 'clone', 'clone3', 'lseek'}
NS_FLAGS = 0x7E020000  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET


def syscall_names():
    with open(NAMES_H) as f:
        return re.findall(r'\[\d+\] = "(\w+)"', f.read())


def docker_like_profile():
    allow = sorted(set(syscall_names()) - BLOCKED - CONDITIONAL)
    rules = [{'names': allow, 'action': 'SCMP_ACT_ALLOW'}]
    for v in (0x0, 0x8, 0x20000, 0x20008, 0xffffffff):
        rules.append({'names': ['personality'], 'action': 'SCMP_ACT_ALLOW',
                      'args': [{'index': 0, 'value': v, 'op': 'SCMP_CMP_EQ'}]})
    rules.append({'names': ['clone'], 'action': 'SCMP_ACT_ALLOW',
                  'args': [{'index': 0, 'value': NS_FLAGS, 'valueTwo': 0,
                            'op': 'SCMP_CMP_MASKED_EQ'}]})
    rules.append({'names': ['clone3'], 'action': 'SCMP_ACT_ERRNO', 'errnoRet': 38})
    # lseek(-1, OFFSET, WHENCE): one rule per operator, selected by WHENCE.
    hi = 0x100000000
    for w, op, err in ((100, 'SCMP_CMP_GT', 40), (101, 'SCMP_CMP_GE', 41),
                       (102, 'SCMP_CMP_LT', 42), (103, 'SCMP_CMP_LE', 43),
                       (104, 'SCMP_CMP_NE', 44), (105, 'SCMP_CMP_EQ', 46)):
        rules.append({'names': ['lseek'], 'action': 'SCMP_ACT_ERRNO', 'errnoRet': err,
                      'args': [{'index': 2, 'value': w, 'op': 'SCMP_CMP_EQ'},
                               {'index': 1, 'value': hi, 'op': op}]})
    rules.append({'names': ['lseek'], 'action': 'SCMP_ACT_ERRNO', 'errnoRet': 45,
                  'args': [{'index': 2, 'value': 0xff00, 'valueTwo': 0x500,
                            'op': 'SCMP_CMP_MASKED_EQ'}]})
    rules.append({'names': ['lseek', 'no_such_syscall'], 'action': 'SCMP_ACT_ALLOW'})
    return {'defaultAction': 'SCMP_ACT_ERRNO', 'defaultErrnoRet': 1,
            'architectures': ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
            'syscalls': rules}


class OciSeccomp(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='moat-oci-seccomp-')
        self.root = os.path.join(self.tmp, 'state')
        self.bundle = os.path.join(self.tmp, 'bundle')
        rootfs = os.path.join(self.bundle, 'rootfs')
        os.makedirs(os.path.join(rootfs, 'bin'))
        os.makedirs(os.path.join(rootfs, 'tmp'))
        shutil.copy(PROBE, os.path.join(rootfs, 'probe'))
        shutil.copy(BUSYBOX, os.path.join(rootfs, 'bin', 'busybox'))
        os.symlink('busybox', os.path.join(rootfs, 'bin', 'sleep'))
        self.ids = []
        self.addCleanup(self.cleanup)

    def cleanup(self):
        for i in self.ids:
            subprocess.run([MOAT, '--root', self.root, 'delete', '--force', i],
                           capture_output=True, timeout=60)
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write_config(self, args):
        cfg = {'ociVersion': '1.0.2',
               'process': {'terminal': False, 'user': {'uid': 0, 'gid': 0}, 'args': args,
                           'env': ['PATH=/bin'], 'cwd': '/'},
               'root': {'path': 'rootfs'},
               'linux': {'namespaces': [{'type': 'pid'}, {'type': 'mount'}],
                         'seccomp': docker_like_profile()}}
        path = os.path.join(self.bundle, 'config.json')
        with open(path, 'w') as f:
            json.dump(cfg, f)
        return path

    def moat(self, *args):
        return subprocess.run([MOAT, '--root', self.root, *args], capture_output=True,
                              text=True, timeout=60)

    def run_container(self, cid, args):
        self.write_config(args)
        self.ids.append(cid)
        out = os.path.join(self.tmp, cid + '.out')
        with open(out, 'w+') as f:
            r = subprocess.run([MOAT, '--root', self.root, 'create', '--bundle', self.bundle,
                                cid], stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                               timeout=60)
            f.seek(0)
            self.assertEqual(r.returncode, 0, f.read())
        self.assertEqual(self.moat('start', cid).returncode, 0)
        return out

    def wait_stopped(self, cid):
        end = time.time() + 60
        while time.time() < end:
            st = json.loads(self.moat('state', cid).stdout)
            if st['status'] == 'stopped':
                return
            time.sleep(0.05)
        self.fail(cid + ' did not stop')

    def native(self, config):
        prog = os.path.join(self.tmp, 'profile.bpf')
        with open(prog, 'wb') as f:
            r = subprocess.run([MOAT, 'debug', 'seccomp-profile', config], stdout=f,
                               stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run([HELPER, prog, PROBE], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def check_expected(self, out):
        lines = dict(l.split(' ', 1) for l in out.strip().splitlines())
        for k in ('unshare-mnt', 'unshare-user', 'keyctl', 'add_key', 'mount', 'bpf',
                  'perf_event_open', 'ptrace', 'personality-other', 'clone-newuser'):
            self.assertEqual(lines[k], 'EPERM', k)
        for k in ('getpid', 'personality-query', 'socket-inet', 'getppid'):
            self.assertEqual(lines[k], 'ok', k)
        E = errno.errorcode
        hi = 0x100000000
        for w, err, match in ((100, 40, lambda o: o > hi), (101, 41, lambda o: o >= hi),
                              (102, 42, lambda o: o < hi), (103, 43, lambda o: o <= hi),
                              (104, 44, lambda o: o != hi), (105, 46, lambda o: o == hi)):
            for off in (0, 5, 0xffffffff, hi, hi + 1, 2 * hi):
                want = E.get(err, '?') if match(off) else 'EBADF'
                lab = 'lseek-%d-%s' % (w, ('%#x' % off) if off else '0')
                self.assertEqual(lines[lab], want, (w, off))
        self.assertEqual(lines['lseek-masked-0x5ab'], E[45])
        self.assertEqual(lines['lseek-masked-hi'], E[45])
        self.assertEqual(lines['lseek-masked-0x4ab'], 'EBADF')

    def test_profile_in_container_and_exec(self):
        out = self.run_container('c1', ['/probe'])
        self.wait_stopped('c1')
        with open(out) as f:
            inside = f.read()
        native = self.native(os.path.join(self.bundle, 'config.json'))
        self.assertEqual(inside, native)
        self.check_expected(inside)
        # exec'd processes get the profile too.
        self.run_container('c2', ['/bin/sleep', '30'])
        r = self.moat('exec', 'c2', '/probe')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, native)

    def test_runc_agrees(self):
        runc = shutil.which('runc')
        if not runc:
            self.skipTest('no runc')
        self.write_config(['/probe'])
        r = subprocess.run([runc, '--root', os.path.join(self.tmp, 'runc'), 'run', '--bundle',
                            self.bundle, 'moat-seccomp-%d' % os.getpid()],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        if r.returncode != 0 or 'getpid' not in r.stdout:
            self.skipTest('runc cannot run containers here: ' + r.stderr[-300:])
        out = self.run_container('c3', ['/probe'])
        self.wait_stopped('c3')
        with open(out) as f:
            self.assertEqual(f.read(), r.stdout)

    def test_bad_profiles(self):
        for sc, field in [({'defaultAction': 'SCMP_ACT_NOPE'}, 'linux.seccomp.defaultAction'),
                          ({'defaultAction': 'SCMP_ACT_ALLOW',
                            'syscalls': [{'names': ['read'], 'action': 'SCMP_ACT_NOTIFY'}]},
                           'linux.seccomp.syscalls[0].action'),
                          ({'defaultAction': 'SCMP_ACT_ALLOW',
                            'syscalls': [{'names': ['read'], 'action': 'SCMP_ACT_ERRNO',
                                          'args': [{'index': 9, 'value': 1,
                                                    'op': 'SCMP_CMP_EQ'}]}]},
                           'linux.seccomp.syscalls[0].args[0].index')]:
            cfg = {'ociVersion': '1.0.2', 'process': {'args': ['/probe'], 'cwd': '/'},
                   'root': {'path': 'rootfs'}, 'linux': {'seccomp': sc}}
            with open(os.path.join(self.bundle, 'config.json'), 'w') as f:
                json.dump(cfg, f)
            r = subprocess.run([MOAT, '--root', self.root, 'create', '--bundle', self.bundle,
                                'bad'], stdin=subprocess.DEVNULL, capture_output=True,
                               text=True, timeout=60)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(field, r.stderr)


if __name__ == '__main__':
    MOAT = os.path.abspath(sys.argv[1])
    HELPER = os.path.abspath(sys.argv[2])
    PROBE = os.path.abspath(sys.argv[3])
    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    unittest.main(argv=[sys.argv[0], '-v'])
