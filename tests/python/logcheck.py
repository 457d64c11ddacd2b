"""Write and verify a rotating log file set written by many processes: the one
record-integrity checker of the tests, the chaos kit, the demo and the benchmark.

Records are framed so that a lost, duplicated, torn or interleaved record is detected
without splitting on newlines (a record may hold newlines and any non-ASCII text):

    <<wid:seq:len:crc>>payload<<wid:seq:end>>\\n

``wid`` names the writer, ``seq`` counts its records from 0, ``len`` is the payload's
length in UTF-8 bytes and ``crc`` its CRC-32 (8 hex digits). Payloads never contain
``<<``. A record is intact when its header, exactly ``len`` payload bytes with that
CRC and its own end marker follow each other.

A format with one record per line that cannot carry the frame (the benchmark's, which
must cost what a real log line costs) is checked the same way through
:func:`line_parser`: a line is a record when it matches a pattern naming its writer and
sequence number; any other line is torn.

Standard library only, Python 3.9+: writer processes of either package (this one's and
CLH 0.9.31's interpreter) import it, and the demo and the benchmark import it by path.
"""

from __future__ import annotations

try:
    import fcntl  # POSIX only: the lock helpers below are not used elsewhere
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
import gzip
import logging
import os
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Union

PathLike = Union[str, "os.PathLike[str]"]
#: What the writers wrote: writer id -> how many records (seq 0..n-1, once each), or a
#: Counter of (writer id, seq) -> how many times that record must be found.
Expected = Union[Mapping[str, int], "Counter[tuple[str, int]]"]

_HEADER = re.compile(rb"<<([A-Za-z0-9_.-]+):(\d+):(\d+):([0-9a-f]{8})>>")


# -- writing ------------------------------------------------------------------------


def format_record(wid: str, seq: int, payload: str) -> str:
    """Frame ``payload`` (which must not contain ``<<``) as record ``seq`` of ``wid``."""
    if "<<" in payload:
        raise ValueError("payload must not contain '<<'")
    raw = payload.encode("utf-8")
    crc = zlib.crc32(raw)
    return f"<<{wid}:{seq}:{len(raw)}:{crc:08x}>>{payload}<<{wid}:{seq}:end>>"


_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")
_NON_ASCII = ("café é à ü", "日本語のログ", "emoji 🚀🔥✅", "Ελληνικά", "naïve façade")


def mixed_payload(wid: str, seq: int) -> str:
    """The soak test's mix, deterministic in (wid, seq): mostly ~100 bytes of ASCII,
    every 97th record 5-9 KiB, every 7th non-ASCII, every 11th with embedded newlines."""
    word = _WORDS[seq % len(_WORDS)]
    text = f"writer {wid} record {seq} {word} " + "x" * (40 + seq % 37)
    if seq % 7 == 3:
        text += " " + _NON_ASCII[seq % len(_NON_ASCII)]
    if seq % 11 == 5:
        text += "\nsecond line\n\tthird line: Traceback-like\n"
    if seq % 97 == 13:
        size = 5 * 1024 + (seq * 7919) % (4 * 1024)
        block = f"{word}-{seq} 日本語 ".encode()
        reps = size // len(block) + 1
        text += " " + (block * reps)[:size].decode("utf-8", "ignore")
    return text


def mixed_record(wid: str, seq: int) -> str:
    """Record ``seq`` of ``wid`` with the :func:`mixed_payload` mix."""
    return format_record(wid, seq, mixed_payload(wid, seq))


def short_record(wid: str, seq: int) -> str:
    """A small record (about 110 bytes with its newline) of ``wid``."""
    return format_record(wid, seq, f"{wid} record {seq} " + "y" * 60)


def framed_logger(handler: logging.Handler, name: str) -> logging.Logger:
    """Logger ``name``, non-propagating, level INFO, writing through ``handler`` whose
    formatter is set to ``%(message)s``: a framed record logged as the message is
    written exactly as framed."""
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger(name)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger


# -- file names and the lock --------------------------------------------------------


def lock_file_name(log_name: str) -> str:
    """CLH's lock file name for a log name: ``app.log`` -> ``.__app.lock``."""
    stem = log_name.removesuffix(".log")
    return f".__{stem}.lock"


