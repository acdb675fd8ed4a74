#!/usr/bin/env python3
"""Run one syscall probe natively and under moat, and compare.

    run_probe.py MOAT PROBE [--host-state] [--native-only]

The probe runs natively first (with --host-state inside
`unshare -muinpf --mount-proc`, so it is PID 1 of fresh namespaces and
nothing it does reaches the host), then as `MOAT do -- PROBE`. Each run has
a 30 s timeout; a hang is a failure. The test passes only if both runs exit
0, every test line of both is `ok`, and the two stdouts are equal line by
line (a unified diff is printed otherwise). With --native-only, MOAT is not
used: the test proves the probe itself is right on this host.

A failed attempt runs once more when the host's realtime clock was set
while it ran (realtime minus monotonic moved): timer probes then fail
natively as well (ECANCELED, early expiries), and that is the host's doing.
"""

import argparse
import difflib
import os
import signal
import subprocess
import sys
import time

TIMEOUT = int(os.environ.get("MOAT_PROBE_TIMEOUT", "30"))


def run(argv):
    """Runs argv in its own process group; returns (exit code or None on timeout, stdout, stderr)."""
    try:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True)
    except OSError as e:
        return 127, '', '%s: %s\n' % (argv[0], e)
    try:
        out, err = p.communicate(timeout=TIMEOUT)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = p.communicate()
        rc = None
    return rc, out.decode(errors='replace'), err.decode(errors='replace')


def describe(rc):
    if rc is None:
        return 'timed out after %d s' % TIMEOUT
    if rc < 0:
        return 'killed by signal %d' % -rc
    if rc == 99:
        return 'exit 99 (tap.h could not write to stdout)'
    return 'exit %d' % rc


def check(label, rc, out, err, show_out=True):
    """Prints what went wrong with one run; returns True if it is clean."""
    lines = out.splitlines()
    bad = [l for l in lines if l.startswith('not ok') or l.startswith('Bail out!')]
    plan = any(l.startswith('1..') for l in lines)
    ok = rc == 0 and not bad and plan
    status = 'ok' if ok else 'FAILED'
    print('%s: %s, %d lines, %s' % (label, describe(rc), len(lines), status))
    if not ok:
        if not plan:
            print('%s: no plan line (the probe stopped early)' % label)
        for l in bad:
            print('%s: %s' % (label, l))
        if show_out and out and (bad or not plan):
            print('--- %s stdout ---' % label)
            sys.stdout.write(out if out.endswith('\n') else out + '\n')
    if err:
        print('--- %s stderr ---' % label)
        sys.stdout.write(err if err.endswith('\n') else err + '\n')
    return ok


def clock_offset():
    """CLOCK_REALTIME minus CLOCK_MONOTONIC: it moves only when the
    realtime clock is set (or slewed, by microseconds)."""
    return time.clock_gettime(time.CLOCK_REALTIME) - time.clock_gettime(time.CLOCK_MONOTONIC)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('moat')
    ap.add_argument('probe')
    ap.add_argument('--host-state', action='store_true',
                    help='run natively inside unshare -muinpf --mount-proc')
    ap.add_argument('--native-only', action='store_true',
                    help='run the probe natively only (MOAT is ignored)')
    args = ap.parse_args()
    before = clock_offset()
    rc = attempt(args)
    step = clock_offset() - before
    if rc != 0 and abs(step) > 0.002:
        print('the host\'s realtime clock was set during the run (by %+.3f s): once more' % step)
        rc = attempt(args)
    return rc


def attempt(args):
    """Runs the probe natively (and in moat); 0 if all is well."""
    probe = os.path.abspath(args.probe)
    native_argv = [probe]
    if args.host_state:
        native_argv = ['unshare', '-muinpf', '--kill-child', '--mount-proc', probe]

    n_rc, n_out, n_err = run(native_argv)
    native_ok = check('native', n_rc, n_out, n_err)
    if args.native_only:
        return 0 if native_ok else 1

    moat = os.path.abspath(args.moat)
    if not os.access(moat, os.X_OK):
        print('moat: %s does not exist or is not executable' % moat)
        return 1
    m_rc, m_out, m_err = run([moat, 'do', '--', probe])
    moat_ok = check('moat', m_rc, m_out, m_err, show_out=False)  # the diff shows it

    same = n_out.splitlines() == m_out.splitlines()
    if not same:
        print('--- stdout differs (native vs moat) ---')
        sys.stdout.writelines(difflib.unified_diff(
            n_out.splitlines(keepends=True), m_out.splitlines(keepends=True),
            'native', 'moat'))
        if n_out and not n_out.endswith('\n') or m_out and not m_out.endswith('\n'):
            print()
    if native_ok and moat_ok and same:
        print('PASS: native and moat agree')
        return 0
    if not native_ok:
        print('FAIL: the probe fails natively (fix the probe first)')
    else:
        print('FAIL: moat differs from native')
    return 1


if __name__ == '__main__':
    sys.exit(main())
