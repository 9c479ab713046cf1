"""Lists that stop at a limit say so, and say how to see the rest.

`--limit N` and `--all` choose how many; when a list stops short of what there is, one
line on stderr says "showing 500 of 9,993 pending requests …", so stdout keeps its shape
(a JSON list stays a list) and a script reading it is not misled by silence.
"""

from __future__ import annotations

import argparse
import sys

from engine import InputError

MAX_LIMIT = 100_000


def add_limit_options(parser: argparse.ArgumentParser, default: int, what: str) -> None:
    parser.add_argument(
        "--limit",
        type=int,
        default=default,
        metavar="N",
        help=f"at most N {what} (default {default})",
    )
    parser.add_argument("--all", action="store_true", help=f"every {what}, however many")


def limit_of(args: argparse.Namespace, total: int) -> int:
    """The number of rows to fetch: `--limit` (checked), or with `--all` every one."""
    if getattr(args, "all", False):
        return max(1, total)
    limit = int(args.limit)
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"--limit: must be between 1 and {MAX_LIMIT}")
    return limit


def say_capped(shown: int, total: int, what: str, order: str) -> None:
    """On stderr, when the list stops short: how many of how many, and how to see more."""
    if shown < total:
        sys.stderr.write(
            f"showing {shown:,} of {total:,} {what} ({order}); --limit N or --all for more\n"
        )
