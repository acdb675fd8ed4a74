#!/bin/sh
# Runs the syscall fuzzer inside moat for SECONDS (default 600, 10 minutes)
# on each platform (MOAT_FUZZ_PLATFORMS, default "ptrace systrap"), after
# building. Prints the count of syscalls executed; exits non-zero if moat's
# kernel crashed, hung or left anything on the host (the output, with the
# seed, is saved under $MOAT_FUZZ_DIR, default /tmp). CI runs 60 s
# (meson test syscall-fuzz).
set -eu
cd "$(dirname "$0")/.."
seconds=${1:-600}
ninja -C build >/dev/null
exec python3 tests/fuzz/test_fuzz.py build/src/moat build/tests/fuzz/syscall-fuzz "$seconds" \
    ${MOAT_FUZZ_PLATFORMS:-ptrace systrap}
