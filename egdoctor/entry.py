"""The console script. Ctrl-C is answered from the first instruction on, even while the CLI's modules
load (an interrupt there would otherwise print an import traceback)."""

from __future__ import annotations

import os
import signal
import sys


def _interrupted_while_loading(signum: int, frame: object) -> None:
    sys.stderr.write("egdoctor: interrupted\n")
    sys.stderr.flush()
    os._exit(130)


def main() -> None:
    signal.signal(signal.SIGINT, _interrupted_while_loading)
    from egdoctor.cli import main as cli_main

    # from here on an interrupt unwinds as KeyboardInterrupt, so that cleanup (a temporary HTTPRoute) runs
    signal.signal(signal.SIGINT, signal.default_int_handler)
    cli_main()
