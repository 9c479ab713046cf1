"""`daena logs` and `daena audit verify|export|prune|reindex`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from daena_tui.cli.output import table, when
from daena_tui.cli.progress import progress_bar
from daena_tui.cli.session import Cli
from engine import AuditFilter, AuditRecord, InputError
from engine.safety.display import inert_one_line

FOLLOW_INTERVAL_SEC = 0.5


def register(sub: Any) -> None:
    logs = sub.add_parser("logs", help="the audit log, newest first")
    _filters(logs)
    logs.add_argument("--limit", type=int, default=50, help="how many records (default 50)")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new records")
    logs.set_defaults(handler=show_logs)

    audit = sub.add_parser("audit", help="verify or export the audit log")
    actions = audit.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser(
        "verify", help="check the hash chain (from the last verify that passed; --full: all)"
    )
    check.add_argument(
        "--full",
        action="store_true",
        help="re-check every record and every database page, not only what is new",
    )
    check.set_defaults(handler=verify)
    export = actions.add_parser("export", help="export records as JSON lines or CSV")
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    export.add_argument("--output", "-o", metavar="FILE", help="default: standard output")
    _filters(export)
    export.set_defaults(handler=export_log)
    prune = actions.add_parser("prune", help="delete records older than an age (retention)")
    prune.add_argument("--older-than", required=True, metavar="AGE", help="e.g. 90d, 12h")
    prune.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    prune.set_defaults(handler=prune_log)
    actions.add_parser(
        "reindex", help="rebuild the text-search index (after restoring or editing a database)"
    ).set_defaults(handler=reindex)


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tool")
    p.add_argument("--status", help="ok, error, timeout, refused, dry_run, pending_approval, ...")
    p.add_argument("--text", help="substring of arguments, error, result, actor or trace id")
    p.add_argument("--since", help="ISO time or an age such as 15m, 2h, 7d")
    p.add_argument("--actor")


def parse_since(raw: str | None) -> float | None:
    if not raw:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if raw[-1:] in units and raw[:-1].isdigit():
        try:
            delta = timedelta(seconds=int(raw[:-1]) * units[raw[-1]])
            return (datetime.now(UTC) - delta).timestamp()
        except (OverflowError, ValueError):
            raise InputError(f"--since: {raw!r} reaches back before year 1") from None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise InputError(f"--since: {raw!r} is neither an ISO time nor an age like 2h") from None
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.timestamp()


def filters_from(args: argparse.Namespace) -> AuditFilter:
    return AuditFilter(
        tool=args.tool,
        status=args.status,
        text=args.text,
        since=parse_since(args.since),
        actor=args.actor,
    )


def row(r: AuditRecord) -> tuple[Any, ...]:
    """One record on one line; actor, tool and detail may be the agent's words: inert."""
    detail = inert_one_line(r.error or r.result_summary or "", 70)
    actor, tool = inert_one_line(r.actor, 40), inert_one_line(r.tool or "", 40)
    return (r.id, when(r.ts), actor, r.action, tool, r.status, detail)


HEADERS = ["ID", "TIME", "ACTOR", "ACTION", "TOOL", "STATUS", "DETAIL"]


async def show_logs(args: argparse.Namespace, cli: Cli) -> int:
    if args.limit < 1 or args.limit > 100_000:
        raise InputError("--limit: must be between 1 and 100000")
    eng = await cli.engine()
    filters = filters_from(args)
    page = await eng.audit.page(filters, limit=args.limit + 1)  # one more: are there more?
    records = page[: args.limit]
    cli.emit([r.to_dict() for r in records], lambda: table([row(r) for r in records], HEADERS))
    if len(page) > args.limit:
        sys.stderr.write(
            f"showing the {args.limit:,} newest matching records; there are older ones "
            "(--limit N, up to 100000; `daena audit export` writes them all)\n"
        )
    if page.scanned_to is not None:  # a text under 3 characters: a bounded scan
        sys.stderr.write(
            f"searched records {page.scanned_to} and newer only (a text under three "
            "characters is scanned, not indexed); a longer text searches them all\n"
        )
    if not args.follow:
        return 0
    last_id = await eng.audit.last_id()
    with contextlib.suppress(asyncio.CancelledError):
        while True:
            await asyncio.sleep(FOLLOW_INTERVAL_SEC)
            for r in await eng.audit.after(last_id):
                last_id = r.id
                if filters.matches(r):
                    cli.emit(r.to_dict(), "  ".join(str(c) for c in row(r)))
                    cli.out.flush()
    return 0


