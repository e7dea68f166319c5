"""The live vCenter: credentials from the stack or the environment, a session, and inventory look-ups.

Credentials come from the stack's ``vsphere:`` provider config (what ``pulumi up`` uses), and for each value
that is not there, from the provider's standard variables ``VSPHERE_SERVER``, ``VSPHERE_USER``,
``VSPHERE_PASSWORD`` and ``VSPHERE_ALLOW_UNVERIFIED_SSL``. A ``secure:`` password cannot be decrypted without
the Pulumi CLI, so then ``VSPHERE_PASSWORD`` must be set.

The look-ups (:class:`VCenter`) answer the same questions the provider's data sources do (a datacenter by name,
a host, datastore, network or cluster by name inside it, a resource pool by path) and are shared by
``preflight`` and by :func:`live_inventory`, which answers the program's invokes for ``plan --vcenter``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import socket
import ssl
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from gatewayctl import harness, probe, stackfile
from gatewayctl.errors import CommandError


class _ImportedAtFirstUse:
    """A module (or a module's attribute) imported when first used: pyVmomi takes about 0.1 s to import, which
    every ``gatewayctl`` start would pay, though only the commands that reach vCenter use it."""

    def __init__(self, module: str, attribute: str | None = None) -> None:
        self._module, self._attribute = module, attribute

    def __getattr__(self, name: str) -> Any:
        target = importlib.import_module(self._module)
        if self._attribute is not None:
            target = getattr(target, self._attribute)
        return getattr(target, name)


# pyVmomi builds its types at run time and its stubs are partial (untyped calls, Optional everywhere): the
# API is used as the dynamic objects it is.
vim: Any = _ImportedAtFirstUse("pyVmomi", "vim")
vmodl: Any = _ImportedAtFirstUse("pyVmomi", "vmodl")
pyvim_connect: Any = _ImportedAtFirstUse("pyVim.connect")

DEFAULT_TIMEOUT = 15.0
"""Seconds for any one call to vCenter (connect, log in, each look-up)."""

#: Stack config key and environment variable for each credential, as the vSphere provider reads them.
SERVER_KEY, USER_KEY, PASSWORD_KEY, INSECURE_KEY = (
    "vsphere:vsphereServer",
    "vsphere:user",
    "vsphere:password",
    "vsphere:allowUnverifiedSsl",
)
SERVER_ENV, USER_ENV, PASSWORD_ENV, INSECURE_ENV = (
    "VSPHERE_SERVER",
    "VSPHERE_USER",
    "VSPHERE_PASSWORD",
    "VSPHERE_ALLOW_UNVERIFIED_SSL",
)


class VCenterError(CommandError):
    """vCenter cannot be used: no credentials, unreachable, untrusted certificate or login refused.

    ``plan --vcenter`` reports it like any other problem outside the program's config (exit 3, no traceback);
    ``preflight`` turns it into a failing check with :attr:`message` and :attr:`fix`.
    """

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message, fix)
        self.fix: str = fix


class NotFound(harness.InventoryError):
    """A look-up found nothing (or more than one object): the message says what exists instead."""


# ------------------------------------------------------------------------------------------- credentials


@dataclass(frozen=True)
class Credentials:
    """Where and as whom to log in."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    insecure: bool
    """Accept any certificate (``vsphere:allowUnverifiedSsl``)."""

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_server(text: str) -> tuple[str, int]:
    """``vcenter.example.com``, ``vcenter:8443``, ``[fd00::5]:443`` or ``https://vcenter/sdk`` to (host, port)."""
    text = text.strip()
    parsed = urlparse(text if "://" in text else f"https://{text}")
    if not parsed.hostname:
        raise ValueError(text)
    try:
        port = parsed.port or 443
    except ValueError:
        raise ValueError(text) from None
    return parsed.hostname, port


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes")


def credentials(stack_config: Mapping[str, Any], stack: str, env: Mapping[str, str] | None = None) -> Credentials:
    """The vCenter credentials of a stack: its ``vsphere:`` config first, then the environment.

    Raises :class:`VCenterError` naming what is missing and how to provide it.
    """
    env = os.environ if env is None else env
    file = f"Pulumi.{stack}.yaml"

    def pick(key: str, var: str) -> tuple[str | None, bool]:
        value = stack_config.get(key)
        if isinstance(value, Mapping) and set(value) == {"secure"}:
            return (env.get(var) or None), True
        if value is not None and str(value).strip():
            return str(value), False
        return (env.get(var) or None), False

    server, _ = pick(SERVER_KEY, SERVER_ENV)
    if server is None:
        raise VCenterError(
            f"no vCenter address: neither {SERVER_KEY} in {file} nor {SERVER_ENV} is set",
            f"Set {SERVER_KEY} in {file} (`pulumi config set {SERVER_KEY} vcenter.example.com`) "
            f"or export {SERVER_ENV}=vcenter.example.com",
        )
    try:
        host, port = parse_server(server)
    except ValueError:
        raise VCenterError(
            f"{SERVER_KEY} = {server!r} is not a vCenter address",
            "Write a host name or address, optionally with a port: 'vcenter.example.com' or 'vcenter:8443'",
        ) from None
    user, _ = pick(USER_KEY, USER_ENV)
    if user is None:
        raise VCenterError(
            f"no vCenter user: neither {USER_KEY} in {file} nor {USER_ENV} is set",
            f"Set {USER_KEY} in {file} or export {USER_ENV}=svc-gateway@vsphere.local",
        )
    password, encrypted = pick(PASSWORD_KEY, PASSWORD_ENV)
    if password is None:
        if encrypted:
            raise VCenterError(
                f"{PASSWORD_KEY} is encrypted (secure:) in {file} and cannot be decrypted without the Pulumi CLI",
                f"Export {PASSWORD_ENV} with the vCenter password for gatewayctl",
            )
        raise VCenterError(
            f"no vCenter password: neither {PASSWORD_KEY} in {file} nor {PASSWORD_ENV} is set",
            f"Export {PASSWORD_ENV} (or `pulumi config set --secret {PASSWORD_KEY}` for `pulumi up`, and "
            f"{PASSWORD_ENV} for gatewayctl)",
        )
    insecure_raw = stack_config.get(INSECURE_KEY)
    insecure = _flag(insecure_raw) if insecure_raw is not None else _flag(env.get(INSECURE_ENV, "false"))
    return Credentials(host=host, port=port, user=user, password=password, insecure=insecure)


# -------------------------------------------------------------------------------------------- connection


@contextlib.contextmanager
def _default_socket_timeout(seconds: float) -> Iterator[None]:
    # pyVmomi's version discovery opens its HTTPS connection without a timeout (it uses the socket default),
    # so the default is set for the connect; every later call has pyVmomi's own httpConnectionTimeout.
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _explain(exc: BaseException, creds: Credentials, timeout: float) -> VCenterError:
    where = creds.address
    insecure_fix = (
        f"Install the vCenter's CA certificate on this machine, or set {INSECURE_KEY} to true in the stack "
        f"(or export {INSECURE_ENV}=true) to accept its certificate unverified"
    )
    if isinstance(exc, vim.fault.InvalidLogin):
        return VCenterError(
            f"vCenter {where} rejected the login of {creds.user!r}",
            f"Check {USER_KEY} / {USER_ENV} and the password in {PASSWORD_ENV}",
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return VCenterError(f"the certificate of {where} is not trusted ({exc.verify_message})", insecure_fix)
    if isinstance(exc, socket.gaierror):
        return VCenterError(
            f"the vCenter name {creds.host!r} does not resolve ({exc.strerror})",
            f"Check {SERVER_KEY} / {SERVER_ENV} and this machine's DNS",
        )
    if isinstance(exc, ConnectionRefusedError):
        return VCenterError(
            f"nothing accepts connections on {where}", f"Check {SERVER_KEY} / {SERVER_ENV} (host and port)"
        )
    if isinstance(exc, TimeoutError | socket.timeout):
        return VCenterError(
            f"vCenter {where} did not answer within {timeout:g} s",
            "Check the address, and that this machine may reach vCenter on that port (firewall, VPN, proxy)",
        )
    if isinstance(exc, ssl.SSLError):
        return VCenterError(f"TLS with {where} failed ({exc})", insecure_fix)
    if isinstance(exc, OSError):
        return VCenterError(f"cannot reach vCenter {where} ({exc.strerror or exc})", "Check the address and network")
    if isinstance(exc, vmodl.MethodFault):
        return VCenterError(f"vCenter {where} refused the session ({exc.msg})", "Check the user's permissions")
    return VCenterError(f"vCenter {where} did not answer as a vSphere API ({exc})", "Check the address and port")


def connect(creds: Credentials, *, timeout: float = DEFAULT_TIMEOUT) -> Any:
    """Logs in to vCenter. Raises :class:`VCenterError` with what went wrong and how to fix it."""
    # The name is looked up first within the timeout: pyVmomi's own look-up (getaddrinfo) has no deadline and
    # waits out the resolver's retries when DNS does not answer. (TLS still needs the name, so it connects by
    # name; that second look-up finds the answer the resolver just gave.)
    try:
        probe.resolve(creds.host, timeout)
    except probe.ResolveError as exc:
        raise VCenterError(
            f"the vCenter name {exc}", f"Check {SERVER_KEY} / {SERVER_ENV} and this machine's DNS"
        ) from None
    try:
        with _default_socket_timeout(timeout):
            return pyvim_connect.SmartConnect(
                host=creds.host,
                port=creds.port,
                user=creds.user,
                pwd=creds.password,
                # An explicit context: pyVmomi would otherwise skip verification for 127.0.0.1 and localhost,
                # unlike the provider `pulumi up` runs.
                sslContext=None if creds.insecure else ssl.create_default_context(),
                disableSslCertValidation=creds.insecure,
                httpConnectionTimeout=timeout,
            )
    except Exception as exc:  # noqa: BLE001 - pyVmomi raises bare Exception too; every case becomes a message
        raise _explain(exc, creds, timeout) from None


def disconnect(si: Any) -> None:
    """Logs out; a session that cannot be closed expires on its own, so errors are ignored."""
    with contextlib.suppress(Exception):
        pyvim_connect.Disconnect(si)


def stack_credentials(
    project_dir: Path, stack: str, *, overrides: Mapping[str, str] | None = None, env: Mapping[str, str] | None = None
) -> Credentials:
    """Credentials from ``Pulumi.<stack>.yaml`` (plus ``--config`` overrides) and the environment."""
    raw = dict(stackfile.read_stack(project_dir, stack))
    raw.update(overrides or {})
    return credentials(raw, stack, env)


# ------------------------------------------------------------------------------------------------ look-ups


def _names(objects: list[tuple[Any, dict[str, Any]]], limit: int = 8) -> str:
    names = sorted(str(props.get("name")) for _, props in objects)
    if not names:
        return "none"
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


class VCenter:
    """Look-ups in one vCenter session, by name the way the vSphere provider's data sources find objects."""

    def __init__(self, si: Any, *, server: str = "") -> None:
        self.si = si
        self.server = server
        self.content = si.RetrieveContent()

    @property
    def about(self) -> str:
        about = self.content.about
        return f"{about.fullName} (API {about.apiVersion})"

    def objects(self, root: Any, kind: type, props: tuple[str, ...] = ("name",)) -> list[tuple[Any, dict[str, Any]]]:
        """Every object of ``kind`` below ``root`` with the given properties, in one paged retrieval."""
        view = self.content.viewManager.CreateContainerView(root, [kind], True)
        pc = vmodl.query.PropertyCollector
        try:
            spec = pc.FilterSpec(
                objectSet=[
                    pc.ObjectSpec(
                        obj=view,
                        skip=True,
                        selectSet=[pc.TraversalSpec(name="view", path="view", skip=False, type=vim.view.ContainerView)],
                    )
                ],
                propSet=[pc.PropertySpec(type=kind, pathSet=list(props), all=False)],
            )
            collector = self.content.propertyCollector
            found: list[tuple[Any, dict[str, Any]]] = []
            page = collector.RetrievePropertiesEx([spec], pc.RetrieveOptions(maxObjects=1000))
            while page is not None:
                found.extend((o.obj, {p.name: p.val for p in o.propSet}) for o in page.objects)
                page = collector.ContinueRetrievePropertiesEx(page.token) if page.token else None
            return found
        finally:
            view.Destroy()

    def _one(self, root: Any, kind: type, name: str, what: str, where: str) -> Any:
        everything = self.objects(root, kind)
        matches = [obj for obj, props in everything if props.get("name") == name]
        if not matches:
            raise NotFound(f"no {what} named '{name}' {where} ({what}s there: {_names(everything)})")
        if len(matches) > 1:
            ids = ", ".join(m._moId for m in matches)
            raise NotFound(f"{len(matches)} {what}s are named '{name}' {where} ({ids}); names must be unique")
        return matches[0]

    def datacenters(self) -> list[tuple[Any, dict[str, Any]]]:
        return self.objects(self.content.rootFolder, vim.Datacenter)

    def datacenter(self, name: str | None) -> Any:
        if not name:
            all_dcs = self.datacenters()
            if len(all_dcs) == 1:
                return all_dcs[0][0]
            raise NotFound(f"no datacenter name given and vCenter has {len(all_dcs)} ({_names(all_dcs)})")
        return self._one(self.content.rootFolder, vim.Datacenter, name, "datacenter", "in vCenter")

    def datacenter_by_id(self, moid: str) -> Any:
        for dc, _ in self.datacenters():
            if dc._moId == moid:
                return dc
        raise NotFound(f"no datacenter with ID '{moid}'")

    def host(self, dc: Any, name: str) -> Any:
        return self._one(dc.hostFolder, vim.HostSystem, name, "host", f"in datacenter '{dc.name}'")

    def datastore(self, dc: Any, name: str) -> Any:
        return self._one(dc.datastoreFolder, vim.Datastore, name, "datastore", f"in datacenter '{dc.name}'")

    def network(self, dc: Any, name: str) -> Any:
        return self._one(dc.networkFolder, vim.Network, name, "network", f"in datacenter '{dc.name}'")

    def cluster(self, dc: Any, name: str) -> Any:
        if "/" in name:
            return self._path(dc.hostFolder, name, f"cluster '{name}' in datacenter '{dc.name}'")
        return self._one(dc.hostFolder, vim.ClusterComputeResource, name, "cluster", f"in datacenter '{dc.name}'")

    def _path(self, start: Any, path: str, what: str) -> Any:
        """Walks ``a/b/c`` from ``start`` through folders, compute resources ("Resources" is a compute
        resource's root pool) and child resource pools. ``what`` names the path in messages."""
        current = start
        for step in [s for s in path.strip("/").split("/") if s]:
            if isinstance(current, vim.Folder):
                children = list(current.childEntity)
            elif isinstance(current, vim.ComputeResource):
                children = [current.resourcePool] if step == "Resources" else []
            elif isinstance(current, vim.ResourcePool):
                children = list(current.resourcePool)
            else:
                children = []
            names = [c.name for c in children]
            if step not in names:
                shown = ", ".join(sorted(names)) or "nothing"
                raise NotFound(f"{what}: no '{step}' in '{current.name}' (it holds: {shown})")
            current = children[names.index(step)]
        return current

    def resource_pool(self, dc: Any, path: str) -> Any:
        """A pool by path below the datacenter's host folder (``compute-01/Resources/gateways``), by absolute
        inventory path (``/dc-east/host/...``), or by a name unique in the datacenter."""
        prefix = f"/{dc.name}/host/"
        if path.startswith(prefix):
            path = path[len(prefix) :]
        if "/" in path:
            pool = self._path(dc.hostFolder, path, f"resource pool '{path}' in datacenter '{dc.name}'")
            if not isinstance(pool, vim.ResourcePool):
                raise NotFound(f"'{path}' in datacenter '{dc.name}' is a {type(pool).__name__}, not a resource pool")
            return pool
        return self._one(dc.hostFolder, vim.ResourcePool, path, "resource pool", f"in datacenter '{dc.name}'")

    def folder(self, dc: Any, path: str) -> Any:
        """A VM folder by path relative to the datacenter's VM folder (``gateways/prod``)."""
        prefix = f"/{dc.name}/vm/"
        if path.startswith(prefix):
            path = path[len(prefix) :]
        found = self._path(dc.vmFolder, path, f"VM folder '{path}' in datacenter '{dc.name}'")
        if not isinstance(found, vim.Folder):
            raise NotFound(f"'{path}' in datacenter '{dc.name}' is a {type(found).__name__}, not a folder")
        return found

    def vms(self, dc: Any) -> list[tuple[Any, dict[str, Any]]]:
        """Every VM of the datacenter with ``name`` and ``config.annotation``."""
        return self.objects(dc.vmFolder, vim.VirtualMachine, ("name", "config.annotation"))


# ----------------------------------------------------------------------------------------- live inventory


@dataclass
class LiveInventory:
    """Answers the program's vSphere data-source invokes from a live vCenter, with real managed object IDs.

    Same result keys as ``harness.DeclaredInventory``; a look-up that finds nothing raises
    :class:`NotFound` (a ``harness.InventoryError``) saying what exists instead.
    """

    vc: VCenter
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _cache: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)

    def close(self) -> None:
        """Logs out: a session left open counts against vCenter's session limit until it times out."""
        disconnect(self.vc.si)

    def __enter__(self) -> LiveInventory:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def invoke(self, token: str, args: Mapping[str, Any]) -> dict[str, Any]:
        name = str(args.get("name") or "")
        dc_id = str(args.get("datacenterId") or "")
        key = (token, name, dc_id)
        # Registrations run on a thread pool; one session, one caller at a time, each answer fetched once.
        with self._lock:
            if key not in self._cache:
                self._cache[key] = self._answer(token, name, dc_id)
            return dict(self._cache[key])

    def _answer(self, token: str, name: str, dc_id: str) -> dict[str, Any]:
        vc = self.vc
        if token == "vsphere:index/getDatacenter:getDatacenter":
            dc = vc.datacenter(name or None)
            return {"id": dc._moId, "name": dc.name}
        if token not in harness.DATA_SOURCES:
            raise harness.InventoryError(f"the live inventory cannot answer {token}")
        if not dc_id:
            raise harness.InventoryError(f"{token} for '{name}' without a datacenterId")
        dc = vc.datacenter_by_id(dc_id)
        result: dict[str, Any] = {"name": name, "datacenterId": dc_id}
        if token == "vsphere:index/getHost:getHost":
            host = vc.host(dc, name)
            result.update(id=host._moId, resourcePoolId=host.parent.resourcePool._moId)
        elif token == "vsphere:index/getDatastore:getDatastore":
            result["id"] = vc.datastore(dc, name)._moId
        elif token == "vsphere:index/getNetwork:getNetwork":
            result["id"] = vc.network(dc, name)._moId
        elif token == "vsphere:index/getComputeCluster:getComputeCluster":
            cluster = vc.cluster(dc, name)
            result.update(id=cluster._moId, resourcePoolId=cluster.resourcePool._moId)
        elif token == "vsphere:index/getResourcePool:getResourcePool":
            result["id"] = vc.resource_pool(dc, name)._moId
        else:
            raise harness.InventoryError(f"the live inventory cannot answer {token}")
        return result


def live_inventory(
    project_dir: Path, stack: str, *, env: Mapping[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT
) -> LiveInventory:
    """A live inventory for the stack's vCenter (credentials as for ``preflight``). Raises :class:`VCenterError`.

    The caller logs out with :meth:`LiveInventory.close` (or uses it as a context manager)."""
    creds = stack_credentials(project_dir, stack, env=env)
    return LiveInventory(VCenter(connect(creds, timeout=timeout), server=creds.address))
