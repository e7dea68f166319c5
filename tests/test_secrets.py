"""No secret value appears anywhere outside a secret: not in inputs, outputs, exports, logs or plan output."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gatewayctl import harness
from tests.support.stacks import SENTINELS, gatewayctl, make_project, run_stack, stack_raw


def encodings(secret: str) -> list[str]:
    """The secret and the forms a leak could take on the way: base64 of itself and inside a longer text."""
    raw = secret.encode()
    forms = {secret, base64.b64encode(raw).decode()}
    # base64 of the secret embedded in other bytes: any of the three alignments.
    for pad in (b"", b"x", b"xy"):
        encoded = base64.b64encode(pad + raw).decode()
        skip = (len(pad) * 4 + 2) // 3 + 1
        forms.add(encoded[skip : skip + len(raw)])
    return sorted(f for f in forms if len(f) >= 8)


def leaks(value: Any, where: str) -> Iterator[str]:
    """Places where a sentinel shows outside a secret wrapper."""
    for text, inside_secret in harness.plain_strings(value):
        if inside_secret:
            continue
        for key, secret in SENTINELS.items():
            for form in encodings(secret):
                if form in text:
                    yield f"{key} in {where}: {text[:120]!r}"


@pytest.fixture(scope="module", params=["prod", "dev"])
def stack_run(request) -> harness.Run:
    return run_stack(request.param)


def test_sentinels_and_encodings_are_detectable():
    """The scan itself must be able to fail: a planted leak in each form is found."""
    secret = SENTINELS["gateway-cluster:managerPassword"]
    blob = base64.b64encode(b"password: " + secret.encode()).decode()
    assert list(leaks({"a": [f"x{secret}y"]}, "t"))
    assert list(leaks({"kubeconfig": blob}, "t"))
    assert not list(leaks({"a": harness.secret(f"x{secret}y")}, "t"))


def test_no_secret_in_any_recorded_input_output_or_export(stack_run):
    found: list[str] = []
    for r in stack_run.resources:
        found += leaks(r.inputs, f"inputs of {r.urn}")
        found += leaks(r.state, f"outputs of {r.urn}")
        found += leaks(r.component_outputs, f"component outputs of {r.urn}")
    found += leaks(stack_run.outputs, "stack exports")
    found += leaks([m for _, m in stack_run.log], "the program's log")
    found += leaks([[i.args, i.result] for i in stack_run.invokes], "invokes")
    assert not found, "\n".join(found)


def test_secrets_do_reach_the_program_where_they_are_used(stack_run):
    """Guards the leak test against passing vacuously: each secret the program uses is present, wrapped."""
    wrapped = {text for r in stack_run.resources for text, inside in harness.plain_strings(r.inputs) if inside}
    used = {key for key, secret in SENTINELS.items() if any(secret in text for text in wrapped)}
    # Every secret of the program reaches a resource (SSH credentials the connections and sudo, the password
    # the manager's chart, the token the registration); vSphere's password goes to the provider only.
    assert used == set(SENTINELS) - {"vsphere:password"}


def test_plan_output_masks_every_secret(tmp_path: Path):
    raw = stack_raw("prod")
    raw.update(SENTINELS)  # plaintext in the stack file: accepted, treated as secrets, warned about
    project = make_project(tmp_path, {"leaky": raw})
    for argv in (["--json"], []):
        code, out, err = gatewayctl("plan", "--stack", "leaky", "--no-policies", *argv, cwd=project)
        assert code == 0, err
        found = list(leaks(out, "plan stdout")) + list(leaks(err, "plan stderr"))
        assert not found, "\n".join(found)
        assert "is in plaintext in Pulumi.leaky.yaml" in err
    doc = json.loads(gatewayctl("plan", "--stack", "leaky", "--no-policies", "--json", cwd=project)[1])
    assert doc["secretsNeeded"] == []


def test_show_secrets_reveals_them(tmp_path: Path):
    raw = stack_raw("prod")
    raw.update(SENTINELS)
    project = make_project(tmp_path, {"leaky": raw})
    code, out, _ = gatewayctl("plan", "--stack", "leaky", "--no-policies", "--json", "--show-secrets", cwd=project)
    assert code == 0
    assert "[secret]" not in out
    assert any(secret in out for secret in SENTINELS.values())
