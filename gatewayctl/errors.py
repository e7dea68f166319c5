"""The exit codes every gatewayctl command keeps, and the one error type that carries a message, its fix and its
exit code to ``main()``.

- 0 ok;
- 1 a check, policy or step failed (the command's own verdict, not an error);
- 2 invalid configuration or usage: the stack's ``ConfigError`` (reported with every issue), a command line
  argparse rejects, an unusable option value (a ``--config`` pair) or policy config file;
- 3 anything else: no project or stack file, or an unusable one, a vCenter that cannot be used, a look-up that
  finds nothing, a missing tool, an internal error.

A command raises :class:`CommandError` (or a subclass) and ``main()`` prints ``gatewayctl <command>: <error>``
on stderr and exits with :attr:`CommandError.exit_code`; nothing prints a traceback.
"""

from __future__ import annotations

import math
from typing import Any

from components.config import ConfigError, ConfigIssue

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_OTHER = 0, 1, 2, 3


class CommandError(Exception):
    """A command cannot go on: what is wrong (:attr:`message`), what to do (:attr:`fix`) and the exit code.

    It reads ``"<message>. <fix>"``, or the message alone when the fix is part of it.
    """

    exit_code: int = EXIT_OTHER

    def __init__(self, message: str, fix: str | None = None, *, exit_code: int | None = None) -> None:
        super().__init__(message if fix is None else f"{message}. {fix}")
        self.message = message
        self.fix = fix
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(CommandError):
    """A command-line value that cannot be used: an unusable ``--config`` pair or policy config file (exit 2, as
    argparse exits for a malformed command line)."""

    exit_code = EXIT_CONFIG


def _json_safe(value: Any) -> Any:
    """Strict JSON: a bad value such as YAML's ``.inf`` is echoed as text (``Infinity`` is not JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def config_error_json(stack: str, error: ConfigError) -> dict[str, Any]:
    """An invalid config as ``--json`` prints it: the first issue, and all of them."""

    def one(issue: ConfigIssue) -> dict[str, Any]:
        return {"key": issue.key, "value": _json_safe(issue.value), "message": issue.message}

    return {"stack": stack, "error": one(error.issues[0]), "errors": [one(i) for i in error.issues]}
