"""``python -m gatewayctl``: see :mod:`gatewayctl.cli`."""

from gatewayctl.cli import run_and_exit

run_and_exit()
