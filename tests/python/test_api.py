"""The drop-in contract of ConcurrentRotatingFileHandler, checked against what
concurrent-log-handler (CLH) 0.9.31 does: constructor, attributes, logging.config,
encodings, newlines, rotation, errors, recursion, threads, permissions and owner.

Expected values are CLH 0.9.31's observable behaviour (verified by running CLH itself);
the few places where this package is deliberately stricter (validation at construction)
are named in the tests' docstrings.
"""

from __future__ import annotations

import gzip
import inspect
import logging
import logging.handlers
import os
import re
import shutil
import stat
import subprocess
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import concurrent_log_handler
import logcheck
import pytest
from concurrent_log_handler import ConcurrentRotatingFileHandler
from conftest import (
    LOGGING_ERROR,
    as_nobody,
    dict_config_script,
    file_config_script,
    held_lock,
    needs_root,
    nobody_group,
    rec,
    run_python,
    wait_blocked,
)

Factory = Callable[..., ConcurrentRotatingFileHandler]

# CLH 0.9.31's constructor, copied from its source (/tmp/clhsrc, concurrent_log_handler
# __init__.py): (name, default) in order; every parameter is positional-or-keyword.
_NO_DEFAULT = inspect.Parameter.empty
CLH_0_9_31_SIGNATURE: list[tuple[str, object]] = [
    ("filename", _NO_DEFAULT),
    ("mode", "a"),
    ("maxBytes", 0),
    ("backupCount", 0),
    ("encoding", None),
    ("debug", False),
    ("delay", None),
    ("use_gzip", False),
    ("owner", None),
    ("chmod", None),
    ("umask", None),
    ("newline", None),
    ("terminator", "\n"),
    ("unicode_error_policy", "ignore"),
    ("lock_file_directory", None),
    ("keep_file_open", True),
]


# -- helpers ------------------------------------------------------------------------


def clh_model(records: list[bytes], max_bytes: int, backup_count: int) -> tuple[list[bytes], int]:
    """CLH 0.9.31's size rotation, replayed in memory: before each record, rotate if the
    log holds >= max_bytes. Returns ([app.log, app.log.1, ...], rotations)."""
    files = [b""]
    rotations = 0
    for r in records:
        if max_bytes > 0 and len(files[0]) >= max_bytes:
            rotations += 1
            if backup_count == 0:
                files[0] = b""
            else:
                files.insert(0, b"")
                del files[backup_count + 1 :]
        files[0] += r
    return files, rotations


def read_backup(path: Path, gz: bool) -> bytes:
    raw = path.read_bytes()
    return gzip.decompress(raw) if gz else raw


def mode_of(path: object) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)  # type: ignore[arg-type]


# -- constructor and attributes -----------------------------------------------------


# Our extensions: keyword-only, after all of CLH's parameters, so every CLH call works.
EXTENSIONS = [
    ("background", False),
    ("queue_records", 10_000),
    ("queue_bytes", 8 << 20),
    ("queue_overflow", "block"),
]


def test_signature_is_clh_0_9_31() -> None:
    """Parameter names, order, kinds and defaults equal CLH 0.9.31's constructor,
    followed only by our keyword-only extensions."""
    params = list(inspect.signature(ConcurrentRotatingFileHandler).parameters.values())
    clh, extra = params[: len(CLH_0_9_31_SIGNATURE)], params[len(CLH_0_9_31_SIGNATURE) :]
    assert [(p.name, p.default) for p in clh] == CLH_0_9_31_SIGNATURE
    assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in clh)
    assert [(p.name, p.default) for p in extra] == EXTENSIONS
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in extra)


def test_is_a_base_rotating_handler_with_the_clh_methods() -> None:
    """Subclass of BaseRotatingHandler, with CLH's public methods."""
    assert issubclass(ConcurrentRotatingFileHandler, logging.handlers.BaseRotatingHandler)
    for name in ("emit", "shouldRollover", "doRollover", "flush", "close"):
        assert callable(getattr(ConcurrentRotatingFileHandler, name)), name


def test_all_positional_arguments_like_clh(tmp_path: Path, make_handler: Factory) -> None:
    """Every parameter can be passed positionally in CLH's order."""
    locks = tmp_path / "locks"
    h = make_handler(
        str(tmp_path / "pos.log"), "a", 1000, 3, "utf-8", False, None, True,
        None, None, None, None, "\n", "replace", str(locks), True,
    )  # fmt: skip
    assert (h.maxBytes, h.backupCount, h.encoding, h.use_gzip) == (1000, 3, "utf-8", True)
    assert h.unicode_error_policy == "replace"
    assert os.fspath(h.lockFilename) == str(locks / ".__pos.lock")


