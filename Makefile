# Two commands matter: `make demo` (the main job) and `make test`.
# Everything installs into the project's own virtualenvs; nothing global is needed
# beyond python3 and a Rust toolchain.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
CLHVENV := .venv-clh
CLHPY  := $(CLHVENV)/bin/python
export VIRTUAL_ENV := $(abspath $(VENV))

.PHONY: all venv dev demo test test-rust test-python lint fmt bench bench-rust soak chaos reliability wheel matrix format-long clean

all: dev

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "maturin>=1.16,<2" "pytest>=7" "ruff>=0.5" "mypy>=1.10" "hypothesis>=6"

venv: $(PY)

# Build the release extension into .venv (editable install of python/).
dev: $(PY)
	$(VENV)/bin/maturin develop --release -q

# CLH 0.9.31 from PyPI in its own venv (same import name as ours), for interop tests and the benchmark.
$(CLHPY):
	$(PYTHON) -m venv $(CLHVENV)
	$(CLHPY) -m pip install -q "concurrent-log-handler==0.9.31"

clh-venv: $(CLHPY)

demo: dev
	$(PY) examples/demo.py

test: test-rust test-python

test-rust:
	cargo test --workspace --exclude clh-python -q

test-python: dev $(CLHPY)
	CLH_REFERENCE_PYTHON=$(abspath $(CLHPY)) $(PY) -m pytest -q tests/python

lint: dev
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	$(VENV)/bin/ruff check python tests bench examples
	$(VENV)/bin/ruff format --check python tests bench examples
	$(PY) -m mypy.stubtest concurrent_log_handler._clh

fmt: $(PY)
	cargo fmt --all
	$(VENV)/bin/ruff format python tests bench examples

# Then the picture: docs/bench.png (matplotlib, installed here: only the benchmark needs it).
bench: dev $(CLHPY)
	$(PY) -m pip install -q "matplotlib>=3.5"
	$(PY) bench/run.py --ours-python $(abspath $(PY)) --clh-python $(abspath $(CLHPY))
	$(PY) bench/chart.py bench/out/results.json docs/bench.png

# Long runs, not part of `make test`.
soak: dev
	CLH_SOAK_SCALE=5 $(PY) -m pytest -q tests/python/test_soak.py

chaos: dev
	$(PY) tests/chaos/kill_during_rotation.py

# Every reliability scenario long (scale 10), plus soak and chaos, as one table (~17 min
# on 2 cores; needs root for the other-user and full-disk scenarios, skipped otherwise).
# UPDATE_DOC=1 also rewrites the table in docs/reliability.md.
reliability: dev $(CLHPY)
	CLH_REFERENCE_PYTHON=$(abspath $(CLHPY)) PYTHON=$(PY) tests/reliability/run.sh $(if $(UPDATE_DOC),--update-doc)

# A portable wheel without Docker: zig (from PyPI) links against manylinux2014's glibc.
$(VENV)/bin/auditwheel: $(PY)
	$(PY) -m pip install -q "ziglang>=0.13" "auditwheel>=6"

# An abi3 (cp39+) manylinux2014 x86_64 wheel and the sdist into dist/, then checked:
# auditwheel's tag, and the sdist building and working from a clean directory.
# `zig cc` answers rustc's -lgcc_s with a static copy of LLVM's libunwind; glibc's
# pthread_exit (which Python < 3.14 calls on a daemon thread that re-enters the
# interpreter during exit) unwinds with libgcc_s, and the two unwinders mixed crash the
# process (SIGSEGV in 9 of 30 runs on Python 3.13). Linking the system's libgcc_s.so.1
# by path makes the module use the one unwinder every process already has (allowed by
# manylinux2014; check_dist.py checks it).
LIBGCC_S ?= $(firstword $(wildcard /lib/x86_64-linux-gnu/libgcc_s.so.1 /usr/lib/x86_64-linux-gnu/libgcc_s.so.1 /lib64/libgcc_s.so.1 /usr/lib64/libgcc_s.so.1))
wheel: $(VENV)/bin/auditwheel
	@test -n "$(LIBGCC_S)" || { echo "make wheel: libgcc_s.so.1 not found; set LIBGCC_S=/path/to/libgcc_s.so.1" >&2; exit 1; }
	rm -rf dist
	PATH="$(abspath $(VENV))/bin:$$PATH" RUSTFLAGS="$(RUSTFLAGS) -C link-arg=$(LIBGCC_S)" \
		$(VENV)/bin/maturin build --release --zig --compatibility manylinux2014 --out dist
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/maturin sdist --out dist
	$(PY) tests/packaging/check_dist.py dist

# The built wheel tested where users are: Debian bullseye (Python 3.9), bookworm (3.11)
# and trixie (3.13) roots made by debootstrap (cached in .matrix/), no Rust inside; one
# table at the end. Needs root. Not part of `make test` (~4 min a release).
matrix: wheel
	HOST_PYTHON=$(abspath $(PY)) tests/matrix/run.sh $(MATRIX_ARGS)

# Rust benchmarks (not tests; ~3-5 min on 2 cores): tracing_subscriber::fmt into our
# writers vs tracing-appender's non_blocking and a bare O_APPEND file, and `clh write`
# vs rotatelogs, multilog, svlogd and `cat >> file` (bench/rust/tools.sh installs them
# from Debian's packages if missing). Prints two tables, also written to
# bench/rust/results.md. BENCH_RUST_ARGS="--rounds 1 --cli-rounds 1" for a quicker run.
bench-rust:
	bench/rust/tools.sh target/bench-tools
	cargo build --release -q -p clh-bench -p clh-cli
	PATH="$(abspath target/bench-tools/usr/bin):$$PATH" $${CARGO_TARGET_DIR:-target}/release/clh-bench all \
		--clh $${CARGO_TARGET_DIR:-target}/release/clh --out bench/rust/results.md $(BENCH_RUST_ARGS)

# The native-formatting property tests long: 20000 hypothesis examples (~0.8M records, ~9 min on 2 cores; `make test` runs 500).
format-long: dev
	CLH_FORMAT_EXAMPLES=20000 $(PY) -m pytest -q -s tests/python/test_native_format_props.py

clean:
	rm -rf $(VENV) $(CLHVENV) target dist
