"""Native formatting writes byte for byte what the stdlib writes (property tests).

A handler whose formatter is a plain ``logging.Formatter`` (the class, or a subclass
overriding none of format/formatTime/formatMessage/usesTime), of any style, formats
records in Rust (``handler._native_format`` is then not None). The contract: the log
gets exactly the bytes ``logging.FileHandler(path, encoding=..., errors=...)`` would
write with the same formatter (``formatter.format(record) + terminator``, newlines
translated, encoded with the policy), handleError is called for exactly the records
the stdlib calls it for, and a record formatted without error ends up with the same
attributes (``message``, ``asctime`` when the format uses time, ``exc_text``).

Each hypothesis example draws (strategies_format.py) a formatter, an output
configuration (encoding, unicode_error_policy, newline, terminator), a time zone and a
batch of records; every record goes through a ConcurrentRotatingFileHandler and a copy
of it through a FileHandler (opened with the same newline option), each with its own
formatter built from the same spec; per record the bytes appended to each file, the
handleError calls and the record's ``__dict__`` afterwards are compared. Handlers are
made once per output configuration for the whole module.

Scale: CLH_FORMAT_EXAMPLES (default 500) is the main test's example count, the other
property test takes a third (`make format-long` runs 20000). A "case" is one record
compared; the count is printed at the end of the module (pytest -s).
CLH_FORMAT_REQUIRE_NATIVE=0 drops the check that qualifying formatters take the native
path, leaving the comparison alone (to check the baseline on the Python path).
"""

from __future__ import annotations

import copy
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Optional

import pytest
import strategies_format as sf
from concurrent_log_handler import (
    ConcurrentRotatingFileHandler,
    ConcurrentTimedRotatingFileHandler,
)
from hypothesis import HealthCheck, given, reject, settings

EXAMPLES = int(os.environ.get("CLH_FORMAT_EXAMPLES", "500"))
REQUIRE_NATIVE = os.environ.get("CLH_FORMAT_REQUIRE_NATIVE", "1") != "0"
#: Records compared ("records"), failed on both sides ("failed"), written with a native
#: format by Rust ("native") or by its fallback to Formatter.format ("native_fallback");
#: batches ("batches"), of which required to be native ("native_batches").
COUNTS: Counter[str] = Counter()

PROPERTY_SETTINGS = settings(
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)


# -- the two handlers -------------------------------------------------------------------


class Ours(ConcurrentRotatingFileHandler):
    """Collects the records handleError is called for instead of printing them."""

    failed: list[tuple[int, str]]

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802
        self.failed.append((id(record), repr(sys.exc_info()[1])))


class Std(logging.FileHandler):
    """The baseline: FileHandler, its file opened with ``newline`` as ours translates."""

    failed: list[tuple[int, str]]

    def __init__(self, path: str, out: sf.OutputSpec) -> None:
        self._newline_option = out.newline
        super().__init__(path, "a", encoding=out.encoding, delay=True, errors=out.policy)

    def _open(self) -> Any:
        return open(  # noqa: SIM115 - closed by FileHandler.close
            self.baseFilename,
            self.mode,
            encoding=self.encoding,
            errors=self.errors,
            newline=self._newline_option,
        )

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802
        self.failed.append((id(record), repr(sys.exc_info()[1])))