def test_attributes(tmp_path: Path, make_handler: Factory, monkeypatch) -> None:
    """baseFilename is absolute (relative names resolve against the cwd, str like CLH);
    mode, encoding, maxBytes, backupCount, use_gzip are stored; encoding=None stays None
    (BaseRotatingHandler stores the argument as given), as in CLH."""
    monkeypatch.chdir(tmp_path)
    h = make_handler("rel.log", maxBytes=1234, backupCount=7, use_gzip=True)
    assert isinstance(h.baseFilename, str)
    assert h.baseFilename == str(tmp_path / "rel.log")
    assert os.path.isabs(h.baseFilename)
    assert h.mode == "a"
    assert (h.maxBytes, h.backupCount, h.use_gzip) == (1234, 7, True)
    assert h.encoding is None
    assert make_handler(tmp_path / "e.log", encoding="latin-1").encoding == "latin-1"
    assert make_handler(tmp_path / "g.log").use_gzip is False


def test_filename_may_be_a_pathlib_path(tmp_path: Path, make_handler: Factory) -> None:
    """A pathlib.Path works as filename; baseFilename is then the same absolute str."""
    h = make_handler(tmp_path / "p.log")
    assert h.baseFilename == str(tmp_path / "p.log")
    h.emit(rec("via Path"))
    assert (tmp_path / "p.log").read_bytes() == b"via Path\n"


@pytest.mark.parametrize(
    ("log_name", "lock_name"),
    [
        ("app.log", ".__app.lock"),
        ("app.txt", ".__app.txt.lock"),
        ("app", ".__app.lock"),
        ("app.log.txt", ".__app.log.txt.lock"),
        ("my.app.log", ".__my.app.lock"),
    ],
)
def test_lock_filename_follows_clh(
    tmp_path: Path, make_handler: Factory, log_name: str, lock_name: str
) -> None:
    """lockFilename is CLH's name (a str, as in CLH), beside the log, and it is the file
    actually created and locked."""
    h = make_handler(tmp_path / log_name)
    assert isinstance(h.lockFilename, str), type(h.lockFilename)
    assert h.lockFilename == str(tmp_path / lock_name)
    h.emit(rec("x"))
    assert sorted(os.listdir(tmp_path)) == sorted([log_name, lock_name])


def test_lock_file_directory_is_created(tmp_path: Path, make_handler: Factory) -> None:
    """lock_file_directory (missing, nested) is created and holds the lock file; none is
    created beside the log."""
    locks = tmp_path / "run" / "locks"
    logs = tmp_path / "logs"
    logs.mkdir()
    h = make_handler(logs / "app.log", lock_file_directory=str(locks))
    assert locks.is_dir()
    assert os.fspath(h.lockFilename) == str(locks / ".__app.lock")
    h.emit(rec("x"))
    assert os.listdir(locks) == [".__app.lock"]
    assert os.listdir(logs) == ["app.log"]


def test_num_rollovers_counts_rotations(tmp_path: Path, make_handler: Factory) -> None:
    """num_rollovers starts at 0 and counts this instance's rotations, size-triggered
    and forced."""
    h = make_handler(tmp_path / "n.log", maxBytes=50, backupCount=100)
    assert h.num_rollovers == 0
    records = [f"record {i:03d} {'x' * 20}\n".encode() for i in range(20)]
    for r in records:
        h.emit(rec(r.decode()[:-1]))
    _, expected = clh_model(records, 50, 100)
    assert expected > 0
    assert h.num_rollovers == expected
    h.doRollover()
    assert h.num_rollovers == expected + 1


# -- registration, logging.config, version ------------------------------------------


def test_import_registers_in_logging_handlers() -> None:
    """Importing the package makes logging.handlers.ConcurrentRotatingFileHandler ours."""
    registered = getattr(logging.handlers, "ConcurrentRotatingFileHandler", None)
    assert registered is ConcurrentRotatingFileHandler


def test_version_module() -> None:
    """`from concurrent_log_handler.__version__ import __version__` gives a version str."""
    from concurrent_log_handler.__version__ import __version__

    assert isinstance(__version__, str)
    assert re.match(r"^\d+\.\d+(\.\d+)?", __version__), __version__


_CONFIG_RECORDS = 30  # "record NN " + 40 x's = 50 bytes + "\n": rotates with maxBytes=200


def _expected_config_files(tmp_path: Path) -> None:
    records = [f"record {i:02d} {'x' * 40}\n".encode() for i in range(_CONFIG_RECORDS)]
    files, rotations = clh_model(records, 200, 3)
    assert rotations > 3
    log = tmp_path / "cfg.log"
    assert log.read_bytes() == files[0]
    for k in range(1, 4):
        assert Path(f"{log}.{k}").read_bytes() == files[k], k
    assert not Path(f"{log}.4").exists()


_LOG_RECORDS = f"""
import logging
for i in range({_CONFIG_RECORDS}):
    logging.getLogger().info("record %02d %s", i, "x" * 40)
h = logging.getLogger().handlers[0]
print(type(h).__module__, type(h).__name__, h.maxBytes, h.backupCount)
"""


