#!/usr/bin/env python3
"""A Docker-default-like seccomp profile applied inside moat: a filter
generated from a JSON list of blocked syscalls (EPERM) is installed by the
app itself (seccomp-exec) before it runs busybox sh; the blocked calls fail
with EPERM, everything else works, and the outputs match a native run.

Usage: python3 test_seccomp_profile.py MOAT SECCOMP_EXEC"""
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


if __name__ == '__main__':
    MOAT = os.path.abspath(sys.argv[1])
    HELPER = os.path.abspath(sys.argv[2])
    unittest.main(argv=[sys.argv[0], '-v'])
