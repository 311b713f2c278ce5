"""Pod networking for the lab's kubelet, as a CNI plugin would do it: one network namespace per pod.

EG's xDS listeners bind ``0.0.0.0`` on the container ports and its bootstrap puts Envoy's admin, stats
and readiness servers on fixed ports; a kubelet runs each pod in its own network namespace, so the lab
does too instead of rewriting those addresses. Each pod gets a veth pair: the host end
``10.250.N.1/30``, the pod end ``10.250.N.2/30`` (the Pod IP) with the default route through the host
end, so the pod reaches the EG controller's xDS port and the backends on the host, and HAProxy reaches the
pod. Backend "pods" (the scenario's EndpointSlice addresses) are addresses on one host link, where
the echo backend listens.

Everything is named with ``PREFIX`` so a crashed run's leftovers can be found and removed. One real
cluster runs per machine at a time (EG's xDS server binds 0.0.0.0:18000 whatever its configuration).
"""

from __future__ import annotations

import ipaddress
import subprocess
from dataclasses import dataclass

PREFIX = "egdl"
POD_RANGE = ipaddress.ip_network("10.250.0.0/16")
BACKEND_LINK = f"{PREFIX}-backends"


class PodNetError(RuntimeError):
    pass


def _ip(*args: str, netns: str | None = None, check: bool = True) -> str:
    argv = ["ip", *(["-n", netns] if netns else []), *args]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise PodNetError(f"`{' '.join(argv)}` failed: {proc.stderr.strip()}")
    return proc.stdout


@dataclass(frozen=True)
class PodNetwork:
    netns: str
    host_ip: str
    pod_ip: str


def available() -> str | None:
    """Why pod networking cannot run here, or None."""
    proc = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return f"`ip netns` is not usable: {proc.stderr.strip() or 'exit ' + str(proc.returncode)}"
    return None


def create_pod(index: int) -> PodNetwork:
    base = int(POD_RANGE.network_address) + index * 4
    host_ip = str(ipaddress.ip_address(base + 1))
    pod_ip = str(ipaddress.ip_address(base + 2))
    netns = f"{PREFIX}-pod{index}"
    host_link = f"{PREFIX}-h{index}"
    _ip("netns", "add", netns)
    _ip("link", "add", host_link, "type", "veth", "peer", "name", "eth0", "netns", netns)
    _ip("addr", "add", f"{host_ip}/30", "dev", host_link)
    _ip("link", "set", host_link, "up")
    _ip("link", "set", "lo", "up", netns=netns)
    _ip("addr", "add", f"{pod_ip}/30", "dev", "eth0", netns=netns)
    _ip("link", "set", "eth0", "up", netns=netns)
    _ip("route", "add", "default", "via", host_ip, netns=netns)
    return PodNetwork(netns, host_ip, pod_ip)


def host_side(pod_ip: str) -> str:
    """The host end of a pod's veth pair: the source address the host's connections to the pod carry."""
    return str(ipaddress.ip_address(pod_ip) - 1)


def delete_pod(net: PodNetwork) -> None:
    _ip("netns", "delete", net.netns, check=False)  # takes the veth pair with it


def add_host_addresses(addresses: list[str]) -> None:
    """Addresses on the host where pods reach them: backend endpoints and Service ClusterIPs."""
    if not addresses:
        return
    if _ip("link", "show", BACKEND_LINK, check=False).strip() == "":
        # A veth pair rather than a dummy link: not every kernel the lab runs on has the dummy module.
        _ip("link", "add", BACKEND_LINK, "type", "veth", "peer", "name", f"{BACKEND_LINK}-p")
        _ip("link", "set", BACKEND_LINK, "up")
        _ip("link", "set", f"{BACKEND_LINK}-p", "up")
    for address in addresses:
        _ip("addr", "add", f"{address}/32", "dev", BACKEND_LINK)


def clean_leftovers() -> list[str]:
    """Remove namespaces and links of a run that did not stop cleanly."""
    removed = []
    for line in _ip("netns", "list", check=False).splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith(f"{PREFIX}-"):
            _ip("netns", "delete", name, check=False)
            removed.append(name)
    for line in _ip("-o", "link", "show", check=False).splitlines():
        parts = line.split(":")
        if len(parts) > 1:
            name = parts[1].strip().split("@")[0]
            if name.startswith(f"{PREFIX}-"):
                _ip("link", "delete", name, check=False)
                removed.append(name)
    return removed


def netns_argv(net: PodNetwork, argv: list[str]) -> list[str]:
    return ["ip", "netns", "exec", net.netns, *argv]
