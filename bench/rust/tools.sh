#!/bin/sh
# The programs `make bench-rust` compares `clh write` with, from Debian's packages:
#   rotatelogs (apache2-utils) and multilog (daemontools) are installed with apt-get
#   if missing (neither package has a maintainer script that starts anything);
#   svlogd (runit) is extracted from the package into DIR/usr/bin instead: installing
#   runit would add system users and enable a runit service (and, with recommends,
#   runit-run, which starts runsvdir), none of which a benchmark should do. svlogd
#   needs only libc.
# Usage: bench/rust/tools.sh DIR   (then put DIR/usr/bin on PATH)
# A tool that cannot be had is reported; the benchmark then skips its rows.
set -u
dir=${1:?usage: tools.sh DIR}
mkdir -p "$dir"

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@"
    else return 1
    fi
}

missing=
command -v rotatelogs >/dev/null 2>&1 || missing="$missing apache2-utils"
command -v multilog >/dev/null 2>&1 || missing="$missing daemontools"
if [ -n "$missing" ]; then
    echo "tools.sh: installing$missing with apt-get"
    # shellcheck disable=SC2086 # word splitting wanted
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing \
        || { as_root apt-get update -q && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing; } \
        || echo "tools.sh: could not install$missing (not root?): those rows are skipped" >&2
fi

if ! command -v svlogd >/dev/null 2>&1 && [ ! -x "$dir/usr/bin/svlogd" ]; then
    echo "tools.sh: extracting svlogd from Debian's runit package into $dir"
    (
        cd "$dir" || exit 1
        rm -f runit_*.deb
        # As root, apt-get would hand the download to user _apt, who cannot write here.
        apt-get download -q -o APT::Sandbox::User=root runit >&2
        dpkg -x runit_*.deb extracted && mkdir -p usr/bin && cp extracted/usr/bin/svlogd usr/bin/svlogd
        rm -rf extracted runit_*.deb
    ) || echo "tools.sh: could not get svlogd: its row is skipped" >&2
fi
exit 0
