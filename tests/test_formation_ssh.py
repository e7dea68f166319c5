"""Cluster formation for real: the program's own recorded remote steps, run over SSH on three test hosts.

The program runs under the mock runtime on the committed prod stack (sentinel secrets; the SSH host keys of
the test hosts pinned in its config). Every ``create`` (and, for scale-in and destroy, ``delete``) string it
registers runs, with its recorded stdin, on the test host that plays the node its connection names, in
dependency order, the steps of one level in parallel. The hosts run stock sshd with the appliance's non-root
login user, a sudo that wants the sshPassword on stdin, and the MicroK8s stand-in (tests/support/standins).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.prod_ssh import (
    NAMES,
    PASSWORD,
    PRIMARY,
    SECOND,
    THIRD,
    assert_formed,
    assert_left_then_removed,
    by_name,
    cluster_of,
    counters,
    form,
    primary_cluster,
    program,
)
from tests.support.pulumi_up import Deployment, failures
from tests.support.sshhosts import OVA_HOSTNAME


def test_three_nodes_form_one_cluster_and_a_second_run_changes_nothing(hosts):
    run = program(hosts)
    outcomes = by_name(form(hosts, run))

    assert_formed(hosts, [PRIMARY, SECOND, THIRD])
    state = hosts.state()
    cluster = primary_cluster(state)
    assert OVA_HOSTNAME not in cluster["nodes"], "the OVA hostname's stale node object is still there"
    assert cluster["addons"] == {"dns": True, "metallb": ["10.20.30.50-10.20.30.50"]}
    for ip, machine in state["machines"].items():
        # Each node restarted once, to register under its new name.
        assert (machine["stops"], machine["starts"]) == (1, 1), ip
    assert state["tokens_issued"] == 2 and state["joins"] == 2
    # Root was needed for the hostname and /etc/hosts, and got with the password read from stdin.
    sudo = hosts.sudo_log()
    for ip, name in NAMES.items():
        assert f"{ip} password hostnamectl set-hostname {name}" in sudo
        assert any(line.startswith(f"{ip} password cp -- ") and line.endswith(" /etc/hosts") for line in sudo), ip
    kubeconfig = outcomes["gateway-formation-kubeconfig"].stdout
    assert "    server: https://10.20.30.41:16443\n" in kubeconfig
    assert "client-certificate-data: " in kubeconfig and "10.0.2.15" not in kubeconfig
    assert "is a Ready member" in outcomes["gw-prod-3-join"].stderr
    # The primary's own step, on its deputy: the first creation, before the deputy joined anything.
    assert "not clustered yet: nothing to check" in outcomes["gw-prod-1-add-node"].stderr

    before = counters(hosts.state())
    files = {ip: h.hosts_file.read_text() for ip, h in hosts.hosts.items()}
    again = by_name(form(hosts, run))
    assert counters(hosts.state()) == before, "the second run changed the cluster"
    assert {ip: h.hosts_file.read_text() for ip, h in hosts.hosts.items()} == files
    assert "left running" in again["gw-prod-2-bootstrap"].stderr
    assert "already a Ready member: no token issued" in again["gw-prod-3-add-node"].stderr
    assert "already a member" in again["gw-prod-3-join"].stderr
    assert "a Ready member of this cluster" in again["gw-prod-1-add-node"].stderr
    assert "dns is already enabled" in again["gateway-formation-addons-enable"].stderr
    assert again["gateway-formation-kubeconfig"].stdout == kubeconfig


def test_a_transient_join_failure_is_retried_with_the_same_token(hosts):
    run = program(hosts)
    hosts.inject_join_failures("transient")
    outcomes = by_name(form(hosts, run))

    assert_formed(hosts, [PRIMARY, SECOND, THIRD])
    state = hosts.state()
    assert state["tokens_issued"] == 2, "a new token was needed"
    assert state["join_attempts"] == 3
    joins = [call for call in state["calls"] if call[1] == "join"]
    assert [call[0] for call in joins] == [SECOND, SECOND, THIRD]
    assert joins[0][2] == joins[1][2], "the retry did not reuse the token"
    stderr = outcomes["gw-prod-2-join"].stderr
    assert "retrying in 2s" in stderr and "context deadline exceeded" in stderr
    token = run.named("gw-prod-2-join-token").state["result"]["value"]
    assert token not in stderr, "the token shows in the step's log"


def test_a_join_that_got_through_counts_as_joined(hosts):
    run = program(hosts)
    hosts.inject_join_failures("lost-response")
    outcomes = by_name(form(hosts, run))

    assert_formed(hosts, [PRIMARY, SECOND, THIRD])
    assert "already knows gw-prod-2" in outcomes["gw-prod-2-join"].stderr
    assert hosts.state()["joins"] == 2


def test_a_single_use_token_would_be_burnt_by_the_same_failure(hosts):
    """The control for the retry test: the stand-in does consume a token before the injected failure."""
    run = program(hosts)
    hosts.apply(run, names=[f"{n}-{r}" for n in NAMES.values() for r in ("bootstrap", "hosts")])
    token = "x" * 40
    sudo = "sudo -S -p '' "
    code, _, err = hosts.exec(PRIMARY, f"{sudo}microk8s add-node --token {token}", f"{PASSWORD}\n")
    assert code == 0, err
    hosts.inject_join_failures("transient")
    first = hosts.exec(SECOND, f"{sudo}microk8s join {PRIMARY}:25000/{token}", f"{PASSWORD}\n")
    second = hosts.exec(SECOND, f"{sudo}microk8s join {PRIMARY}:25000/{token}", f"{PASSWORD}\n")
    assert first[0] != 0 and "context deadline exceeded" in first[1]
    assert second[0] != 0 and "invalid token" in second[1]


def test_scale_in_leaves_the_remaining_nodes_consistent(hosts):
    three = program(hosts)
    form(hosts, three)
    two = program(hosts, nodes=(PRIMARY, SECOND))
    before = hosts.state()

    # `pulumi up` without gw-prod-3: first the steps whose inputs changed run again (create, then update falls
    # back to create), then the steps that left the program are deleted, dependents first.
    update = Deployment(hosts, three).up(two)
    assert update.ok, update.failures()
    assert sorted(update.changed) == ["gateway-formation-health", "gw-prod-1-hosts", "gw-prod-2-hosts"]
    assert_left_then_removed(update, THIRD, PRIMARY)

    assert_formed(hosts, [PRIMARY, SECOND])
    after = hosts.state()
    leaving = after["machines"][THIRD]
    assert leaving["leaves"] == 1 and leaving["resets"] == 0
    assert after["machines"][THIRD]["cluster"] != after["machines"][PRIMARY]["cluster"]
    for ip in (PRIMARY, SECOND):
        # No MicroK8s restart on the nodes that stay.
        assert after["machines"][ip]["stops"] == before["machines"][ip]["stops"], ip
    calls = [call[:2] for call in after["calls"]]
    assert calls.index([THIRD, "leave"]) < calls.index([PRIMARY, "remove-node"])

    # The same `pulumi up` again: nothing left to do, nothing breaks.
    again = hosts.apply(two)
    assert all(o.code == 0 for o in again), failures(again)
    assert_formed(hosts, [PRIMARY, SECOND])


def test_moving_the_primary_keeps_every_node_in_the_cluster(hosts):
    """The documented way to remove the primary: make another node primary, apply, then remove the old one."""
    first = program(hosts)
    form(hosts, first)
    moved = program(hosts, primary=SECOND)
    deployment = Deployment(hosts, first)
    update = deployment.up(moved)
    assert update.ok, update.failures()
    assert update.ran("delete") == [], "a membership step was deleted"
    assert_formed(hosts, [PRIMARY, SECOND, THIRD])
    assert all(m["leaves"] == 0 and m["resets"] == 0 for m in hosts.state()["machines"].values())
    gate = hosts.run_step(moved.named("gateway-formation-health"))
    assert gate.code == 0, gate.describe()

    # Now the old primary can go: it leaves, and the new primary removes it.
    two = program(hosts, nodes=(SECOND, THIRD), primary=SECOND)
    update = deployment.up(two)
    assert update.ok, update.failures()
    assert_left_then_removed(update, PRIMARY, SECOND)
    state = hosts.state()
    cluster = cluster_of(state, SECOND)
    assert sorted(cluster["members"]) == [SECOND, THIRD]
    assert sorted(cluster["nodes"]) == ["gw-prod-2", "gw-prod-3"]
    assert state["machines"][PRIMARY]["leaves"] == 1


FIRST_BOOTS = pytest.mark.parametrize(
    "hosts", ["microk8s-first", "hostname-first"], indirect=True, ids=["microk8s-first", "hostname-first"]
)


@FIRST_BOOTS
@pytest.mark.parametrize("nodes", [(PRIMARY, SECOND, THIRD), (PRIMARY,)], ids=["three-nodes", "single-node"])
def test_no_stale_node_object_whatever_the_first_boot(hosts, nodes):
    """Whether MicroK8s first ran under the OVA's hostname (its node object then carries this machine's UUID)
    or the appliance took its name first (the object baked into the OVA keeps the image build machine's UUID,
    which no UUID match finds), the cluster ends with exactly its nodes' objects."""
    first_boot = hosts.state()["machines"][PRIMARY]["kubelet_name"]
    form(hosts, program(hosts, nodes=nodes))
    assert_formed(hosts, list(nodes))
    state = hosts.state()
    if first_boot != OVA_HOSTNAME:
        # The appliance had its name from the start: no MicroK8s restart was needed anywhere.
        assert all(state["machines"][ip]["stops"] == 0 for ip in nodes)


