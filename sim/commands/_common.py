"""What every command shares: exit codes, the one-paragraph user error, and help pages.

The commands are the only place that prints a user error and exits. Library code raises
:class:`~sim.config.ConfigError`; a command runs its work inside :func:`user_errors`, which turns
that error into one paragraph on stderr, headed by the program's name, and exit status 2 — no
traceback, and nothing half-written (every output directory is built under a temporary name). An
operating-system error during the work (a full disk, a read-only file system, a permission) is one
paragraph too, naming the path and the cause, with exit status 4.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import NoReturn

from sim.config import ConfigError
from sim.experiments.runs.files import os_error_message
from sim.experiments.runs.orphans import terminate_as_interrupt

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OS_ERROR",
    "EXIT_UNREACHABLE",
    "EXIT_USER_ERROR",
    "CommandParser",
    "paragraph",
    "user_error",
    "user_errors",
    "wants_help",
]

EXIT_FAILED = 1  # runs failed (they are reported by scenario and seed), or the work could not finish
EXIT_USER_ERROR = 2  # bad input: nothing ran, nothing was written
EXIT_UNREACHABLE = 3  # silosim-calibrate: a target could not be met (the closest fit is written, labelled)
EXIT_OS_ERROR = 4  # the system refused to write (disk full, read-only, permission): what was complete is kept
EXIT_INTERRUPTED = 130  # Ctrl-C


def paragraph(prog: str, text: str, prefix: str = "error: ") -> str:
    """``<prog>: error: <text>`` as one paragraph, wrapped at 100 columns."""
    folded = " ".join(
        text.replace("Set the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace.", "").split()
    )
    # paths stay whole (never broken at a hyphen or mid-name), so they can be copied from the message
    return textwrap.fill(f"{prog}: {prefix}{folded}", width=100, break_on_hyphens=False, break_long_words=False)


def user_error(message: str, prog: str) -> NoReturn:
    """Print a user error as one paragraph on stderr and exit with status 2."""
    print(paragraph(prog, message), file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)


@contextmanager
def user_errors(prog: str) -> Iterator[None]:
    """Run a command's work: a ConfigError becomes one paragraph and exit 2; Ctrl-C (or SIGTERM) exits 130."""
    terminate_as_interrupt()
    try:
        yield
    except ConfigError as exc:
        user_error(str(exc), prog)
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted; nothing half-written was kept.", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except OSError as exc:
        message = os_error_message(exc)
        if message is None:
            raise
        print(paragraph(prog, message), file=sys.stderr)
        sys.exit(EXIT_OS_ERROR)


def wants_help(arguments: Sequence[str]) -> bool:
    """Whether the arguments ask for the help page."""
    return any(a in ("-h", "--help") for a in arguments)


class CommandParser(argparse.ArgumentParser):
    """argparse for a command, whose usage errors follow the user-error rule (one paragraph, exit 2)."""

    def error(self, message: str) -> NoReturn:
        """Report a usage error as one paragraph naming the problem and the usage."""
        usage = " ".join(self.format_usage().split())
        user_error(f"{message}. {usage[0].upper()}{usage[1:]}", self.prog)