def temp_prefix(log_name: str) -> str:
    """Prefix of the package's hidden temporaries for a log: ``.__clh-<crc32 of the
    log's file name>.`` (then ``new`` or ``gz``, the pid and a counter)."""
    return f".__clh-{zlib.crc32(os.fsencode(log_name)):08x}."


def temp_name(log_name: str, kind: str, pid: int, n: int) -> str:
    """A temporary's name: ``kind`` is ``new`` (a file being created) or ``gz``."""
    return f"{temp_prefix(log_name)}{kind}.{pid}.{n}"


def backup_pattern(log_name: str) -> re.Pattern[str]:
    """Matches the numbered backups ``<log name>.N`` and ``<log name>.N.gz`` (N >= 1):
    group 1 is N, group 2 ``.gz`` or None."""
    return re.compile(re.escape(log_name) + r"\.([1-9][0-9]*)(\.gz)?")


def read_locked(lock_path: PathLike) -> str:
    """The lock file's content (a timed log's next rollover time), read under its
    flock, as the writers read it."""
    with open(lock_path) as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            return f.read()
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def flocks(inode: int) -> list[tuple[int, bool]]:
    """Every flock() lock on the file with this inode, from /proc/locks (Linux): (pid,
    waiting), waiting being True for a process blocked in flock(), False for the
    holder."""
    out = []
    with open("/proc/locks") as f:
        for line in f:
            fields = line.split()
            waiting = fields[1:2] == ["->"]
            if waiting:
                del fields[1]
            # "<n>: FLOCK ADVISORY WRITE <pid> <maj>:<min>:<inode> <start> <end>"
            if (
                len(fields) >= 6
                and fields[1] == "FLOCK"
                and fields[5].rsplit(":", 1)[-1] == str(inode)
            ):
                out.append((int(fields[4]), waiting))
    return out


def flock_waiters(inode: int) -> set[int]:
    """PIDs blocked in flock() on the file with this inode (from /proc/locks)."""
    return {pid for pid, waiting in flocks(inode) if waiting}


def flock_holder(path: PathLike) -> int | None:
    """The pid holding the flock on ``path``, from /proc/locks (Linux), if any; None
    too when the path or /proc/locks cannot be read."""
    try:
        entries = flocks(os.stat(path).st_ino)
    except OSError:
        return None
    return next((pid for pid, waiting in entries if not waiting), None)


# -- reading ------------------------------------------------------------------------


@dataclass
class LogFile:
    """One file of the set: the live log (slot 0) or backup ``slot``."""

    path: Path
    slot: int
    gz: bool
    data: bytes = b""
    error: str | None = None  # set when a .gz does not decompress


def read_file(path: PathLike, slot: int = 0) -> LogFile:
    """Read one file of a set; a name ending in ``.gz`` is decompressed (one that does
    not decompress gets ``error`` set and empty ``data``)."""
    path = Path(path)
    f = LogFile(path, slot, path.name.endswith(".gz"))
    raw = path.read_bytes()
    if f.gz:
        try:
            f.data = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            f.error = f"{type(e).__name__}: {e}"
    else:
        f.data = raw
    return f


def read_log_set(log_path: PathLike) -> list[LogFile]:
    """The live log and every backup ``app.log.N`` / ``app.log.N.gz``, oldest first
    (highest slot first, the live log last). A .gz that fails to decompress gets
    ``error`` set and empty ``data``."""
    log_path = Path(log_path)
    pattern = backup_pattern(log_path.name)
    found: list[tuple[int, bool, str]] = []
    for entry in os.scandir(log_path.parent):
        m = pattern.fullmatch(entry.name)
        if m:
            found.append((int(m.group(1)), bool(m.group(2)), entry.path))
    found.sort(key=lambda f: (-f[0], f[1]))
    files = [read_file(path, slot) for slot, _, path in found]
    if log_path.exists():
        files.append(read_file(log_path, 0))
    return files


def stray_files(log_path: PathLike) -> list[str]:
    """Names in the log's directory that are neither the log, its lock file nor a
    numbered backup: leftover ``app.log.rotate.*``, ``*.part``, temporaries (:func:`temp_name`)..."""
    log_path = Path(log_path)
    pattern = backup_pattern(log_path.name)
    allowed = {log_path.name, lock_file_name(log_path.name)}
    return sorted(
        name
        for name in os.listdir(log_path.parent)
        if name not in allowed and not pattern.fullmatch(name)
    )


