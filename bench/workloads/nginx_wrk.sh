#!/bin/sh
# Workload: nginx (1 worker, a 4 KiB file) and wrk (1 thread, 16
# connections) on 127.0.0.1 in one sandbox.
#   nginx_wrk.sh [-d SECONDS]
# Prints "result req_per_s N".
set -u
secs=5
[ "${1:-}" = "-d" ] && secs=$2
port=$((20000 + $$ % 20000))
d=$(mktemp -d)
chmod 755 "$d"
mkdir "$d/www"
head -c 4096 /dev/zero | tr '\0' x >"$d/www/index.html"
chmod 644 "$d/www/index.html"
cat >"$d/nginx.conf" <<CONF
daemon off;
user root root;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $d/body;
  proxy_temp_path $d/proxy;
  fastcgi_temp_path $d/fastcgi;
  uwsgi_temp_path $d/uwsgi;
  scgi_temp_path $d/scgi;
  sendfile on;
  default_type text/html;
  server { listen 127.0.0.1:$port; root $d/www; }
}
CONF
/usr/sbin/nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log" &
pid=$!
i=0
until /usr/bin/wrk -t1 -c1 -d1s "http://127.0.0.1:$port/" >/dev/null 2>&1; do
    i=$((i + 1))
    [ "$i" -gt 20 ] && { echo "bench: nginx did not start" >&2; kill "$pid"; exit 1; }
    sleep 0.2
done
out=$(/usr/bin/wrk -t1 -c16 -d"${secs}s" "http://127.0.0.1:$port/")
kill "$pid"
wait "$pid" 2>/dev/null
rm -rf "$d"
rps=$(echo "$out" | sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p')
echo "$out" | grep -q "Non-2xx\|Socket errors" && { echo "bench: wrk errors: $out" >&2; exit 1; }
[ -n "$rps" ] || { echo "bench: no result from wrk: $out" >&2; exit 1; }
echo "result req_per_s $rps"