def _removal_cases() -> Iterator[Any]:
    yield pytest.param((PRIMARY, SECOND, THIRD), None, (SECOND, THIRD), None, PRIMARY, id="implicit-primary-removed")
    yield pytest.param(
        (PRIMARY, SECOND, THIRD), PRIMARY, (SECOND, THIRD), SECOND, PRIMARY, id="primary-moved-and-removed-at-once"
    )
    yield pytest.param(
        (PRIMARY, SECOND, THIRD), THIRD, (PRIMARY, SECOND), PRIMARY, THIRD, id="last-node-primary-removed"
    )
    yield pytest.param((PRIMARY, SECOND, THIRD), None, (PRIMARY, THIRD), None, SECOND, id="middle-node-removed")


@pytest.mark.parametrize(("before", "primary", "after", "new_primary", "removed"), list(_removal_cases()))
def test_removing_any_node_leaves_one_cluster_of_exactly_the_rest(hosts, before, primary, after, new_primary, removed):
    """In the engine's order: the remaining nodes' steps are updated first (with the new primary), then the
    removed node's steps are deleted with their stored (old) inputs. The removed node leaves (no dead voter),
    a remaining member removes its node object, and no remaining node restarts."""
    old = program(hosts, nodes=before, primary=primary)
    form(hosts, old)
    restarts = {ip: m["stops"] for ip, m in hosts.state()["machines"].items()}
    new = program(hosts, nodes=after, primary=new_primary)
    update = Deployment(hosts, old).up(new)
    assert update.ok, update.failures()
    assert_left_then_removed(update, removed)
    state = hosts.state()
    leader = after[0] if new_primary is None else new_primary
    cluster = cluster_of(state, leader)
    assert sorted(cluster["members"]) == sorted(after), "not exactly the remaining nodes in the datastore"
    assert sorted(cluster["nodes"]) == sorted(NAMES[ip] for ip in after), "stale or missing node objects"
    assert all(state["machines"][ip]["cluster"] == state["machines"][leader]["cluster"] for ip in after)
    assert state["machines"][removed]["leaves"] == 1
    assert all(state["machines"][ip]["stops"] == restarts[ip] for ip in after), "a remaining node restarted"
    gate = hosts.run_step(new.named("gateway-formation-health"))
    assert gate.code == 0, gate.describe()


