#!/usr/bin/env bash
# `make reliability`: the long run of every reliability scenario, the soak and the chaos
# run, then one table (tests/reliability/table.py). See docs/reliability.md.
#
#   tests/reliability/run.sh [--update-doc]
#
# Environment: PYTHON (default .venv/bin/python), CLH_REFERENCE_PYTHON (CLH 0.9.31, for
# the interop scenario; default .venv-clh/bin/python if it exists), and to change the
# load: CLH_RELIABILITY_SCALE (default 10), CLH_SOAK_SCALE (default 5), CHAOS_KILLS
# (default 500). RELIABILITY_UPDATE_DOC=1 is the same as --update-doc (rewrite the table
# section of docs/reliability.md). Every part runs even if an earlier one failed; exits
# 1 and names the parts that failed if any did.
set -u

cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-.venv/bin/python}
export CLH_RELIABILITY_SCALE=${CLH_RELIABILITY_SCALE:-10}
export CLH_SOAK_SCALE=${CLH_SOAK_SCALE:-5}
CHAOS_KILLS=${CHAOS_KILLS:-500}
if [ -z "${CLH_REFERENCE_PYTHON:-}" ] && [ -x .venv-clh/bin/python ]; then
    export CLH_REFERENCE_PYTHON="$PWD/.venv-clh/bin/python"
fi
update_doc=${RELIABILITY_UPDATE_DOC:-}
for arg in "$@"; do
    case $arg in
        --update-doc) update_doc=1 ;;
        *) echo "usage: $0 [--update-doc]" >&2; exit 2 ;;
    esac
done

out=$(mktemp -d "${TMPDIR:-/tmp}/clh-reliability.XXXXXX")
export CLH_RELIABILITY_REPORT="$out/report.jsonl"
: >"$CLH_RELIABILITY_REPORT"
echo "reliability: $PYTHON; CLH_RELIABILITY_SCALE=$CLH_RELIABILITY_SCALE," \
    "CLH_SOAK_SCALE=$CLH_SOAK_SCALE, chaos --kills $CHAOS_KILLS; report in $out"

failed=()
start=$SECONDS

part() { # part NAME COMMAND...: run it, time it, remember a failure
    local name=$1 t0=$SECONDS rc
    shift
    echo
    echo "=== $name"
    "$@"
    rc=$?
    echo "=== $name: exit $rc after $((SECONDS - t0)) s"
    if [ "$rc" -ne 0 ]; then
        failed+=("$name (exit $rc)")
    fi
}

part "scenarios (pytest)" "$PYTHON" -m pytest -q -rfEs -p no:cacheprovider \
    --junitxml="$out/scenarios.xml" \
    tests/python/test_reliability_files.py tests/python/test_reliability_runtime.py
part "soak (pytest)" "$PYTHON" -m pytest -q -rfEs -p no:cacheprovider \
    --junitxml="$out/soak.xml" tests/python/test_soak.py
part "chaos" "$PYTHON" tests/chaos/kill_during_rotation.py --kills "$CHAOS_KILLS"

wall=$((SECONDS - start))
args=(--junit "$out/scenarios.xml" --junit "$out/soak.xml" --wall "$wall"
    --run-info "CLH_RELIABILITY_SCALE=$CLH_RELIABILITY_SCALE, CLH_SOAK_SCALE=$CLH_SOAK_SCALE, chaos --kills $CHAOS_KILLS")
for f in "${failed[@]+"${failed[@]}"}"; do
    args+=(--failed "$f")
done
if [ -n "$update_doc" ]; then
    args+=(--update-doc)
fi
echo
echo "=== table ($((wall / 60)) min $((wall % 60)) s in all)"
"$PYTHON" tests/reliability/table.py "$CLH_RELIABILITY_REPORT" "${args[@]}"
table_rc=$?

if [ "${#failed[@]}" -ne 0 ]; then
    echo "reliability: FAILED: ${failed[*]} (report and pytest xml in $out)" >&2
    exit 1
fi
if [ "$table_rc" -ne 0 ]; then
    echo "reliability: FAILED: the table has FAIL or MISSING rows (report in $out)" >&2
    exit 1
fi
echo "reliability: OK (report in $out)"
