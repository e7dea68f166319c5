"""The rolling upgrade's plan: which config changes, in which order, take a stack to a new image.

Pure: it reads the stack's settings and which image each node runs, and returns the steps; nothing here
touches a stack. :mod:`gatewayctl.commands.upgrade.roll` carries them out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from components import config as cfg

Action = Literal["set-image", "retain-image", "rebuild", "move-primary", "clear-rebuild", "release-image"]

#: The actions after which the roll runs `pulumi up` and waits for the cluster's health (the others only
#: change config, which the next `pulumi up` applies).
UPDATES: frozenset[Action] = frozenset({"rebuild", "move-primary"})


def key(path: str) -> str:
    return f"{cfg.NAMESPACE}:{path}"


@dataclass(frozen=True)
class Step:
    """One change of the stack's config, by full key path; ``None`` removes the key."""

    node: str | None
    action: Action
    config: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node, "action": self.action, "config": dict(self.config)}


@dataclass(frozen=True)
class Target:
    """The image to upgrade to: its version and exactly one of URL or local path."""

    version: str
    url: str | None = None
    path: str | None = None

    @property
    def source(self) -> str:
        return self.url or self.path or ""


class PlanError(Exception):
    """The upgrade cannot be planned as asked (exit 2): the message says why and what to do."""


def _source_keys(prefix: str, url: str | None, path: str | None) -> dict[str, Any]:
    return {key(f"{prefix}.url"): url, key(f"{prefix}.path"): path}


def plan_upgrade(settings: cfg.Settings, images: Mapping[str, str | None], target: Target) -> list[Step]:
    """The steps from ``settings`` (the stack's config now) and ``images`` (each node's running version, from the
    stack's outputs; a node missing there counts as not upgraded) to every node running ``target``.

    Order: keep the image in use (`ova.retain`), set `ova`; rebuild the non-primary nodes in config order; move
    `primary` to the first rebuilt node; rebuild the old primary; clear `rebuild`; release the old images. A
    node already on the target is skipped, so a second run resumes where the first stopped.
    """
    ova = settings.ova
    steps: list[Step] = []
    retained = [image.version for image in ova.retain]
    if ova.version != target.version:
        if ova.version not in retained:
            i = len(retained)
            config = {
                key(f"ova.retain[{i}].version"): ova.version,
                **_source_keys(f"ova.retain[{i}]", ova.url, ova.path),
            }
            steps.append(Step(None, "retain-image", {k: v for k, v in config.items() if v is not None}))
            retained.append(ova.version)
        steps.append(
            Step(
                None, "set-image", {key("ova.version"): target.version, **_source_keys("ova", target.url, target.path)}
            )
        )
    elif ova.source != target.source:
        raise PlanError(
            f"gateway-cluster:ova is {target.version} already, from {ova.source}, not {target.source}: one version "
            "is one image. Give the source the stack has, or a new version number for the new image"
        )
    if target.version in retained:
        raise PlanError(
            f"gateway-cluster:ova.retain lists {target.version}, the version to upgrade to: remove that entry "
            "first (a version names one image)"
        )

    hostnames = [n.hostname for n in settings.nodes]
    # A node still in `rebuild` is pending whatever its image: the roll stopped in its update (its VM may be new
    # while its bootstrap or join never ran), and running that update again finishes it.
    pending = [h for h in hostnames if images.get(h) != target.version or h in settings.rebuild]
    pending.sort(key=lambda h: h not in settings.rebuild)
    primary = settings.primary
    for hostname in pending:
        if hostname != primary:
            steps.append(Step(hostname, "rebuild", {key("rebuild"): [hostname]}))
    if primary in pending:
        if len(hostnames) > 1:
            # Every other node is upgraded by now: the first in config order, which a fresh run rebuilt first,
            # and which a resumed run picks the same.
            successor = next(h for h in hostnames if h != primary)
            steps.append(Step(successor, "move-primary", {key("primary"): successor, key("rebuild"): None}))
        steps.append(Step(primary, "rebuild", {key("rebuild"): [primary]}))
    if pending or settings.rebuild:
        steps.append(Step(None, "clear-rebuild", {key("rebuild"): None}))
    released = [v for v in retained if v != target.version]
    if released and len(released) == len(retained):
        steps.append(Step(None, "release-image", {key("ova.retain"): None}))
    else:
        for i in sorted((retained.index(v) for v in released), reverse=True):
            steps.append(Step(None, "release-image", {key(f"ova.retain[{i}]"): None}))
    return steps


def versions_in_use(images: Mapping[str, str | None], hostnames: Sequence[str]) -> list[str]:
    """The versions the nodes run, in node order, each once (``unknown`` for a node whose image is in neither
    `ova` nor `ova.retain`, or that the outputs do not list)."""
    seen: dict[str, None] = {}
    for hostname in hostnames:
        seen.setdefault(images.get(hostname) or "unknown", None)
    return list(seen)


#: What pulumi-command reports when a node's SSH host key is not the pinned one (golang.org/x/crypto/ssh
#: ``FixedHostKey``, wrapped by the SSH handshake and pulumi-command's dial retries; docs/upstream-facts.md U3).
HOST_KEY_MISMATCH = "host key mismatch"


def pinned_nodes(settings: cfg.Settings) -> list[str]:
    """The nodes whose SSH host key is pinned: their rebuild stops once the new VM is up (its key is new)."""
    return [n.hostname for n in settings.nodes if n.ssh_host_key is not None]


def host_key_advice(settings: cfg.Settings, hostname: str) -> str:
    """What to do when a rebuilt node's new SSH host key meets its pinned ``sshHostKey``: never accept any key;
    get the new one over a channel that does not go through the network the key protects, and pin it."""
    i = next(i for i, n in enumerate(settings.nodes) if n.hostname == hostname)
    return (
        f"{hostname} was rebuilt: its new VM has a new SSH host key, and the pinned "
        f"gateway-cluster:nodes[{i}].sshHostKey refuses it, as it should. Read the new key where no one can "
        f"stand in between: on {hostname}'s console in the vSphere Client, log in and run "
        "`cat /etc/ssh/ssh_host_ed25519_key.pub` (and `ssh-keygen -lf` on it for the fingerprint, if you compare "
        f"fingerprints). Then pin it: `pulumi config set --path 'gateway-cluster:nodes[{i}].sshHostKey' "
        "'ssh-ed25519 AAAA...'`, and run the same `gatewayctl upgrade` again: it resumes with "
        f"{hostname}'s update."
    )
