"""`pulumi up` for the program's remote steps, replayed on the SSH test hosts in the engine's order.

A :class:`Deployment` holds what a stack's Pulumi state would: every resource as last applied, by URN. Its
:meth:`~Deployment.up` takes the state to a new run of the program as the engine does (docs/upstream-facts.md C2,
C3, C12, E3, E4, E5):

1. A VM whose ID changed while it has ``deleteBeforeReplace`` (a rebuild) is replaced: first the stored
   ``delete`` of every step it would replace (each step whose ``triggers`` take the VM's ID), dependents first;
   then the test host becomes a new clone of the OVA. A VM that is not in the state (created, or created again
   after ``pulumi refresh`` dropped a lost one) makes its host a new clone too.
2. The steps that are new or whose inputs changed run their ``create`` in dependency order, the steps of one
   level in parallel. A step whose ``triggers`` changed is replaced; with ``deleteBeforeReplace`` its stored
   ``delete`` runs just before its ``create`` (no step's inputs take another step's outputs here, so no step has
   dependents to delete with it: :meth:`~Deployment.up` checks that).
3. The steps that left the program are deleted, dependents first, with their stored inputs.

A failed step stops the update after its level: nothing later runs, no pending delete either, and the failed
create stores nothing (its old version, if it was replaced first, is gone).
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from gatewayctl import harness
from tests.support.sshhosts import COMMAND, Outcome, SshHosts, dependency_levels

VIRTUAL_MACHINE = "vsphere:index/virtualMachine:VirtualMachine"


def failures(outcomes: Sequence[Outcome]) -> str:
    """What the failed steps among ``outcomes`` said, for an assertion message."""
    return "\n\n".join(o.describe() for o in outcomes if o.code != 0)


@dataclass
class Update:
    """What one `pulumi up` ran, in order."""

    outcomes: list[Outcome] = field(default_factory=list)
    new_vms: list[str] = field(default_factory=list)
    """The node addresses whose VM was created (again)."""
    changed: list[str] = field(default_factory=list)
    """The steps the engine found new or changed, whether they got to run or not."""

    @property
    def ok(self) -> bool:
        return all(o.code == 0 for o in self.outcomes)

    def of(self, phase: str) -> list[Outcome]:
        """What ran ``phase`` (``create`` or ``delete``), in order."""
        return [o for o in self.outcomes if o.phase == phase]

    def ran(self, phase: str = "create") -> list[str]:
        """The names of the steps that ran ``phase``, in order."""
        return [o.name for o in self.of(phase)]

    def by_name(self, phase: str = "create") -> dict[str, Outcome]:
        return {o.name: o for o in self.of(phase)}

    def failures(self) -> str:
        return failures(self.outcomes)


class Deployment:
    """One stack's Pulumi state on the SSH test hosts, from a run whose steps have all been applied."""

    def __init__(self, hosts: SshHosts, applied: harness.Run) -> None:
        self.hosts = hosts
        self.state: dict[str, harness.Resource] = {r.urn: r for r in applied.resources}
        # Every version seen, for ordering: a step's stored dependencies may name steps since deleted.
        self._seen: dict[str, harness.Resource] = dict(self.state)
        self._project, self._stack = applied.project, applied.stack
        self._lock = threading.Lock()  # the steps of one level run in parallel

    def stored(self) -> harness.Run:
        """The state as a run (its resources as last applied), for the steps' stored inputs and their order."""
        return harness.Run(self._project, self._stack, list({**self._seen, **self.state}.values()), {}, [], [])

    def refresh_away(self, name: str) -> None:
        """`pulumi refresh` finds the resource ``name`` gone (a VM lost outside Pulumi) and drops it."""
        urn = next(urn for urn, r in self.state.items() if r.name == name)
        del self.state[urn]

    def up(self, new: harness.Run) -> Update:
        """`pulumi up` from the state to ``new`` (see the module doc); the state follows what succeeded."""
        self._seen.update({r.urn: r for r in new.resources})
        update = Update()
        for vm in new.by_type(VIRTUAL_MACHINE):
            old = self.state.get(vm.urn)
            if old is not None and old.id == vm.id:
                continue
            if old is not None:
                assert vm.options.get("deleteBeforeReplace"), f"{vm.urn}: a new ID without delete-before-replace"
                doomed = [s.name for s in self._commands() if vm.urn in s.property_dependencies.get("triggers", [])]
                update.outcomes.extend(self.hosts.delete(self.stored(), names=doomed))
                for name in doomed:
                    self._forget(name)
                if not update.ok:
                    return update
            address = self._address(vm)
            self.hosts.new_vm(address)
            update.new_vms.append(address)
            self.state[vm.urn] = vm
        steps = new.by_type(COMMAND)
        update.changed = [s.name for s in steps if s.urn not in self.state or self.state[s.urn].inputs != s.inputs]
        for s in steps:
            assert not any(d in {o.urn for o in steps} for deps in s.property_dependencies.values() for d in deps), (
                f"{s.urn} takes another step's output: its replacement would have dependents to delete first"
            )
        for level in dependency_levels(new, [s for s in steps if s.name in update.changed]):
            with concurrent.futures.ThreadPoolExecutor(max_workers=len(level)) as pool:
                done = list(pool.map(self._replace_or_create, level))
            for outcomes in done:
                update.outcomes.extend(outcomes)
            if not update.ok:
                return update
        kept = {s.urn for s in steps}
        removed = [s.name for s in self._commands() if s.urn not in kept]
        update.outcomes.extend(self.hosts.delete(self.stored(), names=removed))
        for name in removed:
            self._forget(name)
        if update.ok:
            self.state.update({r.urn: r for r in new.resources if r.type != COMMAND})
        return update

    def _replace_or_create(self, step: harness.Resource) -> list[Outcome]:
        outcomes: list[Outcome] = []
        old = self.state.get(step.urn)
        replaced = old is not None and old.inputs.get("triggers") != step.inputs.get("triggers")
        if old is not None and replaced and step.options.get("deleteBeforeReplace") and old.inputs.get("delete"):
            outcomes.append(self.hosts.run_step(old, "delete"))
            with self._lock:
                del self.state[step.urn]
            if outcomes[-1].code != 0:
                return outcomes
        outcomes.append(self.hosts.run_step(step))
        if outcomes[-1].code == 0:
            with self._lock:
                self.state[step.urn] = step
        return outcomes

    def _commands(self) -> list[harness.Resource]:
        return [r for r in self.state.values() if r.type == COMMAND]

    def _forget(self, name: str) -> None:
        for urn in [urn for urn, r in self.state.items() if r.name == name]:
            del self.state[urn]

    def _address(self, vm: harness.Resource) -> str:
        """The node address the VM is given (one of its vApp properties): the test host that plays it."""
        properties: dict[str, str] = vm.input("vapp", "properties")
        return next(v for v in properties.values() if v in self.hosts.hosts)
