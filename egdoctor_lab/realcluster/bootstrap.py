"""The one place the lab's kubelet changes what Envoy Gateway put in an Envoy container.

A kubelet runs the container's args as they are, with ``$(VAR)`` expanded from the container's env, in a
filesystem where the pod's volumes are mounted. The lab runs Envoy on the host filesystem, in the pod's
own network namespace (``podnet.py``), so only two things differ from a cluster, and only they change:

* ``xds_address``: the xDS server's Service name (``envoy-gateway.<ns>.svc.<domain>.``) becomes the
  address the EG controller's xDS port is reached at from the pod; there is no cluster DNS;
* ``mounted_paths``: a path under a volume mount (``/certs/tls.crt``, ``/sds/xds-certificate.json``)
  becomes the path under the directory where the lab materialised that volume. This applies to the
  bootstrap and to the SDS files of the ``sds`` ConfigMap, which name the ``/certs`` files.

Everything else (listeners, admin and readiness addresses, stats, clusters' other settings) is EG's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml

_VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def expand(arg: str, env: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion in args: unknown references stay as written."""
    return _VAR.sub(lambda m: env.get(m.group(1), m.group(0)), arg)


def _walk(node: Any, change: Callable[[str, str], str], key: str = "") -> Any:
    if isinstance(node, dict):
        return {k: _walk(value, change, str(k)) for k, value in node.items()}
    if isinstance(node, list):
        return [_walk(value, change, key) for value in node]
    if isinstance(node, str):
        return change(key, node)
    return node


def _path_changer(mounts: Mapping[str, str]) -> Callable[[str, str], str]:
    ordered = sorted(mounts.items(), key=lambda item: -len(item[0]))

    def change(key: str, value: str) -> str:
        for mount_path, host_dir in ordered:
            prefix = mount_path.rstrip("/") + "/"
            if value.startswith(prefix):
                return host_dir.rstrip("/") + "/" + value[len(prefix) :]
        return value

    return change


def rewrite_bootstrap(text: str, xds_host: str, xds_address: str, mounts: Mapping[str, str]) -> str:
    """EG's bootstrap YAML with the xDS host name and the mounted paths rewritten (see module doc)."""
    bootstrap = yaml.safe_load(text)
    paths = _path_changer(mounts)
    host = xds_host.rstrip(".")

    def change(key: str, value: str) -> str:
        if key == "address" and value.rstrip(".") == host:  # a socket_address, not a name that matches
            return xds_address
        return paths(key, value)

    return yaml.safe_dump(_walk(bootstrap, change), sort_keys=False)


def rewrite_sds_file(text: str, mounts: Mapping[str, str]) -> str:
    """An SDS file of the ``sds`` ConfigMap (JSON) with its certificate paths rewritten."""
    return json.dumps(_walk(json.loads(text), _path_changer(mounts)), indent=2)
