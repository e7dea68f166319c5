"""What a node says about itself and its cluster: the read-only ``facts.sh`` run over SSH, parsed into sections."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from components import config as cfg
from components import scripts
from gatewayctl.health.reach import Reach, run_on_node

#: The header of each section ``facts.sh`` prints: ``##facts <name> <exit code>``.
HEADER = "##facts "


@dataclass(frozen=True)
class Section:
    """One command's exit code and output (stdout and stderr)."""

    code: int
    text: str

    @property
    def ok(self) -> bool:
        return self.code == 0


@dataclass(frozen=True)
class NodeFacts:
    """A node's facts, or why none could be read (``error``: it did not answer SSH, or the script failed)."""

    hostname: str
    sections: Mapping[str, Section]
    error: str | None = None

    def get(self, name: str) -> Section | None:
        return self.sections.get(name)


def parse(output: str) -> dict[str, Section]:
    """``facts.sh``'s output as sections by name (``hostname``, ``resolve gw-2``, ``status``, ...)."""
    sections: dict[str, Section] = {}
    name: str | None = None
    code = 0
    lines: list[str] = []
    for line in output.splitlines():
        if line.startswith(HEADER):
            if name is not None:
                sections[name] = Section(code, "\n".join(lines).strip())
            head, _, last = line[len(HEADER) :].rpartition(" ")
            name, code, lines = head, int(last) if last.lstrip("-").isdigit() else 1, []
        elif name is not None:
            lines.append(line)
    if name is not None:
        sections[name] = Section(code, "\n".join(lines).strip())
    return sections


async def _node_facts(settings: cfg.Settings, node: cfg.NodeSettings, reach: Reach) -> NodeFacts:
    import asyncssh  # at first use (see run_on_node)

    command = scripts.facts_command([n.hostname for n in settings.nodes], cluster_wide=True)
    try:
        code, out, err = await run_on_node(settings, node, reach, command)
    except (TimeoutError, OSError, asyncssh.Error, ValueError) as exc:
        return NodeFacts(node.hostname, {}, error=f"{type(exc).__name__}: {exc}".rstrip(": "))
    if code != 0:
        last = err.strip().splitlines()[-1] if err.strip() else f"exit {code}"
        return NodeFacts(node.hostname, parse(out), error=f"the facts script failed: {last}")
    return NodeFacts(node.hostname, parse(out))


async def _collect(settings: cfg.Settings, nodes: Sequence[cfg.NodeSettings], reach: Reach) -> list[NodeFacts]:
    return list(await asyncio.gather(*(_node_facts(settings, n, reach) for n in nodes)))


def collect(settings: cfg.Settings, reach: Reach) -> dict[str, NodeFacts]:
    """Every configured node's facts, read in parallel, by hostname (config order)."""
    return collect_nodes(settings, settings.nodes, reach)


def collect_nodes(settings: cfg.Settings, nodes: Sequence[cfg.NodeSettings], reach: Reach) -> dict[str, NodeFacts]:
    """The facts of ``nodes`` (some of the configured ones), read in parallel, by hostname."""
    return {f.hostname: f for f in asyncio.run(_collect(settings, nodes, reach))}
