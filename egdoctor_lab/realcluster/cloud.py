"""The lab as OpenStack's cloud controller (cloud-provider-openstack) for Services of type LoadBalancer.

For each such Service it configures the "amphora" (one HAProxy for all load balancers, Octavia's
template as in ``egdoctor_lab/datapath/haproxy.py``): a TCP listener on the load balancer's VIP per
Service port, the ready Pods selected by the Service as members on the target port, PROXY protocol from
the ``loadbalancer.openstack.org/proxy-protocol`` annotation (``"v2"`` -> PROXYV2, ``"true"``/``"v1"`` ->
PROXY, anything else none, as ``getProxyProtocolFromServiceAnnotation`` reads it) and
``loadBalancerSourceRanges`` as Octavia's allowed_cidrs. It then writes ``status.loadBalancer.ingress``
with the VIP (``ipMode: Proxy`` when PROXY protocol is on, as cloud-provider-openstack does).
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from egdoctor_lab.datapath.haproxy import PREAMBLE, find_haproxy, haproxy_argv
from egdoctor_lab.datapath.procs import ManagedProcess
from egdoctor_lab.realcluster.reconcile import reconcile_until

from .kubeapi import KubeClient

PROXY_ANNOTATION = "loadbalancer.openstack.org/proxy-protocol"
VIP_RANGE = ipaddress.ip_network("127.77.0.0/24")  # one VIP per Service, in the lab's loopback
_SEND = {"v2": " send-proxy-v2", "true": " send-proxy", "v1": " send-proxy"}
RECONCILE_EVERY = 0.5


@dataclass(frozen=True)
class Balancer:
    key: str
    vip: str
    ports: tuple[tuple[int, int], ...]  # (service port, target port)
    members: tuple[str, ...]
    proxy: str
    source_ranges: tuple[str, ...]
    gateway: str = ""  # "ns/name" of the owning Gateway, from EG's labels


def _selected(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _pod_ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def render(balancers: list[Balancer]) -> str:
    lines = list(PREAMBLE)
    for lb in balancers:
        for port, target in lb.ports:
            lines += [f"listen lb.{lb.key.replace('/', '.')}.{port}", "    mode tcp", "    option tcplog"]
            lines.append(f"    bind {lb.vip}:{port}")
            if lb.source_ranges:
                lines.append(f"    acl allowed_cidrs src {' '.join(lb.source_ranges)}")
                lines.append("    tcp-request connection reject unless allowed_cidrs")
            for i, member in enumerate(lb.members):
                lines.append(f"    server member{i} {member}:{target}{_SEND.get(lb.proxy, '')}")
            lines.append("")
    return "\n".join(lines) + "\n"


class LabCloudController:
    def __init__(self, client: KubeClient, directory: Path) -> None:
        self.client = client
        self.directory = directory
        self.vips: dict[str, str] = {}
        self.balancers: list[Balancer] = []
        self._proc: ManagedProcess | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors: list[str] = []

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if find_haproxy() is None:
            raise RuntimeError("haproxy is needed for the load balancers (apt-get install haproxy)")
        self._thread = threading.Thread(target=self._loop, name="lab-cloud-controller", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        reconcile_until(self._stop, RECONCILE_EVERY, self.reconcile, self.errors, self.directory)

    def _vip(self, key: str) -> str:
        if key not in self.vips:
            self.vips[key] = str(VIP_RANGE.network_address + 10 + len(self.vips))
        return self.vips[key]

    def reconcile(self) -> None:
        services = [
            s
            for s in self.client.items("/api/v1/services")
            if (s.get("spec") or {}).get("type") == "LoadBalancer"
        ]
        pods = self.client.items("/api/v1/pods")
        balancers = []
        for svc in services:
            meta, spec = svc["metadata"], svc["spec"]
            key = f"{meta['namespace']}/{meta['name']}"
            members = tuple(
                sorted(
                    p["status"]["podIP"]
                    for p in pods
                    if p["metadata"]["namespace"] == meta["namespace"]
                    and _selected(spec.get("selector") or {}, p["metadata"].get("labels") or {})
                    and _pod_ready(p)
                    and (p.get("status") or {}).get("podIP")
                )
            )
            ports = tuple(
                (
                    int(p["port"]),
                    int(p["targetPort"]) if isinstance(p.get("targetPort"), int) else int(p["port"]),
                )
                for p in spec.get("ports") or []
                if p.get("protocol", "TCP") == "TCP"
            )
            proxy = str((meta.get("annotations") or {}).get(PROXY_ANNOTATION, "")).lower()
            labels = meta.get("labels") or {}
            owner = "/".join(
                (
                    labels.get("gateway.envoyproxy.io/owning-gateway-namespace", ""),
                    labels.get("gateway.envoyproxy.io/owning-gateway-name", ""),
                )
            )
            ranges = tuple(spec.get("loadBalancerSourceRanges") or ())
            balancers.append(Balancer(key, self._vip(key), ports, members, proxy, ranges, owner))
        if balancers != self.balancers:
            self._configure(balancers)
            self.balancers = balancers
        for svc, lb in zip(services, balancers, strict=True):
            ingress = [{"ip": lb.vip, "ipMode": "Proxy" if lb.proxy in _SEND else "VIP"}]
            if ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") != ingress:
                meta = svc["metadata"]
                self.client.merge_patch(
                    f"/api/v1/namespaces/{meta['namespace']}/services/{meta['name']}/status",
                    {"status": {"loadBalancer": {"ingress": ingress}}},
                )

    def _configure(self, balancers: list[Balancer]) -> None:
        config = self.directory / "haproxy.cfg"
        config.write_text(render(balancers))
        if self._proc is not None:
            self._proc.stop()  # Octavia rebuilds the amphora's config and reloads; a restart is enough here
        binary = find_haproxy()
        assert binary is not None
        self._proc = ManagedProcess(
            "haproxy",
            haproxy_argv(binary, str(config)),
            self.directory / "haproxy.log",
            self.directory / "pids.json",
        )
        self._proc.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._proc is not None:
            self._proc.stop()