class Pair:
    """Our handler and the stdlib's for one output configuration, each on its own file,
    and what each has appended since the last look."""

    made = 0

    def __init__(
        self, directory: Path, out: sf.OutputSpec, ours_class: type = Ours, std_class: type = Std
    ) -> None:
        n = Pair.made = Pair.made + 1
        self.out = out
        self.ours_path = directory / f"ours{n}.log"
        self.std_path = directory / f"std{n}.log"
        self.ours = ours_class(
            str(self.ours_path),
            maxBytes=0,
            encoding=out.encoding,
            newline=out.newline,
            terminator=out.terminator,
            unicode_error_policy=out.policy,
        )
        self.std = std_class(str(self.std_path), out)
        self.std.terminator = self.ours.terminator
        self.ours.failed, self.std.failed = [], []
        self._offsets = {self.ours_path: 0, self.std_path: 0}
        # A first record that every codec writes, so that a byte-order mark is behind
        # us: whether a file gets one depends on its history (the stdlib loses it when
        # the first write fails, see test_bom_when_the_first_record_fails), which would
        # make examples depend on the ones before them.
        start = logging.makeLogRecord({"msg": "start"})
        self.ours.handle(start)
        self.std.handle(copy.copy(start))
        assert self.appended(self.ours_path) == self.appended(self.std_path)

    def appended(self, path: Path) -> bytes:
        if not path.exists():
            return b""
        with open(path, "rb") as f:
            f.seek(self._offsets[path])
            data = f.read()
        self._offsets[path] += len(data)
        return data

    def set_formatters(
        self, ours: Optional[logging.Formatter], std: Optional[logging.Formatter]
    ) -> None:
        self.ours.setFormatter(ours)
        self.std.setFormatter(std)

    def close(self) -> None:
        try:
            self.ours.close()
        finally:
            self.std.close()


