"""What a config problem looks like to the user: the full key, the value as written, and the fix."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

NAMESPACE = "gateway-cluster"


def full_key(path: str) -> str:
    """``nodes[1].ip`` -> ``gateway-cluster:nodes[1].ip``."""
    return f"{NAMESPACE}:{path}"


@dataclass(frozen=True)
class ConfigIssue:
    """One problem with one key."""

    key: str
    """Full config path, e.g. ``gateway-cluster:nodes[1].ip``."""
    value: Any
    """The offending value as written (``"[secret]"`` for a secret key, ``None`` when missing)."""
    message: str
    """What is wrong and how to fix it."""

    def __str__(self) -> str:
        shown = "(missing)" if self.value is None else json.dumps(self.value, default=str)
        return f"{self.key} = {shown}: {self.message}"


class ConfigError(pulumi.RunError):
    """KindError stack configuration. A ``RunError``, so ``pulumi up`` prints it without a traceback."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues: tuple[ConfigIssue, ...] = tuple(issues)
        lines = "\n".join(f"  - {issue}" for issue in self.issues)
        count = len(self.issues)
        super().__init__(f"invalid stack configuration ({count} problem{'s' * (count != 1)}):\n{lines}")


#: Names under which a user plausibly put a credential: an unknown key so named is reported without its value.
_SECRET_LOOKING = re.compile(r"pass|secret|token|private|credential|apikey", re.IGNORECASE)


def shown(name: str, value: Any, secret_keys: Collection[str]) -> Any:
    """The value an error may echo for an unknown key: ``"[secret]"`` when the key looks like a credential
    (a typo of a secret key, a password put in a plain map), so no error message repeats one."""
    bare = name.rsplit(".", 1)[-1]
    return "[secret]" if _SECRET_LOOKING.search(bare) or bare in secret_keys else value