def test_file_config(tmp_path: Path) -> None:
    """logging.config.fileConfig with class=handlers.ConcurrentRotatingFileHandler and
    args=(...) builds a working, rotating handler (run in a fresh interpreter)."""
    args = (str(tmp_path / "cfg.log"), "a", 200, 3)
    code = file_config_script(tmp_path / "logging.ini", "ConcurrentRotatingFileHandler", args)
    proc = run_python(code + _LOG_RECORDS)
    assert proc.stdout.split() == ["concurrent_log_handler", "ConcurrentRotatingFileHandler"] + [
        "200",
        "3",
    ]
    _expected_config_files(tmp_path)


@pytest.mark.parametrize("key", ["()", "class"])
def test_dict_config(tmp_path: Path, key: str) -> None:
    """logging.config.dictConfig with '()' or 'class': 'concurrent_log_handler.
    ConcurrentRotatingFileHandler' and keyword arguments builds a working handler."""
    code = dict_config_script(
        key,
        "ConcurrentRotatingFileHandler",
        filename=str(tmp_path / "cfg.log"),
        maxBytes=200,
        backupCount=3,
        use_gzip=False,
    )
    proc = run_python(code + _LOG_RECORDS)
    assert proc.stdout.split() == ["concurrent_log_handler", "ConcurrentRotatingFileHandler"] + [
        "200",
        "3",
    ]
    _expected_config_files(tmp_path)


# -- encodings ----------------------------------------------------------------------


def test_default_encoding_is_utf8(tmp_path: Path) -> None:
    """With encoding=None under a UTF-8 locale (as CLH: the locale's encoding), text is
    written as UTF-8."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "PYTHONUTF8"))}
    env.update(LANG="C.UTF-8", LC_ALL="C.UTF-8")
    code = """
import logging, sys
from concurrent_log_handler import ConcurrentRotatingFileHandler
h = ConcurrentRotatingFileHandler(sys.argv[1])
h.emit(logging.makeLogRecord({"msg": "h\\u00e9llo \\u2603 \\u65e5\\u672c \\U0001f680"}))
h.close()
"""
    run_python(code, str(tmp_path / "d.log"), env=env)
    assert (tmp_path / "d.log").read_bytes() == "héllo ☃ 日本 🚀\n".encode()


def test_utf16_file_is_one_bom_then_text(tmp_path: Path, make_handler: Factory) -> None:
    """encoding='utf-16' writes what CLH's text stream writes: one BOM at the start of
    each file, then UTF-16 text. Appending (another handler later) adds no BOM, and the
    new log after a rotation starts with its own BOM. So each file decodes as utf-16 to
    exactly its records (no stray U+FEFF between records)."""
    log = tmp_path / "u16.log"
    h = make_handler(log, encoding="utf-16", backupCount=2)
    h.emit(rec("héllo"))
    h.emit(rec("日本"))
    h.close()
    h2 = make_handler(log, encoding="utf-16", backupCount=2)
    h2.emit(rec("third"))
    assert log.read_bytes() == "héllo\n日本\nthird\n".encode("utf-16")
    h2.doRollover()
    h2.emit(rec("after rotation"))
    assert Path(f"{log}.1").read_bytes() == "héllo\n日本\nthird\n".encode("utf-16")
    assert log.read_bytes() == "after rotation\n".encode("utf-16")


def test_latin1_encoding(tmp_path: Path, make_handler: Factory) -> None:
    """encoding='latin-1' writes latin-1 bytes."""
    h = make_handler(tmp_path / "l1.log", encoding="latin-1")
    h.emit(rec("café ÿ ß"))
    assert (tmp_path / "l1.log").read_bytes() == b"caf\xe9 \xff \xdf\n"


@pytest.mark.parametrize(
    ("encoding", "text", "policy", "written"),
    [
        ("latin-1", "a€b", "ignore", b"ab\n"),
        ("latin-1", "a€b", "replace", b"a?b\n"),
        ("utf-8", "x\udcffy", "ignore", b"xy\n"),
        ("utf-8", "x\udcffy", "replace", b"x?y\n"),
    ],
)
def test_unicode_error_policy_lossy(
    tmp_path: Path, make_handler: Factory, encoding: str, text: str, policy: str, written: bytes
) -> None:
    """'ignore' drops and 'replace' substitutes '?' for unencodable characters and lone
    surrogates, exactly as CLH 0.9.31; nothing reaches handleError."""
    h = make_handler(tmp_path / "p.log", encoding=encoding, unicode_error_policy=policy)
    errors: list[logging.LogRecord] = []
    h.handleError = errors.append  # type: ignore[method-assign]
    h.emit(rec("before"))
    h.emit(rec(text))
    h.emit(rec("after"))
    assert (tmp_path / "p.log").read_bytes() == b"before\n" + written + b"after\n"
    assert errors == []


@pytest.mark.parametrize(("encoding", "text"), [("latin-1", "a€b"), ("utf-8", "x\udcffy")])
def test_unicode_error_policy_strict(
    tmp_path: Path,
    make_handler: Factory,
    make_logger,
    capsys,
    monkeypatch,
    encoding: str,
    text: str,
) -> None:
    """'strict': the unencodable record goes to handleError (printed as a logging
    error), nothing of it is written, nothing raises to the caller, logging goes on."""
    monkeypatch.setattr(logging, "raiseExceptions", True)
    h = make_handler(tmp_path / "s.log", encoding=encoding, unicode_error_policy="strict")
    logger = make_logger(h)
    logger.info("before")
    logger.info(text)
    logger.info("after")
    assert (tmp_path / "s.log").read_bytes() == b"before\nafter\n"
    err = capsys.readouterr().err
    assert err.count(LOGGING_ERROR) == 1
    assert "UnicodeEncodeError" in err


def test_invalid_unicode_error_policy_warns_and_ignores(
    tmp_path: Path, make_handler: Factory
) -> None:
    """An unknown policy gives a UserWarning and behaves as 'ignore'."""
    with pytest.warns(UserWarning, match="unicode_error_policy"):
        h = make_handler(tmp_path / "w.log", encoding="latin-1", unicode_error_policy="bogus")
    assert h.unicode_error_policy == "ignore"
    h.emit(rec("a€b"))
    assert (tmp_path / "w.log").read_bytes() == b"ab\n"


def test_delay_false_is_deprecated(tmp_path: Path, make_handler: Factory) -> None:
    """delay=False gives a DeprecationWarning (delay is ignored, as in CLH)."""
    with pytest.warns(DeprecationWarning, match="delay"):
        make_handler(tmp_path / "d.log", delay=False)


@pytest.mark.parametrize("delay", [None, True])
def test_delay_none_or_true_is_silent(tmp_path: Path, make_handler: Factory, delay) -> None:
    """delay=None (default) and delay=True give no warning at all."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h = make_handler(tmp_path / "d.log", delay=delay)
        h.emit(rec("x"))
    assert [str(w.message) for w in caught] == []


