"""The ``clh`` command installed with the wheel (``[project.scripts]``).

The command itself is Rust (crate ``clh-cli``, the same code as the ``clh`` binary that
``cargo install --path crates/clh-cli`` builds): this only hands it the arguments and
exits with its status. It runs with the GIL released; while ``clh write`` runs, it takes
SIGTERM, SIGINT and SIGHUP itself (Python's SIGINT handler does not run), writes every
line it has read and returns 0.
"""

from __future__ import annotations

import sys
from typing import NoReturn, Optional, Sequence

from concurrent_log_handler import _clh


def main(argv: Optional[Sequence[str]] = None) -> NoReturn:
    """Run ``clh`` with ``argv`` (default ``sys.argv``, the program name first) and exit
    with its status: 0 success, 1 failure, 2 usage error (see ``clh --help``)."""
    args = list(sys.argv if argv is None else argv)
    # Anything Python buffered goes out before the command writes to the same streams.
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(_clh.cli_main(args))


if __name__ == "__main__":
    main()