def test_destroy_never_blocks(hosts):
    run = program(hosts)
    form(hosts, run)

    destroyed = hosts.delete(run)
    assert [o.name for o in destroyed] == [
        "gw-prod-3-join",
        "gw-prod-3-add-node",
        "gw-prod-2-join",
        "gw-prod-2-add-node",
        "gw-prod-1-join",
        "gw-prod-1-add-node",
    ]
    assert all(o.code == 0 for o in destroyed), failures(destroyed)
    assert "alone in its datastore" in by_name(destroyed)["gw-prod-1-join"].stderr
    state = hosts.state()
    assert primary_cluster(state)["members"] == [PRIMARY]
    assert sorted(primary_cluster(state)["nodes"]) == ["gw-prod-1"]

    # A destroy that runs again finds the cluster gone; one with MicroK8s down on every node too.
    again = hosts.delete(run)
    assert all(o.code == 0 for o in again), failures(again)
    assert "nothing to remove" in by_name(again)["gw-prod-2-add-node"].stderr
    for ip in NAMES:
        hosts.set_running(ip, False)
    down = hosts.delete(run)
    assert all(o.code == 0 for o in down), failures(down)
    assert "WARNING: MicroK8s is not running" in by_name(down)["gw-prod-2-add-node"].stderr
    assert sum(m["resets"] for m in hosts.state()["machines"].values()) == 0


