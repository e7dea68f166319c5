"""gatewayctl's commands: one module or package each.

Every command exposes ``register(subparsers)``, which adds its parser and sets ``func``, a function of the parsed
arguments that returns the exit code (0 ok, 1 a check, policy or step failed) or raises
:class:`gatewayctl.errors.CommandError` / ``ConfigError`` (see :mod:`gatewayctl.errors`). :mod:`gatewayctl.cli`
lists them. A command imports no other command: what several share lives outside this package (stack loading,
check rows, vCenter, probes, the engine emulation).
"""
