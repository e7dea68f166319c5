"""``python -m gatewayctl``: see :mod:`gatewayctl.cli`."""

import os
import signal
import sys
from types import FrameType


def _interrupted(_signum: int, _frame: FrameType | None) -> None:
    print("gatewayctl: interrupted", file=sys.stderr)
    os._exit(3)


# Importing the Pulumi SDKs takes a moment: an interrupt then must not print a traceback either.
signal.signal(signal.SIGINT, _interrupted)
from gatewayctl.cli import run_and_exit  # noqa: E402 (after the handler, on purpose)

signal.signal(signal.SIGINT, signal.default_int_handler)  # from here on, main() handles it
run_and_exit()
