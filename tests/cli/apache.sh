#!/bin/sh
# Apache's piped access log through `clh write`, end to end (manual and long: not part
# of `make test`). Installs apache2 with apt-get if it is missing (Debian/Ubuntu, as
# root), starts a private Apache (own config, own free port, nothing of the system's
# /etc/apache2 used) with
#
#   CustomLog "|$CLH write $DIR/logs/access.log --max-bytes 64KiB --backups 5 --gzip" common
#
# sends N requests from several concurrent clients, stops Apache gracefully, waits for
# the logger to exit, and checks with `clh cat` that every request's line is in the
# log set exactly once (lost, duplicated and torn lines counted).
#
# Usage: tests/cli/apache.sh            (builds target/release clh if CLH is not set)
#        CLH=.venv/bin/clh tests/cli/apache.sh      (the wheel's console script)
#        CLIENTS=8 PER_CLIENT=400 KEEP=1 tests/cli/apache.sh
#        STOP=stop tests/cli/apache.sh      (apache2 -k stop instead of graceful-stop)
# Exit status: 0 when every line is there exactly once, 1 otherwise.
set -eu

CLIENTS=${CLIENTS:-8}
STOP=${STOP:-graceful-stop}
PER_CLIENT=${PER_CLIENT:-400}
N=$((CLIENTS * PER_CLIENT))
REPO=$(cd "$(dirname "$0")/../.." && pwd)

if [ -z "${CLH:-}" ]; then
    (cd "$REPO" && cargo build --release -q -p clh-cli)
    CLH="${CARGO_TARGET_DIR:-$REPO/target}/release/clh"
fi
CLH=$(cd "$(dirname "$CLH")" && pwd)/$(basename "$CLH")
[ -x "$CLH" ] || { echo "no clh at $CLH" >&2; exit 1; }

if ! command -v apache2 >/dev/null 2>&1 && [ ! -x /usr/sbin/apache2 ]; then
    echo "installing apache2 and curl with apt-get..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq apache2 curl >/dev/null
fi
APACHE=$(command -v apache2 || echo /usr/sbin/apache2)
MODULES=/usr/lib/apache2/modules

DIR=$(mktemp -d /tmp/clh-apache.XXXXXX)
chmod 755 "$DIR"
mkdir -p "$DIR/htdocs" "$DIR/logs" "$DIR/run"
echo "hello from clh-apache" > "$DIR/htdocs/index.html"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LOG="$DIR/logs/access.log"

USER_LINES=""
if [ "$(id -u)" = 0 ]; then
    USER_LINES="User www-data
Group www-data"
fi
cat > "$DIR/httpd.conf" <<CONF
ServerRoot "$DIR"
ServerName localhost
Listen 127.0.0.1:$PORT
PidFile "$DIR/run/httpd.pid"
DefaultRuntimeDir "$DIR/run"
Mutex file:$DIR/run default
ErrorLog "$DIR/error.log"
LogLevel warn
LoadModule mpm_event_module $MODULES/mod_mpm_event.so
LoadModule authz_core_module $MODULES/mod_authz_core.so
$USER_LINES
StartServers 2
ThreadsPerChild 16
MaxRequestWorkers 64
DocumentRoot "$DIR/htdocs"
<Directory "$DIR/htdocs">
    Require all granted
</Directory>
LogFormat "%h %l %u %t \"%r\" %>s %b" common
CustomLog "|$CLH write $LOG --max-bytes 64KiB --backups 5 --gzip" common
CONF

cleanup() {
    if [ -f "$DIR/run/httpd.pid" ]; then
        "$APACHE" -f "$DIR/httpd.conf" -k stop 2>/dev/null || true
    fi
    if [ -z "${KEEP:-}" ]; then rm -rf "$DIR"; else echo "kept $DIR"; fi
}
trap cleanup EXIT

echo "apache2 on 127.0.0.1:$PORT, logger: $CLH write $LOG --max-bytes 64KiB --backups 5 --gzip"
"$APACHE" -f "$DIR/httpd.conf" -k start
i=0
until curl -s -o /dev/null "http://127.0.0.1:$PORT/"; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "apache did not start" >&2; cat "$DIR/error.log" >&2; exit 1; }
    sleep 0.1
