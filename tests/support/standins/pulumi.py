#!/usr/bin/env python3
"""A stand-in ``pulumi`` CLI for `gatewayctl upgrade`: the commands Pulumi's Automation API runs, answered from
a recorded stack state, so that the orchestration (its order, stops and resumption) runs for real.

What it follows (pulumi/pulumi, docs/upstream-facts.md rows U1-U3):

- ``version``: a CLI version the Automation API accepts.
- ``stack select --stack S``: fails with "no stack named 'S' found" (the Automation API's StackNotFoundError)
  unless the state has the stack.
- ``config set [--path] KEY --plaintext -- VALUE`` and ``config rm KEY [--path]`` rewrite ``Pulumi.<S>.yaml`` in
  the working directory as the CLI does (sdk/go/common/resource/config/map.go ``Set``/``Remove``): a path set
  creates missing containers and coerces ``true``/``false`` and integers without a leading zero (object.go
  ``coerce``); removing a missing path does nothing; removing a list element shifts the rest.
- ``config --show-secrets --json``: every key of the stack file, and the state's ``secrets`` in plaintext.
- ``up --yes --skip-preview``: the engine is *not* run. The update is modelled on the stack's outputs: each
  node in ``rebuild`` is re-created from ``ova`` (its ``image`` becomes ``ova.version``), and a node whose image
  is in neither ``ova`` nor ``ova.retain`` shows ``null``, as the program's ``nodes[i].image`` does. A node in
  ``rebuild`` whose image is already ``ova``'s is not replaced. A replaced VM gets a new SSH host key (``vmKeys``):
  a node whose ``sshHostKey`` is pinned to another key fails the update as pulumi-command's dial does (the VM is
  new, its steps did not run). The state's
  ``failUp`` (a hostname) fails the update that rebuilds that node, once; ``failUpAlways`` every time.
  Every update's config is appended to ``ups`` for the tests.
- ``stack output --json [--show-secrets]`` and ``stack history --json``: from the state.

Run as a script, it is one call. The tests run it as a :class:`Server` in their own process instead, which the
``pulumi`` on their PATH (a bash launcher, :data:`LAUNCHER`) hands each call to: still a process per call for the
Automation API, without starting Python and this module's imports each time.
"""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    import socket

VERSION = "v3.272.0"


