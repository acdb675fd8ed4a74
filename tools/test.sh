#!/bin/sh
# Runs the whole test suite: every test in ./build on the default platform
# (systrap where the host allows it), the syscall, app, security and OCI
# suites again on ptrace (MOAT_TEST_PTRACE=0 skips that pass), then the unit
# tests under ASan/UBSan in ./build-asan. Prints per-suite counts and, last,
# the line "N passed, N failed". Exits non-zero if anything failed.
set -u
cd "$(dirname "$0")/.."
status=0
meson test -C build --no-rebuild --print-errorlogs --num-processes 2 >build/test-output.txt 2>&1 || status=1
tail -n 25 build/test-output.txt | grep -v '^$' | sed 's/^/  /' >&2
# The kernel-level suites again on the other platform. Tests that name a
# platform themselves (stub-attack, app-concurrent) run both in each pass.
second_log=
if [ "${MOAT_TEST_PTRACE:-1}" = 1 ]; then
    MOAT_PLATFORM=ptrace meson test -C build --no-rebuild --print-errorlogs --num-processes 2 \
        --suite syscalls --suite apps --suite security --suite oci --logbase testlog-ptrace \
        >build/test-output-ptrace.txt 2>&1 || status=1
    second_log=build/meson-logs/testlog-ptrace.json
fi
if [ ! -f build-asan/build.ninja ]; then
    CC=clang meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null || status=1
fi
if meson compile -C build-asan >build-asan/compile-output.txt 2>&1; then
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=abort_on_error=1 \
        meson test -C build-asan --no-rebuild --suite unit --print-errorlogs \
        >build-asan/test-output.txt 2>&1 || status=1
else
    echo "asan build failed:" >&2
    grep -E 'error|FAILED' build-asan/compile-output.txt | head -n 20 >&2
    status=1
fi
# shellcheck disable=SC2086
python3 tools/test-summary.py build/meson-logs/testlog.json $second_log \
    build-asan/meson-logs/testlog.json || status=1
exit $status
