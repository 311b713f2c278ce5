"""The lab as kubelet (and as the Deployment controller a cluster would have) for Envoy Gateway's proxies.

For each Deployment EG manages it creates the Pod objects, binds them to the lab's Node, runs each pod's
``envoy`` container as a real Envoy in the pod's own network namespace (``podnet.py``), with the volumes
materialised from the Secrets and ConfigMaps the pod mounts and the args EG wrote (``bootstrap.py`` is
the one place anything is rewritten), probes readiness as the container's readinessProbe says, and writes
Pod and Deployment status. The Node it registers points the API server at the lab's kubelet endpoint,
which serves ``/containerLogs/...``, so ``kubectl logs`` (``pods/log``) reads Envoy's stdout and stderr
through the API server, which authenticates to it with its kubelet client certificate.

Both containers run: ``envoy`` and the ``shutdown-manager`` sidecar (``envoy-gateway envoy
shutdown-manager``, the same EG binary as the controller).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import json
import secrets
import ssl
import threading
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from egdoctor_lab.datapath.procs import ManagedProcess
from egdoctor_lab.realcluster.reconcile import reconcile_until

from . import podnet
from .bootstrap import expand, rewrite_bootstrap, rewrite_sds_file
from .kubeapi import ApiError, KubeClient
from .pki import ClusterPki

NODE_NAME = "lab-node"
EG_NAMESPACE = "envoy-gateway-system"
MANAGED_BY = "app.kubernetes.io/managed-by=envoy-gateway"
XDS_PORT = 18000
RECONCILE_EVERY = 0.5


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class RunningPod:
    namespace: str
    name: str
    deployment: str
    template_hash: str
    net: podnet.PodNetwork
    directory: Path
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    ready: bool = False
    started: str = field(default_factory=now)
    readiness: list[tuple[str, int]] = field(default_factory=list)  # every container's readinessProbe
    images: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def _template_hash(template: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


class LabKubelet:
    def __init__(
        self,
        client: KubeClient,
        directory: Path,
        commands: dict[str, Path],
        pki: ClusterPki,
        first_net: int = 1,
    ) -> None:
        """``commands``: the program for each container command the lab can run (the images' entry
        points: ``envoy`` for the proxy, ``envoy-gateway`` for the shutdown-manager sidecar)."""
        self.client = client
        self.directory = directory
        self.commands = commands
        self.pki = pki
        self.pods: dict[str, RunningPod] = {}
        self.static_logs: dict[str, Path] = {}  # "ns/pod/container" -> log file, for pods the lab runs itself
        self._next_net = first_net
        self._slices: dict[str, dict[str, Any]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._server: http.server.ThreadingHTTPServer | None = None
        self.errors: list[str] = []

    # -- node and log endpoint -----------------------------------------------------------------------

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._serve_logs()
        self._register_node()
        self.default_service_accounts()
        self._thread = threading.Thread(target=self._loop, name="lab-kubelet", daemon=True)
        self._thread.start()

    def _serve_logs(self) -> None:
        serving = self.pki.issue(
            "kubelet-serving", f"system:node:{NODE_NAME}", ("system:nodes",), ("127.0.0.1",), True
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(serving.cert), str(serving.key))
        context.load_verify_locations(str(self.pki.ca))
        context.verify_mode = ssl.CERT_REQUIRED  # only the API server's kubelet client certificate
        kubelet = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                parts = url.path.strip("/").split("/")
                if len(parts) != 4 or parts[0] != "containerLogs":
                    self.send_error(404)
                    return
                path = kubelet.log_path(parts[1], parts[2], parts[3])
                if path is None:
                    self.send_error(404, "container not found")
                    return
                query = urllib.parse.parse_qs(url.query)
                body = _select_log(path, query)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        threading.Thread(target=server.serve_forever, name="lab-kubelet-logs", daemon=True).start()

    @property
    def kubelet_port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def log_path(self, namespace: str, pod: str, container: str) -> Path | None:
        static = self.static_logs.get(f"{namespace}/{pod}/{container}")
        if static is not None:
            return static
        running = self.pods.get(f"{namespace}/{pod}")
        if running is None or container not in running.processes:
            return None
        return running.processes[container].log_path

    def _register_node(self) -> None:
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": NODE_NAME,
                "labels": {
                    "kubernetes.io/hostname": NODE_NAME,
                    "kubernetes.io/os": "linux",
                    "topology.kubernetes.io/zone": "sto1",
                },
            },
        }
        self.client.apply(f"/api/v1/nodes/{NODE_NAME}", node, "lab-kubelet")
        self._node_status()

    def _node_status(self) -> None:
        status = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": NODE_NAME},
            "status": {
                "addresses": [
                    {"type": "InternalIP", "address": "127.0.0.1"},
                    {"type": "Hostname", "address": NODE_NAME},
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": self.kubelet_port}},
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "KubeletReady",
                        "message": "kubelet is posting ready status",
                        "lastHeartbeatTime": now(),
                        "lastTransitionTime": now(),
                    }
                ],
                "nodeInfo": {
                    "kubeletVersion": "v1.36.3",
                    "kubeProxyVersion": "",
                    "operatingSystem": "linux",
                    "architecture": "amd64",
                    "containerRuntimeVersion": "egdoctor-lab://1",
                    "kernelVersion": "",
                    "osImage": "egdoctor lab",
                    "machineID": "",
                    "systemUUID": "",
                    "bootID": "",
                },
            },
        }
        self.client.apply(f"/api/v1/nodes/{NODE_NAME}", status, "lab-kubelet", "status")

    # -- reconcile -----------------------------------------------------------------------------------

    def _loop(self) -> None:
        reconcile_until(self._stop, RECONCILE_EVERY, self.reconcile, self.errors, self.directory)

    def default_service_accounts(self) -> None:
        """The controller manager's serviceaccounts-controller: a ``default`` ServiceAccount per namespace
        (ServiceAccount admission refuses Pods whose account does not exist)."""
        have = {
            (s["metadata"]["namespace"])
            for s in self.client.items("/api/v1/serviceaccounts?fieldSelector=metadata.name=default")
        }
        for ns in self.client.items("/api/v1/namespaces"):
            name = ns["metadata"]["name"]
            if name not in have and not ns["metadata"].get("deletionTimestamp"):
                account = {
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": {"name": "default", "namespace": name},
                }
                with contextlib.suppress(ApiError):
                    self.client.request("POST", f"/api/v1/namespaces/{name}/serviceaccounts", account)

    def endpoint_slices(self, namespace: str) -> None:
        """The controller manager's endpointslice-controller, for the Services of ``namespace`` (EG's,
        whose Pods the lab runs): one slice per Service with each selected Pod's IP, ready as the Pod
        is. EG serves Envoy's ``local_cluster`` (the bootstrap's topology cluster) from these slices;
        without them Envoy waits out its 15 s initial-fetch timeout before it becomes ready.
        Scenario Services elsewhere keep the slices the scenario wrote."""
        pods = self.client.items(f"/api/v1/namespaces/{namespace}/pods")
        for svc in self.client.items(f"/api/v1/namespaces/{namespace}/services"):
            selector = (svc.get("spec") or {}).get("selector") or {}
            if not selector:
                continue
            endpoints = []
            for pod in pods:
                labels = pod["metadata"].get("labels") or {}
                ip = (pod.get("status") or {}).get("podIP")
                if not ip or any(labels.get(k) != v for k, v in selector.items()):
                    continue
                conditions = (pod.get("status") or {}).get("conditions") or []
                ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
                endpoints.append(
                    {
                        "addresses": [ip],
                        "conditions": {"ready": ready, "serving": ready, "terminating": False},
                        "nodeName": NODE_NAME,
                        "zone": "sto1",
                        "targetRef": {"kind": "Pod", "namespace": namespace, "name": pod["metadata"]["name"]},
                    }
                )
            name = svc["metadata"]["name"]
            ports = [
                {
                    "name": p.get("name", ""),
                    "port": p["targetPort"] if isinstance(p.get("targetPort"), int) else p["port"],
                    "protocol": p.get("protocol", "TCP"),
                }
                for p in svc["spec"].get("ports") or []
            ]
            slice_ = {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "name": f"{name}-lab",
                    "namespace": namespace,
                    # The real controller copies the Service's labels: EG finds the slices of an Envoy
                    # Service (owning-gateway labels) that way (provider/kubernetes/predicates.go).
                    "labels": {
                        **(svc["metadata"].get("labels") or {}),
                        "kubernetes.io/service-name": name,
                        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                    },
                },
                "addressType": "IPv4",
                "ports": ports,
                "endpoints": sorted(endpoints, key=lambda e: e["addresses"][0]),
            }
            key = f"{namespace}/{name}"
            if self._slices.get(key) != slice_:
                path = f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices/{name}-lab"
                self.client.apply(path, slice_, "endpointslice-controller")
                self._slices[key] = slice_

    def reconcile(self) -> None:
        self.default_service_accounts()
        self.endpoint_slices(EG_NAMESPACE)
        deployments = self.client.items(f"/apis/apps/v1/deployments?labelSelector={MANAGED_BY}")
        wanted: set[str] = set()
        for deployment in deployments:
            meta = deployment["metadata"]
            key = f"{meta['namespace']}/{meta['name']}"
            wanted.add(key)
            template = deployment["spec"]["template"]
            thash = _template_hash(template)
            replicas = int(deployment["spec"].get("replicas", 1))
            mine = [p for p in self.pods.values() if p.deployment == key]
            for pod in mine:
                if pod.template_hash != thash:
                    self._delete_pod(pod)
            mine = [p for p in self.pods.values() if p.deployment == key]
            for _ in range(max(0, replicas - len(mine))):
                self._create_pod(deployment, thash)
            for pod in [p for p in self.pods.values() if p.deployment == key][replicas:]:
                self._delete_pod(pod)
            self._probe_pods(key)
            self._deployment_status(deployment, thash)
        for pod in [p for p in self.pods.values() if p.deployment not in wanted]:
            self._delete_pod(pod)

    def _create_pod(self, deployment: dict[str, Any], thash: str) -> None:
        meta = deployment["metadata"]
        namespace = meta["namespace"]
        template = deployment["spec"]["template"]
        name = f"{meta['name']}-{thash[:9]}-{secrets.token_hex(3)[:5]}"
        labels = {**(template.get("metadata", {}).get("labels") or {}), "pod-template-hash": thash[:9]}
        spec = {**template["spec"], "nodeName": NODE_NAME}
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": labels,
                "annotations": template.get("metadata", {}).get("annotations") or {},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": spec,
        }
        created = self.client.request("POST", f"/api/v1/namespaces/{namespace}/pods", pod)
        net = podnet.create_pod(self._next_net)
        self._next_net += 1
        running = RunningPod(
            namespace, name, f"{namespace}/{meta['name']}", thash, net, self.directory / name
        )
        self.pods[running.key] = running
        try:
            self._run_containers(running, created)
        except Exception:
            self._delete_pod(running)
            raise
        self._pod_status(running, created)

    def _volumes(self, pod: RunningPod, spec: dict[str, Any]) -> dict[str, Path]:
        """Each Secret and ConfigMap volume written to a directory, as the kubelet mounts it."""
        out: dict[str, Path] = {}
        for volume in spec.get("volumes") or []:
            target = pod.directory / "volumes" / volume["name"]
            target.mkdir(parents=True, exist_ok=True)
            if "secret" in volume:
                source = self.client.get(
                    f"/api/v1/namespaces/{pod.namespace}/secrets/{volume['secret']['secretName']}"
                )
                files = {k: base64.b64decode(v) for k, v in (source.get("data") or {}).items()}
                items = volume["secret"].get("items")
            elif "configMap" in volume:
                source = self.client.get(
                    f"/api/v1/namespaces/{pod.namespace}/configmaps/{volume['configMap']['name']}"
                )
                files = {k: v.encode() for k, v in (source.get("data") or {}).items()}
                items = volume["configMap"].get("items")
            else:
                out[volume["name"]] = target  # projected tokens, emptyDir: present, empty
                continue
            for item in items or [{"key": k, "path": k} for k in files]:
                if item["key"] in files:
                    path = target / item["path"]
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.touch(mode=0o600)
                    path.write_bytes(files[item["key"]])
            out[volume["name"]] = target
        return out

    def _run_containers(self, pod: RunningPod, obj: dict[str, Any]) -> None:
        spec = obj["spec"]
        volumes = self._volumes(pod, spec)
        for container in spec["containers"]:
            command = (container.get("command") or [""])[0]
            if command not in self.commands:
                continue  # an image the lab has no program for
            mounts = {m["mountPath"]: str(volumes[m["name"]]) for m in container.get("volumeMounts") or []}
            for m in container.get("volumeMounts") or []:
                for path in volumes[m["name"]].rglob("*.json"):
                    path.write_text(rewrite_sds_file(path.read_text(), mounts))
            env = self._env(container, obj)
            args = [expand(a, env) for a in container.get("args") or []]
            if "--config-yaml" in args:
                i = args.index("--config-yaml") + 1
                host = _xds_host(args[i])
                args[i] = rewrite_bootstrap(args[i], host, self.cluster_dns(host), mounts)
            argv = podnet.netns_argv(pod.net, [str(self.commands[command]), *args])
            proc = ManagedProcess(
                f"{pod.name}/{container['name']}",
                argv,
                pod.directory / f"{container['name']}.log",
                self.directory / "pids.json",
            )
            proc.start()
            pod.processes[container["name"]] = proc
            pod.images[container["name"]] = str(container.get("image", ""))
            probe = (container.get("readinessProbe") or {}).get("httpGet")
            if probe:
                pod.readiness.append((probe.get("path", "/"), int(probe["port"])))

    def cluster_dns(self, name: str) -> str:
        """What cluster DNS answers for a Service name (``<svc>.<ns>.svc.<domain>``): its ClusterIP."""
        labels = name.rstrip(".").split(".")
        if len(labels) < 3 or labels[2] != "svc":
            raise ValueError(f"{name} is not a Service name the lab can resolve")
        service = self.client.get(f"/api/v1/namespaces/{labels[1]}/services/{labels[0]}")
        return str(service["spec"]["clusterIP"])

    @staticmethod
    def _env(container: dict[str, Any], pod: dict[str, Any]) -> dict[str, str]:
        env: dict[str, str] = {}
        for var in container.get("env") or []:
            if "value" in var:
                env[var["name"]] = str(var["value"])
                continue
            ref = (var.get("valueFrom") or {}).get("fieldRef", {}).get("fieldPath", "")
            if ref == "metadata.name":
                env[var["name"]] = pod["metadata"]["name"]
            elif ref == "metadata.namespace":
                env[var["name"]] = pod["metadata"]["namespace"]
            elif ref.startswith("metadata.annotations['"):
                env[var["name"]] = (pod["metadata"].get("annotations") or {}).get(ref[22:-2], "")
        return env

    def _probe_pods(self, deployment: str) -> None:
        for pod in [p for p in self.pods.values() if p.deployment == deployment]:
            alive = all(proc.alive() for proc in pod.processes.values())
            ready = alive and all(self._http_ok(pod.net.pod_ip, port, path) for path, port in pod.readiness)
            if ready != pod.ready:
                with (self.directory / "probes.log").open("a") as log:
                    log.write(f"{now()} {pod.key} ready={ready} alive={alive}\n")
                pod.ready = ready
                self._pod_status(pod, None)

    @staticmethod
    def _http_ok(ip: str, port: int, path: str) -> bool:
        """An httpGet probe as the kubelet runs it: 200-399 within the timeout is success."""
        try:
            with urllib.request.urlopen(f"http://{ip}:{port}{path}", timeout=1) as response:
                return 200 <= response.status < 400
        except OSError:
            return False

    def _pod_status(self, pod: RunningPod, obj: dict[str, Any] | None) -> None:
        ready = "True" if pod.ready else "False"
        statuses = [
            {
                "name": name,
                "ready": pod.ready,
                "restartCount": 0,
                "image": pod.images.get(name, ""),
                "imageID": "",
                "started": proc.alive(),
                "state": {"running": {"startedAt": pod.started}}
                if proc.alive()
                else {
                    "terminated": {"exitCode": proc.proc.returncode if proc.proc else 1, "reason": "Error"}
                },
            }
            for name, proc in pod.processes.items()
        ]
        status = {
            "phase": "Running",
            "podIP": pod.net.pod_ip,
            "podIPs": [{"ip": pod.net.pod_ip}],
            "hostIP": "127.0.0.1",
            "startTime": pod.started,
            "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": pod.started},
                {"type": "Initialized", "status": "True", "lastTransitionTime": pod.started},
                {"type": "ContainersReady", "status": ready, "lastTransitionTime": now()},
                {"type": "Ready", "status": ready, "lastTransitionTime": now()},
            ],
            "containerStatuses": statuses,
        }
        self.client.merge_patch(
            f"/api/v1/namespaces/{pod.namespace}/pods/{pod.name}/status", {"status": status}
        )

    def _deployment_status(self, deployment: dict[str, Any], thash: str) -> None:
        meta = deployment["metadata"]
        key = f"{meta['namespace']}/{meta['name']}"
        mine = [p for p in self.pods.values() if p.deployment == key]
        ready = sum(1 for p in mine if p.ready)
        replicas = int(deployment["spec"].get("replicas", 1))
        available = "True" if ready >= replicas and replicas > 0 else "False"
        status = {
            "observedGeneration": meta.get("generation", 1),
            "replicas": len(mine),
            "updatedReplicas": sum(1 for p in mine if p.template_hash == thash),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": max(0, replicas - ready),
            "conditions": [
                {
                    "type": "Available",
                    "status": available,
                    "reason": "MinimumReplicasAvailable"
                    if available == "True"
                    else "MinimumReplicasUnavailable",
                    "message": "Deployment has minimum availability."
                    if available == "True"
                    else "Deployment does not have minimum availability.",
                    "lastUpdateTime": now(),
                    "lastTransitionTime": now(),
                }
            ],
        }
        current = deployment.get("status") or {}
        fields = ("observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
        conditions = {c.get("type"): c.get("status") for c in current.get("conditions") or []}
        if all(current.get(f, 0) == status[f] for f in fields) and conditions.get("Available") == available:
            return
        path = f"/apis/apps/v1/namespaces/{meta['namespace']}/deployments/{meta['name']}/status"
        self.client.merge_patch(path, {"status": status})

    def _delete_pod(self, pod: RunningPod) -> None:
        for proc in pod.processes.values():
            proc.stop()
        podnet.delete_pod(pod.net)
        self.pods.pop(pod.key, None)
        with contextlib.suppress(ApiError, OSError):
            self.client.delete(f"/api/v1/namespaces/{pod.namespace}/pods/{pod.name}?gracePeriodSeconds=0")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        for pod in list(self.pods.values()):
            for proc in pod.processes.values():
                proc.stop()
            podnet.delete_pod(pod.net)
        self.pods.clear()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def _xds_host(bootstrap_text: str) -> str:
    """The xDS server address in EG's bootstrap: the ``xds_cluster``'s endpoint."""
    import yaml

    bootstrap = yaml.safe_load(bootstrap_text)
    for cluster in (bootstrap.get("static_resources") or {}).get("clusters") or []:
        if cluster.get("name") == "xds_cluster":
            for group in cluster["load_assignment"]["endpoints"]:
                for endpoint in group["lb_endpoints"]:
                    return str(endpoint["endpoint"]["address"]["socket_address"]["address"])
    raise ValueError("EG's bootstrap has no xds_cluster")


def _select_log(path: Path, query: dict[str, list[str]]) -> bytes:
    """The kubelet's log options the API server passes on: tailLines, limitBytes (sinceSeconds: all)."""
    try:
        data = path.read_bytes()
    except OSError:
        return b""
    tail = query.get("tailLines")
    if tail:
        with contextlib.suppress(ValueError):
            lines = data.splitlines(keepends=True)
            data = b"".join(lines[-int(tail[0]) :]) if int(tail[0]) > 0 else b""
    limit = query.get("limitBytes")
    if limit:
        with contextlib.suppress(ValueError):
            data = data[: int(limit[0])]
    return data