def coerce(text: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    if len(text) > 1 and text[0] == "0":
        return text
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def parse_path(key: str) -> tuple[str, list[str | int]]:
    """``ns:a.b[0].c`` -> (``ns:a``, [``b``, 0, ``c``])."""
    namespace, _, rest = key.partition(":")
    parts: list[str | int] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", rest):
        parts.append(int(index) if index else name)
    return f"{namespace}:{parts[0]}", parts[1:]


def set_path(config: dict[str, Any], key: str, value: Any) -> None:
    root, path = parse_path(key)
    if not path:
        config[root] = value
        return
    container = config.setdefault(root, [] if isinstance(path[0], int) else {})
    for step, following in zip(path, [*path[1:], None], strict=True):
        if following is None:
            if isinstance(step, int):
                container.extend([None] * (step + 1 - len(container)))
            container[step] = value
            return
        empty: Any = [] if isinstance(following, int) else {}
        if isinstance(step, int):
            container.extend([None] * (step + 1 - len(container)))
            if container[step] is None:
                container[step] = empty
        else:
            container.setdefault(step, empty)
        container = container[step]


def remove_path(config: dict[str, Any], key: str) -> None:
    root, path = parse_path(key)
    if not path:
        config.pop(root, None)
        return
    container: Any = config.get(root)
    for step in path[:-1]:
        if isinstance(step, int):
            if not isinstance(container, list) or step >= len(container):
                return
        elif not isinstance(container, dict) or step not in container:
            return
        container = container[step]
    last = path[-1]
    if isinstance(last, int) and isinstance(container, list) and last < len(container):
        del container[last]
    elif isinstance(last, str) and isinstance(container, dict):
        container.pop(last, None)


def _read_yaml(path: Path) -> Any:
    import yaml  # only where a stack file is read: it costs more than the rest of a call

    # libyaml's safe loader where PyYAML has it: the same documents, several times faster than the pure-Python one.
    return yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


class Cli:
    def __init__(self, state_file: Path, cwd: Path, out: TextIO, err: TextIO) -> None:
        self.state_file = state_file
        self.state: dict[str, Any] = json.loads(state_file.read_text())
        self.cwd = cwd
        self.out = out
        self.err = err

    def say(self, text: str) -> None:
        print(text, file=self.out)

    def fail(self, message: str, code: int = 255) -> int:
        print(f"error: {message}", file=self.err)
        return code

    def save(self) -> None:
        self.state_file.write_text(json.dumps(self.state))  # no indent: json's C encoder, the state grows every call

    def stack_file(self, stack: str) -> Path:
        return self.cwd / f"Pulumi.{stack}.yaml"

    def read_config(self, stack: str) -> dict[str, Any]:
        doc = _read_yaml(self.stack_file(stack)) or {}
        return dict(doc.get("config") or {})

    def write_config(self, stack: str, config: dict[str, Any]) -> None:
        import yaml

        path = self.stack_file(stack)
        doc = _read_yaml(path) or {}
        doc["config"] = config
        # libyaml's emitter where PyYAML has it: the same text as safe_dump's, several times faster.
        path.write_text(yaml.dump(doc, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False))

    def run(self, argv: list[str]) -> int:
        self.state.setdefault("calls", []).append(argv)
        stack = str(argv[argv.index("--stack") + 1] if "--stack" in argv else self.state.get("selected"))
        words = [a for a in argv if not a.startswith("--")]
        try:
            if argv[:1] == ["version"]:
                self.say(VERSION)
                return 0
            if stack not in self.state.get("stacks", {}):
                return self.fail(f"no stack named '{stack}' found")
            if words[:2] == ["stack", "select"]:
                self.state["selected"] = stack
                return 0
            if words[:2] == ["config", "set"]:
                key = words[2]
                value = argv[argv.index("--") + 1]
                config = self.read_config(stack)
                if "--path" in argv:
                    set_path(config, key, coerce(value))
                else:
                    config[key] = value
                self.write_config(stack, config)
                return 0
            if words[:2] == ["config", "rm"]:
                config = self.read_config(stack)
                if "--path" in argv:
                    remove_path(config, words[2])
                else:
                    config.pop(words[2], None)
                self.write_config(stack, config)
                return 0
            if words[:1] == ["config"] and "--json" in argv:
                return self.config_json(stack)
            if words[:1] == ["up"]:
                return self.up(stack)
            if words[:2] == ["stack", "output"]:
                outputs = self.state["stacks"][stack]["outputs"]
                secret = set(self.state["stacks"][stack].get("secretOutputs", []))
                shown = {
                    k: ("[secret]" if k in secret and "--show-secrets" not in argv else v) for k, v in outputs.items()
                }
                self.say(json.dumps(shown))
                return 0
            if words[:2] == ["stack", "history"]:
                self.say(json.dumps(list(reversed(self.state["stacks"][stack].get("history", [])))))
                return 0
            return self.fail(f"the stand-in does not know `pulumi {' '.join(argv)}`")
        finally:
            self.save()

    def config_json(self, stack: str) -> int:
        config = self.read_config(stack)
        out: dict[str, Any] = {}
        for key, value in config.items():
            if isinstance(value, dict) and set(value) == {"secure"}:
                continue
            text = value if isinstance(value, str) else json.dumps(value)
            out[key] = {
                "value": text,
                "secret": False,
                **({"objectValue": value} if not isinstance(value, str) else {}),
            }
        for key, value in self.state.get("secrets", {}).items():
            out[key] = {"value": value, "secret": True}
        self.say(json.dumps(out))
        return 0

    def up(self, stack: str) -> int:
        record = self.state["stacks"][stack]
        config = self.read_config(stack)
        ova = config.get("gateway-cluster:ova") or {}
        rebuild = config.get("gateway-cluster:rebuild") or []
        rebuild = [rebuild] if isinstance(rebuild, str) else list(rebuild)
        kept = {str(ova.get("version"))} | {str(r.get("version")) for r in ova.get("retain") or []}
        self.state.setdefault("ups", []).append(
            {
                "rebuild": rebuild,
                "primary": config.get("gateway-cluster:primary"),
                "ova": str(ova.get("version")),
                "retain": [str(r.get("version")) for r in ova.get("retain") or []],
            }
        )
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        entry = {"kind": "update", "startTime": now, "endTime": now, "message": "", "environment": {}, "config": {}}
        failing = self.state.get("failUpAlways") or self.state.get("failUp")
        if failing and failing in rebuild:
            self.state.pop("failUp", None)
            record.setdefault("history", []).append({**entry, "result": "failed"})
            self.say(f"Updating ({stack}):\n  vsphere:index:VirtualMachine {failing}-vm **deleting failed**")
            return self.fail(f"update failed: rebuilding {failing}: the VM did not get an IP in time", 255)
        keys = record.setdefault("vmKeys", {})
        pinned = {n.get("hostname"): n.get("sshHostKey") for n in config.get("gateway-cluster:nodes") or []}
        for node in record["outputs"].get("nodes", []):
            hostname = node["hostname"]
            if hostname in rebuild and node.get("image") != str(ova.get("version")):
                # Replaced: a new VM, from the current image, with a new SSH host key.
                node["image"] = str(ova.get("version"))
                keys[hostname] = f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{hostname}{len(self.state['ups'])}"
            elif node.get("image") not in kept:
                node["image"] = None
        mismatched = [h for h, key in pinned.items() if key and h in keys and key != keys[h]]
        if mismatched:
            # pulumi-command's dial (FixedHostKey), after its retries: the VM exists, its steps did not run.
            record.setdefault("history", []).append({**entry, "result": "failed"})
            return self.fail(
                f"update failed: command:remote:Command ({mismatched[0]}-bootstrap): after 9 failed attempts: "
                "ssh: handshake failed: ssh: host key mismatch"
            )
        record.setdefault("history", []).append({**entry, "result": "succeeded"})
        self.say(f"Updating ({stack}):\nResources: {len(rebuild)} replaced")
        return 0


def main(argv: list[str], state_file: str, cwd: Path, out: TextIO, err: TextIO) -> int:
    args = [a for a in argv if a != "--non-interactive"]
    return Cli(Path(state_file), cwd, out, err).run(args)


#: The ``pulumi`` a :class:`Server` answers for (bash: its start costs a tenth of Python's). It sends the call as
#: NUL-terminated fields (the number of arguments, its working directory, ``PULUMI_STANDIN_STATE``, the arguments),
#: reads the answer as three (the exit code, stdout, stderr), prints it and exits with the code.
LAUNCHER = """#!/usr/bin/env bash
# The stand-in `pulumi` CLI for tests/test_upgrade.py: a process per call, as the real CLI; the stand-in serving
# in the test process does the call's work (tests/support/standins/pulumi.py, Server).
exec 3<>/dev/tcp/127.0.0.1/{port}
printf '%s\\0' "$#" "$PWD" "${{PULUMI_STANDIN_STATE-}}" "$@" >&3
IFS= read -r -d '' -u 3 -t 300 code
IFS= read -r -d '' -u 3 out
IFS= read -r -d '' -u 3 err
printf '%s' "$out"
printf '%s' "$err" >&2
exit "${{code:-255}}"
"""


class Server:
    """Runs the stand-in inside the test process for the ``pulumi`` of :meth:`launcher`, one call at a time.

    Each call is still a process the Automation API starts, with its arguments, working directory, output and exit
    code; only the stand-in's start-up (Python, its imports: YAML's above all) is not paid again for every call.
    """

    def __init__(self) -> None:
        import socket
        import threading

        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="pulumi-standin", daemon=True)
        self._thread.start()

    def launcher(self) -> str:
        """The text of an executable ``pulumi`` whose calls this server answers."""
        return LAUNCHER.format(port=self.port)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:  # closed
                return
            with conn:
                try:
                    self._answer(conn)
                except OSError:  # the launcher went away mid-call: it has no one to answer to
                    continue

    @staticmethod
    def _answer(conn: socket.socket) -> None:
        import io
        import traceback

        data = b""
        while not _complete(data):
            chunk = conn.recv(65536)
            if not chunk:  # the launcher is gone
                return
            data += chunk
        count, cwd, state_file, *argv = [os.fsdecode(field) for field in data.split(b"\0")[:-1]]
        assert len(argv) == int(count), data
        out, err = io.StringIO(), io.StringIO()
        try:
            code = main(argv, state_file, Path(cwd).resolve(), out, err)
        except Exception:  # noqa: BLE001 (as in the stand-in's own process: a traceback and exit code 1)
            err.write(traceback.format_exc())
            code = 1
        conn.sendall(b"".join(f"{field}\0".encode() for field in (code, out.getvalue(), err.getvalue())))

    def close(self) -> None:
        import socket

        self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() above
        self._listener.close()
        self._thread.join()


def _complete(data: bytes) -> bool:
    """Whether ``data`` holds a whole call: the count, the two fixed fields and as many arguments as counted."""
    fields = data.split(b"\0")
    return len(fields) > 1 and len(fields) - 1 >= 3 + int(fields[0])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], os.environ["PULUMI_STANDIN_STATE"], Path.cwd(), sys.stdout, sys.stderr))
