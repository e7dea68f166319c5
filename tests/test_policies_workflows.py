"""The pull-request workflow (.github/workflows/): GitHub Actions cannot run here, so it is checked offline:
against the GitHub workflow JSON schema (check-jsonschema's vendored SchemaStore copy), with shellcheck on every
`run:` script, for the shape the policy gate needs, and by running its own scripts on scratch directories."""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.stacks import PROJECT

WORKFLOWS = sorted((PROJECT / ".github" / "workflows").glob("*.yml"))
PULL_REQUEST = PROJECT / ".github" / "workflows" / "pull-request.yml"
BIN = Path(sys.executable).parent


def load(path: Path) -> dict[Any, Any]:
    """A workflow file, as a document (a deep copy: change it freely)."""
    return copy.deepcopy(_parsed(path))


@functools.cache
def _parsed(path: Path) -> dict[Any, Any]:
    # Read once: the tests look at the same workflow many times, and reading it as YAML costs ~20 ms.
    doc: dict[Any, Any] = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


def step(job: str, step_id: str) -> dict[str, Any]:
    steps: list[dict[str, Any]] = load(PULL_REQUEST)["jobs"][job]["steps"]
    return next(s for s in steps if s.get("id") == step_id)


def schema_check(*paths: Path) -> dict[str, Any]:
    """One check-jsonschema run over ``paths``, its JSON report: ``successes`` (the paths that pass), ``errors``
    and ``parse_errors`` (each naming its ``filename``), as the text report lists them file by file."""
    result = subprocess.run(
        [
            str(BIN / "check-jsonschema"),
            "--output-format",
            "json",
            "--verbose",
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report: dict[str, Any] = json.loads(result.stdout)
    assert (result.returncode == 0) == (report["status"] == "ok"), result.stderr
    return report


def findings(report: dict[str, Any], path: Path) -> list[str]:
    """Every message the report has about ``path``: its errors, their best matches and their sub-errors."""
    messages: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("message"), str):
                messages.append(value["message"])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk([e for e in report["errors"] + report["parse_errors"] if e.get("filename") == str(path)])
    return messages


def test_there_are_workflows():
    assert PULL_REQUEST in WORKFLOWS


def _without_runs_on(doc: dict[Any, Any]) -> None:
    del doc["jobs"]["offline-plan"]["runs-on"]


def _bad_timeout(doc: dict[Any, Any]) -> None:
    doc["jobs"]["policy-preview"]["timeout-minutes"] = "soon"


def _misspelled_event(doc: dict[Any, Any]) -> None:
    doc["on"] = {"pull_reqest": None}


BREAKAGES = {
    "no-runs-on": (_without_runs_on, "'runs-on' is a required property"),
    "bad-timeout": (_bad_timeout, "'soon' does not match"),
    "misspelled-event": (_misspelled_event, "'pull_reqest' was unexpected"),
}


@pytest.fixture(scope="module")
def schema_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Path]]:
    """The committed workflows and a broken copy of pull-request.yml per breakage, checked in one run (the
    checker's start-up costs more than the checks); the broken copies by breakage."""
    folder = tmp_path_factory.mktemp("broken-workflows")
    broken = {}
    for name, (breakage, _) in BREAKAGES.items():
        doc = load(PULL_REQUEST)
        breakage(doc)
        broken[name] = folder / f"{name}.yml"
        broken[name].write_text(yaml.safe_dump(doc))
    return schema_check(*WORKFLOWS, *broken.values()), broken


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_the_github_schema(schema_report: tuple[dict[str, Any], dict[str, Path]], path: Path):
    report, _ = schema_report
    assert str(path) in report["successes"], findings(report, path)
    assert findings(report, path) == []


@pytest.mark.parametrize("name", BREAKAGES)
def test_schema_check_catches_a_broken_workflow(schema_report: tuple[dict[str, Any], dict[str, Path]], name: str):
    report, broken = schema_report
    reported = BREAKAGES[name][1]
    assert str(broken[name]) not in report["successes"]
    assert any(reported in message for message in findings(report, broken[name])), findings(report, broken[name])


def _run_scripts() -> list[tuple[str, str]]:
    scripts = []
    for path in WORKFLOWS:
        for name, job in load(path)["jobs"].items():
            for i, s in enumerate(job.get("steps", [])):
                if "run" in s:
                    scripts.append((f"{path.name}:{name}:{s.get('id', i)}", s["run"]))
    return scripts


