"""Rebuilding a node (config `rebuild`, docs/operations.md "Rebuilding a node") for real, on the SSH test hosts.

Each case forms prod's cluster, then replays `pulumi up` with the node in `rebuild` in the engine's order
(tests/support/pulumi_up.py): the node's membership steps are deleted with their stored inputs, dependents first
(`leave` on the node, then `remove-node` on a remaining member); its VM is replaced by a new clone of the OVA
(the test host boots afresh: the OVA's hostname, a one-member MicroK8s of its own); then the steps whose inputs
changed (the new VM's ID is their trigger) run. The next program run sees the new VM's ID (harness
``generations``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from components import registration
from components.services import cluster_identity
from gatewayctl import harness
from tests.support.prod_ssh import (
    NAMES,
    PASSWORD,
    PRIMARY,
    SECOND,
    THIRD,
    assert_formed,
    assert_left_then_removed,
    cluster_of,
    counters,
    form,
    program,
)
from tests.support.pulumi_up import Deployment, Update, failures
from tests.support.sshhosts import SshHosts

HEALTH = "gateway-formation-health"
KUBECONFIG = "gateway-formation-kubeconfig"
ADDONS = "gateway-formation-addons-enable"
ALL = (PRIMARY, SECOND, THIRD)


def node_steps(ip: str) -> list[str]:
    """The steps that take a node's VM ID as their trigger, the health gate's aside."""
    return [f"{NAMES[ip]}-{step}" for step in ("bootstrap", "hosts", "add-node", "join")]


def stops(state: dict[str, Any]) -> dict[str, int]:
    return {ip: m["stops"] + m["leaves"] + m["resets"] for ip, m in state["machines"].items()}


@dataclass(frozen=True)
class Rebuilt:
    """One node's rebuild, done: the program's run with it in `rebuild`, what `pulumi up` ran, and the stand-in's
    state before."""

    ip: str
    run: harness.Run
    update: Update
    before: dict[str, Any]


def rebuild(
    hosts: SshHosts, deployment: Deployment, ip: str, nodes: Sequence[str] = ALL, primary: str | None = None
) -> Rebuilt:
    """`pulumi up` with the node at ``ip`` in `rebuild`: its VM comes back with a new ID, from a new clone."""
    before = hosts.state()
    run = program(hosts, nodes, primary, rebuild=[ip], generations={ip: 1})
    update = deployment.up(run)
    assert update.ok, update.failures()
    assert update.new_vms == [ip]
    return Rebuilt(ip, run, update, before)


def assert_rebuilt(hosts: SshHosts, deployment: Deployment, done: Rebuilt, members: Sequence[str], leader: str) -> None:
    """After the rebuild: the same members, in one cluster with ``leader``; the rebuilt node a new machine, Ready
    under its hostname; no stale node object; no other node restarted or left; the health gate passed; and the
    same `pulumi up` again runs nothing, nor does re-running every step change anything."""
    assert_formed(hosts, members, leader)  # exactly the members' node objects: no OVA hostname, no duplicate
    state = hosts.state()
    assert state["machines"][done.ip]["vm"] == 1, "the node still runs on its old VM"
    others = [ip for ip in members if ip != done.ip]
    assert {ip: stops(state)[ip] for ip in others} == {ip: stops(done.before)[ip] for ip in others}, "a node restarted"
    gate = done.update.by_name()[HEALTH]
    assert f"node {NAMES[done.ip]} is Ready" in gate.stderr and f"all {len(members)} node(s) are Ready" in gate.stderr

    again = deployment.up(done.run)
    assert again.ok and again.changed == [] and again.outcomes == [], again.failures() or again.changed
    settled = counters(hosts.state())
    rerun = hosts.apply(done.run)
    assert all(o.code == 0 for o in rerun), failures(rerun)
    assert counters(hosts.state()) == settled, "re-running every step changed the cluster"


FIRST_BOOTS = pytest.mark.parametrize(
    "hosts", ["microk8s-first", "hostname-first"], indirect=True, ids=["microk8s-first", "hostname-first"]
)


@FIRST_BOOTS
def test_a_node_of_three_is_rebuilt_in_place(hosts):
    first = program(hosts)
    form(hosts, first)
    deployment = Deployment(hosts, first)

    done = rebuild(hosts, deployment, SECOND)
    assert_left_then_removed(done.update, SECOND, PRIMARY)
    assert sorted(done.update.changed) == sorted([*node_steps(SECOND), HEALTH])
    calls = [call[:2] for call in hosts.state()["calls"][len(done.before["calls"]) :]]
    assert calls.index([SECOND, "leave"]) < calls.index([PRIMARY, "remove-node"]) < calls.index([SECOND, "join"])
    assert_rebuilt(hosts, deployment, done, ALL, leader=PRIMARY)


def test_the_old_primary_is_rebuilt_once_another_node_is_primary(hosts):
    """Two updates, as the run-book says: move `primary`, apply; then rebuild the old primary."""
    first = program(hosts)
    form(hosts, first)
    deployment = Deployment(hosts, first)
    update = deployment.up(program(hosts, primary=SECOND))
    assert update.ok and update.ran("delete") == [], update.failures()

    done = rebuild(hosts, deployment, PRIMARY, primary=SECOND)
    assert_left_then_removed(done.update, PRIMARY, SECOND)
    assert sorted(done.update.changed) == sorted([*node_steps(PRIMARY), HEALTH])
    # The new primary's own membership step runs on the rebuilt node (its deputy) but names only the primary's VM.
    assert "gw-prod-2-add-node" not in done.update.changed
    assert_rebuilt(hosts, deployment, done, ALL, leader=SECOND)


def test_a_single_node_stack_rebuilds_its_only_node_and_registers_again(hosts):
    """The cluster is down while its only VM is replaced: the new VM is a new cluster, formed afresh (addons,
    kubeconfig), and the registration runs again for the Gateway Manager the new cluster runs."""
    one = program(hosts, nodes=(PRIMARY,))
    formed = {o.name: o for o in form(hosts, one)}
    deployment = Deployment(hosts, one)

    done = rebuild(hosts, deployment, PRIMARY, nodes=(PRIMARY,))
    deleted = done.update.of("delete")
    assert [(o.name, o.host) for o in deleted] == [("gw-prod-1-join", PRIMARY), ("gw-prod-1-add-node", PRIMARY)]
    assert "nothing to leave" in deleted[0].stderr and "is this host" in deleted[1].stderr
    assert sorted(done.update.changed) == sorted([*node_steps(PRIMARY), ADDONS, KUBECONFIG, HEALTH])
    assert cluster_of(hosts.state(), PRIMARY)["addons"] == {"dns": True, "metallb": ["10.20.30.50-10.20.30.50"]}
    assert_rebuilt(hosts, deployment, done, [PRIMARY], leader=PRIMARY)

    # Registration is a dynamic resource: the engine asks its provider's diff. Its `cluster` input keys it to the
    # cluster the kubeconfig reaches, and clones of one OVA share their CA (docs/upstream-facts.md M16), so the
    # CA alone cannot tell the new cluster from the old one: the primary's VM does.
    kubeconfigs = (formed[KUBECONFIG].stdout, done.update.by_name()[KUBECONFIG].stdout)
    assert cluster_identity(kubeconfigs[0]) == cluster_identity(kubeconfigs[1])
    appliance = "gateway-registration-appliance"
    olds, news = (r.named(appliance).input() for r in (one, done.run))
    diff = registration.RegistrationProvider().diff(olds["manager_url"], olds, news)
    assert diff.changes and not diff.replaces, "the rebuilt cluster's manager would not be registered"
    assert olds["cluster"] != news["cluster"]


def test_a_lost_vm_created_again_is_not_taken_for_a_member(hosts):
    """A VM lost without its `leave` and created again at its address while the cluster still lists its old
    member entry (here the first attempt's `remove-node` found the primary's MicroK8s down). The cluster agent
    answers its join "already known to dqlite", as it does to a join that got through, but this node stays alone
    in its own datastore: the join fails, naming the fix, and is not recorded; after the fix it joins."""
    run = program(hosts)
    form(hosts, run)
    deployment = Deployment(hosts, run)
    hosts.set_running(THIRD, False)  # the VM is gone; it never left
    deployment.refresh_away("gw-prod-3-vm")
    recreated = program(hosts, generations={THIRD: 1})

    hosts.set_running(PRIMARY, False)
    first = deployment.up(recreated)
    assert [o.name for o in first.outcomes if o.code] == ["gw-prod-3-add-node"], first.failures()
    assert "gw-prod-3 is not removed" in first.by_name("delete")["gw-prod-3-add-node"].stderr
    hosts.set_running(PRIMARY, True)
    second = deployment.up(recreated)
    failed = [o for o in second.outcomes if o.code]
    assert [o.name for o in failed] == ["gw-prod-3-join"], second.failures()
    assert "already known to dqlite" in failed[0].stderr
    assert "On gw-prod-1, run `microk8s remove-node gw-prod-3 --force`" in failed[0].stderr, failed[0].stderr
    assert HEALTH not in second.ran()
    state = hosts.state()
    assert cluster_of(state, THIRD)["members"] == [THIRD] and THIRD in cluster_of(state, PRIMARY)["members"]

    # The fix the message names, then `pulumi up` again: the join was not recorded, so it runs again.
    code, _, err = hosts.exec(PRIMARY, "sudo -S -p '' microk8s remove-node gw-prod-3 --force", f"{PASSWORD}\n")
    assert code == 0, err
    third = deployment.up(recreated)
    assert third.ok, third.failures()
    assert third.ran() == ["gw-prod-3-join", HEALTH]
    assert_formed(hosts, ALL)


def test_a_lost_primary_created_again_is_refused_until_another_node_is_primary(hosts):
    """The primary's VM lost and created again (`pulumi refresh` dropped it): its own membership step, on its
    deputy, runs again (the primary's VM is its trigger) and refuses before any join or cluster-wide step, instead
    of letting the fresh VM become a one-node cluster beside the old one. The fix it names works."""
    run = program(hosts)
    form(hosts, run)
    deployment = Deployment(hosts, run)
    hosts.set_running(PRIMARY, False)  # the VM is gone; it never left
    deployment.refresh_away("gw-prod-1-vm")
    before = hosts.state()

    update = deployment.up(program(hosts, generations={PRIMARY: 1}))
    failed = [o for o in update.outcomes if o.code]
    assert [(o.name, o.host) for o in failed] == [("gw-prod-1-add-node", SECOND)], update.failures()
    message = failed[0].stderr
    assert "the primary gw-prod-1 is not a Ready member of the cluster of gw-prod-2, gw-prod-3" in message
    assert "`pulumi config set gateway-cluster:primary <node>`" in message
    assert 'docs/operations.md, section "A replaced primary"' in message
    # Only the new VM's own steps ran, and the stored delete of the replaced step (the dead primary's entry goes).
    assert sorted(update.ran()) == ["gw-prod-1-add-node", "gw-prod-1-bootstrap", "gw-prod-1-hosts"]
    assert update.ran("delete") == ["gw-prod-1-add-node"]
    state = hosts.state()
    assert sorted(cluster_of(state, SECOND)["members"]) == [SECOND, THIRD]
    assert cluster_of(state, PRIMARY)["members"] == [PRIMARY], "the new VM joined something"
    assert cluster_of(state, SECOND)["addons"] == cluster_of(before, SECOND)["addons"]
    assert {k: state[k] for k in ("tokens_issued", "joins")} == {k: before[k] for k in ("tokens_issued", "joins")}
    assert {ip: stops(state)[ip] for ip in (SECOND, THIRD)} == {ip: stops(before)[ip] for ip in (SECOND, THIRD)}

    # The fix: another node primary, `pulumi up`; the new VM then joins it.
    fixed = deployment.up(program(hosts, primary=SECOND, generations={PRIMARY: 1}))
    assert fixed.ok, fixed.failures()
    assert_formed(hosts, ALL, leader=SECOND)
    assert f"all {len(ALL)} node(s) are Ready" in fixed.by_name()[HEALTH].stderr


def test_a_first_creation_with_the_second_node_as_primary_is_unaffected(hosts):
    """The deputy (the first node) joins the primary before the primary's own step runs there: the primary is a
    Ready member, so the step does nothing."""
    outcomes = {o.name: o for o in form(hosts, program(hosts, primary=SECOND))}
    own = outcomes["gw-prod-2-add-node"]
    assert own.host == PRIMARY and "gw-prod-2 is the primary and a Ready member of this cluster" in own.stderr
    assert_formed(hosts, ALL, leader=SECOND)
