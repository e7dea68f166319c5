"""Evaluates the policy pack (``policies/``) over one offline program run, the way the Pulumi engine does.

What the engine does, and what this module repeats (pulumi ``pkg/resource/deploy/step_generator.go``,
``pkg/resource/analyzer/config.go``, ``sdk/go/common/resource/plugin/analyzer_plugin.go``, and pulumi-policy's
analyzer servicer):

- Config: each policy starts from its schema's defaults and its own enforcement level, then the pack's
  initial config is applied, then the user's config file (``all`` first sets every policy's level); the
  result is validated against each policy's JSON schema and reaches validators through a protobuf
  ``Struct`` (so integers arrive as floats). A bad config stops everything (:class:`PolicyConfigError`).
- Resource policies run on every registered resource, components included, with its *inputs*.
- Stack policies run once with every resource, each with its *outputs* (a component's outputs are what it
  passed to ``register_outputs``), and with parents and dependencies linked.
- Properties are marshalled as the engine marshals them for analyzers (unknowns and secrets kept; output
  values and resource references flattened; internal ``__`` keys dropped) and unmarshalled by
  pulumi-policy's own ``deserialize_properties`` and unknown-checking proxy: a secret reaches a validator as
  its plain value (as in a real preview), an unknown raises when read.
- A policy that reads an unknown value is not judged: the engine reports an advisory diagnostic instead.
- ``disabled`` skips a policy; ``remediate`` is reported as ``mandatory`` (these policies do not remediate).

By default the run is judged as recorded: the mocks answer everything, as for a preview of a stack whose
resources exist. ``evaluate_pack(..., new_stack=True)`` judges what the first preview of a new stack would know
(:func:`new_stack_views`), which the tests use to show that the policies never depend on values that only
exist once resources do.

Re-check on every upgrade of the Pulumi engine or pulumi-policy: each point above, against those sources.
:data:`GATEWAY_PACK` binds this project's pack (``policies/``); the evaluation itself knows no particular pack.
"""

from __future__ import annotations

import asyncio
import copy
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from inspect import isawaitable
from typing import Any

import jsonschema
from google.protobuf import json_format, struct_pb2
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from gatewayctl.harness.records import Resource, Run
from gatewayctl.harness.records import stack_urn as stack_urn  # violations on the stack itself name it
from gatewayctl.harness.wire import OUTPUT_SIG, RESOURCE_REF_SIG, SECRET_SIG, SIG_KEY, UNKNOWN, secret
from policies import gateway_policies

LEVELS: tuple[str, ...] = tuple(level.value for level in EnforcementLevel)


@dataclass(frozen=True)
class Violation:
    """One policy violation, as the engine reports it."""

    policy: str
    level: str
    """advisory, mandatory or remediate."""
    message: str
    urn: str | None


class PolicyConfigError(Exception):
    """The policy config file is not one the engine would accept (``plan`` exits 2, as for a bad option)."""


@dataclass
class PolicyConfig:
    """One policy's reconciled config: its enforcement level and its properties."""

    level: str
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Pack:
    """What the engine learns from a pack's ``GetAnalyzerInfo``: its policies, default level, initial config."""

    name: str
    policies: Sequence[Policy]
    enforcement_level: EnforcementLevel
    initial_config: Mapping[str, EnforcementLevel | Mapping[str, Any]]


GATEWAY_PACK = Pack(
    name=gateway_policies.PACK_NAME,
    policies=gateway_policies.POLICIES,
    enforcement_level=gateway_policies.PACK_ENFORCEMENT_LEVEL,
    initial_config=gateway_policies.INITIAL_CONFIG,
)


# ----------------------------------------------------------------------------------------------- config


def _user_entry(key: str, raw: Any) -> tuple[str | None, dict[str, Any]]:
    """One entry of a ``--policy-pack-config`` file: a level string, or an object with ``enforcementLevel``."""
    if isinstance(raw, str):
        if raw not in LEVELS:
            raise PolicyConfigError(
                f"policy config {key!r}: {raw!r} is not an enforcement level; use one of {', '.join(LEVELS)}."
            )
        return raw, {}
    if isinstance(raw, Mapping):
        props = dict(raw)
        level = props.pop("enforcementLevel", None)
        if level is not None and (not isinstance(level, str) or level not in LEVELS):
            raise PolicyConfigError(
                f"policy config {key!r}: enforcementLevel {level!r} is not one of {', '.join(LEVELS)}."
            )
        return level, props
    raise PolicyConfigError(
        f"policy config {key!r}: {raw!r} is not valid; give an enforcement level string or an object, "
        'e.g. {"node-size-minimum": {"minCpus": 8}}.'
    )


