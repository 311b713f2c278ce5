"""One lab: the Kubernetes API stand-in and, when the scenario asks for it, the real data path.

``LabCluster`` serves a scenario's objects over the Kubernetes REST protocol (``apiserver.py``). If the
scenario's LabScenario document has a ``spec.datapath`` key it also runs HAProxy as the Octavia
amphora and Envoy configured as Envoy Gateway would from those objects (``translate.py``), and then
keeps the API and the data path telling one story:

* addresses: each Gateway's ``status.addresses`` and its Envoy Service's
  ``status.loadBalancer.ingress`` get the LB address the lab bound, in place of the scenario's
  documentation addresses, so a client that reads the Gateway and connects reaches the lab (a
  Gateway's own ``spec.addresses`` follow the LB address in ``status.addresses``, as Envoy Gateway
  lists them, but never reach the Service's ingress);
* Envoy pods: one Pod per Gateway in the Envoy Service's namespace, labelled as EG labels its Envoy
  pods (containers ``envoy`` and ``shutdown-manager``); ``GET .../pods/{name}/log?container=envoy``
  serves that Gateway's real Envoy access log (EG's default JSON lines, as ``kubectl logs`` shows them);
* a controller: HTTPRoutes that clients create, change or delete (and the HTTPRouteFilters,
  ConfigMaps, Services and ReferenceGrants they depend on) are translated as EG would, their
  ``status.parents`` written with EG's conditions, the Gateway listeners' ``attachedRoutes`` counted,
  and Envoy reconfigured. The routes a scenario file brings keep the status the file gives them; a
  route becomes the controller's once a client writes its spec. When Envoy refuses a configuration
  (a malformed ``%`` operator, say) the previous one stays in force while the status still says
  Accepted, which is also what a real cluster shows.

Listener certificates: the scenario's ``lab.egdoctor.io/certificate`` Secrets are issued anew by a
factory the lab keeps, so the CA that signed them is known: ``lab_ca_pem`` / ``listener-ca.pem`` in the
state directory, what a client passes as ``--ca-file``.

Loopback addresses ``127.B.x.y``: ``B`` is claimed per lab by binding ``127.B.0.254:47653`` for the
lab's lifetime, so labs running side by side (test workers, a developer's ``scripts/lab up``) never
share an address; an explicit ``address_octet`` is claimed the same way.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from egdoctor_lab.apiserver import LabApiServer, LabStore, StoreEvent
from egdoctor_lab.certs import CertificateFactory, fill_certificates
from egdoctor_lab.datapath import DataPathLab, GatewayAddresses, LabError
from egdoctor_lab.datapath.envoy import build_bootstrap, find_envoy
from egdoctor_lab.datapath.lab import _listening_tcp
from egdoctor_lab.datapath.plan import DataPathPlan, RoutePlan
from egdoctor_lab.eg.controller import EgController
from egdoctor_lab.eg.releases import release
from egdoctor_lab.eg.statuses import kept_objects
from egdoctor_lab.scenario import Scenario, ScenarioError, load_scenario
from egdoctor_lab.translate import (
    OWNING_NAME,
    OWNING_NAMESPACE,
    DatapathSettings,
    LabGateway,
    ObjectSource,
    Translation,
    datapath_settings,
    merge_conditions,
    translate,
    translate_route,
)

CLAIM_PORT = 47653
EG_COALESCE = 0.05
AUTO_OCTETS = range(200, 255)
LISTENER_CA_FILE = "listener-ca.pem"
DATAPATH_DIR = "datapath"
ENVOY_CONTAINER = "envoy"
ENVOY_POD_LABELS = {
    "app.kubernetes.io/name": "envoy",
    "app.kubernetes.io/component": "proxy",
    "app.kubernetes.io/managed-by": "envoy-gateway",
}
_KUBE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what the ReplicaSet and Pod name suffixes are made of
# Kinds whose change can alter how a client's HTTPRoute translates.
_WATCHED = ("HTTPRoute", "HTTPRouteFilter", "ConfigMap", "Service", "ReferenceGrant")
_RESOURCES = {
    "HTTPRoute": "httproutes",
    "HTTPRouteFilter": "httproutefilters",
    "ConfigMap": "configmaps",
    "Service": "services",
    "ReferenceGrant": "referencegrants",
    "Namespace": "namespaces",
    "Gateway": "gateways",
    "Pod": "pods",
}


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _kube_suffix(seed: str, length: int) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(_KUBE_ALPHABET[b % len(_KUBE_ALPHABET)] for b in digest[:length])


def claim_octet(preferred: int | None = None) -> tuple[int, socket.socket]:
    """Claim a second octet for the lab's loopback addresses; keep the socket open while the lab runs."""
    candidates = [preferred] if preferred is not None else list(AUTO_OCTETS)
    listening = _listening_tcp()
    for octet in candidates:
        if preferred is None and any(addr.startswith(f"127.{octet}.") for addr, _ in listening):
            continue  # something (a lab from before claims existed) already uses these addresses
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((f"127.{octet}.0.254", CLAIM_PORT))
        except OSError as exc:
            sock.close()
            if exc.errno != errno.EADDRINUSE:
                raise
            continue
        return octet, sock
    wanted = f"address octet {preferred}" if preferred is not None else "a free address octet (200-254)"
    raise LabError(f"cannot claim {wanted}: another lab holds it")


