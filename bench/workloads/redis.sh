#!/bin/sh
# Workload: redis-server and redis-benchmark on 127.0.0.1 in one sandbox.
#   redis.sh set|get [-n REQUESTS]
# Prints "result req_per_s N" (redis-benchmark -q, 50 clients).
set -u
cmd=$1
shift
n=100000
[ "${1:-}" = "-n" ] && n=$2
port=$((20000 + $$ % 20000))
/usr/bin/redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize no >/dev/null 2>&1 &
pid=$!
i=0
until /usr/bin/redis-cli -p "$port" ping >/dev/null 2>&1; do
    i=$((i + 1))
    [ "$i" -gt 200 ] && { echo "bench: redis-server did not start" >&2; kill "$pid"; exit 1; }
    sleep 0.05
done
out=$(/usr/bin/redis-benchmark -p "$port" -q -n "$n" -t "$cmd" | tr '\r' '\n')
kill "$pid"
wait "$pid" 2>/dev/null
rps=$(echo "$out" | sed -n 's/^[A-Z]*: \([0-9.]*\) requests per second.*/\1/p' | tail -n 1)
[ -n "$rps" ] || { echo "bench: no result from redis-benchmark: $out" >&2; exit 1; }
echo "result req_per_s $rps"
