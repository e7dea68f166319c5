"""The configuration reference, docs/configuration.md: generated from the declarations, and current."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from components.config.declare import RULES
from components.config.docs import COMMAND, MODELINE, render_reference
from components.config.schema import stack_file_schema

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def test_committed_reference_is_current():
    if REFERENCE.read_text(encoding="utf-8") != render_reference():
        pytest.fail(f"docs/configuration.md is stale: regenerate it with `{COMMAND}`")


def test_reference_lists_every_key_the_schema_types():
    listed = set(re.findall(r"^\| `([^`]+)` \|", render_reference(), re.MULTILINE))
    schema = stack_file_schema()
    top = {k.split(":", 1)[1] for k in schema["properties"]["config"]["properties"]}
    assert top <= listed
    nested = {
        f"{owner}.{name}"
        for owner, definition in (
            ("vsphere", "VSphereSettings"),
            ("ova", "OvaSettings"),
            ("network", "NetworkSettings"),
        )
        for name in schema["$defs"][definition]["properties"]
    }
    nested |= {f"nodes[].{name}" for name in schema["$defs"]["NodeSettings"]["properties"]}
    nested |= {f"registration.{name}" for name in schema["$defs"]["RegistrationSettings"]["properties"]}
    assert nested <= listed, sorted(nested - listed)


def test_reference_states_every_rule_and_the_modeline():
    text = render_reference()
    assert all(rule.doc and rule.doc in text for rule in RULES)
    assert MODELINE in text and "schema/stack.schema.json" in text
    assert not re.search(r"\| (None|MISSING)\b", text)