def _initial_entry(raw: EnforcementLevel | Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    if isinstance(raw, EnforcementLevel):
        return raw.value, {}
    props = dict(raw)
    level = props.pop("enforcementLevel", None)
    return (level.value if isinstance(level, EnforcementLevel) else level), props


def _apply(result: dict[str, PolicyConfig], entries: Mapping[str, tuple[str | None, dict[str, Any]]]) -> None:
    """The engine's ``applyConfig``: ``all`` sets every level, then each named entry merges over the result."""
    all_level = entries.get("all", (None, {}))[0]
    if all_level is not None:
        for cfg in result.values():
            cfg.level = all_level
    for name, (level, props) in entries.items():
        if name == "all":
            continue
        cfg = result.setdefault(name, PolicyConfig(level=""))
        if level is not None:
            cfg.level = level
        cfg.properties.update(copy.deepcopy(props))


def _schema(policy: Policy) -> dict[str, Any] | None:
    schema = policy.config_schema
    if schema is None:
        return None
    doc: dict[str, Any] = {"type": "object"}
    if schema.properties:
        doc["properties"] = schema.properties
    if schema.required:
        doc["required"] = schema.required
    return doc


def reconcile_config(pack: Pack, user_config: Mapping[str, Any] | None) -> dict[str, PolicyConfig]:
    """Each policy's level and properties, merged and validated as the engine does before ``Configure``."""
    result: dict[str, PolicyConfig] = {}
    for policy in pack.policies:
        level = policy.enforcement_level or pack.enforcement_level
        defaults = {
            key: copy.deepcopy(prop["default"])
            for key, prop in (policy.config_schema.properties.items() if policy.config_schema else ())
            if "default" in prop
        }
        result[policy.name] = PolicyConfig(level=level.value, properties=defaults)
    _apply(result, {name: _initial_entry(raw) for name, raw in pack.initial_config.items()})
    if user_config:
        if "environments" in user_config:
            raise PolicyConfigError(
                "policy config 'environments': ESC environments cannot be resolved offline; "
                "put the values in the file itself."
            )
        _apply(result, {name: _user_entry(name, raw) for name, raw in user_config.items()})
    problems: list[str] = []
    for policy in pack.policies:
        schema = _schema(policy)
        if schema is None:
            continue
        validator = jsonschema.Draft7Validator(schema)
        for error in sorted(validator.iter_errors(result[policy.name].properties), key=str):
            where = ".".join(str(p) for p in error.absolute_path)
            problems.append(f"{policy.name}{'.' + where if where else ''}: {error.message}")
    if problems:
        raise PolicyConfigError("invalid policy config:\n  - " + "\n  - ".join(problems))
    return result


def _through_struct(props: Mapping[str, Any]) -> dict[str, Any]:
    """Config as validators receive it: through the protobuf ``Struct`` of ``Configure`` (ints become floats)."""
    struct = json_format.ParseDict(dict(props), struct_pb2.Struct())
    converted: dict[str, Any] = json_format.MessageToDict(struct)
    return converted


# ----------------------------------------------------------------------------------------- properties


def engine_wire(value: Any) -> Any:
    """A recorded wire value as the engine marshals it for an analyzer.

    ``MarshalOptions{KeepUnknowns, KeepSecrets, SkipInternalKeys}``: secrets stay wrapped and unknowns stay
    unknown; output values become their value (wrapped when secret) or an unknown; resource references
    become the resource's ID (a custom resource; unknown while it has none) or URN (a component).
    """
    if isinstance(value, list):
        return [engine_wire(v) for v in value]
    if not isinstance(value, dict):
        return value
    sig = value.get(SIG_KEY)
    if sig == SECRET_SIG:
        return secret(engine_wire(value.get("value")))
    if sig == OUTPUT_SIG:
        if "value" not in value:
            return UNKNOWN
        inner = engine_wire(value["value"])
        return secret(inner) if value.get("secret") else inner
    if sig == RESOURCE_REF_SIG:
        if "id" in value:
            return value["id"] or UNKNOWN
        return value.get("urn", UNKNOWN)
    return {k: engine_wire(v) for k, v in value.items() if not (isinstance(k, str) and k.startswith("__"))}


def policy_props(wire: Mapping[str, Any]) -> Mapping[str, Any]:
    """Props as a validator gets them: unmarshalled by pulumi-policy, behind its unknown-checking proxy."""
    props: Mapping[str, Any] = unknown_checking_proxy(deserialize_properties(engine_wire(dict(wire))))
    return props


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def _seconds(duration: Any) -> float:
    """A Go duration string ("10m", "1h30m") in seconds; 0 when absent or unparsable."""
    if not isinstance(duration, str) or not duration:
        return 0.0
    return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION.findall(duration))


