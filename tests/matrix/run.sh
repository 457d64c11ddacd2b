#!/usr/bin/env bash
# `make matrix`: the built wheel tested where users are. For each Debian release (default
# bullseye = Python 3.9, bookworm = 3.11, trixie = 3.13): a minimal root made by
# debootstrap (cached in .matrix/roots/, reused while its debootstrap command is the
# same), /proc and /dev bind-mounted into it (multiprocessing needs /dev/shm) and
# unmounted on every exit path, two venvs inside it made by the root's own python3 -
# /clh/.venv with dist/*manylinux*.whl, pytest and hypothesis, /clh/.venv-clh with the real
# concurrent-log-handler 0.9.31 - and tests/python run there with CLH_REFERENCE_PYTHON
# pointing at the second one. No Rust toolchain and no network in the root: pip there
# installs only from a wheelhouse that pip on this host downloads for the root's Python
# (.matrix/wheelhouse/cpXY/, reused). Then one table: distro, Python, glibc, wheel tag,
# tests passed/failed/skipped (from pytest's junit XML), wall time.
#
#   tests/matrix/run.sh [SUITE...] [-- PYTEST_ARGS...]
#
# Needs root, debootstrap (apt-get install debootstrap), unshare/chroot/findmnt/flock
# (util-linux, coreutils), and a wheel in dist/ (`make wheel` is run if there is none).
# Environment: MIRROR (default http://deb.debian.org/debian), MATRIX_DIR (default
# .matrix), MATRIX_REBUILD=1 (make the roots anew), MATRIX_WHEEL (test this wheel
# instead of dist/'s), MATRIX_TIMEOUT (seconds per pytest run, default 3600), HOST_PYTHON (runs pip download and the table; default
# .venv/bin/python, else python3); CLH_SOAK_SCALE and CLH_RELIABILITY_SCALE are passed
# into the root when set. Delete .matrix/wheelhouse to pick up newer test dependencies.
#
# Files: .matrix/logs/SUITE.log (pytest's output), SUITE.xml (its junit XML),
# SUITE.setup.log (debootstrap, venvs, pip). A failed run's test files stay in the
# root's /tmp until the next run. Every release is run even if an earlier one failed;
# exits 1 if any failed. Disk: ~300 MB a root (~45 s to make), more while tests run.
set -euo pipefail

cd "$(dirname "$0")/../.."
REPO=$PWD
MIRROR=${MIRROR:-http://deb.debian.org/debian}
MATRIX=${MATRIX_DIR:-$REPO/.matrix}
MATRIX_TIMEOUT=${MATRIX_TIMEOUT:-3600}
ROOTS=$MATRIX/roots
WHEELHOUSE=$MATRIX/wheelhouse
LOGS=$MATRIX/logs
# What every root gets besides minbase. util-linux (mount, umount) for the tests that
# mount a small tmpfs: minbase has them on bullseye/bookworm (mount is Priority:
# required there) but not on trixie.
INCLUDE=python3,python3-venv
# Inside the root: the repo's layout (so conftest's REPO is /clh and the interop test's
# "ours is this repo's build" check holds, as with the repo's own .venv).
IN=/clh
ROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

suites=()
pytest_args=()
while [ $# -gt 0 ]; do
    case $1 in
        --) shift; pytest_args=("$@"); break ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        bullseye | bookworm | trixie) suites+=("$1") ;;
        *) echo "matrix: unknown release '$1' (bullseye, bookworm, trixie)" >&2; exit 2 ;;
    esac
    shift
