"""Verify a rotating log file set written by many processes.

Records are framed so that a lost, duplicated, torn or interleaved record is detected
without splitting on newlines (a record may hold newlines and any non-ASCII text):

    <<wid:seq:len:crc>>payload<<wid:seq:end>>\\n

``wid`` names the writer, ``seq`` counts its records from 0, ``len`` is the payload's
length in UTF-8 bytes and ``crc`` its CRC-32 (8 hex digits). Payloads never contain
``<<``. A record is intact when its header, exactly ``len`` payload bytes with that
CRC and its own end marker follow each other.

Used by test_soak.py (which also runs :func:`mixed_payload` in its worker processes).
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

PathLike = Union[str, "os.PathLike[str]"]

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


# -- reading ------------------------------------------------------------------------


@dataclass
class LogFile:
    """One file of the set: the live log (slot 0) or backup ``slot``."""

    path: Path
    slot: int
    gz: bool
    data: bytes = b""
    error: str | None = None  # set when a .gz does not decompress


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


def _backup_re(log_name: str) -> re.Pattern[str]:
    return re.compile(re.escape(log_name) + r"\.([1-9][0-9]*)(\.gz)?")


def read_log_set(log_path: PathLike) -> list[LogFile]:
    """The live log and every backup ``app.log.N`` / ``app.log.N.gz``, oldest first
    (highest slot first, the live log last). A .gz that fails to decompress gets
    ``error`` set and empty ``data``."""
    log_path = Path(log_path)
    pattern = _backup_re(log_path.name)
    files: list[LogFile] = []
    for entry in os.scandir(log_path.parent):
        m = pattern.fullmatch(entry.name)
        if m:
            files.append(LogFile(Path(entry.path), int(m.group(1)), bool(m.group(2))))
    files.sort(key=lambda f: (-f.slot, f.gz))
    if log_path.exists():
        files.append(LogFile(log_path, 0, False))
    for f in files:
        raw = f.path.read_bytes()
        if f.gz:
            try:
                f.data = gzip.decompress(raw)
            except (OSError, EOFError, zlib.error) as e:
                f.error = f"{type(e).__name__}: {e}"
        else:
            f.data = raw
    return files


def stray_files(log_path: PathLike) -> list[str]:
    """Names in the log's directory that are neither the log, its lock file nor a
    numbered backup: leftover ``app.log.rotate.*``, ``*.part``, temporaries (:func:`temp_name`)..."""
    log_path = Path(log_path)
    pattern = _backup_re(log_path.name)
    allowed = {log_path.name, lock_file_name(log_path.name)}
    return sorted(
        name
        for name in os.listdir(log_path.parent)
        if name not in allowed and not pattern.fullmatch(name)
    )


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


# -- the whole check ----------------------------------------------------------------


@dataclass
class Report:
    """Result of checking a log file set against what the writers wrote."""

    files: list[LogFile]
    intact: int = 0  # intact records found, duplicates included
    lost: int = 0
    duplicated: int = 0  # extra copies of records found more than once
    torn: int = 0
    garbage_bytes: int = 0
    out_of_order: int = 0  # a writer's record found in an older file than its predecessor
    unexpected: int = 0  # intact records of an unknown writer or beyond its count
    bad_gz: list[str] = field(default_factory=list)
    found: dict[str, list[int]] = field(default_factory=dict)  # wid -> sorted unique seqs
    largest_record: int = 0

    @property
    def backups(self) -> list[LogFile]:
        return [f for f in self.files if f.slot > 0]

    @property
    def clean(self) -> bool:
        """Every expected record present exactly once, whole, in order; nothing else."""
        return self.lost == 0 and self.intact_without_loss

    @property
    def intact_without_loss(self) -> bool:
        """Like :attr:`clean` but tolerating lost records (retention)."""
        return not (
            self.duplicated
            or self.torn
            or self.garbage_bytes
            or self.out_of_order
            or self.unexpected
            or self.bad_gz
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


def check(log_path: PathLike, expected: Mapping[str, int]) -> Report:
    """Read and parse the file set of ``log_path``; ``expected`` maps each writer id to
    how many records (seq 0..n-1) it wrote."""
    files = read_log_set(log_path)
    report = Report(files)
    seen: dict[str, dict[int, int]] = defaultdict(dict)
    last: dict[str, int] = {}
    for f in files:
        if f.error is not None:
            report.bad_gz.append(f"{f.path.name}: {f.error}")
            continue
        parsed = parse_records(f.data)
        report.torn += parsed.torn
        report.garbage_bytes += parsed.garbage_bytes
        report.largest_record = max(report.largest_record, parsed.largest)
        for wid, seq in parsed.records:
            report.intact += 1
            if wid not in expected or seq >= expected[wid]:
                report.unexpected += 1
                continue
            counts = seen[wid]
            counts[seq] = counts.get(seq, 0) + 1
            if seq < last.get(wid, -1):
                report.out_of_order += 1
            last[wid] = max(seq, last.get(wid, -1))
    for wid, n in expected.items():
        counts = seen.get(wid, {})
        report.lost += n - len(counts)
        report.duplicated += sum(c - 1 for c in counts.values())
        report.found[wid] = sorted(counts)
    return report