# -- newlines, terminator, odd records ----------------------------------------------


def test_default_terminator_and_newline(tmp_path: Path, make_handler: Factory) -> None:
    """Default terminator is '\\n' and (on POSIX) nothing is translated."""
    h = make_handler(tmp_path / "t.log")
    assert h.terminator == "\n"
    h.emit(rec("one"))
    h.emit(rec("two"))
    assert (tmp_path / "t.log").read_bytes() == b"one\ntwo\n"


def test_crlf_with_empty_newline_and_terminator(tmp_path: Path, make_handler: Factory) -> None:
    """newline='' + terminator='\\r\\n' ends records with CRLF and leaves embedded
    '\\n' alone (CLH: no translation)."""
    h = make_handler(tmp_path / "crlf.log", newline="", terminator="\r\n")
    h.emit(rec("a\nb"))
    h.emit(rec("c"))
    assert (tmp_path / "crlf.log").read_bytes() == b"a\nb\r\nc\r\n"


def test_newline_crlf_translates_everything(tmp_path: Path, make_handler: Factory) -> None:
    """newline='\\r\\n' translates every '\\n', embedded and terminator (text mode)."""
    h = make_handler(tmp_path / "tr.log", newline="\r\n")
    h.emit(rec("a\nb"))
    assert (tmp_path / "tr.log").read_bytes() == b"a\r\nb\r\n"


def test_embedded_newlines_and_nul_are_written_whole(tmp_path: Path, make_handler: Factory) -> None:
    """Multi-line records (tracebacks) and NUL bytes are written unchanged, whole."""
    h = make_handler(tmp_path / "odd.log")
    h.emit(rec("Traceback:\n  line 1\n  line 2"))
    h.emit(rec("nul\x00inside\x00"))
    assert (tmp_path / "odd.log").read_bytes() == (
        b"Traceback:\n  line 1\n  line 2\nnul\x00inside\x00\n"
    )


def test_record_larger_than_max_bytes_is_whole_in_one_file(
    tmp_path: Path, make_handler: Factory
) -> None:
    """A record bigger than maxBytes is written whole into one file (CLH's rule: rotate
    only if the log already holds >= maxBytes before the write)."""
    log = tmp_path / "big.log"
    h = make_handler(log, maxBytes=1000, backupCount=5)
    big = "B" * 5000
    h.emit(rec("first"))
    h.emit(rec(big))
    h.emit(rec("after"))
    assert Path(f"{log}.1").read_bytes() == b"first\n" + big.encode() + b"\n"
    assert log.read_bytes() == b"after\n"
    assert not Path(f"{log}.2").exists()