done
[ ${#suites[@]} -gt 0 ] || suites=(bullseye bookworm trixie)

die() { echo "matrix: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot, mounts)"
for tool in debootstrap unshare chroot findmnt flock timeout; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install -y debootstrap util-linux)"
done

if [ -z "${HOST_PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then HOST_PYTHON=$REPO/.venv/bin/python; else HOST_PYTHON=python3; fi
fi

mkdir -p "$ROOTS" "$WHEELHOUSE" "$LOGS"
exec 9>"$MATRIX/.lock"
flock -n 9 || die "another matrix run holds $MATRIX/.lock"

# -- mounts -----------------------------------------------------------------------------

# Every mount point under DIR, deepest first (stacked mounts appear once per layer).
mounts_under() {
    findmnt -rn -o TARGET | awk -v d="$1/" 'index($0 "/", d) == 1' | sort -r
}

# Unmount everything under DIR; lazily if busy. Fails if anything is left.
unmount_under() {
    local m
    for m in $(mounts_under "$1"); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
    if [ -n "$(mounts_under "$1")" ]; then
        echo "matrix: could not unmount: $(mounts_under "$1" | tr '\n' ' ')" >&2
        return 1
    fi
}

cleanup() {
    local rc=$?
    unmount_under "$ROOTS" || rc=1
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# rm -rf a directory under ROOTS, never while something is mounted in it.
remove_tree() {
    [ -e "$1" ] || return 0
    unmount_under "$1"
    rm -rf --one-file-system "$1"
}

mount_root() {
    local root=$1
    mount --bind /proc "$root/proc"
    mount --rbind /dev "$root/dev"
    mount --make-rslave "$root/dev"
}

# in_root ROOT CMD...: CMD inside the root, in a mount namespace of its own (so the
# tmpfs a test mounts can never outlive the run), with a clean environment, from $IN.
# shellcheck disable=SC2016 # '$0' and '$@' are the root's sh's
in_root() {
    local root=$1
    shift
    unshare --mount --propagation private -- chroot "$root" /usr/bin/env -i \
        PATH="$ROOT_PATH" HOME=/root PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 \
        "${root_env[@]}" \
        /bin/sh -c 'cd "$0" 2>/dev/null || cd /; exec "$@"' "$IN" "$@"
}
root_env=()
for var in CLH_SOAK_SCALE CLH_RELIABILITY_SCALE; do
    if [ -n "${!var:-}" ]; then root_env+=("$var=${!var}"); fi
done

# -- roots, wheelhouse, venvs -------------------------------------------------------------

build_root() {
    local suite=$1 root=$ROOTS/$1
    local want="debootstrap --variant=minbase --include=$INCLUDE $suite $MIRROR"
    if [ -z "${MATRIX_REBUILD:-}" ] && [ -f "$root/.clh-matrix-root" ] &&
        [ "$(cat "$root/.clh-matrix-root")" = "$want" ]; then
        echo "root: reusing $root"
        return
    fi
    echo "root: $want -> $root"
    remove_tree "$root.new"
    # shellcheck disable=SC2086 # $want is the command, word-split on purpose
    ${want% *} "$root.new" "$MIRROR"
    chroot "$root.new" apt-get clean # the .debs and apt's caches: 45 MB a root
    echo "$want" >"$root.new/.clh-matrix-root"
    remove_tree "$root"
    mv "$root.new" "$root"
}

# pip_in_root ROOT VENV REQUIREMENT...: install from $IN/wheelhouse only. When pip names
# a missing distribution, download it on this host for the root's Python and try again
# (pip download evaluates dependency markers against this host's Python, so deps that
# only older Pythons need - tomli, exceptiongroup - come in this way).
pip_in_root() {
    local root=$1 venv=$2 out missing
    shift 2
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        if out=$(in_root "$root" "$venv/bin/python" -m pip install -q --no-index \
            --find-links "$IN/wheelhouse" "$@" 2>&1); then
            [ -z "$out" ] || echo "$out"
            return 0
        fi
        echo "$out"
        missing=$(printf '%s\n' "$out" | sed -n 's/.*No matching distribution found for \([^;]*\).*/\1/p' |
            head -1 | tr -d ' ')
        [ -n "$missing" ] || return 1
        echo "wheelhouse: downloading '$missing' for cp$pyver"
        download "$missing"
        cp -a "$WHEELHOUSE/cp$pyver/." "$root$IN/wheelhouse/"
    done
    return 1
}

download() {
    local dest=$WHEELHOUSE/cp$pyver
    mkdir -p "$dest"
    "$HOST_PYTHON" -m pip download -q --disable-pip-version-check -d "$dest" \
        --only-binary=:all: --implementation cp --python-version "$pyver" --abi "cp$pyver" \
        --platform manylinux2014_x86_64 --platform "manylinux_${glibc/./_}_x86_64" "$@" ||
        "$HOST_PYTHON" -m pip download -q --disable-pip-version-check -d "$dest" \
            --no-deps --no-binary=:all: "$@"
}

# -- one release ----------------------------------------------------------------------------

# run_suite SUITE: writes $LOGS/SUITE.result (key=value lines) whatever happens.
run_suite() {
    local suite=$1 root=$ROOTS/$1 t0=$SECONDS t1 rc
    local log=$LOGS/$suite.log xml=$LOGS/$suite.xml setup=$LOGS/$suite.setup.log
    local result=$LOGS/$suite.result
    rm -f "$log" "$xml" "$result"
    : >"$setup"
    {
        echo "stage=setup"
        echo "python=?"
        echo "glibc=?"
    } >"$result"

    echo "[$suite] setup (log: $setup)"
    build_root "$suite" >>"$setup" 2>&1 || {
        echo "[$suite] debootstrap failed: see $setup" >&2
        return 1
    }
    mount_root "$root"

    python=$(in_root "$root" python3 -c 'import platform; print(platform.python_version())')
    pyver=$(in_root "$root" python3 -c 'import sys; print("%d%d" % sys.version_info[:2])')
    glibc=$(in_root "$root" ldd --version | awk 'NR == 1 {print $NF}')
    {
        echo "python=$python"
        echo "glibc=$glibc"
    } >>"$result"
    if in_root "$root" sh -c 'command -v cargo || command -v rustc' >/dev/null; then
        echo "[$suite] a Rust toolchain is in the root" >&2
        return 1
    fi

    # The repo's test layout under $IN, anew each run: tests, pyproject (pytest's
    # rootdir and options), the wheel, the wheelhouse, and the two venvs. /tmp emptied:
    # pytest keeps its last three runs there (the soak's logs: 400 MB a run).
    remove_tree "$root$IN"
    find "$root/tmp" -mindepth 1 -maxdepth 1 -exec rm -rf --one-file-system {} +
    mkdir -p "$root$IN/dist" "$root$IN/wheelhouse" "$root$IN/out"
    tar -C "$REPO" --exclude=__pycache__ -cf - pyproject.toml tests/python tests/chaos |
        tar -C "$root$IN" -xf -
    cp "$wheel" "$root$IN/dist/"
    mkdir -p "$WHEELHOUSE/cp$pyver"
    cp -a "$WHEELHOUSE/cp$pyver/." "$root$IN/wheelhouse/"
    {
        echo "== venvs (Python $python, glibc $glibc)"
        in_root "$root" python3 -m venv "$IN/.venv"
        in_root "$root" python3 -m venv "$IN/.venv-clh"
        pip_in_root "$root" "$IN/.venv" "pytest>=7" "hypothesis>=6"
        pip_in_root "$root" "$IN/.venv" --no-deps "$IN/dist/$(basename "$wheel")"
        pip_in_root "$root" "$IN/.venv-clh" "concurrent-log-handler==0.9.31"
        echo "== $IN/.venv"
        in_root "$root" "$IN/.venv/bin/python" -m pip list
        echo "== $IN/.venv-clh"
        in_root "$root" "$IN/.venv-clh/bin/python" -m pip list
    } >>"$setup" 2>&1 || {
        echo "[$suite] venv setup failed: see $setup" >&2
        return 1
    }
    cp -a "$WHEELHOUSE/cp$pyver/." "$root$IN/wheelhouse/" # nothing, unless pip_in_root added
    t1=$SECONDS
    echo "setup_s=$((t1 - t0))" >>"$result"
    echo "stage=tests" >>"$result"

    echo "[$suite] Python $python, glibc $glibc: pytest (log: $log)"
    set +e
    # shellcheck disable=SC2016 # '$0' and '$@' are the root's sh's
    timeout "$MATRIX_TIMEOUT" \
        unshare --mount --propagation private -- chroot "$root" /usr/bin/env -i \
        PATH="$ROOT_PATH" HOME=/root "${root_env[@]}" \
        CLH_REFERENCE_PYTHON="$IN/.venv-clh/bin/python" \
        /bin/sh -c 'cd "$0" && exec "$@"' "$IN" \
        "$IN/.venv/bin/python" -m pytest -q -rfEs -p no:cacheprovider \
        --junitxml="$IN/out/junit.xml" "${pytest_args[@]}" tests/python \
        >"$log" 2>&1
    rc=$?
    set -e
    echo "tests_s=$((SECONDS - t1))" >>"$result"
    echo "pytest_rc=$rc" >>"$result"
    if [ -f "$root$IN/out/junit.xml" ]; then cp "$root$IN/out/junit.xml" "$xml"; fi
    if [ "$rc" -eq 0 ]; then # else the failed run's files stay there for a look
        find "$root/tmp" -mindepth 1 -maxdepth 1 -exec rm -rf --one-file-system {} +
    fi
    tail -n 1 "$log" | sed "s/^/[$suite] /"
    return "$rc"
}

# -- main -----------------------------------------------------------------------------------

if [ -n "${MATRIX_WHEEL:-}" ]; then
    [ -f "$MATRIX_WHEEL" ] || die "MATRIX_WHEEL=$MATRIX_WHEEL: no such file"
    wheel=$(realpath "$MATRIX_WHEEL")
else
    if ! compgen -G "dist/*manylinux*.whl" >/dev/null; then
        echo "matrix: no wheel in dist/: make wheel"
        make wheel
    fi
    wheels=(dist/*manylinux*.whl)
    [ ${#wheels[@]} -eq 1 ] || die "expected one manylinux wheel in dist/, found: ${wheels[*]}"
    wheel=$REPO/${wheels[0]}
fi
wheel_tag=$(basename "$wheel" .whl | cut -d- -f3-)
newer=$(find crates python Cargo.toml Cargo.lock pyproject.toml -newer "$wheel" -type f \
    -not -path '*/__pycache__/*' 2>/dev/null | head -3)
if [ -n "$newer" ]; then
    echo "matrix: WARNING: sources changed since $wheel was built (e.g. $(echo "$newer" | tr '\n' ' '));" \
        "run \`make wheel\` to test them" >&2
fi
echo "matrix: $(basename "$wheel") on ${suites[*]}; roots in $ROOTS"

start=$SECONDS
failed=()
for suite in "${suites[@]}"; do
    set +e
    (
        set -euo pipefail
        trap 'unmount_under "$ROOTS/$suite"' EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM HUP
        run_suite "$suite"
    )
    rc=$?
    set -e
    unmount_under "$ROOTS" || rc=1
    if [ "$rc" -ne 0 ]; then failed+=("$suite"); fi
    if [ "$rc" -ge 128 ]; then exit "$rc"; fi # interrupted: stop here
done
total=$((SECONDS - start))

"$HOST_PYTHON" - "$LOGS" "$wheel_tag" "$total" "${suites[@]}" <<'EOF'
import os, re, sys
import xml.etree.ElementTree as ET
from collections import Counter

logs, tag, total, suites = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
rows, notes = [], []
for suite in suites:
    res = {}
    path = os.path.join(logs, suite + ".result")
    if os.path.exists(path):
        for line in open(path):
            k, _, v = line.strip().partition("=")
            res[k] = v
    passed = failed = skipped = xfailed = "?"
    xml = os.path.join(logs, suite + ".xml")
    reasons = Counter()
    if os.path.exists(xml):
        p = f = s = x = 0
        for case in ET.parse(xml).getroot().iter("testcase"):
            kinds = {child.tag for child in case}
            if kinds & {"failure", "error"}:
                f += 1
            elif "skipped" in kinds:
                skip = case.find("skipped")
                if skip.get("type") == "pytest.xfail":  # expected failures: CLH's bugs
                    x += 1
                else:
                    s += 1
                    reasons[re.sub(r"^Skipped: ", "", skip.get("message", ""))] += 1
            else:
                p += 1
        passed, failed, skipped, xfailed = p, f, s, x
    rc = res.get("pytest_rc")
    if res.get("stage") == "setup" or rc is None:
        status = "FAIL (setup)"
    elif rc == "0" and failed == 0:
        status = "ok"
    else:
        status = f"FAIL (pytest exit {rc})"
    setup_s = int(res.get("setup_s", 0) or 0)
    tests_s = int(res.get("tests_s", 0) or 0)
    rows.append([
        f"Debian {suite}", res.get("python", "?"), res.get("glibc", "?"), tag,
        str(passed), str(failed), str(skipped), str(xfailed),
        f"{setup_s + tests_s} s ({setup_s} + {tests_s})", status,
    ])
    for reason, n in sorted(reasons.items()):
        notes.append(f"  {suite}: {n} skipped: {reason}")

head = ["distro", "Python", "glibc", "wheel tag", "passed", "failed", "skipped", "xfailed",
        "wall (setup + tests)", "result"]
widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"
print()
print(line(head))
print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
for r in rows:
    print(line(r))
print(f"\ntotal {total // 60} min {total % 60} s; logs in {logs}/SUITE.log (pytest), "
      "SUITE.xml (junit), SUITE.setup.log (root, venvs)")
if notes:
    print("skip reasons:")
    print("\n".join(notes))
EOF

if [ ${#failed[@]} -ne 0 ]; then
    echo "matrix: FAILED: ${failed[*]}" >&2
    exit 1
fi