class Pool:
    """One Pair per output configuration, made when first asked for."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.pairs: dict[sf.OutputSpec, Pair] = {}

    def get(self, out: sf.OutputSpec) -> Pair:
        if out not in self.pairs:
            self.pairs[out] = Pair(self.directory, out)
        return self.pairs[out]

    def close(self) -> None:
        for pair in self.pairs.values():
            pair.close()


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pool]:
    p = Pool(tmp_path_factory.mktemp("native-format"))
    try:
        yield p
    finally:
        p.close()
        print(
            f"\nnative format properties: {COUNTS['records']} records compared "
            f"({COUNTS['failed']} failing on both sides) in {COUNTS['batches']} batches "
            f"({COUNTS['native_batches']} required to be native); of the records written "
            f"with a native format, {COUNTS['native']} formatted natively and "
            f"{COUNTS['native_fallback']} by its fallback to Formatter.format"
        )


# -- the comparison ---------------------------------------------------------------------


def _bytes_diff(got: bytes, want: bytes) -> str:
    """Where two outputs part, with some context (they can be long: tracebacks)."""
    i = next((k for k, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    lo = max(0, i - 80)
    return (
        f"ours wrote {len(got)} bytes, the stdlib {len(want)}; from byte {lo} (they differ "
        f"at {i}): ours {got[lo : i + 80]!r}, the stdlib {want[lo : i + 80]!r}"
    )


def _dict_diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    missing = object()
    return {
        k: (a.get(k, missing), b.get(k, missing))
        for k in sorted(set(a) | set(b))
        if a.get(k, missing) is not b.get(k, missing) and a.get(k, missing) != b.get(k, missing)
    }


def emit_and_compare(
    pair: Pair,
    records: Sequence[logging.LogRecord],
    zone: Optional[str] = None,
) -> None:
    """Emit each record through our handler and a copy through the stdlib's (formatters
    already set), under ``zone``; per record, fail unless the same bytes were appended,
    handleError was called alike, and the attributes are the same."""
    copies = [copy.copy(r) for r in records]
    with sf.timezone(zone):
        for i, (mine, theirs) in enumerate(zip(records, copies)):
            python_path = handle_probed(pair.ours, mine)
            pair.std.handle(theirs)
            got, want = pair.appended(pair.ours_path), pair.appended(pair.std_path)
            ours_failed = [e for rid, e in pair.ours.failed if rid == id(mine)]
            std_failed = [e for rid, e in pair.std.failed if rid == id(theirs)]
            assert len(pair.ours.failed) == len(ours_failed), pair.ours.failed
            pair.ours.failed.clear()
            pair.std.failed.clear()
            where = f"record {i} of {len(records)}"
            assert bool(ours_failed) == bool(std_failed), (
                f"{where}: handleError called by ours: {ours_failed}, by the stdlib: {std_failed}"
            )
            assert got == want, f"{where}: {_bytes_diff(got, want)}"
            if not std_failed:
                diff = _dict_diff(mine.__dict__, theirs.__dict__)
                assert not diff, f"{where}: record attributes differ (ours, stdlib): {diff}"
            COUNTS["records"] += 1
            COUNTS["failed"] += bool(std_failed)
            if native_format(pair.ours) is not None and not std_failed:
                COUNTS["native_fallback" if python_path else "native"] += 1


#: What the Python path runs, and a native format only falls back to.
_FORMATTER_FORMAT = logging.Formatter.format.__code__


def handle_probed(handler: logging.Handler, record: logging.LogRecord) -> bool:
    """``handler.handle(record)``; whether ``logging.Formatter.format`` ran for it (the
    Python path, or a native format falling back to it)."""
    ran = False

    def probe(frame: Any, event: str, arg: Any) -> None:
        nonlocal ran
        if event == "call" and frame.f_code is _FORMATTER_FORMAT:
            ran = True

    before = sys.getprofile()
    sys.setprofile(probe)
    try:
        handler.handle(record)
    finally:
        sys.setprofile(before)
    return ran


def native_format(handler: logging.Handler) -> Any:
    return getattr(handler, "_native_format", None)


def check_example(pool: Pool, ex: sf.Example) -> None:
    try:
        ours_formatter, std_formatter = ex.formatter.build(), ex.formatter.build()
    except ValueError:
        reject()  # the stdlib refuses the format (validation)
    pair = pool.get(ex.out)
    pair.set_formatters(ours_formatter, std_formatter)
    emit_and_compare(pair, [r.build() for r in ex.records], ex.zone)
    COUNTS["batches"] += 1
    expected = ex.formatter.must_be_native
    if expected and REQUIRE_NATIVE:
        COUNTS["native_batches"] += 1
        assert native_format(pair.ours) is not None, (
            f"a {ex.formatter.kind} formatter ({ex.formatter.style!r} style) must be "
            "formatted natively, but _native_format is None"
        )
    elif expected is False:
        assert native_format(pair.ours) is None, (
            f"a formatter overriding its methods ({ex.formatter.kind}) was taken natively"
        )


# -- property tests ---------------------------------------------------------------------


@settings(PROPERTY_SETTINGS, max_examples=EXAMPLES)
@given(ex=sf.example())
def test_same_bytes_as_filehandler(pool: Pool, ex: sf.Example) -> None:
    """Any formatter, output configuration, zone and records: same bytes, same errors,
    same attributes; qualifying formatters taken natively, overriding ones not."""
    check_example(pool, ex)


DST_ZONES = tuple(z for z in sf.AVAILABLE_ZONES if sf.transitions(z))


@pytest.mark.skipif(not DST_ZONES, reason="no zone with DST transitions (tzset or tzdata missing)")
@settings(PROPERTY_SETTINGS, max_examples=max(EXAMPLES // 3, 10))
@given(ex=sf.example(zones=DST_ZONES or (None,), time_heavy=True))
def test_times_around_dst_transitions(pool: Pool, ex: sf.Example) -> None:
    """Formats that use the time (asctime, with every datefmt and default format
    variant and both converters), zones with DST, records mostly within two hours of a
    transition."""
    check_example(pool, ex)


# -- deterministic tests ----------------------------------------------------------------

STYLES = {
    "%": "%(asctime)s %(levelname)-8s %(name)s: %(message)s",
    "{": "{asctime} {levelname:<8} {name}: {message}",
    "$": "${asctime} ${levelname} ${name}: ${message}",
}


def sample_records() -> list[logging.LogRecord]:
    """A few records of every sort: args, a dict arg, unicode, a surrogate, an
    exception, preset exc_text, stack info, a DST-edge creation time."""
    specs = [
        sf.RecordSpec(
            "app", 20, "/srv/a.py", 1, "plain", None, "f", 1.7e9 + 0.123, 123.0, 5.0, 1, "T", 2, "P"
        ),
        sf.RecordSpec(
            "app.db",
            30,
            "b.py",
            2,
            "%s=%d",
            ("k", 5),
            None,
            0.5,
            500.0,
            0.0,
            None,
            None,
            None,
            None,
        ),
        sf.RecordSpec(
            "root", 40, "", 3, "%(user)s!", ({"user": "ü"},), "g", -1.5, 500.0, 1.0, 2, "x", 3, "y"
        ),
        sf.RecordSpec(
            "ü中", 50, "c.py", 4, "bad \ud800 %%", (), "h", 1616828400.0, 0.0, 2.0, 3, "z", 4, "w"
        ),
        sf.RecordSpec(
            "e",
            40,
            "d.py",
            5,
            sf.Thing("obj"),
            None,
            "i",
            1e9,
            999.9999,
            3.0,
            4,
            "a",
            5,
            "b",
            exc="chained",
        ),
        sf.RecordSpec(
            "e",
            40,
            "d.py",
            6,
            "m\nn",
            None,
            "j",
            1e9,
            1.0,
            3.0,
            4,
            "a",
            5,
            "b",
            exc_text="preset\n",
            stack_info="Stack:\n  here",
        ),
    ]
    return [s.build() for s in specs]


STRICT_UTF8 = sf.OutputSpec("utf-8", "strict", None, "\n")


@pytest.fixture
def make_pair(tmp_path: Path) -> Iterator[Any]:
    made: list[Pair] = []

    def factory(out: sf.OutputSpec = STRICT_UTF8, ours_class: type = Ours) -> Pair:
        pair = Pair(tmp_path, out, ours_class)
        made.append(pair)
        return pair

    try:
        yield factory
    finally:
        for pair in made:
            pair.close()


@pytest.mark.parametrize("style", list(STYLES))
@pytest.mark.parametrize("handler_class", ["rotating", "timed"])
def test_plain_formatter_is_native(tmp_path: Path, style: str, handler_class: str) -> None:
    """A plain Formatter of each style, on either handler class, is formatted natively."""
    formatter = logging.Formatter(STYLES[style], style=style)
    if handler_class == "rotating":
        handler: logging.Handler = ConcurrentRotatingFileHandler(
            str(tmp_path / "a.log"), maxBytes=0
        )
    else:
        handler = ConcurrentTimedRotatingFileHandler(str(tmp_path / "a.log"), when="midnight")
    try:
        handler.setFormatter(formatter)
        handler.handle(sample_records()[0])
        assert native_format(handler) is not None
    finally:
        handler.close()


ORDINARY = {
    "%": "%(asctime)s.%(msecs)03d %(levelname)-8s [%(name)s:%(lineno)d] %(funcName)s "
    "%(process)d %(thread)x %(threadName)r %(created).3f %(relativeCreated)10.1f %(message)s",
    "{": "{asctime}.{msecs:03.0f} {levelname:<8} [{name}:{lineno:d}] {funcName!r} "
    "{process:>7} {thread:x} {created:.3f} {relativeCreated:,.1f} {message}",
    "$": "$asctime ${levelname} [$name:${lineno}] $funcName $process $thread $message",
}


@pytest.mark.parametrize("style", list(ORDINARY))
@pytest.mark.parametrize("datefmt", [None, "%Y-%m-%dT%H:%M:%S%z %Z %a %b %j"])
def test_ordinary_formats_do_not_run_python_format(
    make_pair: Any, style: str, datefmt: Optional[str]
) -> None:
    """The native path really formats: for ordinary formats and records (exceptions,
    stack info, args, a dict arg, non-str msg included), logging.Formatter.format never
    runs, and the bytes are the stdlib's."""
    pair = make_pair(sf.OutputSpec("utf-8", "replace", None, "\n"))
    pair.set_formatters(*(logging.Formatter(ORDINARY[style], datefmt, style) for _ in "ab"))
    formatted = 0
    for mine in sample_records():
        theirs = copy.copy(mine)
        python_path = handle_probed(pair.ours, mine)
        pair.std.handle(theirs)
        assert pair.appended(pair.ours_path) == pair.appended(pair.std_path)
        assert len(pair.ours.failed) == len(pair.std.failed)
        if pair.std.failed:  # a None thread or process with %x, {:x}, {:>7}
            pair.ours.failed.clear()
            pair.std.failed.clear()
            continue
        assert not python_path, f"Formatter.format ran for {mine.__dict__}"
        assert mine.__dict__ == theirs.__dict__
        formatted += 1
    assert formatted >= 5


