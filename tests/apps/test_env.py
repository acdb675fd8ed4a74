#!/usr/bin/env python3
"""The app inherits the caller's cwd, environment and $PATH lookup.

    test_env.py MOAT
"""

import os

import moattest
from moattest import BUSYBOX, moat


class Inherit(moattest.MoatTestCase):
    def test_cwd(self):
        self.assertRan(moat(BUSYBOX, 'pwd', cwd=self.tmp), 0, os.path.realpath(self.tmp) + '\n')

    def test_cwd_is_usable(self):
        with open(os.path.join(self.tmp, 'here.txt'), 'w') as f:
            f.write('relative\n')
        self.assertRan(moat(BUSYBOX, 'cat', 'here.txt', cwd=self.tmp), 0, 'relative\n')

    def test_cwd_root(self):
        self.assertRan(moat(BUSYBOX, 'pwd', cwd='/'), 0, '/\n')

    def test_env_var(self):
        env = dict(os.environ, FOO='bar')
        self.assertRan(moat(BUSYBOX, 'sh', '-c', 'echo $FOO', env=env), 0, 'bar\n')

    def test_env_is_exactly_the_callers(self):
        env = {'PATH': '/usr/bin:/bin', 'A': '1', 'WITH_SPACE': 'x y', 'EMPTY': '', 'EQ': 'a=b'}
        r = moat(BUSYBOX, 'env', env=env)
        self.assertRan(r, 0)
        self.assertEqual(sorted(r.stdout.splitlines()), sorted('%s=%s' % kv for kv in env.items()))

    def test_empty_env(self):
        self.assertRan(moat(BUSYBOX, 'env', env={}), 0, '')

    def test_path_lookup(self):
        env = dict(os.environ, PATH='/nonexistent-dir:/usr/bin:/bin')
        self.assertRan(moat('busybox', 'echo', 'ok', env=env), 0, 'ok\n')

    def test_path_lookup_uses_the_callers_path(self):
        bindir = os.path.join(self.tmp, 'bin')
        os.mkdir(bindir)
        tool = os.path.join(bindir, 'my-tool')
        with open(tool, 'w') as f:
            f.write('#!/bin/busybox sh\necho "found via PATH as $0"\n')
        os.chmod(tool, 0o755)
        env = dict(os.environ, PATH='/nonexistent-dir:' + bindir + ':/usr/bin:/bin')
        self.assertRan(moat('my-tool', env=env), 0, 'found via PATH as %s\n' % tool)

    def test_relative_command(self):
        os.symlink(BUSYBOX, os.path.join(self.tmp, 'echo'))
        self.assertRan(moat('./echo', 'rel', cwd=self.tmp), 0, 'rel\n')

    def test_script_with_shebang(self):
        script = os.path.join(self.tmp, 'script.sh')
        with open(script, 'w') as f:
            f.write('#!/bin/busybox sh\necho "script $1 $#"\nexit 5\n')
        os.chmod(script, 0o755)
        self.assertRan(moat(script, 'arg'), 5, 'script arg 1\n')


if __name__ == '__main__':
    moattest.main()