def slot_problems(files: Sequence[LogFile], gzip: bool = False) -> list[str]:
    """What is wrong with the backups of a set read by :func:`read_log_set`: they must
    be exactly slots 1..N, one file per slot, and all compressed when ``gzip``."""
    problems = []
    slots = sorted(f.slot for f in files if f.slot > 0)
    if slots != list(range(1, len(slots) + 1)):
        missing = sorted(set(range(1, max(slots, default=0) + 1)) - set(slots))
        doubled = sorted({s for s in slots if slots.count(s) > 1})
        problems.append(f"backups not contiguous: missing {missing[:10]}, doubled {doubled[:10]}")
    if gzip:
        raw = [f.path.name for f in files if f.slot > 0 and not f.gz]
        if raw:
            problems.append(f"uncompressed backups with use_gzip: {raw[:10]}")
    return problems


# -- parsing ------------------------------------------------------------------------


@dataclass
class Parsed:
    """What one file holds: intact records in file order, and what is broken."""

    records: list[tuple[str, int]] = field(default_factory=list)
    torn: int = 0  # headers not followed by their exact payload and end marker
    garbage_bytes: int = 0  # bytes outside every intact record
    largest: int = 0  # size in bytes of the largest intact record, terminator included


def parse_records(data: bytes) -> Parsed:
    """Parse a file's bytes by markers (not by lines)."""
    out = Parsed()
    pos, end = 0, len(data)
    while pos < end:
        m = _HEADER.search(data, pos)
        if m is None:
            out.garbage_bytes += end - pos
            break
        out.garbage_bytes += m.start() - pos
        wid, seq, length, crc = m.group(1), m.group(2), int(m.group(3)), int(m.group(4), 16)
        body_end = m.end() + length
        trailer = b"<<" + wid + b":" + seq + b":end>>\n"
        if (
            data.startswith(trailer, body_end)
            and zlib.crc32(data[m.end() : body_end]) == crc
            and b"<<" not in data[m.end() : body_end]
        ):
            out.records.append((wid.decode("ascii"), int(seq)))
            pos = body_end + len(trailer)
            out.largest = max(out.largest, pos - m.start())
        else:
            out.torn += 1
            out.garbage_bytes += m.end() - m.start()
            pos = m.end()
    return out


def line_parser(pattern: re.Pattern[bytes]) -> Callable[[bytes], Parsed]:
    """A parser (for the ``parse`` argument of the checks) of a format with one record
    per ``\\n``-terminated line: a line is a record when ``pattern`` matches all of it
    and names the writer and the sequence number in groups ``wid`` and ``seq``; any
    other line, and a last line without its newline, is torn."""

    def parse(data: bytes) -> Parsed:
        out = Parsed()
        lines = data.split(b"\n")
        tail = lines.pop()  # what follows the last newline: nothing, unless cut short
        for line in lines:
            m = pattern.fullmatch(line)
            if m is None:
                out.torn += 1
                out.garbage_bytes += len(line) + 1
            else:
                out.records.append((m.group("wid").decode("ascii"), int(m.group("seq"))))
                out.largest = max(out.largest, len(line) + 1)
        if tail:
            out.torn += 1
            out.garbage_bytes += len(tail)
        return out

    return parse


# -- the whole check ----------------------------------------------------------------