@pytest.mark.parametrize("style", list(STYLES))
@pytest.mark.parametrize(
    "kind", sorted(k for k, (_, native) in sf.KINDS.items() if native is not True)
)
def test_other_formatters_same_bytes(make_pair: Any, style: str, kind: str) -> None:
    """Subclasses overriding format/formatTime/formatMessage/usesTime, a JSON formatter,
    a Python converter, formatException/formatStack overrides: the same bytes; the
    overriding ones are not taken natively."""
    pair = make_pair()
    spec = sf.FormatterSpec(
        kind,
        style,
        STYLES[style],
        "%H:%M:%S %Z",
        converter="shifted" if kind == "custom_converter" else None,
    )
    pair.set_formatters(spec.build(), spec.build())
    emit_and_compare(pair, sample_records())
    if sf.KINDS[kind][1] is False:
        assert native_format(pair.ours) is None


@pytest.mark.skipif(sys.version_info < (3, 10), reason="defaults= is Python 3.10+")
@pytest.mark.parametrize("style", list(STYLES))
def test_defaults_same_bytes(make_pair: Any, style: str) -> None:
    """A formatter with defaults= (native or not): a default fills a missing field, a
    record's own attribute wins over it."""
    fmt = {"%": "%(user)s %(message)s", "{": "{user} {message}", "$": "$user $message"}[style]
    pair = make_pair()
    pair.set_formatters(
        *(logging.Formatter(fmt, style=style, defaults={"user": "-"}) for _ in "ab")
    )
    records = sample_records()
    records[1].user = "alice"
    emit_and_compare(pair, records)