# -- rotation -----------------------------------------------------------------------


def _rotation_records() -> list[bytes]:
    return [f"record {i:03d} {'x' * (i % 7 * 9)}\n".encode() for i in range(60)]


@pytest.mark.parametrize("use_gzip", [False, True])
def test_rotation_matches_clh_model(tmp_path: Path, make_handler: Factory, use_gzip: bool) -> None:
    """maxBytes/backupCount give app.log.1 (newest) .. app.log.N with exactly the records
    CLH would put there, oldest backups dropped; with use_gzip every backup is a .gz
    that decompresses to that content. No other file is left."""
    log = tmp_path / "app.log"
    h = make_handler(log, maxBytes=120, backupCount=3, use_gzip=use_gzip)
    records = _rotation_records()
    for r in records:
        h.emit(rec(r.decode()[:-1]))
    files, rotations = clh_model(records, 120, 3)
    h.flush()  # compression runs off the lock, on a thread: wait for it
    assert rotations > 3
    assert h.num_rollovers == rotations
    assert log.read_bytes() == files[0]
    suffix = ".gz" if use_gzip else ""
    for k in range(1, 4):
        backup = Path(f"{log}.{k}{suffix}")
        if use_gzip:
            assert backup.read_bytes()[:2] == b"\x1f\x8b", backup
        assert read_backup(backup, use_gzip) == files[k], k
    expected = {"app.log", ".__app.lock"} | {f"app.log.{k}{suffix}" for k in range(1, 4)}
    assert set(os.listdir(tmp_path)) == expected


def test_backup_count_zero_truncates(tmp_path: Path, make_handler: Factory) -> None:
    """backupCount=0: the log is truncated instead of rotated (CLH), no backups, and
    each truncation counts as a rollover."""
    log = tmp_path / "app.log"
    h = make_handler(log, maxBytes=120, backupCount=0)
    records = _rotation_records()
    for r in records:
        h.emit(rec(r.decode()[:-1]))
    files, rotations = clh_model(records, 120, 0)
    assert log.read_bytes() == files[0]
    assert h.num_rollovers == rotations
    assert set(os.listdir(tmp_path)) == {"app.log", ".__app.lock"}


def test_do_rollover_forces_a_rotation(tmp_path: Path, make_handler: Factory) -> None:
    """doRollover() rotates now, whatever the size (maxBytes=0 included)."""
    log = tmp_path / "app.log"
    h = make_handler(log, backupCount=2)
    h.emit(rec("a"))
    h.doRollover()
    h.emit(rec("b"))
    h.doRollover()
    h.emit(rec("c"))
    assert Path(f"{log}.2").read_bytes() == b"a\n"
    assert Path(f"{log}.1").read_bytes() == b"b\n"
    assert log.read_bytes() == b"c\n"
    assert h.num_rollovers == 2


def test_should_rollover_sees_another_handlers_writes(
    tmp_path: Path, make_handler: Factory
) -> None:
    """shouldRollover looks at the real file: a second handler object's writes count,
    and after the second handler rotated, the first one writes to the new log."""
    log = tmp_path / "app.log"
    h1 = make_handler(log, maxBytes=100, backupCount=5)
    h2 = make_handler(log, maxBytes=100, backupCount=5)
    h1.emit(rec("h1 first"))
    assert h1.shouldRollover(rec("x")) is False
    h2.emit(rec("y" * 150))
    assert h1.shouldRollover(rec("x")) is True
    assert h2.shouldRollover(rec("x")) is True
    h1.emit(rec("h1 second"))  # rotates first
    assert h1.num_rollovers == 1
    assert Path(f"{log}.1").read_bytes() == b"h1 first\n" + b"y" * 150 + b"\n"
    assert log.read_bytes() == b"h1 second\n"
    assert h1.shouldRollover(rec("x")) is False
    h2.doRollover()
    h1.emit(rec("h1 third"))  # must not go to the file h2 just rotated away
    assert Path(f"{log}.1").read_bytes() == b"h1 second\n"
    assert Path(f"{log}.2").read_bytes() == b"h1 first\n" + b"y" * 150 + b"\n"
    assert log.read_bytes() == b"h1 third\n"


def test_should_rollover_sees_another_process(tmp_path: Path, make_handler: Factory) -> None:
    """shouldRollover counts what another process wrote; the next emit here rotates
    that process's records into app.log.1."""
    log = tmp_path / "app.log"
    h = make_handler(log, maxBytes=100, backupCount=5)
    h.emit(rec("mine"))
    assert h.shouldRollover(rec("x")) is False
    run_python(
        """
import logging, sys
from concurrent_log_handler import ConcurrentRotatingFileHandler
h = ConcurrentRotatingFileHandler(sys.argv[1], maxBytes=100, backupCount=5)
h.emit(logging.makeLogRecord({"msg": "other process " + "z" * 120}))
h.close()
""",
        str(log),
    )
    assert h.shouldRollover(rec("x")) is True
    h.emit(rec("mine again"))
    assert h.num_rollovers == 1
    assert Path(f"{log}.1").read_bytes() == b"mine\nother process " + b"z" * 120 + b"\n"
    assert log.read_bytes() == b"mine again\n"