def _options(resource: Resource) -> PolicyResourceOptions:
    opts = resource.options
    timeouts = opts.get("customTimeouts") or {}
    return PolicyResourceOptions(
        protect=bool(opts.get("protect", False)),
        ignore_changes=list(opts.get("ignoreChanges", [])),
        delete_before_replace=True if opts.get("deleteBeforeReplace") else None,
        aliases=list(opts.get("aliasURNs", [])),
        custom_timeouts=PolicyCustomTimeouts(
            _seconds(timeouts.get("create")), _seconds(timeouts.get("update")), _seconds(timeouts.get("delete"))
        ),
        additional_secret_outputs=list(opts.get("additionalSecretOutputs", [])),
        parent=resource.parent,
    )


def _stack_resource(run: Run) -> Resource:
    """The root stack resource: the engine analyses it too (its outputs are the stack's exports)."""
    return Resource(
        urn=stack_urn(run),
        type="pulumi:pulumi:Stack",
        name=f"{run.project}-{run.stack}",
        parent=None,
        custom=False,
        provider=None,
        dependencies=[],
        property_dependencies={},
        inputs={},
        options={},
        component_outputs=dict(run.outputs),
    )


@dataclass(frozen=True)
class Views:
    """What the engine would hold for each resource (wire form): its inputs, and its outputs after the preview."""

    inputs: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any]]


def recorded_views(run: Run) -> Views:
    """The run as recorded: everything the mocks answered is known (as in a preview of an existing stack)."""
    records = [_stack_resource(run), *run.resources]
    return Views(
        inputs={r.urn: r.inputs for r in records},
        outputs={r.urn: (r.state if r.custom else r.component_outputs or {}) for r in records},
    )


def new_stack_views(run: Run) -> Views:
    """The run as the first ``pulumi preview`` of a new stack would see it, conservatively.

    Nothing exists yet, so every input that depends on a custom resource's output is unknown; outputs a
    provider computes are unknown; a provider whose own config is unknown returns no outputs at all during a
    preview (pulumi ``provider_plugin.go``: an unconfigured provider's preview ``Create`` is empty); and
    component and stack outputs, whose dependencies are not recorded, are all taken as unknown.
    """
    custom = {r.urn for r in run.resources if r.custom}
    records = [_stack_resource(run), *run.resources]
    inputs: dict[str, dict[str, Any]] = {}
    for r in records:
        inputs[r.urn] = {
            key: UNKNOWN if any(d in custom for d in r.property_dependencies.get(key, [])) else wire
            for key, wire in r.inputs.items()
        }
    unconfigured = {
        r.urn
        for r in run.resources
        if r.type.startswith("pulumi:providers:") and any(v == UNKNOWN for v in inputs[r.urn].values())
    }
    outputs: dict[str, dict[str, Any]] = {}
    for r in records:
        if not r.custom:
            outputs[r.urn] = {key: UNKNOWN for key in r.component_outputs or {}}
        elif r.provider in unconfigured:
            outputs[r.urn] = {}
        else:
            computed = {key: UNKNOWN for key in r.state if key not in r.inputs}
            outputs[r.urn] = {**computed, **inputs[r.urn]}
    return Views(inputs=inputs, outputs=outputs)


