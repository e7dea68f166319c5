"""The Gateway Manager on the floating IP: does it answer HTTPS (``manager.https``)."""

from __future__ import annotations

import http.client
import ssl

from gatewayctl.checks import Check, failed, ok

#: The Gateway Manager's port on the floating IP.
MANAGER_PORT = 5480


def manager_answers(address: str, timeout: float, port: int = MANAGER_PORT) -> Check:
    """``manager.https``: an HTTP answer over TLS on ``address:port``. Nothing secret is sent, so the certificate
    is not judged here."""
    target = f"{address}:{port}"
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    connection = http.client.HTTPSConnection(address, port, timeout=timeout, context=context)
    try:
        connection.request("GET", "/")
        status = connection.getresponse().status
    except (TimeoutError, OSError, http.client.HTTPException) as exc:
        return failed(
            "manager.https",
            target,
            f"the Gateway Manager does not answer HTTPS on {target}: {exc}",
            "Check the gateway-manager pods and MetalLB's pool (`microk8s kubectl get pods -A`)",
        )
    finally:
        connection.close()
    return ok("manager.https", target, f"the Gateway Manager answers on {target} (HTTP {status})")