@pytest.mark.parametrize("use_gzip", [False, True])
def test_namer_set_after_construction(
    tmp_path: Path, make_handler: Factory, use_gzip: bool
) -> None:
    """A namer assigned after construction names the backups (.gz appended after it,
    as CLH does)."""
    log = tmp_path / "app.log"
    h = make_handler(log, backupCount=3, use_gzip=use_gzip)
    h.namer = lambda name: name + ".bak"
    h.emit(rec("a"))
    h.doRollover()
    h.emit(rec("b"))
    h.doRollover()
    h.emit(rec("c"))
    h.flush()  # compression runs off the lock, on a thread: wait for it
    suffix = ".gz" if use_gzip else ""
    assert read_backup(Path(f"{log}.2.bak{suffix}"), use_gzip) == b"a\n"
    assert read_backup(Path(f"{log}.1.bak{suffix}"), use_gzip) == b"b\n"
    assert log.read_bytes() == b"c\n"
    assert set(os.listdir(tmp_path)) == {
        "app.log",
        ".__app.lock",
        f"app.log.1.bak{suffix}",
        f"app.log.2.bak{suffix}",
    }


# -- errors at construction ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "exc", "needle"),
    [
        ({"maxBytes": -1}, ValueError, "-1"),
        ({"backupCount": -3}, ValueError, "-3"),
        ({"owner": ("no-such-user-clh", "root")}, (ValueError, LookupError), "no-such-user-clh"),
        ({"owner": ("root", "no-such-group-clh")}, (ValueError, LookupError), "no-such-group-clh"),
        ({"chmod": "0640"}, (TypeError, ValueError), "0640"),
        ({"chmod": 6.5}, (TypeError, ValueError), "6.5"),
        ({"umask": "022"}, (TypeError, ValueError), "022"),
    ],
)
def test_bad_arguments_fail_at_construction(
    tmp_path: Path, kwargs: dict[str, object], exc, needle: str
) -> None:
    """Bad values fail in the constructor (stricter than CLH, which would fail later or
    never), and the message names the bad value."""
    with pytest.raises(exc) as info:
        ConcurrentRotatingFileHandler(str(tmp_path / "app.log"), **kwargs)  # type: ignore[arg-type]
    assert needle in str(info.value)
    name = next(iter(kwargs))
    if name != "owner":
        assert name in str(info.value)


def test_missing_directory(tmp_path: Path) -> None:
    """A log in a directory that does not exist: FileNotFoundError naming the path."""
    missing = tmp_path / "no" / "such" / "dir"
    with pytest.raises(FileNotFoundError) as info:
        ConcurrentRotatingFileHandler(str(missing / "app.log"))
    assert str(missing) in str(info.value)


def test_path_is_a_directory(tmp_path: Path) -> None:
    """filename naming a directory fails at construction, naming it."""
    d = tmp_path / "adir"
    d.mkdir()
    with pytest.raises((OSError, ValueError)) as info:
        ConcurrentRotatingFileHandler(str(d))
    assert str(d) in str(info.value)


@needs_root
def test_unwritable_directory(shared_dir: Path) -> None:
    """As a user who may not write the directory (root's access() says yes to
    everything, so the check runs as nobody): PermissionError naming the directory.
    Control: the same user succeeds in a directory it owns."""
    ro = shared_dir / "ro"
    ro.mkdir(mode=0o755)
    rw = shared_dir / "rw"
    rw.mkdir(mode=0o755)
    os.chown(rw, 65534, 65534)

    def build(d: Path) -> Callable[[], None]:
        def fn() -> None:
            ConcurrentRotatingFileHandler(str(d / "app.log")).close()

        return fn

    assert as_nobody(build(rw)) == "ok"
    result = as_nobody(build(ro))
    assert result.startswith("PermissionError: "), result
    assert str(ro) in result
    assert os.listdir(ro) == []


# -- errors at emit -----------------------------------------------------------------


def test_directory_removed_mid_run(
    tmp_path: Path, make_handler: Factory, make_logger, capsys, monkeypatch
) -> None:
    """The log directory vanishing makes emit report through handleError ('--- Logging
    error ---' on stderr), never raise; once the directory is back, logging works."""
    monkeypatch.setattr(logging, "raiseExceptions", True)
    d = tmp_path / "logs"
    d.mkdir()
    h = make_handler(d / "app.log", maxBytes=1000, backupCount=3)
    logger = make_logger(h)
    logger.info("one")
    shutil.rmtree(d)
    logger.info("two")  # must not raise
    err = capsys.readouterr().err
    assert LOGGING_ERROR in err
    d.mkdir()
    logger.info("three")
    assert (d / "app.log").read_bytes() == b"three\n"
    assert LOGGING_ERROR not in capsys.readouterr().err