def test_a_node_that_never_left_is_removed_with_force(hosts):
    run = program(hosts)
    form(hosts, run)
    hosts.set_running(THIRD, False)  # the departing node is down: its leave cannot happen

    deleted = hosts.delete(run, names=["gw-prod-3-join", "gw-prod-3-add-node"])
    assert all(o.code == 0 for o in deleted), failures(deleted)
    assert "removing it with --force" in by_name(deleted)["gw-prod-3-add-node"].stderr
    cluster = primary_cluster(hosts.state())
    assert sorted(cluster["members"]) == [PRIMARY, SECOND]
    assert "gw-prod-3" not in cluster["nodes"]


def test_a_stopped_microk8s_fails_the_step_clearly(hosts):
    """A stopped MicroK8s answers `status --wait-ready` with exit code 0: the steps read its text instead."""
    run = program(hosts)
    form(hosts, run)
    hosts.set_running(PRIMARY, False)

    addons = hosts.run_step(run.named("gateway-formation-addons-enable"))
    assert addons.code != 0
    assert "MicroK8s is not running or not ready within 600s" in addons.stderr
    assert "enable" not in [call[1] for call in hosts.state()["calls"][-3:]], "it went on to enable an addon"


def test_health_gate_names_the_node_that_is_not_ready(hosts):
    run = program(hosts)
    form(hosts, run)
    hosts.set_running(THIRD, False)

    gate = hosts.run_step(run.named("gateway-formation-health"))
    assert gate.code != 0
    assert "not Ready after 300s: gw-prod-3" in gate.stderr
    assert "node gw-prod-2 is Ready" in gate.stderr


@pytest.mark.parametrize(
    ("configured", "required", "ok"),
    [
        pytest.param(PASSWORD, PASSWORD, True, id="password-on-stdin"),
        pytest.param(None, None, True, id="key-only-nopasswd"),
        pytest.param(None, PASSWORD, False, id="key-only-but-sudo-wants-a-password"),
        pytest.param("wrong-password", PASSWORD, False, id="wrong-password"),
    ],
)
def test_sudo_gets_the_password_only_on_stdin(hosts, configured, required, ok):
    hosts.require_sudo_password(required)
    run = program(hosts, sshPassword=configured)
    outcome = hosts.run_step(run.named("gw-prod-1-bootstrap"))
    assert (outcome.code == 0) is ok, outcome.describe()
    if ok:
        assert hosts.hosts[PRIMARY].hostname == "gw-prod-1"
    else:
        assert hosts.hosts[PRIMARY].hostname == OVA_HOSTNAME
        assert hosts.state()["machines"][PRIMARY]["stops"] == 0
    if configured is None and required is not None:
        assert "sshPassword" in outcome.stderr, "the failure should say how to fix it"
    assert configured is None or configured not in outcome.stderr + outcome.stdout


def test_a_wrong_host_key_is_refused(hosts):
    run = program(hosts)
    step = run.named("gw-prod-2-hosts")
    pinned = step.input("connection", "hostKey")
    assert pinned == hosts.hosts[SECOND].host_key
    with pytest.raises(Exception, match="host key mismatch"):
        hosts.exec(SECOND, "true", host_key=hosts.hosts[THIRD].host_key)
