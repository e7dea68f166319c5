"""Benchmark: the offline plan against the bare cost of importing the Pulumi SDKs it needs.

    .venv/bin/python bench/plan_bench.py [--runs 5] [--nodes 100] [--json]

Measures, as whole processes in this venv, medians of ``--runs`` runs:
  - ``import pulumi, pulumi_vsphere, pulumi_kubernetes, pulumi_command`` (the floor any run pays);
  - ``python -m gatewayctl plan --stack prod --json`` (target: at most 2.5x the import time);
  - the same plan for a generated stack of ``--nodes`` nodes (prod's settings, one host per node).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

PROJECT = Path(__file__).resolve().parent.parent
IMPORTS = "import pulumi, pulumi_vsphere, pulumi_kubernetes, pulumi_command"


def timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):  # 1: policy violations are still a full plan
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr}")
    return elapsed


def median(argv: list[str], cwd: Path, runs: int) -> float:
    timed(argv, cwd)  # warm the file cache and .pyc files once
    return statistics.median(timed(argv, cwd) for _ in range(runs))


def big_project(tmp: Path, nodes: int) -> Path:
    """A copy of the project (by links) whose stack ``big`` has ``nodes`` nodes."""
    for name in ("Pulumi.yaml", "__main__.py", "components", "gatewayctl", "policies"):
        if (PROJECT / name).exists():
            (tmp / name).symlink_to(PROJECT / name)
    config = yaml.safe_load((PROJECT / "Pulumi.prod.yaml").read_text())["config"]
    config["gateway-cluster:network"]["cidr"] = "10.20.0.0/16"
    config["gateway-cluster:network"]["dhcpRanges"] = ["10.20.200.1-10.20.200.254"]
    config["gateway-cluster:nodes"] = [
        {"hostname": f"gw-{i}", "esxiHost": f"esx-{i:03d}.corp.example.com", "ip": f"10.20.{i // 250}.{i % 250 + 2}"}
        for i in range(nodes)
    ]
    config["gateway-cluster:floatingIp"] = "10.20.255.250"
    (tmp / "Pulumi.big.yaml").write_text(yaml.safe_dump({"config": config}))
    return tmp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    py = sys.executable
    imports = median([py, "-c", IMPORTS], PROJECT, args.runs)
    plan = median([py, "-m", "gatewayctl", "plan", "--stack", "prod", "--json"], PROJECT, args.runs)
    with tempfile.TemporaryDirectory() as tmp:
        project = big_project(Path(tmp), args.nodes)
        big = median([py, "-m", "gatewayctl", "plan", "--stack", "big", "--json"], project, args.runs)

    result: dict[str, Any] = {
        "runs": args.runs,
        "importSeconds": round(imports, 3),
        "planProdSeconds": round(plan, 3),
        "ratio": round(plan / imports, 2),
        "target": 2.5,
        "nodes": args.nodes,
        "planBigSeconds": round(big, 3),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"medians of {args.runs} runs, whole processes, {py}")
    print(f"  import of the four SDKs        {imports:7.3f} s")
    print(f"  plan --stack prod              {plan:7.3f} s   ratio {plan / imports:.2f}x (target <= 2.5x)")
    print(f"  plan of {args.nodes:>3} nodes               {big:7.3f} s")


if __name__ == "__main__":
    main()