done
WARMUP=1 # the request above is logged too: "GET / HTTP/1.1"

START=$(date +%s.%N)
c=1
while [ $c -le "$CLIENTS" ]; do
    # One curl per client, keep-alive, PER_CLIENT requests with unique query strings.
    curl -s -o /dev/null -w '%{http_code}\n' \
        "http://127.0.0.1:$PORT/index.html?c=$c&n=[1-$PER_CLIENT]" > "$DIR/codes.$c" &
    c=$((c + 1))
done
wait
END=$(date +%s.%N)
OK=$(cat "$DIR"/codes.* | grep -c '^200$' || true)

# Stop (graceful by default): the workers finish, then Apache closes the pipe or sends
# the logger SIGTERM; either way it writes every line it has read, then exits 0.
"$APACHE" -f "$DIR/httpd.conf" -k "$STOP"
i=0
while [ -f "$DIR/run/httpd.pid" ] || pgrep -f -- "write $LOG " >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 600 ] || { echo "apache or clh did not exit" >&2; exit 1; }
    sleep 0.1
done

"$CLH" cat "$LOG" > "$DIR/all.txt"
TOTAL=$(wc -l < "$DIR/all.txt")
grep -o 'GET /index.html?c=[0-9]*&n=[0-9]* HTTP/1.1" [0-9]* [0-9-]*$' "$DIR/all.txt" \
    | sed 's/ HTTP.*//; s/GET //' | sort | uniq -c > "$DIR/counts.txt"
FOUND=$(wc -l < "$DIR/counts.txt")
DUPLICATED=$(awk '$1 > 1' "$DIR/counts.txt" | wc -l)
c=1; : > "$DIR/expected.txt"
while [ $c -le "$CLIENTS" ]; do
    seq 1 "$PER_CLIENT" | sed "s|^|/index.html?c=$c\&n=|" >> "$DIR/expected.txt"
    c=$((c + 1))
done
sort "$DIR/expected.txt" > "$DIR/expected.sorted"
awk '{print $2}' "$DIR/counts.txt" | sort > "$DIR/found.sorted"
MISSING=$(comm -23 "$DIR/expected.sorted" "$DIR/found.sorted" | wc -l)
UNEXPECTED=$(comm -13 "$DIR/expected.sorted" "$DIR/found.sorted" | wc -l)
# Every line must be a whole "common" line: torn or interleaved ones are not.
TORN=$(grep -cvE '^127\.0\.0\.1 - - \[[^]]+\] "GET [^"]+ HTTP/1\.1" [0-9]{3} [0-9-]+$' "$DIR/all.txt" || true)
CLH_ERRORS=$(grep -c 'clh write' "$DIR/error.log" || true)

echo "stopped with:         apache2 -k $STOP"
echo "requests sent:        $N ($OK answered 200) in $(echo "$END - $START" | bc) s by $CLIENTS clients"
echo "lines in the set:     $TOTAL (expected $N + $WARMUP warm-up)"
echo "request lines found:  $FOUND unique, missing $MISSING, duplicated $DUPLICATED, unexpected $UNEXPECTED, torn $TORN"
echo "clh errors in Apache's error log: $CLH_ERRORS"
"$CLH" status "$LOG" | sed 's/^/  /'
if [ "$OK" -eq "$N" ] && [ "$FOUND" -eq "$N" ] && [ "$MISSING" -eq 0 ] && [ "$DUPLICATED" -eq 0 ] \
    && [ "$UNEXPECTED" -eq 0 ] && [ "$TORN" -eq 0 ] && [ "$TOTAL" -eq $((N + WARMUP)) ] \
    && [ "$CLH_ERRORS" -eq 0 ]; then
    echo "OK: every request line is in the set exactly once"
else
    echo "FAILED" >&2
    [ "$CLH_ERRORS" -eq 0 ] || grep 'clh write' "$DIR/error.log" >&2
    exit 1
fi
