"""How egdoctor learns which client IP Envoy decided on for a probe.

* ``route``: a temporary HTTPRoute on a unique path with an Envoy Gateway ``HTTPRouteFilter`` whose
  ``directResponse`` body is built from Envoy command operators (EG >= v1.8 evaluates them:
  ``api/v1alpha1/httproutefilter_types.go`` "Supports Envoy command operators", translated to
  ``direct_response.body_format`` in ``internal/xds/translator/route.go``). Older EG copies
  ResponseHeaderModifier values into Envoy header values verbatim, and header values are format strings
  too, so those clusters get response headers instead. Writes to the cluster, so only on request.
* ``logs``: EG's default JSON access log (``internal/xds/translator/accesslog.go``,
  ``EnvoyJSONLogFields``) read through the pod log API; ``downstream_remote_address`` is Envoy's
  trusted client address and ``x-forwarded-for`` the chain after Envoy's append.
* ``echo:PATH``: an application endpoint that echoes request headers. ``x-envoy-external-address`` is
  set only when Envoy runs with ``use_remote_address: true`` (direct mode; Envoy
  ``source/common/http/conn_manager_utility.cc``), so in XFF mode the address is derived from the chain.
* ``none``: connection behaviour only.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import math
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from egdoctor.model.eg_version import EgVersion
from egdoctor.model.topology import ClientIP, GatewayView
from egdoctor.probes.cleanup import RUN_LABEL, cleanup, create_outcome_unknown
from egdoctor.probes.kube import Kube
from egdoctor.probes.transport import ExchangeResult

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "egdoctor"
PATH_PREFIX = "/.egdoctor"
EG_GROUP = "gateway.envoyproxy.io"
GW_GROUP = "gateway.networking.k8s.io"
EG_CONTROLLER = "gateway.envoyproxy.io/gatewayclass-controller"
ENVOY_CONTAINER = "envoy"
LOG_FLUSH_WAIT = 11.0  # Envoy flushes file access logs every 10 s by default (--file-flush-interval-msec)

# Only these operators, spelled exactly so: a malformed operator makes Envoy reject the route config.
REMOTE_OP = "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"
DIRECT_OP = "%DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT%"
XFF_OP = "%REQ(X-FORWARDED-FOR)%"
HEADER_REMOTE = "x-egdoctor-remote"
HEADER_DIRECT = "x-egdoctor-direct"
HEADER_XFF = "x-egdoctor-xff"


@dataclass(frozen=True)
class Observation:
    remote: str | None  # the client address Envoy decided on
    direct: str | None = None  # the physical peer (the LB's member-side address), when known
    xff: str | None = None  # X-Forwarded-For after Envoy's append
    source: str = ""


@dataclass
class SentProbe:
    """One probe as the observers see it."""

    id: str
    path: str
    user_agent: str
    key: tuple[str, str]
    client_ip: ClientIP
    result: ExchangeResult | None = None
    expects_log: bool = True


def strip_port(value: str | None) -> str | None:
    """`1.2.3.4:5` / `[::1]:5` / `1.2.3.4` -> the address; None for "-", empty, or anything that is not
    an IP address (what an echo endpoint or a log reports is the probed side's text, not ours)."""
    if not value or value == "-":
        return None
    value = value.strip()
    if value.startswith("["):
        end = value.find("]")
        value = value[1:end] if end > 0 else ""
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def xff_list(value: str | None) -> list[str]:
    if not value or value == "-":
        return []
    return [p.strip() for p in value.split(",") if p.strip()]


def trusted_from_chain(chain: Sequence[str], client_ip: ClientIP, appended: bool = True) -> str | None:
    """EG XFF mode: the N-th entry from the right of the chain that reached Envoy (N = numTrustedHops),
    falling back to the peer when there are fewer (Envoy `original_ip_detection/xff/xff.cc`). The chain
    seen downstream of Envoy carries Envoy's own append of the peer at the end."""
    if not chain:
        return None
    incoming = list(chain[:-1]) if appended else list(chain)
    peer = chain[-1] if appended else None
    hops = client_ip.xff_hops
    if hops is None or hops < 1:
        return peer
    return incoming[-hops] if len(incoming) >= hops else peer


@dataclass
class Observer:
    """No observer: connection behaviour only."""

    token: str
    # client addresses the observer was shown that are not IP addresses: reported, never used
    unparseable: list[str] = field(default_factory=list, init=False)

    name = "none"
    label = "none"
    immediate = False  # reads the observation from the probe's own response

    def address(self, value: Any) -> str | None:
        """The IP address in an observed value, or None; a value that is not one is noted once."""
        if value is None or value == "-" or value == "":
            return None
        ip = strip_port(str(value))
        if ip is None and str(value) not in self.unparseable and len(self.unparseable) < 5:
            self.unparseable.append(str(value))
        return ip

    def unparseable_notes(self) -> list[str]:
        return [
            f"the {self.label} observer reported a client address that is not an IP address "
            f"({v[:80]!r}): ignored"
            for v in self.unparseable
        ]

    def path_for(self, probe_id: str) -> str:
        return f"{PATH_PREFIX}/{self.token}/{probe_id}"

    def from_response(self, probe: SentProbe, result: ExchangeResult) -> Observation | None:
        return None

    def collect(self, probes: Sequence[SentProbe], deadline: float) -> dict[str, Observation]:
        return {}

    def is_ours(self, result: ExchangeResult) -> bool:
        return False

    def close(self) -> list[str]:
        return self.unparseable_notes()


# -- route ----------------------------------------------------------------------------------------------


def route_body(token: str) -> str:
    return json.dumps(
        {"egdoctor": token, "remote": REMOTE_OP, "direct": DIRECT_OP, "xff": XFF_OP}, separators=(",", ":")
    )


@contextlib.contextmanager
def cleanup_guard() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt like SIGINT does while cluster objects exist, so that the
    `finally` that deletes them runs on either."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def uninterruptible() -> Iterator[None]:
    """A second Ctrl-C must not abandon the (bounded) delete calls half-way."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    previous_term = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, previous_term)


@dataclass
class RouteObserver(Observer):
    """Creates `HTTPRouteFilter` + `HTTPRoute` `egdoctor-probe-<token>` in `namespace`."""

    kube: Kube | None = None
    namespace: str = ""
    gateways: Sequence[GatewayView] = ()
    hostnames: Sequence[str] = ()
    wait: float = 15.0
    # the controller's release as the report header reads it (model/eg_version.py); unknown: a current one
    eg_version: EgVersion | None = None
    created: list[tuple[str, str, str]] = field(default_factory=list)  # (group, version, plural)
    uncertain: set[tuple[str, str, str]] = field(default_factory=set)  # created? the answer did not say
    header_mode: bool = False
    version_note: str = ""

    name = "route"
    immediate = True

    def __post_init__(self) -> None:
        self.label = f"route {self.namespace}/{self.object_name}"

    @property
    def object_name(self) -> str:
        return f"egdoctor-probe-{self.token}"

    def _meta(self) -> dict[str, Any]:
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "name": self.object_name,
            "namespace": self.namespace,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY, RUN_LABEL: self.token},
            "annotations": {
                "egdoctor.io/purpose": "temporary client-IP probe route, deleted when the egdoctor run ends",
                "egdoctor.io/created": now,
            },
        }

    def filter_object(self) -> dict[str, Any]:
        direct: dict[str, Any] = {"contentType": "application/json", "statusCode": 200}
        if self.header_mode:
            direct["body"] = {"type": "Inline", "inline": json.dumps({"egdoctor": self.token})}
        else:
            direct["body"] = {"type": "Inline", "inline": route_body(self.token)}
        return {
            "apiVersion": f"{EG_GROUP}/v1alpha1",
            "kind": "HTTPRouteFilter",
            "metadata": self._meta(),
            "spec": {"directResponse": direct},
        }

    def route_object(self) -> dict[str, Any]:
        filters: list[dict[str, Any]] = [
            {
                "type": "ExtensionRef",
                "extensionRef": {"group": EG_GROUP, "kind": "HTTPRouteFilter", "name": self.object_name},
            }
        ]
        if self.header_mode:
            # First: EG stops processing a rule's filters once one produced a direct response
            # (internal/gatewayapi/filters.go, ProcessHTTPFilters).
            filters.insert(
                0,
                {
                    "type": "ResponseHeaderModifier",
                    "responseHeaderModifier": {
                        "set": [
                            {"name": HEADER_REMOTE, "value": REMOTE_OP},
                            {"name": HEADER_DIRECT, "value": DIRECT_OP},
                            {"name": HEADER_XFF, "value": XFF_OP},
                        ]
                    },
                },
            )
        spec: dict[str, Any] = {
            "parentRefs": [
                {"group": GW_GROUP, "kind": "Gateway", "namespace": gv.key[0], "name": gv.key[1]}
                for gv in self.gateways
            ],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": f"{PATH_PREFIX}/{self.token}"}}],
                    "filters": filters,
                }
            ],
        }
        if self.hostnames:
            spec["hostnames"] = list(self.hostnames)
        return {"apiVersion": f"{GW_GROUP}/v1", "kind": "HTTPRoute", "metadata": self._meta(), "spec": spec}

    def setup(self) -> tuple[bool, str]:
        """Create the objects and wait (bounded) until Envoy Gateway accepts the route on every parent."""
        assert self.kube is not None
        found = self.eg_version
        if found is not None and found.version is not None and found.before(1, 8):
            self.header_mode = True
            self.version_note = (
                f"Envoy Gateway {found.version[0]}.{found.version[1]} ({found.image}) does not evaluate "
                "operators in direct response bodies (v1.8+): the route answers with response headers instead"
            )
        # Recorded before each POST: an interrupt during the call must still lead to a delete.
        for group, api_version, plural, obj in (
            (EG_GROUP, "v1alpha1", "httproutefilters", self.filter_object()),
            (GW_GROUP, "v1", "httproutes", self.route_object()),
        ):
            self.created.insert(0, (group, api_version, plural))
            res = self.kube.create(group, api_version, plural, self.namespace, obj)
            if not res.ok:
                if create_outcome_unknown(res):
                    # the server may have created it anyway (or still be creating it): keep it for close()
                    self.uncertain.add((group, api_version, plural))
                else:
                    self.created.remove((group, api_version, plural))
                return (
                    False,
                    f"cannot create {obj['kind']} {self.namespace}/{self.object_name}: {res.describe()}",
                )
        return self._wait_accepted()

    def _wait_accepted(self) -> tuple[bool, str]:
        assert self.kube is not None
        deadline = time.monotonic() + self.wait
        wanted = {gv.key for gv in self.gateways}
        last = "no status from Envoy Gateway yet"
        # Bounded by the deadline; the cap only guards against a clock that does not advance.
        for _ in range(10_000):
            res = self.kube.get(GW_GROUP, "v1", "httproutes", self.namespace, self.object_name)
            if res.ok and isinstance(res.body, Mapping):
                accepted: set[tuple[str, str]] = set()
                for parent in (res.body.get("status") or {}).get("parents") or []:
                    if parent.get("controllerName") != EG_CONTROLLER:
                        continue
                    ref = parent.get("parentRef") or {}
                    key = (str(ref.get("namespace") or self.namespace), str(ref.get("name")))
                    for cond in parent.get("conditions") or []:
                        if cond.get("type") != "Accepted":
                            continue
                        if cond.get("status") == "True":
                            accepted.add(key)
                        else:
                            return False, (
                                f"HTTPRoute {self.namespace}/{self.object_name} not accepted by Gateway "
                                f"{key[0]}/{key[1]}: {cond.get('reason')}: {cond.get('message')}"
                            )
                if wanted <= accepted:
                    return True, ""
                last = f"accepted by {len(accepted)} of {len(wanted)} Gateway(s)"
            elif not res.ok:
                last = res.describe()
            if time.monotonic() >= deadline:
                return (
                    False,
                    f"HTTPRoute {self.namespace}/{self.object_name} not Accepted in {self.wait:g}s ({last})",
                )
            time.sleep(0.1)
        return False, "gave up waiting for the HTTPRoute"

    def is_ours(self, result: ExchangeResult) -> bool:
        if result.outcome != "http" or result.status != 200:
            return False
        try:
            body = json.loads(result.body.decode("utf-8", "replace"))
        except ValueError:
            return False
        return isinstance(body, Mapping) and body.get("egdoctor") == self.token

    def from_response(self, probe: SentProbe, result: ExchangeResult) -> Observation | None:
        if not self.is_ours(result):
            return None
        body = json.loads(result.body.decode("utf-8", "replace"))
        if self.header_mode:
            remote, direct, xff = (
                result.header(HEADER_REMOTE),
                result.header(HEADER_DIRECT),
                result.header(HEADER_XFF),
            )
        else:
            remote, direct, xff = body.get("remote"), body.get("direct"), body.get("xff")
        if remote is None or "%" in str(remote):
            return None  # operators were not evaluated
        remote_ip = self.address(remote)
        if remote_ip is None:
            return None
        return Observation(
            remote=remote_ip,
            direct=self.address(direct),
            xff=None if xff in (None, "-") else str(xff),
            source="route",
        )

    def close(self) -> list[str]:
        """Delete what was created (route first, so Envoy stops routing to the filter). Never raises."""
        notes = self.unparseable_notes()
        if self.kube is None:
            return notes
        with uninterruptible():
            notes += cleanup(
                self.kube, self.namespace, self.object_name, self.token, self.created, self.uncertain
            )
        return notes


# -- logs -------------------------------------------------------------------------------------------------


@dataclass
class LogObserver(Observer):
    kube: Kube | None = None
    pods: list[tuple[str, str]] = field(default_factory=list)  # (namespace, name)
    started: float = field(default_factory=time.monotonic)
    flush_wait: float = LOG_FLUSH_WAIT

    name = "logs"
    label = "access log"

    @staticmethod
    def selector(gv: GatewayView) -> str:
        # EG labels every Envoy resource of a Gateway this way (internal/infrastructure/kubernetes/proxy).
        return (
            "app.kubernetes.io/name=envoy,"
            f"gateway.envoyproxy.io/owning-gateway-name={gv.key[1]},"
            f"gateway.envoyproxy.io/owning-gateway-namespace={gv.key[0]}"
        )

    def find_pods(self, gateways: Iterable[GatewayView]) -> tuple[bool, str]:
        """Find the Envoy pods and check that their log is readable. (False, why) when it is not."""
        assert self.kube is not None
        for gv in gateways:
            spaces: list[str | None] = []
            if gv.envoy_service is not None and gv.envoy_service.namespace:
                spaces.append(gv.envoy_service.namespace)
            spaces += ["envoy-gateway-system", gv.key[0], None]
            found = False
            last = ""
            for ns in dict.fromkeys(spaces):
                res = self.kube.list("", "v1", "pods", ns, self.selector(gv))
                if not res.ok or not isinstance(res.body, Mapping):
                    last = f"list pods{' in ' + ns if ns else ''}: {res.describe()}"
                    continue
                for pod in res.body.get("items") or []:
                    meta = pod.get("metadata") or {}
                    if (pod.get("status") or {}).get("phase", "Running") == "Running":
                        self.pods.append((str(meta.get("namespace") or ns), str(meta.get("name"))))
                        found = True
                if found:
                    break
            if not found:
                return False, f"no Envoy pod found for Gateway {gv.key[0]}/{gv.key[1]}" + (
                    f" ({last})" if last else ""
                )
        for ns, pod in self.pods[:1]:
            res = self.kube.pod_log(ns, pod, ENVOY_CONTAINER, tail_lines=1)
            if not res.ok:
                return False, f"cannot read the log of pod {ns}/{pod}: {res.describe()}"
        return True, ""

    def collect(self, probes: Sequence[SentProbe], deadline: float) -> dict[str, Observation]:
        assert self.kube is not None
        by_agent = {p.user_agent: p for p in probes}
        waiting = {p.id for p in probes if p.expects_log}
        found: dict[str, Observation] = {}
        end = min(deadline, time.monotonic() + self.flush_wait)
        announced, begun = False, time.monotonic()
        for _ in range(1000):
            since = math.ceil(time.monotonic() - self.started) + 5
            for ns, pod in self.pods:
                res = self.kube.pod_log(ns, pod, ENVOY_CONTAINER, since_seconds=since)
                if not res.ok:
                    continue
                for line in res.text.splitlines():
                    entry = _json_line(line)
                    if entry is None:
                        continue
                    probe = by_agent.get(str(entry.get("user-agent")))
                    if probe is None or probe.id in found:
                        continue
                    found[probe.id] = Observation(
                        remote=self.address(entry.get("downstream_remote_address")),
                        xff=None
                        if entry.get("x-forwarded-for") in (None, "-")
                        else str(entry["x-forwarded-for"]),
                        source="access log",
                    )
            if waiting <= set(found) or time.monotonic() >= end:
                break
            if not announced and time.monotonic() - begun > 1.0:
                announced = True
                # Envoy writes access logs every 10 s by default (EG keeps the default): say why it is quiet.
                print(
                    f"egdoctor: waiting up to {end - time.monotonic():.0f} s for Envoy's access log "
                    "(Envoy writes it every 10 s by default)",
                    file=sys.stderr,
                    flush=True,
                )
            time.sleep(0.1)
        return found


def _json_line(line: str) -> dict[str, Any] | None:
    line = line.strip()
    start = line.find("{")  # kubelet timestamps or CRI prefixes may precede the JSON
    if start < 0:
        return None
    try:
        value = json.loads(line[start:])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


# -- echo ---------------------------------------------------------------------------------------------------


@dataclass
class EchoObserver(Observer):
    path: str = "/"

    name = "echo"
    immediate = True

    def __post_init__(self) -> None:
        self.label = f"echo {self.path}"

    def path_for(self, probe_id: str) -> str:
        joiner = "&" if "?" in self.path else "?"
        return f"{self.path}{joiner}egdoctor={self.token}-{probe_id}"

    def from_response(self, probe: SentProbe, result: ExchangeResult) -> Observation | None:
        if result.outcome != "http" or not result.body:
            return None
        headers = echoed_headers(result.body)
        xff_values = headers.get("x-forwarded-for", [])
        chain = xff_list(",".join(xff_values))
        ext_values = headers.get("x-envoy-external-address") or []
        ext = ext_values[0] if ext_values else None
        cip = probe.client_ip
        direct_pick = ext or (chain[-1] if chain else None)
        remote = self.address(trusted_from_chain(chain, cip) if cip.xff else direct_pick)
        if remote is None:
            return None
        return Observation(remote=remote, xff=", ".join(chain) or None, source=self.label)


def echoed_headers(body: bytes) -> dict[str, list[str]]:
    """Request headers an echo endpoint reflected, lower-cased, from JSON of any common shape (a mapping,
    a list of pairs, nested under "headers"/"request") or from `Name: value` text lines."""
    out: dict[str, list[str]] = {}
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except ValueError:
        data = None

    def add(name: Any, value: Any) -> None:
        if not isinstance(name, str):
            return
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, str | int | float):
                out.setdefault(name.lower(), []).append(str(v))

    def walk(node: Any, depth: int) -> None:
        if depth > 6:
            return
        if isinstance(node, Mapping):
            for k, v in node.items():
                if isinstance(k, str) and k.lower() in ("x-forwarded-for", "x-envoy-external-address"):
                    add(k, v)
                elif isinstance(v, Mapping | list):
                    walk(v, depth + 1)
        elif isinstance(node, list):
            pairs = [i for i in node if isinstance(i, list) and len(i) == 2 and isinstance(i[0], str)]
            if pairs and len(pairs) == len(node):
                for k, v in pairs:
                    add(k, v)
            else:
                for item in node:
                    walk(item, depth + 1)

    if data is not None:
        walk(data, 0)
        return out
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() in ("x-forwarded-for", "x-envoy-external-address"):
            add(name.strip(), value.strip())
    return out
