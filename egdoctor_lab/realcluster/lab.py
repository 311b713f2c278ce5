"""A real cluster for a scenario: etcd, kube-apiserver, Envoy Gateway's controller, and the lab as the
kubelet, the cloud controller and the backends (see docs/lab.md, "The real cluster").

Start order is a cluster's: control plane, CRDs, RBAC, EG's certgen and controller, node and cloud
controller, then the scenario's objects through the API; the controllers write every status.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from egdoctor_lab.certs import ANNOTATION as CERT_ANNOTATION
from egdoctor_lab.certs import SELF_SIGNED, CertificateFactory, CertSpec, fill_certificates
from egdoctor_lab.datapath.dns import DnsServer, DnsTable
from egdoctor_lab.datapath.echo import EchoServer
from egdoctor_lab.eg.build import cache_root, envoy_binary
from egdoctor_lab.eg.releases import EgRelease
from egdoctor_lab.scenario import Scenario

from . import podnet
from .build import KUBERNETES_VERSION, envoy_gateway_binary, kube_binaries
from .cloud import LabCloudController
from .controlplane import ControlPlane, Identity
from .crds import crd_documents, gateway_api_version, uses_cert_manager
from .egcontroller import NAMESPACE, XDS_PORT, certgen, controller_process, mount_secret, xds_service
from .kubeapi import KubeClient
from .kubelet import LabKubelet
from .objects import applied_objects, backend_listeners
from .rbac import EG_USER, SUPPORT_USER, TENANT_USER, rbac_objects
from .serviceproxy import ServiceRelay

PROGRAMMED_TIMEOUT = 90.0
LOCK_WAIT = 600.0  # a parallel test worker's or another checkout's real cluster


def _zone(name: str) -> str:
    labels = name.lstrip("*.").rstrip(".").split(".")
    return ".".join(labels[1:]) if len(labels) >= 3 else ".".join(labels)


class RealClusterError(RuntimeError):
    pass


def kubectl_apply(kubeconfig: Path, documents: list[dict[str, Any]] | str, log: Path) -> None:
    text = documents if isinstance(documents, str) else yaml.safe_dump_all(documents, sort_keys=False)
    proc = subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            str(kubeconfig),
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            "-",
        ],
        input=text,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    with log.open("a") as out:
        out.write(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RealClusterError(f"kubectl apply failed: {proc.stderr.strip()[-800:]}")


class RealCluster:
    def __init__(self, scenario: Scenario, state_dir: Path, rel: EgRelease) -> None:
        self.scenario = scenario
        self.state_dir = state_dir
        self.rel = rel
        self.directory = state_dir / "real"
        self.control = ControlPlane(self.directory / "control-plane")
        self.kubelet: LabKubelet | None = None
        self.cloud: LabCloudController | None = None
        self.eg: Any = None
        self.relay: ServiceRelay | None = None
        self.dns: DnsServer | None = None
        self.ca_file: Path | None = None
        self.eg_net: podnet.PodNetwork | None = None
        self._echoes: list[EchoServer] = []
        self._lock: Any = None
        self.timings: dict[str, float] = {}
        self.tenant_namespace = str((scenario.settings.get("context") or {}).get("namespace") or "default")

    def __enter__(self) -> RealCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _mark(self, what: str, since: float) -> None:
        self.timings[what] = round(time.monotonic() - since, 2)

    def start(self) -> None:
        # EG's xDS server binds 0.0.0.0:18000 and pods use fixed network names: one real cluster per machine.
        lock_path = cache_root() / "real" / "running.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = open(lock_path, "w")  # noqa: SIM115 - held until stop()
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RealClusterError(
                        f"a real-cluster lab has held this machine for {LOCK_WAIT:g} s (one at a time)"
                    ) from None
                time.sleep(1)
        problem = podnet.available()
        if problem:
            raise RealClusterError(problem)
        podnet.clean_leftovers()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        t0 = time.monotonic()
        binaries = kube_binaries()
        eg_binary = envoy_gateway_binary(self.rel)
        envoy = envoy_binary(self.rel)
        self._mark("builds", t0)
        shutil.rmtree(self.directory, ignore_errors=True)  # a fresh cluster: etcd's data and the PKI too
        self.directory.mkdir(parents=True)
        t = time.monotonic()
        self.eg_net = podnet.create_pod(0)  # the EG controller's pod; the kubelet numbers Envoy pods from 1
        self.control.start(binaries, pod_facing=(self.eg_net.host_ip,))
        self._mark("control plane ready", t)
        admin = self.control.identities["admin"]
        port = self.control.url.rsplit(":", 1)[1]
        eg_identity = self.control.add_cert_identity(
            "envoy-gateway", EG_USER, server=f"https://{self.eg_net.host_ip}:{port}"
        )
        self.control.add_cert_identity("tenant", TENANT_USER)
        self.control.add_cert_identity("support", SUPPORT_USER)
        log = self.directory / "apply.log"

        t = time.monotonic()
        gwapi = gateway_api_version(self.rel.version)
        with_cert_manager = uses_cert_manager(self.scenario.objects)
        documents = crd_documents(self.rel.version, gwapi, with_cert_manager)
        kubectl_apply(admin.kubeconfig, "\n---\n".join(text for _, text in documents), log)
        self.crd_sources = [source for source, _ in documents]
        self._kubectl(admin, "wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        self._mark("CRDs established", t)

        namespaces = [o for o in self.scenario.objects if o.get("kind") == "Namespace"]
        names = {(o.get("metadata") or {}).get("name") for o in namespaces}
        extra = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}
            for n in (NAMESPACE, self.tenant_namespace)
            if n not in names
        ]
        kubectl_apply(admin.kubeconfig, applied_objects(namespaces) + extra, log)
        kubectl_apply(admin.kubeconfig, rbac_objects(self.tenant_namespace), log)

        t = time.monotonic()
        assert admin.cert is not None
        client = KubeClient(self.control.url, str(self.control.pki.ca), admin.cert)
        certgen(eg_binary, eg_identity.kubeconfig, self.directory / "certgen.log")
        certs = mount_secret(client, self.directory / "envoy-gateway-certs")
        self.eg = controller_process(eg_binary, eg_identity.kubeconfig, self.directory, certs, self.eg_net)
        self.eg.start()
        service = client.apply(
            f"/api/v1/namespaces/{NAMESPACE}/services/envoy-gateway", xds_service(), "lab-helm"
        )
        cluster_ip = str(service["spec"]["clusterIP"])
        podnet.add_host_addresses([cluster_ip])
        self.relay = ServiceRelay((cluster_ip, XDS_PORT), (self.eg_net.pod_ip, XDS_PORT))
        self.relay.start()
        self._mark("EG controller started", t)

        commands = {"envoy": envoy, "envoy-gateway": eg_binary}
        self.kubelet = LabKubelet(client, self.directory / "kubelet", commands, self.control.pki)
        self.kubelet.start()
        self.kubelet.static_logs[f"{NAMESPACE}/envoy-gateway/envoy-gateway"] = self.eg.log_path
        self._controller_pod(client)
        self.cloud = LabCloudController(client, self.directory / "cloud")
        self.cloud.start()
        backends = backend_listeners(self.scenario.objects)
        podnet.add_host_addresses(sorted({a for a, _ in backends}))
        for address, port in backends:
            echo = EchoServer(address, port)
            echo.start()
            self._echoes.append(echo)

        t = time.monotonic()
        objects = [dict(o) for o in self.scenario.objects if o.get("kind") != "Namespace"]
        factory = CertificateFactory()
        fill_certificates(objects, factory)
        self._write_listener_ca(objects, factory)
        kubectl_apply(admin.kubeconfig, applied_objects(objects), log)
        self._mark("scenario applied", t)
        t = time.monotonic()
        self.wait_programmed(client, PROGRAMMED_TIMEOUT)
        self._mark("Gateways Programmed", t)
        self._start_dns(client)
        self._mark("total", t0)

    def _write_listener_ca(self, objects: list[dict[str, Any]], factory: CertificateFactory) -> None:
        """The CAs that signed the scenario's listener certificates, for ``--ca-file``."""
        issuers = set()
        for obj in objects:
            annotation = ((obj.get("metadata") or {}).get("annotations") or {}).get(CERT_ANNOTATION)
            if obj.get("kind") == "Secret" and annotation:
                issuer = CertSpec.parse(annotation).issuer
                if issuer != SELF_SIGNED:
                    issuers.add(issuer)
        if issuers:
            self.ca_file = self.directory / "listener-ca.pem"
            self.ca_file.write_bytes(b"".join(factory.ca_pem(i) for i in sorted(issuers)))

    def _start_dns(self, client: KubeClient) -> None:
        """The lab's DNS server: every listener and route hostname -> its Gateway's address, once EG
        and the cloud controller have written it (as an external-dns would publish it)."""
        addresses: dict[tuple[str, str], str] = {}
        names: dict[str, list[str]] = {}
        for gw in client.items("/apis/gateway.networking.k8s.io/v1/gateways"):
            key = (gw["metadata"]["namespace"], gw["metadata"]["name"])
            found = [a["value"] for a in (gw.get("status") or {}).get("addresses") or [] if a.get("value")]
            if found:
                addresses[key] = found[0]
                for listener in gw["spec"].get("listeners") or []:
                    if listener.get("hostname"):
                        names.setdefault(listener["hostname"], []).append(found[0])
        for route in client.items("/apis/gateway.networking.k8s.io/v1/httproutes"):
            for ref in route["spec"].get("parentRefs") or []:
                key = (ref.get("namespace") or route["metadata"]["namespace"], ref["name"])
                if key in addresses:
                    for hostname in route["spec"].get("hostnames") or []:
                        names.setdefault(hostname, []).append(addresses[key])
        records = {name: sorted(set(values)) for name, values in names.items()}
        zones = sorted({_zone(n) for n in records})
        self.dns = DnsServer(DnsTable(records, zones), "127.0.0.1", 0)
        self.dns.start()

    def _controller_pod(self, client: KubeClient) -> None:
        """The EG controller runs as the lab's process; the kubelet reports it as the chart's Pod."""
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "envoy-gateway",
                "namespace": NAMESPACE,
                "labels": {"control-plane": "envoy-gateway", "app.kubernetes.io/name": "gateway-helm"},
            },
            "spec": {
                "nodeName": "lab-node",
                "automountServiceAccountToken": False,
                "containers": [
                    {
                        "name": "envoy-gateway",
                        "image": f"docker.io/envoyproxy/gateway:{self.rel.version}",
                        "args": ["server", "--config-path=/config/envoy-gateway.yaml"],
                    }
                ],
            },
        }
        client.request("POST", f"/api/v1/namespaces/{NAMESPACE}/pods", pod)
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        status = {
            "phase": "Running",
            "hostIP": "127.0.0.1",
            "podIP": self.eg_net.pod_ip if self.eg_net else "",
            "startTime": started,
            "conditions": [
                {"type": t, "status": "True", "lastTransitionTime": started}
                for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
            ],
            "containerStatuses": [
                {
                    "name": "envoy-gateway",
                    "ready": True,
                    "started": True,
                    "restartCount": 0,
                    "image": f"docker.io/envoyproxy/gateway:{self.rel.version}",
                    "imageID": "",
                    "state": {"running": {"startedAt": started}},
                }
            ],
        }
        client.merge_patch(f"/api/v1/namespaces/{NAMESPACE}/pods/envoy-gateway/status", {"status": status})

    def wait_programmed(self, client: KubeClient, timeout: float) -> bool:
        """Until every Gateway is Programmed (EG's verdict) and every load balancer has members."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            gateways = client.items("/apis/gateway.networking.k8s.io/v1/gateways")
            if (
                gateways
                and all(
                    any(
                        c.get("type") == "Programmed" and c.get("status") == "True"
                        for c in (g.get("status") or {}).get("conditions") or []
                    )
                    for g in gateways
                )
                and (self.cloud is None or all(lb.members for lb in self.cloud.balancers))
            ):
                # Programmed, and the amphora already forwards to the ready Envoys
                return True
            if self.eg is not None and not self.eg.alive():
                raise RealClusterError(f"the EG controller exited:\n{self.eg.log_tail()}")
            time.sleep(0.5)
        return False

    def _kubectl(self, identity: Identity, *args: str) -> str:
        proc = subprocess.run(
            ["kubectl", "--kubeconfig", str(identity.kubeconfig), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if proc.returncode != 0:
            raise RealClusterError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc.stdout

    def versions(self) -> dict[str, str]:
        out = {
            "kube-apiserver": KUBERNETES_VERSION,
            "envoy-gateway": self.rel.version,
            "envoy": self.rel.envoy,
        }
        with contextlib.suppress(Exception):
            out["kube-apiserver"] = json.loads(
                self._kubectl(self.control.identities["admin"], "version", "-o", "json")
            )["serverVersion"]["gitVersion"]
        out["etcd"] = "v3.6.8"
        out["gateway-api"] = gateway_api_version(self.rel.version)
        return out

    def info(self) -> dict[str, Any]:
        gateways: dict[str, Any] = {}
        if self.cloud is not None:
            for lb in self.cloud.balancers:
                gateways[lb.key] = {
                    "lb": lb.vip,
                    "ports": [p for p, _ in lb.ports],
                    "members": list(lb.members),
                    # what Envoy sees as the peer of the amphora's connections
                    "memberSources": [podnet.host_side(m) for m in lb.members],
                    "gateway": lb.gateway,
                }
        return {
            "cluster": "real",
            "kubeconfig": str(self.control.identities["admin"].kubeconfig),
            "kubeconfigs": {name: str(i.kubeconfig) for name, i in self.control.identities.items()},
            "url": self.control.url,
            "clusterCaFile": str(self.control.pki.ca),
            "caFile": str(self.ca_file) if self.ca_file else None,
            "scenario": self.scenario.name,
            "eg": self.rel.version,
            "versions": self.versions(),
            "loadBalancers": gateways,
            "gateways": {},
            "dns": f"{self.dns.address[0]}:{self.dns.address[1]}" if self.dns else None,
            "timings": self.timings,
            "crds": getattr(self, "crd_sources", []),
        }

    def stop(self) -> None:
        for part in (self.cloud, self.kubelet):
            if part is not None:
                with contextlib.suppress(Exception):
                    part.stop()
        if self.eg is not None:
            self.eg.stop(grace=10.0)
        if self.relay is not None:
            self.relay.stop()
        if self.dns is not None:
            with contextlib.suppress(Exception):
                self.dns.stop()
        for echo in self._echoes:
            with contextlib.suppress(Exception):
                echo.stop()
        self._echoes.clear()
        self.control.stop()
        podnet.clean_leftovers()
        if self._lock is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock, fcntl.LOCK_UN)
                self._lock.close()
            self._lock = None
