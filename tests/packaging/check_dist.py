"""`make wheel`'s check of what it built, in dist/.

* the wheel: `auditwheel show` must call it manylinux2014 (manylinux_2_17) compatible,
  and its module must take the unwinder from the system's libgcc_s.so.1; prints its tag
  and size;
* the sdist: unpacked into a clean temporary directory, it must build a wheel there on
  its own (nothing missing from it), and that wheel must install into a fresh venv and
  write a record through the native core.

    .venv/bin/python tests/packaging/check_dist.py dist
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tarfile
import tempfile
import venv
from pathlib import Path

BIN = Path(sys.executable).parent


def run(*cmd: str, cwd: str | None = None) -> str:
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out.stdout + out.stderr


def one(pattern: str) -> Path:
    found = glob.glob(pattern)
    if len(found) != 1:
        sys.exit(f"expected one {pattern}, found {found}")
    return Path(found[0])


def check_wheel(wheel: Path) -> None:
    shown = run(str(BIN / "auditwheel"), "show", str(wheel))
    if '"manylinux_2_17_x86_64"' not in shown.replace("\n", " "):
        sys.exit(f"auditwheel does not call {wheel.name} manylinux2014 compatible:\n{shown}")
    # The module must unwind with the system's libgcc_s (as glibc's pthread_exit does),
    # not with a static unwinder of its own (see the Makefile's wheel target).
    if "libgcc_s.so.1 with versions" not in shown.replace("\n", " "):
        sys.exit(f"{wheel.name} does not link libgcc_s.so.1 (a private unwinder?):\n{shown}")
    tag = wheel.name.removesuffix(".whl").split("-", 2)[2]
    print(f"wheel: {wheel.name}")
    print(
        f"  tag {tag}; {wheel.stat().st_size / 1024:.0f} KiB; auditwheel: manylinux_2_17_x86_64 (manylinux2014)"
    )


def check_sdist(sdist: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="clh-sdist-") as tmp:
        with tarfile.open(sdist) as tar:
            tar.extractall(tmp, filter="data")
        (src,) = Path(tmp).iterdir()
        out = Path(tmp) / "out"
        env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        subprocess.run(
            [str(BIN / "maturin"), "build", "--release", "--out", str(out)],
            cwd=src, env=env, check=True, capture_output=True,
        )  # fmt: skip
        built = one(str(out / "*.whl"))
        venv.create(Path(tmp) / "venv", with_pip=True)
        py = str(Path(tmp) / "venv" / "bin" / "python")
        run(py, "-m", "pip", "install", "-q", "--no-deps", str(built))
        log = Path(tmp) / "smoke.log"
        code = (
            "import logging, sys\n"
            "from concurrent_log_handler import ConcurrentRotatingFileHandler\n"
            "h = ConcurrentRotatingFileHandler(sys.argv[1], maxBytes=10, backupCount=2)\n"
            "for i in range(3): h.emit(logging.makeLogRecord({'msg': f'record {i}'}))\n"
            "h.close()\n"
        )
        run(py, "-c", code, str(log))
        if not log.exists() or not Path(f"{log}.1").exists():
            sys.exit("the wheel built from the sdist did not write and rotate")
    print(f"sdist: {sdist.name}: builds from a clean directory, its wheel installs and writes")


def main() -> None:
    dist = sys.argv[1] if len(sys.argv) > 1 else "dist"
    check_wheel(one(f"{dist}/*manylinux*.whl"))
    check_sdist(one(f"{dist}/*.tar.gz"))


if __name__ == "__main__":
    main()
