"""The stack's configuration: each key declared once, read once, validated before any resource is registered.

Everything the program accepts lives in the ``gateway-cluster:`` namespace of ``Pulumi.<stack>.yaml``. Each key
is declared once, as an attribute of a frozen settings dataclass with its kind, default, example and
description (:mod:`.declare`), beside the rules that span keys:

- :mod:`.placement`: ``vsphere`` and ``ova``;
- :mod:`.nodes`: ``network``, ``nodes``, ``nodeSize``, ``storage``;
- :mod:`.services`: ``charts`` and ``registration``;
- :mod:`.settings`: the top-level keys, the secrets, and the rules across them.

From those declarations come the parser (:func:`parse`: raw values in, frozen :class:`Settings` out, or a
:class:`ConfigError` listing every problem, each naming the key, the bad value and the fix), the
configuration reference (:mod:`.docs`, ``docs/configuration.md``) and the JSON Schema of a stack file
(:func:`stack_file_schema`, ``schema/stack.schema.json``). :func:`load` reads the raw values from
``pulumi.Config`` (secrets as ``Output`` secrets, never as plain strings) and calls :func:`parse`.

Only what the program cannot build is rejected here. The mission's rules (three hosts for HA, one node per
host, one subnet, minimum sizes, addresses outside DHCP, NFS for multi-node) are the policy pack's job
(``policies/``), so a structurally valid config that breaks them still builds and the pack reports it.
"""

from .errors import NAMESPACE, ConfigError, ConfigIssue
from .kinds import IPAddress, IPNetwork
from .nodes import NetworkSettings, NodeSettings, NodeSize, StorageSettings
from .parser import parse
from .placement import (
    DEFAULT_FIRMWARE,
    DEFAULT_NIC_TYPE,
    DEFAULT_OVA_PROPERTIES,
    DEFAULT_SCSI_TYPE,
    FIRMWARE_TYPES,
    NIC_TYPES,
    SCSI_TYPES,
    DeployMode,
    Firmware,
    OvaImage,
    OvaSettings,
    VSphereSettings,
)
from .runtime import chart_file_issues, load, read_raw, read_settings
from .schema import stack_file_schema
from .services import (
    DEFAULT_CHART_REPOSITORY,
    DEFAULT_CHARTS,
    ChartSettings,
    ChartsSettings,
    RegistrationMethod,
    RegistrationSettings,
)
from .settings import (
    KNOWN_KEYS,
    OBJECT_KEYS,
    ONE_OF_SECRETS,
    REQUIRED_SECRETS,
    SECRET_KEYS,
    STRING_KEYS,
    Secrets,
    Settings,
    StackConfig,
)

__all__ = [
    "DEFAULT_CHARTS",
    "DEFAULT_CHART_REPOSITORY",
    "DEFAULT_FIRMWARE",
    "DEFAULT_NIC_TYPE",
    "DEFAULT_OVA_PROPERTIES",
    "DEFAULT_SCSI_TYPE",
    "FIRMWARE_TYPES",
    "KNOWN_KEYS",
    "NAMESPACE",
    "NIC_TYPES",
    "OBJECT_KEYS",
    "ONE_OF_SECRETS",
    "REQUIRED_SECRETS",
    "SCSI_TYPES",
    "SECRET_KEYS",
    "STRING_KEYS",
    "ChartSettings",
    "ChartsSettings",
    "ConfigError",
    "ConfigIssue",
    "DeployMode",
    "Firmware",
    "IPAddress",
    "IPNetwork",
    "NetworkSettings",
    "NodeSettings",
    "NodeSize",
    "OvaImage",
    "OvaSettings",
    "RegistrationMethod",
    "RegistrationSettings",
    "Secrets",
    "Settings",
    "StackConfig",
    "StorageSettings",
    "VSphereSettings",
    "chart_file_issues",
    "load",
    "parse",
    "read_raw",
    "read_settings",
    "stack_file_schema",
]
