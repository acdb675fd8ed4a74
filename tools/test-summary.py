#!/usr/bin/env python3
"""Print per-suite test counts from Meson test logs, and the closing line.

    tools/test-summary.py [TESTLOG.json ...]     (default: build/meson-logs/testlog.json)

Reads each testlog.json (one JSON object per line, written by `meson test`),
prints one line per suite, the names of failed tests with the telling
lines of their output (so a CI log that keeps only its tail still says
why), and LAST the line

    N passed, N failed                 or, when tests were skipped (exit 77),
    N passed, N failed, N skipped

Exit status is 0 iff nothing failed. A log that is missing or unreadable
counts as one failure: its tests did not run. Meson 1.0's log has no suite
field: the suite is read from the logged name ("project:suite / test") or,
when the build has a single suite and logs bare names, from the build dir's
meson-info/intro-tests.json.
Suites of a second log are labelled with its build dir, e.g. "unit (build-asan)",
or with the name in testlog-NAME.json, e.g. "syscalls (systrap)".
"""

import json
import os
import re
import sys

PASSED = {'OK', 'EXPECTEDFAIL'}
# Lines of a failed test's output worth showing: TAP failures, the
# harnesses' problem reports, errors.
TELLING = re.compile(r'not ok|problem|FAIL|[Ee]rror|Traceback|timed out|killed|died|assert')
SHOWN = 12
SKIPPED = {'SKIP'}
# Everything else (FAIL, TIMEOUT, UNEXPECTEDPASS, ERROR, ...) is a failure.


def suites_by_name(log_path):
    """Maps test name -> suite name from intro-tests.json next to the log."""
    build_dir = os.path.dirname(os.path.dirname(os.path.abspath(log_path)))
    intro = os.path.join(build_dir, 'meson-info', 'intro-tests.json')
    try:
        with open(intro) as f:
            tests = json.load(f)
    except (OSError, ValueError):
        return {}
    out = {}
    for t in tests:
        suite = t.get('suite') or ['']
        # 'project:suite' -> 'suite'
        out.setdefault(t['name'], suite[0].split(':', 1)[-1])
    return out


def suite_of(entry, names):
    """The entry's first suite, without the project prefix."""
    suite = entry.get('suite')
    if isinstance(suite, list) and suite:
        return suite[0].split(':', 1)[-1]
    name = entry.get('name', '')
    if ' / ' in name:
        # With several suites, meson logs "project:suite1+suite2 / test".
        prefix = name.split(' / ', 1)[0]
        return prefix.split(':', 1)[-1].split('+')[0] or '(no suite)'
    return names.get(name, '') or '(no suite)'


def telling_lines(entry):
    """Up to SHOWN lines of a failed test's output: those that say what
    failed, else its last lines."""
    out = (entry.get('stdout') or '') + '\n' + (entry.get('stderr') or '')
    lines = [x.rstrip()[:300] for x in out.splitlines() if x.strip()]
    picked = [x for x in lines if TELLING.search(x)]
    return (picked or lines)[-SHOWN:]


def main(argv):
    logs = argv[1:] or ['build/meson-logs/testlog.json']
    counts = {}  # label -> [passed, failed, skipped]
    failed_names = []
    missing = []
    for i, log in enumerate(logs):
        build_dir = os.path.basename(os.path.dirname(os.path.dirname(os.path.abspath(log))))
        base = os.path.basename(log)
        if base.startswith('testlog-') and base.endswith('.json'):
            build_dir = base[len('testlog-'):-len('.json')]  # e.g. testlog-systrap.json
        names = suites_by_name(log)
        try:
            with open(log) as f:
                lines = f.readlines()
        except OSError as e:
            missing.append('%s: %s' % (log, e.strerror))
            continue
        for n, line in enumerate(lines, 1):
            line = line.strip()
            if not line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                missing.append('%s:%d: not JSON' % (log, n))
                continue
            label = suite_of(entry, names)
            if i > 0:
                label = '%s (%s)' % (label, build_dir)
            c = counts.setdefault(label, [0, 0, 0])
            result = entry.get('result', '')
            if result in PASSED:
                c[0] += 1
            elif result in SKIPPED:
                c[2] += 1
            else:
                c[1] += 1
                name = entry.get('name', '?')
                if ' / ' not in name:
                    name = '%s / %s' % (label, name)
                elif i > 0:
                    name += ' (%s)' % build_dir
                failed_names.append('%s: %s' % (name, result or '?'))
                failed_names.extend('        ' + x for x in telling_lines(entry))

    width = max([len(k) for k in counts] + [5])
    for label in sorted(counts):
        p, f, s = counts[label]
        extra = ', %d skipped' % s if s else ''
        print('%-*s  %d passed, %d failed%s' % (width, label, p, f, extra))
    for name in failed_names:
        print(name if name.startswith(' ') else 'FAILED  %s' % name)
    for m in missing:
        print('MISSING %s' % m)

    passed = sum(c[0] for c in counts.values())
    failed = sum(c[1] for c in counts.values()) + len(missing)
    skipped = sum(c[2] for c in counts.values())
    last = '%d passed, %d failed' % (passed, failed)
    if skipped:
        last += ', %d skipped' % skipped
    print(last)
    return 0 if failed == 0 else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv))