def test_changes_after_attach(make_pair: Any) -> None:
    """What users change on a formatter or handler after setFormatter takes effect at
    the next record, as in the stdlib: datefmt, converter, default_msec_format and
    default_time_format on the instance or on logging.Formatter (the documented way
    to log in UTC everywhere), the style's format string (format() ignores
    formatter._fmt, and "$" uses _tpl), usesTime on the instance, handler.formatter
    assigned directly, no formatter at all."""
    pair = make_pair()
    fmts = [logging.Formatter("%(asctime)s|%(message)s") for _ in "ab"]
    pair.set_formatters(*fmts)

    def both(**attrs: Any) -> None:
        for f in fmts:
            for k, v in attrs.items():
                setattr(f, k, v)
        emit_and_compare(
            pair, sample_records()[:2], zone="America/New_York" if sf.CAN_SET_TZ else None
        )

    both()
    both(datefmt="%d/%m/%Y %H.%M.%S %z")
    both(datefmt=None, converter=time.gmtime)
    both(default_msec_format=None)
    both(default_msec_format="%s.%03d", default_time_format="%H:%M:%S")
    for f in fmts:
        del f.converter, f.default_msec_format, f.default_time_format
    for name, value in [
        ("converter", time.gmtime),
        ("default_msec_format", "%s~%03d"),
        ("default_time_format", "%j %H"),
    ]:
        saved = getattr(logging.Formatter, name)
        setattr(logging.Formatter, name, value)
        try:
            both()
        finally:
            setattr(logging.Formatter, name, saved)
    both()
    both(_fmt="%(name)s only")  # not what format() uses: no change
    for f in fmts:
        f._style._fmt = "%(levelname)s:%(message)s"  # what format() uses
    both()
    for f in fmts:
        f._style._fmt = "%(asctime)s|%(message)s"
    failed_before = COUNTS["failed"]
    both(usesTime=lambda: False)  # %(asctime)s then missing: every record fails
    assert COUNTS["failed"] == failed_before + 2
    for f in fmts:
        del f.usesTime
    both()
    for style, fmt in (("{", "{asctime}|{message}"), ("$", "$asctime|$message")):
        fmts[:] = [logging.Formatter(fmt, style=style) for _ in "ab"]
        pair.set_formatters(*fmts)
        both()
        for f in fmts:
            f._style._fmt = fmt.replace("|", "#")  # "$": format() uses _tpl, not _fmt
        both()
    pair.ours.formatter = logging.Formatter("{name}/{message}", style="{")
    pair.std.formatter = logging.Formatter("{name}/{message}", style="{")
    emit_and_compare(pair, sample_records())
    pair.set_formatters(None, None)  # logging's default formatter: "%(message)s"
    emit_and_compare(pair, sample_records())


