"""ClusterJoin: the non-primary nodes join the primary's MicroK8s cluster, strictly one at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_command as command
import pulumi_random as random

from components import scripts
from components.remote import RemoteNode, secret_stdin, step

#: Join tokens' length: MicroK8s wants at least 32 characters.
TOKEN_LENGTH = 40


@dataclass(frozen=True)
class ClusterJoinArgs:
    """Who joins whom, and after what."""

    primary: RemoteNode
    """The node that issues the tokens and that the others join."""
    joiners: Sequence[RemoteNode]
    """The other nodes, in config order: the order they join in."""
    after: Sequence[pulumi.Resource]
    """What must be done before the first token is issued: every node bootstrapped and its hosts file written
    (the primary refuses a node whose hostname it cannot resolve)."""


class ClusterJoin(pulumi.ComponentResource):
    """For each joining node, in config order, each step waiting for the previous node's join:

    - ``<hostname>-join-token``: a random secret token (``pulumi-random``, letters and digits).
    - ``<hostname>-add-node``: ``microk8s add-node --token T --token-ttl S`` on the primary. On delete (the node
      left the config, or a destroy): ``microk8s remove-node <hostname>`` on the primary.
    - ``<hostname>-join``: ``microk8s join <primary>:25000/T`` on the node, retried with backoff. On delete:
      ``microk8s leave`` on the node.

    Pulumi deletes dependents first: the join (``leave`` on the node) before its add-node (``remove-node`` on
    the primary), and both before the node's VM, which they depend on through the bootstrap.
    """

    members: pulumi.Output[list[str]]
    """Every node of the cluster once this is done: the primary first, then the joiners in join order."""

    def __init__(self, name: str, args: ClusterJoinArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gateway-cluster:index:ClusterJoin", name, None, opts)
        primary = args.primary
        self.tokens: dict[str, random.RandomPassword] = {}
        self.add_nodes: dict[str, command.remote.Command] = {}
        self.joins: dict[str, command.remote.Command] = {}
        previous: command.remote.Command | None = None
        for node in args.joiners:
            token = random.RandomPassword(
                f"{node.hostname}-join-token",
                length=TOKEN_LENGTH,
                special=False,
                opts=pulumi.ResourceOptions(parent=self),
            )
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
                primary,
                scripts.add_node_command(node.hostname),
                delete=scripts.remove_node_command(node.hostname),
                stdin=secret_stdin(token.result),
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
                delete=scripts.leave_command(node.hostname, primary.hostname),
                stdin=secret_stdin(token.result),
                triggers=[node.vm_id],
                delete_before_replace=True,
                depends_on=[*waits_for, add_node],
                parent=self,
            )
            self.tokens[node.hostname] = token
            self.add_nodes[node.hostname] = add_node
            self.joins[node.hostname] = join
            previous = join
        self.last: command.remote.Command | None = previous
        """The last join, which every later step waits for; ``None`` for a single-node cluster."""
        self.members = pulumi.Output.from_input([primary.hostname, *(n.hostname for n in args.joiners)])
        self.register_outputs({"members": self.members})