async def verify(args: argparse.Namespace, cli: Cli) -> int:
    """The hash chain, plus what the chain alone cannot see: SQLite's page check and records
    lost with a -wal file (the chain's head is in the same file, so it is lost with them).

    By default the chain is checked from the sealed checkpoint of the last verify that
    passed (docs/security.md, promise 7, says what that proves); the page check reads the
    whole file, so it runs with every full verify (`--full`, or when there is no
    checkpoint) and not with an incremental one."""
    eng = await cli.engine()
    with progress_bar("verifying the audit chain") as update:
        report = await eng.audit.verify(incremental=not args.full, progress=update)
    full = report.extra.get("mode") != "incremental"
    pages = await eng.db.integrity_problems() if full else []
    lost = eng.db.lost_records()
    sound = report.ok and not lost and not pages
    data = {**report.__dict__, "ok": sound, "chain_ok": report.ok}
    data |= {"quick_check": (pages or ["ok"]) if full else None, "lost_records": lost}
    if report.ok:
        lines = [f"audit chain ok: {report.checked} records verified{_scope(report.extra)}"]
        lines += [f"audit records LOST: {lost}"] if lost else []  # the head was lost with them
    elif report.first_broken_id is None:
        lines = [f"audit chain BROKEN: {report.problem}"]
    else:
        lines = [
            f"audit chain BROKEN at record {report.first_broken_id}: {report.problem} "
            f"({report.checked} records before it verified)"
        ]
    lines += [f"database pages FAILED quick_check: {pages[0]}"] if pages else []
    cli.emit(data, "\n".join(lines))
    return 0 if sound else 1


def _scope(extra: dict[str, Any]) -> str:
    """What an incremental verify covered, in words."""
    if extra.get("mode") != "incremental":
        return ""
    older = extra.get("older")
    again = f", older records {older[0]}-{older[1]} re-checked" if older else ""
    return (
        f" (the {extra.get('new', 0)} records after record {extra.get('from_id')}{again}; "
        "--full checks every record and page)"
    )


async def export_log(args: argparse.Namespace, cli: Cli) -> int:
    eng = await cli.engine()
    filters = filters_from(args)
    if args.output:
        path = Path(args.output)
        try:
            handle = path.open("w", encoding="utf-8", newline="")
        except OSError as err:
            raise InputError(f"--output: cannot write {path}: {err.strerror or err}") from err
        with handle, progress_bar("exporting") as update:
            count = await eng.audit.export(handle, args.format, filters, progress=update)
        sys.stderr.write(f"exported {count} records to {path}\n")
    else:
        with progress_bar("exporting") as update:
            await eng.audit.export(sys.stdout, args.format, filters, progress=update)
    return 0


async def prune_log(args: argparse.Namespace, cli: Cli) -> int:
    raw = args.older_than
    if raw[-1:] not in ("s", "m", "h", "d") or not raw[:-1].isdigit():
        raise InputError(f"--older-than: {raw!r} must be an age such as 90d or 12h")
    cutoff = parse_since(raw)
    assert cutoff is not None
    eng = await cli.engine()
    doomed = await eng.audit.count(AuditFilter(until=cutoff))
    if not doomed:
        cli.emit({"deleted": 0}, "nothing to prune")
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            raise InputError("--yes: pruning the audit log needs --yes when not run interactively")
        prompt = f"Delete {doomed} audit records older than {when(cutoff)}? [y/N] "
        if (await asyncio.to_thread(input, prompt)).strip().lower() not in ("y", "yes"):
            cli.line("kept")
            return 0
    sys.stderr.write(f"deleting {doomed} audit records…\n")  # ~10 s per 500,000
    deleted = await eng.audit.prune(cutoff, eng.operator)
    cli.emit({"deleted": deleted}, f"deleted {deleted} audit records; the chain still verifies")
    return 0


async def reindex(args: argparse.Namespace, cli: Cli) -> int:
    eng = await cli.engine()
    sys.stderr.write("rebuilding the audit search index…\n")
    newest = await eng.audit.reindex()
    cli.emit({"indexed_through": newest}, f"search index rebuilt through record {newest}")
    return 0
