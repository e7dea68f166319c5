"""The stand-in ``pulumi`` CLI's launcher: what the Automation API runs as ``pulumi`` in the upgrade tests.

With ``PULUMI_STANDIN_SOCKET`` set (tests/test_upgrade.py does), it hands its arguments, working directory and
``PULUMI_STANDIN_STATE`` to the stand-in serving in the test process (``pulumi.py``'s ``Server``) and ends with
the stand-in's output and exit code, as the stand-in's own process would. Without it, it becomes that process.

It runs as ``python -I -S``: no site packages and nothing imported beyond what the interpreter has loaded,
so each call costs little more than the interpreter's start.
"""

import marshal
import os
import sys


def _write(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


def main(argv: list[str]) -> int:
    path = os.environ.get("PULUMI_STANDIN_SOCKET")
    if not path:
        standin = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pulumi.py")
        os.execv(sys.executable, [sys.executable, standin, *argv])
    import _socket

    conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        conn.connect(path)
        conn.sendall(marshal.dumps((argv, os.getcwd(), os.environ.get("PULUMI_STANDIN_STATE", ""))))
        conn.shutdown(_socket.SHUT_WR)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    finally:
        conn.close()
    code, out, err = marshal.loads(b"".join(chunks))
    _write(1, out)
    _write(2, err)
    return int(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
