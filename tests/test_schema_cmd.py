"""`gatewayctl schema`: prints the stack file's JSON Schema (Draft 2020-12), exit 0."""

from __future__ import annotations

import json

from tests.support.stacks import gatewayctl


def test_schema_prints_a_draft_2020_12_json_schema():
    code, out, err = gatewayctl("schema")
    assert code == 0, err
    schema = json.loads(out)
    assert isinstance(schema, dict)
    assert "2020-12" in schema["$schema"]
    assert out.startswith("{\n  "), "indented by two spaces"