@dataclass
class Report:
    """Result of checking a log file set against what the writers wrote."""

    files: list[LogFile]
    intact: int = 0  # intact records found, duplicates and unexpected ones included
    lost: int = 0  # expected records found fewer times than expected (each missing copy)
    duplicated: int = 0  # extra copies of records found more often than expected
    torn: int = 0
    garbage_bytes: int = 0
    out_of_order: int = 0  # a writer's record found in an older file than its predecessor
    unexpected: int = 0  # intact records neither expected nor optional
    bad_gz: list[str] = field(default_factory=list)
    found: dict[str, list[int]] = field(default_factory=dict)  # wid -> sorted unique seqs
    largest_record: int = 0
    counts: Counter[tuple[str, int]] = field(default_factory=Counter)  # every intact record

    @property
    def backups(self) -> list[LogFile]:
        return [f for f in self.files if f.slot > 0]

    @property
    def matched(self) -> int:
        """Intact records that were expected or optional, duplicates included."""
        return self.intact - self.unexpected

    @property
    def clean(self) -> bool:
        """Every expected record present exactly once, whole, in order; nothing else."""
        return self.lost == 0 and self.intact_without_loss

    @property
    def intact_without_loss(self) -> bool:
        """Like :attr:`clean` but tolerating lost records (retention)."""
        return self.out_of_order == 0 and self.clean_any_order_without_loss

    @property
    def clean_any_order(self) -> bool:
        """Like :attr:`clean` but without the order (for files read in no particular
        order, or written by several handlers at once)."""
        return self.lost == 0 and self.clean_any_order_without_loss

    @property
    def clean_any_order_without_loss(self) -> bool:
        return not (
            self.duplicated or self.torn or self.garbage_bytes or self.unexpected or self.bad_gz
        )

    def summary(self) -> str:
        gz = sum(f.gz for f in self.backups)
        return (
            f"{self.intact} intact records in {len(self.files)} files "
            f"({len(self.backups)} backups, {gz} .gz): lost {self.lost}, "
            f"duplicated {self.duplicated}, torn {self.torn}, garbage bytes "
            f"{self.garbage_bytes}, out of order {self.out_of_order}, unexpected "
            f"{self.unexpected}, bad gz {self.bad_gz}"
        )


def expect(counts: Mapping[str, int]) -> Counter[tuple[str, int]]:
    """Records 0..n-1 of every writer, once each (the general form of ``expected``)."""
    return Counter({(wid, seq): 1 for wid, n in counts.items() for seq in range(n)})


def check_files(
    files: Sequence[LogFile],
    expected: Expected,
    *,
    optional: Iterable[tuple[str, int]] = (),
    parse: Callable[[bytes], Parsed] = parse_records,
) -> Report:
    """Parse ``files`` (oldest first: the order is checked per writer) and count their
    records against ``expected``; each ``optional`` record may be found once or not at
    all (a record in flight when its writer died)."""
    if not isinstance(expected, Counter):
        expected = expect(expected)
    optional = set(optional)
    report = Report(list(files))
    counts = report.counts
    last: dict[str, int] = {}
    for f in files:
        if f.error is not None:
            report.bad_gz.append(f"{f.path.name}: {f.error}")
            continue
        parsed = parse(f.data)
        report.torn += parsed.torn
        report.garbage_bytes += parsed.garbage_bytes
        report.largest_record = max(report.largest_record, parsed.largest)
        report.intact += len(parsed.records)
        counts.update(parsed.records)
        for key in parsed.records:
            if key not in expected and key not in optional:
                report.unexpected += 1
                continue
            wid, seq = key
            if seq < last.get(wid, -1):
                report.out_of_order += 1
            last[wid] = max(seq, last.get(wid, -1))
    report.lost = sum(max(0, n - counts[key]) for key, n in expected.items())
    report.duplicated = sum(max(0, c - expected.get(key, 1)) for key, c in counts.items())
    found: dict[str, set[int]] = {wid: set() for wid, _ in expected}
    for key in counts:
        if key in expected or key in optional:
            found.setdefault(key[0], set()).add(key[1])
    report.found = {wid: sorted(seqs) for wid, seqs in found.items()}
    return report


def check_data(
    blobs: Iterable[bytes],
    expected: Expected,
    *,
    optional: Iterable[tuple[str, int]] = (),
    parse: Callable[[bytes], Parsed] = parse_records,
) -> Report:
    """:func:`check_files` for the contents of files read some other way (a set of
    dated backups, say), oldest first; the report names no files."""
    files = [LogFile(Path(f"<data {i}>"), 0, False, data) for i, data in enumerate(blobs)]
    report = check_files(files, expected, optional=optional, parse=parse)
    report.files = []
    return report


def check(
    log_path: PathLike,
    expected: Expected,
    *,
    optional: Iterable[tuple[str, int]] = (),
    parse: Callable[[bytes], Parsed] = parse_records,
) -> Report:
    """Read (:func:`read_log_set`) and check the numbered file set of ``log_path``;
    ``expected`` maps each writer id to how many records (seq 0..n-1) it wrote (or see
    :data:`Expected` and :func:`check_files`)."""
    return check_files(read_log_set(log_path), expected, optional=optional, parse=parse)
