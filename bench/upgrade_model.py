"""Benchmark: how long `gatewayctl upgrade` takes for N nodes, modelled, and what its own orchestration costs.

    .venv/bin/python bench/upgrade_model.py [--nodes 3 5] [--runs 3] [--json]

1. **Modelled wall time.** The roll is strictly serial: the image is fetched once into the content library,
   then each node in turn leaves, is deleted, cloned from the library, boots, is bootstrapped, joins and is
   healthy before the next goes; a last `pulumi up` releases the old image. Each step's duration below is an
   assumption (nothing here has a vCenter), named after the step and the code that runs it, so that a real run
   can replace it with a measured figure. ``ovf`` mode is shown beside it: each VM fetches the OVA itself.
   The vendor's run-book gives no time for an upgrade, so there is no manual figure to compare with; the manual
   path it describes (deploy a VM from the OVA, attach it to the profile, per node) is the ``ovf`` column plus the
   typing.
2. **Measured orchestration.** The real `gatewayctl upgrade` (Automation API and all) against the stand-in
   `pulumi` CLI of the tests, whose `up` returns at once: medians of ``--runs`` whole rolls. This is what the
   tool adds to the engine's own time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

PROJECT = Path(__file__).resolve().parent.parent
STANDIN = PROJECT / "tests" / "support" / "standins" / "pulumi.py"

#: Assumed durations in seconds, per step (see the module docstring).
ONCE: dict[str, float] = {
    # ContentLibraryItem: the provider uploads the OVA to vCenter (3 GB at 100 MB/s).
    "fetch the OVA into the library": 30.0,
    # The last `pulumi up`: clear `rebuild`, delete the old library item.
    "release the old image": 20.0,
}
PER_NODE: dict[str, float] = {
    "leave (components/scripts/leave.sh: microk8s leave)": 40.0,
    "remove-node on the primary (remove-node.sh)": 10.0,
    "delete the VM (power off, destroy)": 15.0,
    "clone from the library item (40 GB thin disk)": 90.0,
    "boot until the guest has a routable IP (wait_for_guest_net)": 90.0,
    "bootstrap (hostname, microk8s stop/start, stale node object)": 60.0,
    "hosts, add-node, join (microk8s join, node Ready)": 60.0,
    "cluster-wide steps again (addons, kubeconfig, health gate)": 30.0,
    "gatewayctl's health wait (node.ready, manager.https)": 10.0,
}
#: What an ovf-mode VM spends instead of the clone: it fetches and imports the OVA itself.
OVF_DEPLOY = 120.0


def modelled(nodes: int) -> dict[str, float]:
    per_node = sum(PER_NODE.values())
    library = sum(ONCE.values()) + nodes * per_node
    ovf = ONCE["release the old image"] + nodes * (
        per_node - PER_NODE["clone from the library item (40 GB thin disk)"] + OVF_DEPLOY
    )
    return {
        "library": library,
        "ovf": ovf,
        "perNode": per_node,
        "nodeDown": per_node - PER_NODE["gatewayctl's health wait (node.ready, manager.https)"],
    }


def stack(nodes: int) -> dict[str, Any]:
    doc = yaml.safe_load((PROJECT / "Pulumi.prod.yaml").read_text())
    config = doc["config"]
    config["gateway-cluster:nodes"] = [
        {"hostname": f"gw-{i}", "esxiHost": f"esx-{i:02d}.corp.example.com", "ip": f"10.20.30.{10 + i}"}
        for i in range(1, nodes + 1)
    ]
    return {"config": config}


def measure_roll(nodes: int) -> float:
    """One whole roll of ``nodes`` nodes against the stand-in CLI, in a project of its own."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in ("Pulumi.yaml", "__main__.py", "components", "policies"):
            (root / name).symlink_to(PROJECT / name)
        (root / "Pulumi.prod.yaml").write_text(yaml.safe_dump(stack(nodes)))
        bin_dir = root / "bin"
        bin_dir.mkdir()
        (bin_dir / "pulumi").write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STANDIN}" "$@"\n')
        (bin_dir / "pulumi").chmod(0o755)
        images = [{"hostname": f"gw-{i}", "image": "17.0.0"} for i in range(1, nodes + 1)]
        state = root / "state.json"
        state.write_text(json.dumps({"stacks": {"prod": {"outputs": {"nodes": images}}}, "secrets": {}}))
        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PULUMI_STANDIN_STATE": str(state)}
        # The health probe would reach the nodes' addresses: the roll runs with a probe that passes at once.
        code = (
            "import sys; from gatewayctl import health, checks, cli;"
            "health.cluster_health = lambda s, r: [checks.ok('node.ready', 'x', 'ok')];"
            "sys.exit(cli.main(sys.argv[1:]))"
        )
        argv = [
            sys.executable,
            "-c",
            code,
            "upgrade",
            "--stack",
            "prod",
            "--to",
            "18.0.0",
            "--yes",
            "--ova-url",
            "https://downloads.example.com/opsramp/gateway-18.0.0.ova",
        ]
        start = time.perf_counter()
        proc = subprocess.run(
            argv, cwd=root, env={**env, "PYTHONPATH": str(PROJECT)}, capture_output=True, text=True, check=False
        )
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"the roll failed:\n{proc.stderr}")
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[3, 5])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = []
    for n in args.nodes:
        model = modelled(n)
        measured = statistics.median(measure_roll(n) for _ in range(args.runs))
        results.append(
            {"nodes": n, **{f"{k}S": round(v, 1) for k, v in model.items()}, "orchestrationS": round(measured, 2)}
        )
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print("nodes  library mode  ovf mode  each node down  gatewayctl's own time (median)")
    for r in results:
        print(
            f"{r['nodes']:>5}  {r['libraryS'] / 60:>9.1f} min  {r['ovfS'] / 60:>5.1f} min"
            f"  {r['nodeDownS'] / 60:>10.1f} min  {r['orchestrationS']:>8.2f} s"
        )


if __name__ == "__main__":
    main()
