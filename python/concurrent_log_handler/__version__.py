"""The package version: one number, shared with the Rust crates (taken from the native module)."""

from concurrent_log_handler._clh import __version__

__all__ = ["__version__"]
