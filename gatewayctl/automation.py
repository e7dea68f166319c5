"""A stack, reached through Pulumi's Automation API (``pulumi.automation``, part of the SDK): config changes,
`pulumi up`, outputs and the stack's secrets, each a run of the Pulumi CLI in the project folder.

Config changes go through the CLI, so they rewrite ``Pulumi.<stack>.yaml`` as ``pulumi config set`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gatewayctl.errors import CommandError


class UpdateFailedError(Exception):
    """`pulumi up` failed (or what waits on it found the cluster unhealthy): the message says why."""


def _tail(text: str, lines: int = 6) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


class AutomationStack:
    """One selected stack of the project in ``project_dir``."""

    def __init__(self, project_dir: Path, stack: str, on_output: Callable[[str], None] = lambda _: None) -> None:
        from pulumi import automation as auto

        self._auto = auto
        self._on_output = on_output
        try:
            command = auto.PulumiCommand()
        except (OSError, auto.errors.InvalidVersionError) as exc:
            raise CommandError(
                f"the Pulumi CLI is not usable: {exc}",
                "Install it (https://www.pulumi.com/docs/install/) and log in to the stack's backend; for a "
                "--dry-run without it, give --outputs FILE (the JSON of `pulumi stack output --json`)",
            ) from None
        workspace = auto.LocalWorkspace(work_dir=str(project_dir), pulumi_command=command)
        try:
            self.stack = auto.Stack.select(stack, workspace)
        except auto.StackNotFoundError:
            raise CommandError(
                f"the Pulumi backend has no stack '{stack}'", "Run `pulumi stack ls` and `pulumi login` to check"
            ) from None

    def set_config(self, path: str, value: Any) -> None:
        if value is None:
            self.stack.remove_config(path, path=True)
        else:
            self.stack.set_config(path, self._auto.ConfigValue(str(value)), path=True)

    def up(self) -> None:
        try:
            self.stack.up(on_output=self._on_output)
        except self._auto.CommandError as exc:
            raise UpdateFailedError(f"`pulumi up` failed: {_tail(str(exc))}") from None

    def outputs(self) -> dict[str, Any]:
        return {key: output.value for key, output in self.stack.outputs().items()}

    def config_values(self, keys: Sequence[str]) -> dict[str, str | None]:
        """Config values (secrets in plaintext, for the SSH log-in), ``None`` where unset: one CLI call for all."""
        values = self.stack.get_all_config()
        return {key: values[key].value if key in values else None for key in keys}


def read_stack_values(
    project_dir: Path, stack: str, keys: tuple[str, ...], *, note: Callable[[str], None]
) -> tuple[dict[str, str | None], dict[str, Any]]:
    """Config values (secrets in plaintext) and the stack's outputs, through the Pulumi CLI when it is there;
    without it, nothing (``note`` says so): the commands' other sources (options, environment) still apply."""
    try:
        driver = AutomationStack(project_dir, stack)
    except CommandError as exc:
        note(f"note: the stack's secrets and outputs are not read ({exc.message})")
        return {}, {}
    return driver.config_values(keys), driver.outputs()