@pytest.mark.parametrize(
    "fmt, style",
    [
        ("%(name)s %", "%"),
        ("%(name)s %(nope)s", "%"),
        ("no fields at all", "%"),
        ("{name} {", "{"),
        ("{name} {0}", "{"),
        ("{name!x}", "{"),
        ("$name $", "$"),
        ("${name", "$"),
        ("no fields at all", "$"),
    ],
)
def test_unvalidated_formats_fail_alike(make_pair: Any, fmt: str, style: str) -> None:
    """validate=False lets through formats the stdlib would refuse: both paths write
    or fail the same records."""
    pair = make_pair()
    pair.set_formatters(*(logging.Formatter(fmt, style=style, validate=False) for _ in "ab"))
    emit_and_compare(pair, sample_records())


class PrefixOurs(Ours):
    def format(self, record: logging.LogRecord) -> str:
        return "P:" + super().format(record)


class PrefixStd(Std):
    def format(self, record: logging.LogRecord) -> str:
        return "P:" + super().format(record)


def test_handler_overriding_format_is_not_native(tmp_path: Path) -> None:
    """A handler subclass overriding format() keeps its override (compared with a
    FileHandler subclass doing the same)."""
    out = sf.OutputSpec("utf-8", "replace", None, "\n")
    pair = Pair(tmp_path, out, PrefixOurs, PrefixStd)
    try:
        pair.set_formatters(logging.Formatter("%(message)s"), logging.Formatter("%(message)s"))
        emit_and_compare(pair, sample_records())
        assert native_format(pair.ours) is None
    finally:
        pair.close()


def test_comparison_catches_a_difference(make_pair: Any) -> None:
    """The comparison itself can fail: formatters that differ by one character, a
    record only one side fails, and a record attribute only one side sets are each
    caught."""
    pair = make_pair()
    pair.set_formatters(logging.Formatter("%(message)s"), logging.Formatter("%(message)s "))
    with pytest.raises(AssertionError, match="ours wrote"):
        emit_and_compare(pair, sample_records()[:1])
    pair.set_formatters(logging.Formatter("%(message)s"), logging.Formatter("%(message)d"))
    with pytest.raises(AssertionError, match="handleError"):
        emit_and_compare(pair, sample_records()[:1])
    # asctime formatted to nothing: the same bytes, but only the stdlib's record has it
    pair.set_formatters(
        logging.Formatter("%(message)s"), logging.Formatter("%(message)s%(asctime).0s")
    )
    with pytest.raises(AssertionError, match="record attributes differ"):
        emit_and_compare(pair, sample_records()[:1])


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_bom_when_the_first_record_fails(tmp_path: Path, encoding: str) -> None:
    """Our log starts with the byte-order mark even when the first record failed to
    encode (strict policy), then never again. The stdlib differs for utf-8-sig: its
    encoder drops the mark with the failed record (codecs' utf_8_sig
    IncrementalEncoder clears ``first`` before encoding), so that file has none; with
    utf-16 it keeps it. So this compares with the expected bytes, not with FileHandler."""
    path = tmp_path / "bom.log"
    handler = Ours(str(path), maxBytes=0, encoding=encoding, unicode_error_policy="strict")
    handler.failed = []
    try:
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.handle(logging.makeLogRecord({"msg": "bad \ud800"}))
        handler.handle(logging.makeLogRecord({"msg": "good"}))
        handler.handle(logging.makeLogRecord({"msg": "again"}))
    finally:
        handler.close()
    assert len(handler.failed) == 1
    assert path.read_bytes() == "good\nagain\n".encode(encoding)
