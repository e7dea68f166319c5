"""ClusterJoin: the non-primary nodes join the primary's MicroK8s cluster, strictly one at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_command as command
import pulumi_random as random

from components import scripts
from components.config import Secrets
from components.remote import RemoteNode, step, sudo_and_token_stdin, sudo_stdin

#: Join tokens' length: MicroK8s wants at least 32 characters.
TOKEN_LENGTH = 40


@dataclass(frozen=True)
class ClusterJoinArgs:
    """Who joins whom, and after what."""

    primary: RemoteNode
    """The node that issues the tokens and that the others join."""
    nodes: Sequence[RemoteNode]
    """Every node of the cluster, the primary included, in config order: the order they join in."""
    secrets: Secrets
    """The sudo password (MicroK8s runs as root), when the stack has one."""
    after: Sequence[pulumi.Resource]
    """What must be done before the first token is issued: every node bootstrapped and its hosts file written
    (the primary refuses a node whose hostname it cannot resolve)."""


class ClusterJoin(pulumi.ComponentResource):
    """For each node, in config order, each step waiting for the previous node's join:

    - ``<hostname>-join-token``: a random secret token (``pulumi-random``, letters and digits), for every node
      but the primary.
    - ``<hostname>-add-node``: ``microk8s add-node --token T --token-ttl S`` on the primary. On delete (the node
      left the config, or a destroy): ``microk8s remove-node <hostname>`` on the primary.
    - ``<hostname>-join``: ``microk8s join <primary>:25000/T`` on the node, retried with backoff. On delete:
      ``microk8s leave`` on the node, whenever its cluster has other members.

    The primary has its two steps too, which do nothing while it is the primary (but its add-node refuses a new
    primary VM in a formed cluster: docs/operations.md, "A replaced primary"). So a node's membership steps
    exist exactly as long as the node is in the config: making another node primary only updates them (a
    re-run that finds every node a member already), where steps named after the *joining* nodes alone would
    delete the new primary's join, and its delete would make the new primary leave the cluster.

    The primary's own add-node step runs on its *deputy*, the first other node in config order. A delete runs
    with the inputs stored at the last update, so this is what lets the primary itself be removed in one
    `pulumi up` (implicitly, by removing ``nodes[0]`` with no ``primary`` set, or with ``primary`` moved in the
    same change): the new primary's steps are updated first, then the old primary's join is deleted (it leaves,
    having other members) and its add-node is deleted on the deputy, a remaining member, which removes the
    departed node's object. Had that step run on the old primary itself, nobody would remove it, and its VM
    would be deleted while it was still a dqlite voter.

    Pulumi deletes dependents first: the join (``leave`` on the node) before its add-node (``remove-node`` on
    the primary), and both before the node's VM, which they depend on through the bootstrap.
    """

    members: pulumi.Output[list[str]]
    """Every node of the cluster once this is done: the primary first, then the others in join order."""

    def __init__(self, name: str, args: ClusterJoinArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gateway-cluster:index:ClusterJoin", name, None, opts)
        primary = args.primary
        self.tokens: dict[str, random.RandomPassword] = {}
        self.add_nodes: dict[str, command.remote.Command] = {}
        self.joins: dict[str, command.remote.Command] = {}
        previous: command.remote.Command | None = None
        deputy = next((n for n in args.nodes if n is not primary), primary)
        for node in args.nodes:
            # stdin: the sudo password line, then (for a joining node) its token.
            node_stdin = sudo_stdin(args.secrets)
            if node is not primary:
                token = random.RandomPassword(
                    f"{node.hostname}-join-token",
                    length=TOKEN_LENGTH,
                    special=False,
                    # A new VM under the same name (a rebuild, a replacement) joins with a new token: MicroK8s
                    # appends each issued token to its file and the first matching line decides, so the old token
                    # issued again after its TTL ran out would stay invalid (docs/upstream-facts.md M3).
                    keepers={"vm": node.vm_id},
                    opts=pulumi.ResourceOptions(parent=self),
                )
                self.tokens[node.hostname] = token
                node_stdin = sudo_and_token_stdin(args.secrets, token.result)
            # One at a time: the next token is issued only after the previous node joined, so a token's TTL
            # runs during its own join, and dqlite never sees two membership changes at once. The first join
            # waits for every bootstrap and hosts step; each later one waits for the join before it and so,
            # through it, for them too. (Naming every step on every join would make the dependency graph
            # quadratic in the node count, and Pulumi's cycle check on it cubic: 5 s for 100 nodes.)
            waits_for = [previous] if previous is not None else list(args.after)
            # A node rebuilt under the same name (a new VM) leaves and joins again: delete-before-replace runs
            # the old resources' delete steps (remove-node, leave) before the new join.
            add_node = step(
                f"{node.hostname}-add-node",
                primary if node is not primary else deputy,
                scripts.add_node_command(node.hostname, primary.hostname),
                delete=scripts.remove_node_command(node.hostname),
                stdin=node_stdin,
                stdout_secret=True,
                triggers=[node.vm_id],
                delete_before_replace=True,
                depends_on=waits_for,
                parent=self,
            )
            join = step(
                f"{node.hostname}-join",
                node,
                scripts.join_command(primary.ip, primary.hostname, node.hostname),
                delete=scripts.leave_command(node.hostname),
                stdin=node_stdin,
                triggers=[node.vm_id],
                delete_before_replace=True,
                depends_on=[*waits_for, add_node],
                parent=self,
            )
            self.add_nodes[node.hostname] = add_node
            self.joins[node.hostname] = join
            previous = join
        self.last: command.remote.Command | None = previous
        """The last join, which every later step waits for."""
        self.members = pulumi.Output.from_input(
            [primary.hostname, *(n.hostname for n in args.nodes if n is not primary)]
        )
        self.register_outputs({"members": self.members})
