"""`daena config` (execution policy) and `daena doctor` (effective settings and health)."""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path
from typing import Any

from daena_tui.cli.output import table
from daena_tui.cli.session import Cli
from engine import ConfigError, EngineError, InputError, describe_settings, parse_value
from engine.settings import env_file_of


def register(sub: Any) -> None:
    config = sub.add_parser("config", help="execution policy: approval mode, budgets, toggles")
    actions = config.add_subparsers(dest="action", metavar="ACTION")
    config.set_defaults(handler=show_config)
    actions.add_parser("show", help="the current policy").set_defaults(handler=show_config)
    set_ = actions.add_parser("set", help="change one value (validated; nothing stored if invalid)")
    set_.add_argument("key")
    set_.add_argument("value")
    set_.set_defaults(handler=set_config)
    export = actions.add_parser("export", help="write the policy as JSON")
    export.add_argument("--output", "-o", metavar="FILE", help="file to write ('-': stdout)")
    export.set_defaults(handler=export_config)
    imp = actions.add_parser(
        "import",
        help="replace the whole policy from a JSON file (shows the diff, then asks; "
        "--yes applies without asking, needed when stdin is not a terminal)",
    )
    imp.add_argument("file")
    imp.add_argument("--yes", "-y", action="store_true", help="apply the shown diff")
    imp.set_defaults(handler=import_config)

    doctor = sub.add_parser("doctor", help="every effective setting, its source, and checks")
    doctor.add_argument(
        "--full",
        action="store_true",
        help="SQLite's full integrity_check (also index contents; slower) instead of quick_check",
    )
    doctor.set_defaults(handler=doctor_report)


async def show_config(args: argparse.Namespace, cli: Cli) -> int:
    eng = await cli.engine()
    config = await eng.config()
    on, why = await eng.lockdown()
    data = config.export()

    def text() -> str:
        rows = [(k, json.dumps(v)) for k, v in data.items() if k != "tool_enabled"]
        if on and why != "config":
            rows.append(("lockdown (effective)", f"true, forced by {why}"))
        tools = ", ".join(f"{k}={'on' if v else 'off'}" for k, v in data["tool_enabled"].items())
        return table(rows, ["KEY", "VALUE"]) + f"\n\ntool_enabled: {tools}"

    cli.emit(data, text)
    return 0


async def set_config(args: argparse.Namespace, cli: Cli) -> int:
    value = parse_value(args.key, args.value)
    eng = await cli.engine()
    config = await eng.update_config({args.key: value})
    cli.emit(config.export(), f"{args.key} = {json.dumps(config.export().get(args.key, value))}")
    return 0


async def export_config(args: argparse.Namespace, cli: Cli) -> int:
    eng = await cli.engine()
    text = json.dumps((await eng.config()).export(), indent=2) + "\n"
    if args.output and args.output != "-":
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as err:
            raise ConfigError(
                f"--output: cannot write {args.output}: {err.strerror or err}"
            ) from err
        sys.stderr.write(f"policy written to {args.output}\n")
    else:
        sys.stdout.write(text)
    return 0


async def import_config(args: argparse.Namespace, cli: Cli) -> int:
    """An import replaces the policy: its diff is printed first, then applied with --yes or
    after a "y" on a terminal; without either nothing is applied (exit 2), so a script can
    never replace the policy unseen."""
    path = Path(args.file)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"file: cannot read {path}: {err.strerror or err}") from err
    except json.JSONDecodeError as err:
        raise ConfigError(f"file: {path} is not valid JSON ({err.msg}, line {err.lineno})") from err
    if not isinstance(document, dict):
        raise ConfigError(f"file: {path} must hold a JSON object")
    eng = await cli.engine()
    plan = await eng.policy.plan_import(document)
    changes = [{"key": c.key, "old": c.old, "new": c.new} for c in plan.changes]
    if not cli.json:
        lines = [f"  {c.text()}" for c in plan.changes] or ["  (no change in effect)"]
        cli.line(f"importing {path} replaces the policy:\n" + "\n".join(lines))
    if not args.yes:
        if not sys.stdin.isatty():
            raise InputError(
                "--yes: nothing was imported; stdin is not a terminal to confirm the diff "
                "above, so pass --yes to apply it"
            )
        sys.stderr.write(f"apply these {len(plan.changes)} changes? [y/N] ")
        sys.stderr.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            sys.stderr.write("not applied\n")
            return 1
    config = await eng.policy.replace(document, eng.operator, expected=plan.before)
    cli.emit(
        {"config": config.export(), "changes": changes, "applied": True},
        f"policy imported from {path}",
    )
    return 0


async def doctor_report(args: argparse.Namespace, cli: Cli) -> int:
    rows = describe_settings(cli.settings, env_file_of(cli.settings))
    checks: list[tuple[str, str]] = [("python", platform.python_version())]
    problems = 0
    try:
        eng = await cli.engine()
        checks.append(("database", f"ok, schema {await eng.db.user_version()} ({eng.db.path})"))
        found = await eng.db.integrity_problems(full=args.full)
        check = "integrity_check" if args.full else "quick_check"
        more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
        checks.append(
            (
                "database integrity",
                f"FAILED {check}: {found[0]}{more}" if found else f"ok ({check})",
            )
        )
        problems += 1 if found else 0
        checks.append(("tools", f"{len(eng.registry.all())} registered"))
        for error in eng.registry.plugin_errors:
            checks.append(("plugin", f"FAILED {error}"))
            problems += 1
        report = await eng.audit.verify()
        checks.append(
            (
                "audit chain",
                f"ok ({report.checked} records)"
                if report.ok
                else f"BROKEN at {report.first_broken_id}",
            )
        )
        problems += 0 if report.ok else 1
        on, why = await eng.lockdown()
        checks.append(("lockdown", f"ON ({why})" if on else "off"))
        checks.append(("pending approvals", str(await eng.approvals.pending_count())))
        brain = await eng.brain.status()
        checks.append(
            (
                "ollama",
                f"reachable ({len(brain.models)} models)" if brain.reachable else "unreachable",
            )
        )
        checks.append(("planner model", brain.selected_model or f"none: {brain.problem}"))
        voice = [(f"voice: {label}", value) for label, value in eng.voice.status().to_rows()]
        checks.extend(voice)
    except EngineError as err:
        checks.append(("engine", f"FAILED {err.message}"))
        problems += 1
    data = {
        "settings": [{"name": n, "value": v, "source": s} for n, v, s in rows],
        "checks": dict(checks),
    }
    cli.emit(
        data,
        lambda: (
            table(rows, ["SETTING", "VALUE", "SOURCE"])
            + "\n\n"
            + table(checks, ["CHECK", "RESULT"])
        ),
    )
    return 1 if problems else 0
