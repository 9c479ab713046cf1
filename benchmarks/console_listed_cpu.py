"""Child of bench_console_start.py: CPU seconds of this process (all threads) from its start
until the catalogue is listed, doing what the console does for it (Textual and the console
module imported, settings loaded, the engine opened, `list_tools`), without drawing.
CPU time moves less with the machine's load than wall time does."""

import asyncio
import time

import textual.app
import textual.widgets

import daena_tui.console.app as console
from daena_tui.cli.dispatch import parse, settings_from

LOADED = (textual.app, textual.widgets)  # the console imports them before its first frame


async def main() -> None:
    settings = settings_from(parse([]))
    async with console.default_engine_factory(settings, probe_nodes_every=None) as eng:
        await eng.list_tools()
        print(f"{time.process_time():.6f}")


if __name__ == "__main__":
    asyncio.run(main())