def stack_resources(run: Run, views: Views | None = None) -> list[PolicyResource]:
    """Every resource as ``AnalyzeStack`` gets it: outputs, with parents and dependencies linked."""
    views = views or recorded_views(run)
    records = [_stack_resource(run), *run.resources]
    by_urn: dict[str, PolicyResource] = {}
    for r in records:
        props = policy_props(views.outputs[r.urn])
        by_urn[r.urn] = PolicyResource(r.type, props, r.urn, r.name, _options(r), None, None, [], {})
    for r in records:
        resource = by_urn[r.urn]
        resource.parent = by_urn.get(r.parent) if r.parent else None
        resource.dependencies = [by_urn[d] for d in r.dependencies if d in by_urn]
        resource.property_dependencies = {
            key: [by_urn[d] for d in deps if d in by_urn] for key, deps in r.property_dependencies.items() if deps
        }
    return [by_urn[r.urn] for r in records]


# ------------------------------------------------------------------------------------------- evaluation


def _run(result: Awaitable[Any] | None) -> None:
    """Awaits what an async validator returned, on a loop of its own (as pulumi-policy's servicer does)."""
    if result is None or not isawaitable(result):
        return

    async def wait() -> None:
        await result

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(wait())
    finally:
        loop.close()


def _collector(
    violations: list[Violation], policy: Policy, level: str, attribute: Callable[[str | None], str]
) -> Callable[[str, str | None], None]:
    """The ``report_violation`` callback of one policy: collects, attributing each violation to a URN."""

    def report(message: str, urn: str | None = None) -> None:
        violations.append(Violation(policy.name, level, message, attribute(urn)))

    return report


def _fixed(urn: str) -> Callable[[str | None], str]:
    def attribute(_given: str | None) -> str:
        return urn

    return attribute


def evaluate_pack(
    pack: Pack, run: Run, policy_config: Mapping[str, Any] | None = None, *, new_stack: bool = False
) -> list[Violation]:
    """Runs ``pack`` over ``run``: resource policies on each resource's inputs, then stack policies.

    ``new_stack`` evaluates what the first preview of a new stack would know (:func:`new_stack_views`);
    by default, what the run recorded.
    """
    config = reconcile_config(pack, policy_config)
    views = new_stack_views(run) if new_stack else recorded_views(run)
    validator_config = {name: _through_struct(cfg.properties) for name, cfg in config.items()}
    root_urn = stack_urn(run)
    violations: list[Violation] = []

    def level_of(policy: Policy) -> str | None:
        level = config[policy.name].level
        if level == EnforcementLevel.DISABLED.value:
            return None
        return EnforcementLevel.MANDATORY.value if level == EnforcementLevel.REMEDIATE.value else level

    def not_judged(policy: Policy, error: UnknownValueError, urn: str) -> Violation:
        message = f"can't run policy '{policy.name}' from policy pack '{pack.name}' during preview: {error.message}"
        return Violation(policy.name, EnforcementLevel.ADVISORY.value, message, urn)

    resource_policies = [p for p in pack.policies if isinstance(p, ResourceValidationPolicy)]
    for record in [_stack_resource(run), *run.resources]:
        for policy in resource_policies:
            level = level_of(policy)
            if level is None:
                continue
            args = ResourceValidationArgs(
                record.type,
                policy_props(views.inputs[record.urn]),
                record.urn,
                record.name,
                _options(record),
                None,
                validator_config[policy.name],
            )
            # A resource policy's violations belong to the resource, whatever URN the validator passes.
            report = _collector(violations, policy, level, _fixed(record.urn))
            try:
                _run(policy.validate(args, report))
            except UnknownValueError as error:
                violations.append(not_judged(policy, error, record.urn))

    resources = stack_resources(run, views)
    in_stack = {r.urn for r in resources}

    def attribute(urn: str | None) -> str:
        # As the engine does: the URN the validator names when it is in the stack, else the stack's own.
        return urn if urn is not None and urn in in_stack else root_urn

    for stack_policy in (p for p in pack.policies if isinstance(p, StackValidationPolicy)):
        level = level_of(stack_policy)
        if level is None:
            continue
        stack_args = StackValidationArgs(resources, validator_config[stack_policy.name])
        try:
            _run(stack_policy.validate(stack_args, _collector(violations, stack_policy, level, attribute)))
        except UnknownValueError as error:
            violations.append(not_judged(stack_policy, error, root_urn))
    return violations


def evaluate(run: Run, policy_config: Mapping[str, Any] | None) -> list[Violation]:
    """The gateway cluster's pack over ``run`` (``gatewayctl plan``'s evaluator)."""
    return evaluate_pack(GATEWAY_PACK, run, policy_config)
