#!/bin/sh
# The one list of Debian packages moat's build, tests and benchmarks need.
# Run as root on Debian 12 (bookworm). Installs only what is missing.
set -eu
PACKAGES="
  meson ninja-build pkgconf gcc clang libclang-rt-14-dev libc6-dev
  check libsubunit-dev python3 busybox-static util-linux procps
  runc redis-server docker.io containerd
  libpython3.11-testsuite
  nginx curl wrk
"
# Benchmarks (bench/run) also need the reference runtimes and a timer.
if [ "${1:-}" = "--bench" ]; then
    PACKAGES="$PACKAGES runc crun runsc hyperfine"
fi
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "deps-debian: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Packages with services (nginx, redis-server) must not start them here.
    added_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        added_policy=1
    fi
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
    [ -z "$added_policy" ] || rm -f /usr/sbin/policy-rc.d
fi