@pytest.mark.parametrize(("where", "script"), _run_scripts(), ids=[w for w, _ in _run_scripts()])
def test_run_scripts_pass_shellcheck(tmp_path: Path, where: str, script: str):
    # Values reach scripts through env:, never as ${{ }} pasted into the script (script injection).
    assert "${{" not in script, where
    path = tmp_path / "step.sh"
    path.write_text("#!/usr/bin/env bash\nset -eo pipefail\n" + script)
    result = subprocess.run(
        [str(BIN / "shellcheck"), "--shell=bash", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"{where}:\n{result.stdout}"


def test_actions_are_pinned_to_commits():
    for path in WORKFLOWS:
        for job in load(path)["jobs"].values():
            for s in job.get("steps", []):
                if "uses" in s:
                    assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", s["uses"]), s["uses"]


def test_offline_job_needs_no_credentials():
    doc = load(PULL_REQUEST)
    assert "pull_request" in doc["on"]
    assert doc["permissions"] == {"contents": "read"}
    job = doc["jobs"]["offline-plan"]
    assert "secrets." not in yaml.safe_dump(job)
    assert "self-hosted" not in str(job["runs-on"])
    assert "./dev plan" in step("offline-plan", "plan")["run"]


def test_preview_job_runs_the_pack_with_pulumi_actions():
    job = load(PULL_REQUEST)["jobs"]["policy-preview"]
    [action] = [s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
    inputs = action["with"]
    assert inputs["command"] == "preview"
    assert inputs["policyPacks"] == "policies"
    assert inputs["comment-on-pr"] is True
    assert inputs["stack-name"] == "${{ matrix.stack }}"
    assert job["permissions"]["pull-requests"] == "write"
    assert "self-hosted" in job["runs-on"] and "vsphere" in job["runs-on"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in job["if"], "never for forks"
    assert job["needs"] == "changed-stacks"
    assert "fromJSON(needs.changed-stacks.outputs.stacks)" in job["strategy"]["matrix"]["stack"]
    setup = "\n".join(s.get("run", "") for s in job["steps"])
    assert "pip install" in setup and "policies/requirements.txt" in setup and "policies/venv" in setup


# ------------------------------------------------------------------------- the scripts, run for real


def _git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    result = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, timeout=60, check=True
    )
    return result.stdout.strip()


def _run_step(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # As GitHub runs `shell: bash`: bash --noprofile --norc -eo pipefail {0}
    path = cwd.parent / f"{cwd.name}-step.sh"
    path.write_text(script)
    # After actions/setup-python, `python3` on the runner's PATH is that interpreter: here the venv's, not whatever
    # version manager's shim comes first on this machine's PATH (pyenv's costs a tenth of a second per call).
    search = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)],
        cwd=cwd,
        env={**os.environ, "PATH": search, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "components").mkdir(parents=True)
    (root / "docs").mkdir()
    for name in ("Pulumi.yaml", "Pulumi.prod.yaml", "Pulumi.dev.yaml", "Pulumi.lab.yaml", "README.md"):
        (root / name).write_text("x: 1\n")
    (root / "components" / "node.py").write_text("x = 1\n")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "base")
    return root


PICK_CASES = [
    pytest.param({"Pulumi.prod.yaml": "x: 2\n"}, [], '["prod"]', id="one-stack-file"),
    pytest.param({"Pulumi.prod.yaml": "x: 2\n", "Pulumi.dev.yaml": "x: 2\n"}, [], '["dev", "prod"]', id="two"),
    pytest.param({"components/node.py": "x = 2\n"}, [], '["dev", "lab", "prod"]', id="program-change"),
    pytest.param({"Pulumi.yaml": "x: 2\n"}, [], '["dev", "lab", "prod"]', id="project-file"),
    pytest.param(
        {"policies/gateway_policies/rules/unique_hostnames.py": "x = 1\n"},
        [],
        '["dev", "lab", "prod"]',
        id="pack-change",
    ),
    pytest.param({"README.md": "y\n", "docs/policies.md": "y\n"}, [], "[]", id="docs-only"),
    pytest.param({"Pulumi.qa.yaml": "x: 1\n"}, [], '["qa"]', id="new-stack"),
    pytest.param({}, ["Pulumi.lab.yaml"], "[]", id="removed-stack"),
    pytest.param({"Pulumi.dev.yaml": "x: 3\n"}, ["Pulumi.lab.yaml"], '["dev"]', id="removed-and-changed"),
]


@pytest.mark.parametrize(("write", "remove", "expected"), PICK_CASES)
def test_changed_stacks_step(repo: Path, tmp_path: Path, write: dict[str, str], remove: list[str], expected: str):
    base = _git(repo, "rev-parse", "HEAD")
    for name, content in write.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(content)
    for name in remove:
        (repo / name).unlink()
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "--allow-empty", "-m", "change")
    output = tmp_path / "github-output"
    result = _run_step(
        step("changed-stacks", "pick")["run"],
        repo,
        {"BASE_SHA": base, "HEAD_SHA": _git(repo, "rev-parse", "HEAD"), "GITHUB_OUTPUT": str(output)},
    )
    assert result.returncode == 0, result.stderr
    assert output.read_text() == f"stacks={expected}\n"


def test_offline_plan_step(tmp_path: Path):
    """Plans every stack file, passes a stack's policy config when it has one, reports all, fails on any."""
    work = tmp_path / "work"
    (work / "policies" / "config").mkdir(parents=True)
    for stack in ("prod", "dev", "lab"):
        (work / f"Pulumi.{stack}.yaml").write_text("config: {}\n")
    (work / "policies" / "config" / "prod.json").write_text("{}\n")
    calls = tmp_path / "calls"
    (work / "dev").write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$*" >>{calls}\n'
        'echo "Offline plan of stack $2"\n'
        'if [ "$2" = dev ]; then echo "Policy violations (1):"; exit 1; fi\n'
        'echo "Policies: no violations."\n'
    )
    (work / "dev").chmod(0o755)
    summary = tmp_path / "summary"
    result = _run_step(step("offline-plan", "plan")["run"], work, {"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.returncode == 1, "a failing stack fails the job"
    assert calls.read_text().splitlines() == [
        "plan dev",
        "plan lab",
        "plan prod --policy-config policies/config/prod.json",
    ]
    assert "::error title=offline plan::stack dev: gatewayctl plan exited 1" in result.stdout
    text = summary.read_text()
    assert "stack `dev` (exit 1)" in text and "stack `prod` (exit 0)" in text and "Policies: no violations." in text


def test_offline_plan_step_passes_when_every_stack_passes(tmp_path: Path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "Pulumi.prod.yaml").write_text("config: {}\n")
    shutil.copy(Path("/bin/true"), work / "dev")
    result = _run_step(step("offline-plan", "plan")["run"], work, {"GITHUB_STEP_SUMMARY": str(tmp_path / "summary")})
    assert result.returncode == 0, result.stdout + result.stderr
