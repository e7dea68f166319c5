"""TLS settings for the two servers: the appliance pinned to its own certificate, the platform API by trusted CAs."""

from __future__ import annotations

import ssl


def appliance_tls(ca_cert: str | None) -> ssl.SSLContext:
    """TLS settings for the appliance.

    With ``ca_cert`` (PEM), the appliance must present that certificate or one it signed: it is the only
    trust anchor, so this pins the appliance. Host names are not checked because the appliance's
    self-signed certificate rarely names the floating IP; the anchor itself is the pin. Without it, the
    appliance's self-signed certificate is accepted unverified (the program warns about that).
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    if ca_cert is None:
        context.verify_mode = ssl.CERT_NONE
        return context
    context.verify_mode = ssl.CERT_REQUIRED
    # A pinned leaf that some internal CA issued is an anchor in its own right, without that CA.
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    context.load_verify_locations(cadata=ca_cert)
    return context


def platform_tls(ca_cert: str | None) -> ssl.SSLContext:
    """TLS settings for the platform API: the system's trusted CAs (or ``ca_cert``), host name checked."""
    return ssl.create_default_context(cadata=ca_cert) if ca_cert else ssl.create_default_context()