@pytest.mark.skipif(not os.path.exists("/proc/locks"), reason="reads Linux's /proc/locks")
def test_lock_file_recreated_with_directory(
    tmp_path: Path, make_handler: Factory, make_logger
) -> None:
    """After the log directory was removed and recreated, the handler locks the lock
    file that now exists at lockFilename (the one every process starting from now on
    locks), not the deleted one it had open: while another holder has the new lock
    file locked, emit blocks."""
    d = tmp_path / "logs"
    d.mkdir()
    h = make_handler(d / "app.log")
    logger = make_logger(h)
    logger.info("one")
    shutil.rmtree(d)
    h.handleError = lambda record: None  # type: ignore[method-assign]
    logger.info("lost with the directory")
    d.mkdir()
    logger.info("two")
    with held_lock(h.lockFilename) as holder:
        inode = os.fstat(holder).st_ino
        t = threading.Thread(target=logger.info, args=("three",))
        t.start()
        # Wait (guarded) until the emit either finished (lock not honoured) or blocks on
        # the new lock file.
        wait_blocked(inode, [os.getpid()], timeout=60, abort=lambda: not t.is_alive())
        finished_while_locked = not t.is_alive()
        written_while_locked = (d / "app.log").read_bytes()
    t.join(60)
    assert not finished_while_locked, "emit wrote while another holder had the lock file"
    assert written_while_locked == b"two\n"
    assert (d / "app.log").read_bytes() == b"two\nthree\n"


def test_log_path_turned_into_directory(
    tmp_path: Path, make_handler: Factory, make_logger, capsys, monkeypatch
) -> None:
    """The log path becoming a directory after construction: emit goes to handleError,
    the application continues; once the file is back, logging resumes after the
    earlier data, which is intact."""
    monkeypatch.setattr(logging, "raiseExceptions", True)
    log = tmp_path / "app.log"
    h = make_handler(log, maxBytes=1000, backupCount=3)
    logger = make_logger(h)
    logger.info("one")
    saved = tmp_path / "saved"
    log.rename(saved)
    log.mkdir()
    logger.info("two")  # must not raise
    logger.error("three")
    err = capsys.readouterr().err
    assert err.count(LOGGING_ERROR) == 2
    log.rmdir()
    saved.rename(log)
    logger.info("four")
    assert log.read_bytes() == b"one\nfour\n"
    assert LOGGING_ERROR not in capsys.readouterr().err


# -- subclassing, recursion, close, threads -----------------------------------------