class LabCluster:
    """A scenario served by the API stand-in plus, if it has ``spec.datapath``, the data path.

    Use as a context manager, or call ``start()``/``close()``. Files go to ``state_dir`` (a temporary
    directory removed on close when not given): the API server's ``ca.pem``, ``kubeconfig`` and
    ``requests.log``, ``listener-ca.pem``, and ``datapath/`` with HAProxy's and Envoy's configs, logs,
    access logs, ``pids.json`` and the listener certificates (mode 0600).
    """

    def __init__(
        self,
        scenario: Scenario,
        state_dir: str | os.PathLike[str] | None = None,
        *,
        port: int = 0,
        address_octet: int | None = None,
        token: str | None = None,
        eg: str | None = None,
    ) -> None:
        self.scenario = scenario
        # With a pinned Envoy Gateway release, its translator writes the statuses and configures Envoy. A
        # scenario whose data path only EG's own configuration can express names one (spec.eg).
        eg = eg or (str(scenario.settings["eg"]) if scenario.settings.get("eg") else None)
        self.eg = EgController(release(eg), kept_objects(scenario.settings)) if eg else None
        self.settings: DatapathSettings | None = datapath_settings(scenario.settings)
        objects = copy.deepcopy(scenario.objects)
        # Issued again by a factory kept here: the one scenario loading used is gone with its CA.
        self._factory = CertificateFactory()
        fill_certificates(objects, self._factory)
        self.api = LabApiServer(
            objects, scenario.settings, state_dir, port=port, token=token, scenario_name=scenario.name
        )
        self._preferred_octet = address_octet
        self._claim: socket.socket | None = None
        self.address_octet: int | None = None
        self.datapath: DataPathLab | None = None
        self.translation: Translation | None = None
        self.lab_ca_pem: bytes | None = None
        self.notes: list[str] = []
        self._pods: dict[tuple[str, str], str] = {}  # (namespace, pod) -> Gateway key
        self._unsubscribe: Callable[[], None] | None = None
        self._controller_lock = threading.RLock()
        self._managed: set[tuple[str, str]] = set()  # HTTPRoutes the controller owns
        # Per HTTPRoute, the listeners it counts in attachedRoutes; scenario routes start as the
        # controller first sees them, since the file's attachedRoutes already count them.
        self._attached: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {}
        self._rejected: DataPathPlan | None = None
        self._eg_wakeup = threading.Condition()
        self._eg_dirty = False
        self._eg_worker: threading.Thread | None = None
        self._eg_stop = False

    @classmethod
    def from_scenario(
        cls,
        scenario: str | os.PathLike[str] | Scenario,
        state_dir: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> LabCluster:
        if not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario if isinstance(scenario, str) else Path(scenario))
        return cls(scenario, state_dir, **kwargs)

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> LabCluster:
        if self.api.running:
            return self
        try:
            self.api.start()
            if self.eg is not None:
                self._eg_reconcile()
                with contextlib.suppress(Exception):
                    # The controller a cluster runs, by which egdoctor learns the EG version.
                    self.api.store.add(self.eg.controller_pod())
                    self.api.store.add(self.eg.controller_deployment())
            if self.settings is not None:
                self._start_datapath(self.settings)
            elif self.eg is not None:
                # EG's configuration is meant to run: every Gateway with a LoadBalancer Service gets its
                # Envoy and load balancer, as if the scenario said `datapath: {}`.
                try:
                    self.settings = DatapathSettings()
                    self._start_datapath(self.settings)
                except ScenarioError as exc:
                    self.settings = None
                    self.notes.append(f"no data path: {exc}")
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._eg_worker is not None:
            with self._eg_wakeup:
                self._eg_stop = True
                self._eg_wakeup.notify()
            self._eg_worker.join(timeout=60)
            self._eg_worker = None
        self.api.api.pod_logs = None
        if self.datapath is not None:
            self.datapath.stop()
            self.datapath = None
        self.api.close()
        if self._claim is not None:
            self._claim.close()
            self._claim = None

    stop = close

    def __enter__(self) -> LabCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start_datapath(self, settings: DatapathSettings) -> None:
        state_dir = self.state_dir
        self.address_octet, self._claim = claim_octet(self._preferred_octet)
        translation = translate(
            self.api.store.objects(),
            settings,
            state_dir / DATAPATH_DIR,
            address_octet=self.address_octet,
            factory=self._factory,
        )
        self.translation = translation
        self.notes = list(translation.notes)
        if translation.listener_issuers:
            self.lab_ca_pem = b"".join(self._factory.ca_pem(i) for i in translation.listener_issuers)
            (state_dir / LISTENER_CA_FILE).write_bytes(self.lab_ca_pem)
        if self.eg is not None:
            self.eg.served_certificates = self._served_certificates(settings, translation.plan)
            self.datapath = DataPathLab(
                translation.plan,
                state_dir / DATAPATH_DIR,
                envoy_configs=self.eg.envoy_configs,
                envoy_binary=self.eg.envoy,
                envoy_default_flush=True,
            )
        else:
            self.datapath = DataPathLab(translation.plan, state_dir / DATAPATH_DIR)
        self.datapath.start()
        self._publish_addresses()
        self._create_pods()
        self._attached = self._baseline_attachments()
        self.api.api.pod_logs = self._pod_log
        if self.eg is not None:
            self._eg_worker = threading.Thread(target=self._eg_loop, name="lab-eg-controller", daemon=True)
            self._eg_worker.start()
        self._unsubscribe = self.api.store.subscribe(self._on_event, _WATCHED)

    # -- what clients use ------------------------------------------------------------------------------------

    @property
    def state_dir(self) -> Path:
        if self.api.state_dir is None:
            raise RuntimeError("the lab has no state directory until it is started")
        return self.api.state_dir

    @property
    def store(self) -> LabStore:
        return self.api.store

    @property
    def kubeconfig_path(self) -> Path:
        return self.api.kubeconfig_path

    @property
    def url(self) -> str:
        return self.api.url

    @property
    def ca_path(self) -> Path:
        """The CA of the API server's serving certificate."""
        return self.api.ca_path

    @property
    def lab_ca_path(self) -> Path | None:
        """The CA bundle that signed the listener certificates (``--ca-file``), if any."""
        return self.state_dir / LISTENER_CA_FILE if self.lab_ca_pem is not None else None

    @property
    def dns_address(self) -> tuple[str, int] | None:
        return self.datapath.dns_server if self.datapath is not None else None

    def gateway_addresses(self, namespace: str, name: str) -> GatewayAddresses:
        if self.datapath is None:
            raise KeyError(f"scenario {self.scenario.name!r} has no data path")
        return self.datapath.gateway(f"{namespace}/{name}")

    def envoy_pod(self, namespace: str, name: str) -> tuple[str, str]:
        """(namespace, name) of the Envoy Pod standing for the Gateway."""
        key = f"{namespace}/{name}"
        for pod, gw in self._pods.items():
            if gw == key:
                return pod
        raise KeyError(f"no Envoy pod for Gateway {key}")

    def info(self) -> dict[str, Any]:
        """What a person or a test needs to reach the lab, JSON-able."""
        out: dict[str, Any] = {
            "scenario": self.scenario.name,
            "url": self.url,
            "kubeconfig": str(self.kubeconfig_path),
            "ca": str(self.ca_path),
            "state_dir": str(self.state_dir),
            "caFile": str(self.lab_ca_path) if self.lab_ca_path is not None else None,
            "dns": None,
            "gateways": {},
            "eg": self.eg.info() if self.eg is not None else {"version": None, "source": "scenario"},
        }
        if self.datapath is None or self.translation is None:
            return out
        host, port = self.datapath.dns_server
        out["dns"] = f"{host}:{port}"
        out["addressOctet"] = self.address_octet
        for gw in self.datapath.plan.gateways:
            addrs = self.datapath.gateway(gw.key)
            pod = next((f"{ns}/{n}" for (ns, n), k in self._pods.items() if k == gw.key), None)
            out["gateways"][gw.key] = {
                "lb": addrs.lb,
                "edges": list(addrs.edges),
                "entry": addrs.entry,
                "envoy": addrs.envoy,
                "ports": list(addrs.ports),
                "service": _object_key(self.translation.gateways[gw.key].service),
                "pod": pod,
                "accessLog": str(addrs.access_log),
                "lbSends": gw.lb_sends,
                "lbBlackhole": gw.lb_blackhole,
                "proxyProtocol": gw.proxy_protocol,
                "xffTrustedHops": gw.xff_trusted_hops,
            }
        notes = list(self.notes) + (list(self.eg.notes) if self.eg is not None else [])
        if notes:
            out["notes"] = notes
        return out

    # -- writing what the controllers would ----------------------------------------------------------------

    def _update(
        self, kind: str, namespace: str | None, name: str, change: Callable[[dict[str, Any]], None]
    ) -> bool:
        """Apply ``change`` to a stored object as a controller's write; False when it is not there."""
        store = self.api.store
        try:
            rt = store.resource_type(_RESOURCES[kind])
        except KeyError:
            return False  # the scenario does not serve the kind
        return self._update_key(store.key_for(rt, namespace, name), change)

    def _update_key(self, key: Any, change: Callable[[dict[str, Any]], None]) -> bool:
        store = self.api.store
        with store.lock:
            current = store.lookup(key)
            if current is None:
                return False
            new = copy.deepcopy(current)
            change(new)
            if new != current:
                new.setdefault("metadata", {})["resourceVersion"] = store.next_resource_version()
                store.put(key, new)
        return True

    def _publish_addresses(self) -> None:
        assert self.datapath is not None and self.translation is not None
        for key, info in self.translation.gateways.items():
            lb = self.datapath.gateway(key).lb
            namespace, name = key.split("/", 1)

            def gateway_status(obj: dict[str, Any], lb: str = lb) -> None:
                status = obj.setdefault("status", {})
                # Envoy Gateway lists the Gateway's own spec.addresses too: whoever owns the Gateway
                # chooses them, and only the LB address is really the load balancer's.
                chosen = [
                    {"type": "IPAddress", "value": a["value"]}
                    for a in ((obj.get("spec") or {}).get("addresses") or [])
                    if isinstance(a, dict) and a.get("type", "IPAddress") == "IPAddress" and a.get("value")
                ]
                status["addresses"] = [{"type": "IPAddress", "value": lb}, *chosen]

            def service_status(obj: dict[str, Any], lb: str = lb) -> None:
                status = obj.setdefault("status", {})
                balancer = status.setdefault("loadBalancer", {})
                old = balancer.get("ingress") if isinstance(balancer.get("ingress"), list) else []
                # Keep what CPO adds besides the address (ipMode: Proxy with PROXY protocol).
                extra = {k: v for k, v in (old[0] if old and isinstance(old[0], dict) else {}).items()}
                extra.pop("hostname", None)
                balancer["ingress"] = [{**extra, "ip": lb}]

            self._update("Gateway", namespace, name, gateway_status)
            svc_ns, svc_name = _object_key(info.service).split("/", 1)
            self._update("Service", svc_ns, svc_name, service_status)

    def _create_pods(self) -> None:
        assert self.datapath is not None and self.translation is not None
        store = self.api.store
        for key, info in self.translation.gateways.items():
            gw_ns, gw_name = key.split("/", 1)
            svc_ns, svc_name = _object_key(info.service).split("/", 1)
            labels = {**ENVOY_POD_LABELS, OWNING_NAME: gw_name, OWNING_NAMESPACE: gw_ns}
            existing = sorted(
                str((p.get("metadata") or {}).get("name"))
                for p in store.list("pods", svc_ns)
                if all(((p.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in labels.items())
            )
            if existing:
                self._pods[(svc_ns, existing[0])] = key
                continue
            images = self.eg.images if self.eg is not None else DEFAULT_IMAGES
            pod = _envoy_pod(svc_ns, svc_name, labels, self.datapath.gateway(key), images)
            store.add(pod)
            self._pods[(svc_ns, pod["metadata"]["name"])] = key

    def _pod_log(self, namespace: str, pod: str, container: str) -> Sequence[tuple[float, str]] | None:
        key = self._pods.get((namespace, pod))
        if key is None or self.datapath is None:
            return None
        if container != ENVOY_CONTAINER:
            return []
        path = self.datapath.access_log_path(key)
        try:
            data = path.read_bytes()
            fallback = path.stat().st_mtime
        except FileNotFoundError:
            return []
        lines = []
        # The last element is empty or a line Envoy is still writing.
        for raw in data.split(b"\n")[:-1]:
            text = raw.decode("utf-8", "replace")
            lines.append((_log_time(text, fallback), text))
        return lines

    # -- the controller --------------------------------------------------------------------------------------

    def _on_event(self, event: StoreEvent) -> None:
        if event.subresource is not None:
            return  # status written by a client is no spec change a controller reacts to
        if self.eg is not None:
            # Like EG's controller, the lab reconciles after the API call returned, once per burst.
            with self._eg_wakeup:
                self._eg_dirty = True
                self._eg_wakeup.notify()
            return
        with self._controller_lock:
            if event.resource.kind == "HTTPRoute":
                route = (str(event.namespace or ""), event.name)
                if event.verb == "delete":
                    self._managed.discard(route)
                else:
                    self._managed.add(route)
            elif not self._managed:
                return
            self.reconcile()

    def _source(self) -> ObjectSource:
        store = self.api.store

        def get(kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
            try:
                return store.get(_RESOURCES[kind], name, namespace or None)
            except KeyError:
                return None

        def list_in(kind: str, namespace: str) -> Sequence[Mapping[str, Any]]:
            try:
                return store.list(_RESOURCES[kind], namespace)
            except KeyError:
                return []

        return ObjectSource(get, list_in)

    def _lab_gateways(self, source: ObjectSource) -> dict[str, LabGateway]:
        assert self.translation is not None
        gateways = {}
        for gw in self.translation.plan.gateways:
            obj = source.get("Gateway", gw.namespace, gw.name)
            if obj is not None:
                gateways[gw.key] = LabGateway(obj, gw)
        return gateways

    def _baseline_attachments(self) -> dict[tuple[str, str], dict[str, tuple[str, ...]]]:
        source = self._source()
        gateways = self._lab_gateways(source)
        out = {}
        for route in self.api.store.list("httproutes"):
            meta = route.get("metadata") or {}
            attached = translate_route(route, gateways, source).attached
            if attached:
                out[(str(meta.get("namespace") or ""), str(meta.get("name") or ""))] = attached
        return out

    def reconcile(self) -> None:
        """Translate every HTTPRoute the controller owns, write their status, and reconfigure Envoy."""
        if self.datapath is None or self.translation is None:
            return
        with self._controller_lock:
            base = self.translation.plan
            source = self._source()
            gateways = self._lab_gateways(source)
            routes: dict[str, list[RoutePlan]] = {}
            # Routes the controller does not own keep their count until they are deleted.
            attached = {
                k: v
                for k, v in self._attached.items()
                if k not in self._managed and source.get("HTTPRoute", *k) is not None
            }
            for route_key in sorted(self._managed):
                route = source.get("HTTPRoute", *route_key)
                if route is None:
                    continue
                result = translate_route(route, gateways, source)
                if not result.parents:
                    continue
                self._write_route_status(route_key, result.parents, set(gateways))
                attached[route_key] = result.attached
                for key, plans in result.routes.items():
                    routes.setdefault(key, []).extend(plans)
            self._count_attached(attached)
            plan = DataPathPlan(
                gateways=tuple(replace(gw, routes=tuple(routes.get(gw.key, ()))) for gw in base.gateways),
                dns_records=base.dns_records,
                dns_zones=base.dns_zones,
                address_octet=base.address_octet,
                envoy_log_level=base.envoy_log_level,
            )
            if plan in (self.datapath.plan, self._rejected):
                return
            # Checked before the running Envoy is touched: on a cluster Envoy NACKs a bad update and
            # keeps serving the previous configuration, while the route status still says Accepted.
            previous = self.datapath.plan
            datapath = self.datapath
            taken = self._apply_or_keep(
                self._envoy_refuses(plan),
                "the routes",
                lambda: datapath.reconfigure(plan),
                lambda: datapath.reconfigure(previous),
            )
            self._rejected = None if taken else plan

    def _apply_or_keep(
        self, problem: str | None, what: str, apply: Callable[[], None], restore: Callable[[], None]
    ) -> bool:
        """Apply a configuration Envoy accepts; like Envoy NACKing an update, keep the previous one
        otherwise. False when Envoy refused it before it was tried."""
        if problem:
            self.notes.append(f"Envoy refused {what}, the previous configuration stays in force: {problem}")
            print(f"lab: {self.notes[-1]}", file=sys.stderr)
            return False
        try:
            apply()
        except LabError as exc:
            print(
                f"lab: Envoy did not take {what}, restoring the previous configuration: {exc}",
                file=sys.stderr,
            )
            restore()
        return True

    # -- Envoy Gateway mode ------------------------------------------------------------------------------

    @staticmethod
    def _served_certificates(
        settings: DatapathSettings, plan: DataPathPlan
    ) -> dict[str, dict[str, tuple[Path, Path]]]:
        out: dict[str, dict[str, tuple[Path, Path]]] = {}
        for gw in plan.gateways:
            overrides = settings.gateways.get(gw.key)
            for served in overrides.served_certificates if overrides is not None else ():
                for lst in gw.listeners:
                    if lst.name == served.listener and lst.tls_cert_pem and lst.tls_key_pem:
                        out.setdefault(gw.key, {})[lst.name] = (lst.tls_cert_pem, lst.tls_key_pem)
        return out

    def _eg_loop(self) -> None:
        while True:
            with self._eg_wakeup:
                while not self._eg_dirty and not self._eg_stop:
                    self._eg_wakeup.wait()
                if self._eg_stop:
                    return
            time.sleep(EG_COALESCE)  # a filter and its route are usually created back to back
            with self._eg_wakeup:
                self._eg_dirty = False
            try:
                self._eg_reconcile()
            except Exception as exc:  # the controller keeps running, as EG's does after a failed translation
                print(f"lab: EG reconcile failed: {exc}", file=sys.stderr)

    def _eg_reconcile(self) -> None:
        """Run every object through EG's translator, reconfigure the Envoys, then write the statuses.

        The lab restarts an Envoy to give it a new configuration (there is no ADS server), which a real
        Envoy never needs: so the statuses are written once Envoy serves the new configuration, and a
        client that waits for a route's Accepted condition never probes into the restart.
        """
        assert self.eg is not None
        with self._controller_lock:
            changed = self.eg.translate(self.api.store.objects())
            self._eg_configure(self.eg.candidate_xds())
            self._eg_write_statuses(changed)

    def _eg_configure(self, candidate: Mapping[str, Mapping[str, Any]]) -> None:
        assert self.eg is not None
        if self.datapath is None:
            self.eg.xds = dict(candidate)
            return
        if candidate == self.eg.xds:
            return
        plan = self.datapath.plan
        configs = self.eg.configs_for(candidate, plan, self.datapath.gateways, self.datapath.echo_address)
        previous = self.eg.xds
        eg, datapath = self.eg, self.datapath

        def apply() -> None:
            eg.xds = dict(candidate)
            datapath.reconfigure(plan)

        def restore() -> None:
            eg.xds = previous
            datapath.reconfigure(plan)

        self._apply_or_keep(
            self.eg.refuses(configs, self.state_dir / DATAPATH_DIR), "EG's configuration", apply, restore
        )

    def _eg_write_statuses(self, objects: Sequence[Mapping[str, Any]]) -> None:
        store = self.api.store
        for obj in objects:
            rt = store.type_for_object(obj)
            if rt is None:
                continue
            meta = obj.get("metadata") or {}
            key = store.key_for(rt, meta.get("namespace"), str(meta.get("name") or ""))

            def set_status(new: dict[str, Any], status: Any = obj["status"]) -> None:
                new["status"] = status

            self._update_key(key, set_status)

    def _envoy_refuses(self, plan: DataPathPlan) -> str | None:
        """Why Envoy would reject the plan's configuration (``envoy --mode validate``), or None."""
        assert self.datapath is not None
        binary = find_envoy()
        if binary is None:
            return None
        candidate = self.state_dir / DATAPATH_DIR / "envoy-candidate.json"
        candidate.write_text(
            json.dumps(build_bootstrap(plan, self.datapath.gateways, self.datapath.echo_address))
        )
        argv = [binary, "--mode", "validate", "-c", str(candidate), "-l", "error", "--disable-hot-restart"]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=15, check=False)
        except subprocess.TimeoutExpired:
            return None  # no verdict; the restart will tell
        if proc.returncode == 0:
            return None
        lines = (proc.stdout + proc.stderr).strip().splitlines()
        return lines[-1] if lines else f"envoy --mode validate exited {proc.returncode}"

    def _write_route_status(
        self, route_key: tuple[str, str], parents: list[dict[str, Any]], lab_gateways: set[str]
    ) -> None:
        def ours(entry: Mapping[str, Any]) -> bool:
            ref = entry.get("parentRef") if isinstance(entry.get("parentRef"), Mapping) else {}
            assert isinstance(ref, Mapping)
            key = f"{ref.get('namespace') or route_key[0]}/{ref.get('name')}"
            return entry.get("controllerName") == parents[0]["controllerName"] and key in lab_gateways

        def change(obj: dict[str, Any]) -> None:
            status = obj.setdefault("status", {})
            old = [p for p in status.get("parents") or [] if isinstance(p, dict)]
            kept = [p for p in old if not ours(p)]
            merged = []
            for entry in parents:
                before = next((p for p in old if ours(p) and p.get("parentRef") == entry["parentRef"]), {})
                merged.append(
                    {
                        **entry,
                        "conditions": merge_conditions(before.get("conditions") or [], entry["conditions"]),
                    }
                )
            status["parents"] = kept + merged

        self._update("HTTPRoute", route_key[0], route_key[1], change)

    def _count_attached(self, attached: dict[tuple[str, str], dict[str, tuple[str, ...]]]) -> None:
        delta: dict[tuple[str, str], int] = {}  # (gateway key, listener) -> change in attachedRoutes
        for route in set(attached) | set(self._attached):
            for gw, listeners in self._attached.get(route, {}).items():
                for lst in listeners:
                    delta[(gw, lst)] = delta.get((gw, lst), 0) - 1
            for gw, listeners in attached.get(route, {}).items():
                for lst in listeners:
                    delta[(gw, lst)] = delta.get((gw, lst), 0) + 1
        self._attached = attached
        for (gw, listener), change in delta.items():
            if not change:
                continue
            namespace, name = gw.split("/", 1)

            def bump(obj: dict[str, Any], listener: str = listener, change: int = change) -> None:
                for entry in (obj.get("status") or {}).get("listeners") or []:
                    if isinstance(entry, dict) and entry.get("name") == listener:
                        count = entry.get("attachedRoutes")
                        entry["attachedRoutes"] = max((count if isinstance(count, int) else 0) + change, 0)

            self._update("Gateway", namespace, name, bump)


def _object_key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    assert isinstance(meta, Mapping)
    return f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"


def _log_time(line: str, fallback: float) -> float:
    try:
        stamp = json.loads(line).get("start_time")
        return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError, TypeError):
        return fallback


DEFAULT_IMAGES = ("docker.io/envoyproxy/envoy:distroless-v1.36.2", "docker.io/envoyproxy/gateway:v1.6.0")


def _envoy_pod(
    namespace: str,
    deployment: str,
    labels: Mapping[str, str],
    addrs: GatewayAddresses,
    images: tuple[str, str] = DEFAULT_IMAGES,
) -> dict[str, Any]:
    """A Pod of the Envoy Deployment EG creates (internal/infrastructure/kubernetes/proxy/resource.go)."""
    template_hash = _kube_suffix(f"{addrs.key}/replicaset", 10)
    name = f"{deployment}-{template_hash}-{_kube_suffix(addrs.key + '/pod', 5)}"
    started = _now()
    container_ports = [
        {
            "containerPort": addrs.envoy_port(p),
            "name": f"{'https' if p == 443 else 'http'}-{p}",
            "protocol": "TCP",
        }
        for p in addrs.ports
    ]
    statuses = [
        {
            "name": container,
            "ready": True,
            "started": True,
            "restartCount": 0,
            "image": image,
            "imageID": f"{image}@sha256:{hashlib.sha256(image.encode()).hexdigest()}",
            "containerID": f"containerd://{hashlib.sha256((name + container).encode()).hexdigest()}",
            "state": {"running": {"startedAt": started}},
        }
        for container, image in ((ENVOY_CONTAINER, images[0]), ("shutdown-manager", images[1]))
    ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "generateName": f"{deployment}-{template_hash}-",
            "labels": {**labels, "pod-template-hash": template_hash},
            "annotations": {
                "prometheus.io/path": "/stats/prometheus",
                "prometheus.io/port": "19001",
                "prometheus.io/scrape": "true",
            },
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": f"{deployment}-{template_hash}",
                    "uid": _kube_uid(f"{deployment}-{template_hash}"),
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "containers": [
                {
                    "name": ENVOY_CONTAINER,
                    "image": statuses[0]["image"],
                    "command": ["envoy"],
                    "ports": [
                        *container_ports,
                        {"containerPort": 19001, "name": "metrics", "protocol": "TCP"},
                    ],
                },
                {"name": "shutdown-manager", "image": statuses[1]["image"], "command": ["envoy-gateway"]},
            ],
            "nodeName": "lab-node-1",
            "serviceAccountName": deployment,
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "terminationGracePeriodSeconds": 360,
        },
        "status": {
            "phase": "Running",
            "podIP": addrs.envoy,
            "podIPs": [{"ip": addrs.envoy}],
            "hostIP": "127.0.0.1",
            "startTime": started,
            "qosClass": "Burstable",
            "conditions": [
                {"type": t, "status": "True", "lastTransitionTime": started}
                for t in (
                    "PodReadyToStartContainers",
                    "Initialized",
                    "Ready",
                    "ContainersReady",
                    "PodScheduled",
                )
            ],
            "containerStatuses": statuses,
        },
    }


def _kube_uid(seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


__all__ = ["LabCluster", "claim_octet"]