def test_subclass_overriding_emit(tmp_path: Path, make_logger) -> None:
    """A subclass with its own __init__ and an emit() that calls super().emit() works."""

    class Tagged(ConcurrentRotatingFileHandler):
        def __init__(self, *args: object, tag: str = "", **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            self.tag = tag

        def emit(self, record: logging.LogRecord) -> None:
            record.msg = f"{self.tag}{record.msg}"
            super().emit(record)

    h = Tagged(str(tmp_path / "sub.log"), maxBytes=10_000, backupCount=2, tag="[t] ")
    try:
        make_logger(h).warning("hello")
        assert (tmp_path / "sub.log").read_bytes() == b"[t] hello\n"
    finally:
        h.close()


def test_formatter_that_logs_neither_deadlocks_nor_loses(tmp_path: Path) -> None:
    """CLH issue #4: a Formatter whose format() logs to the same logger (and so emits,
    and rotates, inside emit) neither deadlocks nor loses a record. Runs in a
    subprocess with a timeout so a deadlock fails the test instead of hanging it."""
    code = """
import logging, sys
from concurrent_log_handler import ConcurrentRotatingFileHandler

class Chatty(logging.Formatter):
    def format(self, record):
        if record.getMessage().startswith("outer"):
            logging.getLogger("app").info("inner for " + record.getMessage())
        return super().format(record)

h = ConcurrentRotatingFileHandler(sys.argv[1], maxBytes=64, backupCount=1000)
h.setFormatter(Chatty("%(message)s"))
logger = logging.getLogger("app")
logger.propagate = False
logger.setLevel(logging.INFO)
logger.addHandler(h)
for i in range(200):
    logger.info("outer %03d %s", i, "x" * 20)
h.close()
print(h.num_rollovers)
"""
    log = tmp_path / "app.log"
    try:
        proc = run_python(code, str(log), timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("deadlock: logging from inside Formatter.format never returned")
    assert int(proc.stdout) > 0
    assert logcheck.stray_files(log) == []
    lines = b"".join(f.data for f in logcheck.read_log_set(log)).decode().splitlines()
    expected = []
    for i in range(200):
        outer = f"outer {i:03d} {'x' * 20}"
        expected += [f"inner for {outer}", outer]
    assert lines == expected


def test_close_then_emit_reopens(tmp_path: Path, make_handler: Factory, make_logger) -> None:
    """close() then logging again reopens the files and appends (like FileHandler)."""
    h = make_handler(tmp_path / "c.log", maxBytes=1000, backupCount=2)
    logger = make_logger(h)
    errors: list[logging.LogRecord] = []
    h.handleError = errors.append  # type: ignore[method-assign]
    logger.info("before close")
    h.close()
    logger.info("after close")
    h.close()
    h.close()  # idempotent
    logger.info("after second close")
    assert (tmp_path / "c.log").read_bytes() == b"before close\nafter close\nafter second close\n"
    assert errors == []


def test_threads_share_one_handler(tmp_path: Path, make_handler: Factory) -> None:
    """8 threads x 2000 records through one handler (emit called directly, without the
    logging lock) with rotation: nothing lost, duplicated, torn or reordered per thread,
    and num_rollovers equals the number of backups."""
    threads, per_thread = 8, 2000
    log = tmp_path / "app.log"
    h = make_handler(log, maxBytes=64 * 1024, backupCount=1000)
    errors: list[logging.LogRecord] = []
    h.handleError = errors.append  # type: ignore[method-assign]
    barrier = threading.Barrier(threads)

    def work(t: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            h.emit(rec(f"T{t}-{i:05d} {'p' * (20 + (i * 7 + t) % 60)} end-T{t}-{i:05d}"))

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    # One record per line: every line is one whole record, each thread's exactly once
    # and in order.
    line = re.compile(rb"T(?P<wid>\d)-(?P<seq>\d{5}) p{20,79} end-T(?P=wid)-(?P=seq)")
    expected = {str(t): per_thread for t in range(threads)}
    report = logcheck.check(log, expected, parse=logcheck.line_parser(line))
    assert report.clean, report.summary()
    assert logcheck.stray_files(log) == []
    assert len(report.backups) > 5
    assert h.num_rollovers == len(report.backups)


# -- permissions and owner ----------------------------------------------------------


def _perm_files(tmp_path: Path, use_gzip: bool, **kwargs: object) -> list[Path]:
    """Write, rotate and write again; return the log, lock file and backup."""
    log = tmp_path / "app.log"
    opts: dict = {"backupCount": 3, "use_gzip": use_gzip, **kwargs}
    h = ConcurrentRotatingFileHandler(str(log), **opts)
    try:
        h.emit(rec("first"))
        h.doRollover()
        h.emit(rec("second"))
    finally:
        h.close()
    backup = Path(f"{log}.1.gz" if use_gzip else f"{log}.1")
    assert read_backup(backup, use_gzip) == b"first\n"
    files = [log, Path(h.lockFilename), backup]
    assert set(os.listdir(tmp_path)) == {p.name for p in files}
    return files


@pytest.fixture
def process_umask() -> Iterator[None]:
    """Run with process umask 022 (restored afterwards)."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.parametrize("use_gzip", [False, True])
def test_chmod(tmp_path: Path, process_umask: None, use_gzip: bool) -> None:
    """chmod=0o640: log, lock file and backup (.gz too) have exactly mode 0640."""
    for p in _perm_files(tmp_path, use_gzip, chmod=0o640):
        assert oct(mode_of(p)) == oct(0o640), p.name


@pytest.mark.parametrize("use_gzip", [False, True])
def test_umask(tmp_path: Path, process_umask: None, use_gzip: bool) -> None:
    """umask=0o027 (process umask 022): files are created 0640, and the process umask
    is left as it was."""
    for p in _perm_files(tmp_path, use_gzip, umask=0o027):
        assert oct(mode_of(p)) == oct(0o640), p.name
    assert os.umask(0o022) == 0o022


@pytest.mark.skipif(
    not (hasattr(os, "geteuid") and os.geteuid() == 0), reason="chown to another user needs root"
)
@pytest.mark.parametrize("use_gzip", [False, True])
def test_owner(tmp_path: Path, use_gzip: bool) -> None:
    """owner=('nobody', <nobody's group>): log, lock file and backup (.gz too) belong to
    nobody and that group (and keep the usual mode: owner alone changes no bits)."""
    import grp
    import pwd

    group = nobody_group()
    uid = pwd.getpwnam("nobody").pw_uid
    gid = grp.getgrnam(group).gr_gid
    for p in _perm_files(tmp_path, use_gzip, owner=("nobody", group)):
        st = os.stat(p)
        assert (st.st_uid, st.st_gid) == (uid, gid), p.name


def test_package_exports() -> None:
    """The package exports the handler by name, like CLH."""
    assert "ConcurrentRotatingFileHandler" in concurrent_log_handler.__all__
