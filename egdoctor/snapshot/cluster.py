"""Read a live cluster into a Snapshot: discovery, then one list per kind and scope, concurrently.

References are followed out of the asked namespaces (routes -> their Gateways' namespaces -> those
Gateways' policies, Secrets and Envoy Services; routes -> backend namespaces) in a few rounds, each of
which fetches only what the previous round revealed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from egdoctor.model.parameters import class_envoyproxy, gateway_envoyproxy
from egdoctor.snapshot import api_answer, bounded_json
from egdoctor.snapshot.assemble import admit_early, assemble, raw_of
from egdoctor.snapshot.kinds import ENVOY_GATEWAY_SYSTEM, KINDS, ROUTE_KINDS, KindSpec, Scope
from egdoctor.snapshot.model import AccessProblem, Snapshot, Source
from egdoctor.snapshot.objects import as_list, as_map, dig
from egdoctor.snapshot.secret_refs import certificate_refs, grant_permits

_MAX_ROUNDS = 4
# Above this many namespaces one cluster-wide list is cheaper than one list per namespace.
_NAMESPACE_FANOUT_LIMIT = 12
# One list (a kind in one namespace, or cluster-wide) stops here: a cluster with runaway objects, or a
# tenant creating them, must not exhaust the engineer's memory. Hitting a cap is EGD005 for that list.
MAX_OBJECTS_PER_LIST = 20_000
MAX_BYTES_PER_LIST = 128 * 1024 * 1024
# Pages are sequential round trips (kubectl asks for 500 objects a page): asking for one object more than
# the cap makes every list that fits the cap one request, so the request count does not grow with the
# cluster (docs/performance.md). The byte cap is enforced while the body streams in, page by page.
MAX_SECRET_GETS = 256  # listener certificateRefs followed per run
# Requests in flight at once: enough for every discovery document and every cluster-wide list of one
# round together (about 30 with -A), so a round costs one latency, not several waves of it.
LIST_WORKERS = 32
# Scopes whose objects sit where the read Gateways and routes point, so that a forbidden cluster-wide
# list can be retried namespace by namespace. Routes and Gateways themselves could be anywhere.
_FALLBACK = frozenset({Scope.ENVOY_SERVICE, Scope.GATEWAYS, Scope.BACKENDS, Scope.PARAMETERS})


class ClusterUnavailable(Exception):
    """The API server cannot be used at all (EGD001)."""

    def __init__(self, server: str, context: str, reason: str):
        super().__init__(reason)
        self.server, self.context, self.reason = server, context, reason


@dataclass(frozen=True)
class Connection:
    api: Any  # kubernetes.client.ApiClient
    server: str
    context: str
    namespace: str


def connect(kubeconfig: str | None, context: str | None, request_timeout: float) -> Connection:
    """Load credentials the way kubectl does: --kubeconfig, KUBECONFIG, ~/.kube/config, then in-cluster."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    cfg = client.Configuration()
    env = os.environ.get("KUBECONFIG")
    path = kubeconfig or env or os.path.expanduser("~/.kube/config")
    # how the user named the kubeconfig, for messages: the flag, the variable, or the default path
    named = f"--kubeconfig {kubeconfig}" if kubeconfig else f"KUBECONFIG={env}" if env else path
    paths = [p for p in path.split(os.pathsep) if p]
    label = context or ""
    namespace = "default"
    try:
        if kubeconfig or any(os.path.exists(p) for p in paths):
            missing = [p for p in paths if not os.path.exists(p)]
            if kubeconfig and missing:
                raise ClusterUnavailable("", label, f"--kubeconfig {missing[0]}: no such file")
            existing = os.pathsep.join(p for p in paths if os.path.exists(p))
            contexts, current = config.list_kube_config_contexts(config_file=existing)
            chosen = next((c for c in contexts if c["name"] == context), None) if context else current
            if context and chosen is None:
                names = ", ".join(sorted(c["name"] for c in contexts)) or "none"
                raise ClusterUnavailable(
                    "", context, f"context {context!r} not found in {named} (have: {names})"
                )
            if chosen is None:
                raise ClusterUnavailable("", "", f"{named} has no current context; pass --context")
            label = chosen["name"]
            namespace = chosen.get("context", {}).get("namespace") or "default"
            config.load_kube_config(config_file=existing, context=label, client_configuration=cfg)
        elif env:
            raise ClusterUnavailable("", label, f"KUBECONFIG={env}: no such file")
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config(client_configuration=cfg)
            label = "in-cluster"
            sa_ns = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
            if os.path.exists(sa_ns):
                with open(sa_ns, encoding="utf-8") as fh:
                    namespace = fh.read().strip() or "default"
        else:
            raise ClusterUnavailable(
                "",
                "",
                f"no kubeconfig: --kubeconfig not given, KUBECONFIG not set, {path} does not exist, "
                "and not running in a pod",
            )
    except ClusterUnavailable:
        raise
    except (ConfigException, OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ClusterUnavailable("", label, f"invalid kubeconfig ({named}): {_one_line(exc)}") from None
    except Exception as exc:  # the loader raises yaml errors and others; all mean "bad kubeconfig"
        raise ClusterUnavailable("", label, f"invalid kubeconfig ({named}): {_one_line(exc)}") from None
    # A diagnosis tool should fail fast: urllib3's default retries multiply every timeout.
    cfg.retries = 0
    cfg.connection_pool_maxsize = LIST_WORKERS  # one connection per concurrent request, none waiting
    api = client.ApiClient(configuration=cfg)
    return Connection(api=api, server=_redact_url(cfg.host), context=label, namespace=namespace)


def _redact_url(url: str) -> str:
    """A server URL may carry credentials (https://user:password@host): never print them."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable server URL>"
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


class _Response:
    def __init__(
        self,
        status: int,
        body: Any,
        size: int = 0,
        headers: Mapping[str, str] | None = None,
        not_json: bool = False,
        too_large: bool = False,
    ):
        self.status, self.body, self.size, self.headers = status, body, size, headers
        self.retries, self.waited = 0, 0.0
        self.not_json = not_json  # a body was sent and it is not JSON
        self.too_large = too_large  # the body passed the byte budget and was not read to its end

    @property
    def failed(self) -> bool:
        return self.status >= 400 or self.not_json or self.too_large

    def describe(self) -> str:
        """One line: the status, the API's own Status message, and any retries spent on it."""
        if self.too_large:
            text = f"HTTP {self.status} with a body larger than {self.size - 1} bytes (not read further)"
        elif self.not_json and self.status < 400:
            text = api_answer.not_json(self.status, self.size)
        else:
            text = api_answer.status_line(self.status, self.body)
        if self.retries:
            text += f" (still failing after {self.retries} retries over {self.waited:.1f}s)"
        return text


class ClusterReader:
    def __init__(self, conn: Connection, request_timeout: float, workers: int = LIST_WORKERS):
        self.conn = conn
        self.timeout = request_timeout
        self.workers = workers
        self.served: dict[str, str] = {}  # KindSpec.name -> version
        self.problems: list[AccessProblem] = []
        # inputs whose cluster-wide list was forbidden: retried in the namespaces that matter (where the
        # read Gateways and routes point); the denial is reported only when no retry could be planned
        self._forbidden_wide: dict[str, AccessProblem] = {}
        self._pool: ThreadPoolExecutor | None = None

    # -- transport ------------------------------------------------------------------------------------
    def _get(
        self, path: str, query: Mapping[str, str] | None = None, byte_limit: int = MAX_BYTES_PER_LIST
    ) -> _Response:
        """GET, retrying 429/503 that carry Retry-After; the total wait is capped by the request timeout."""
        retries, waited = 0, 0.0
        while True:
            resp = self._get_once(path, query, byte_limit)
            throttled = resp.status in api_answer.RETRIED_STATUSES
            asked = api_answer.retry_after(resp.headers) if throttled else None
            wait = None if asked is None else api_answer.next_wait(asked, retries, self.timeout - waited)
            if wait is None:
                resp.retries, resp.waited = retries, waited
                return resp
            time.sleep(wait)
            retries, waited = retries + 1, waited + wait

    def _get_once(self, path: str, query: Mapping[str, str] | None, byte_limit: int) -> _Response:
        import urllib3

        api = self.conn.api
        url_path = path + ("?" + urlencode(query) if query else "")
        try:
            method, url, headers, _, _ = api.param_serialize(
                "GET", url_path, header_params={"Accept": "application/json"}, auth_settings=["BearerToken"]
            )
            resp = api.call_api(method, url, header_params=headers, _request_timeout=self.timeout)
            raw = _read_bounded(resp, byte_limit)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ClusterUnavailable(self.conn.server, self.conn.context, _describe_transport(exc)) from None
        except Exception as exc:  # ApiException(status=0) for TLS trouble, among others
            raise ClusterUnavailable(self.conn.server, self.conn.context, _describe_transport(exc)) from None
        headers = {str(k): str(v) for k, v in (resp.headers or {}).items()}
        if raw is None:
            return _Response(resp.status, None, byte_limit + 1, headers, too_large=True)
        not_json = False
        try:
            body = bounded_json.loads(raw) if raw else None
        except (ValueError, RecursionError):
            body, not_json = None, True
        return _Response(resp.status, body, len(raw), headers, not_json)

    # -- discovery ------------------------------------------------------------------------------------
    @staticmethod
    def _discovery_paths(wanted: Iterable[str]) -> list[str]:
        """The core API and every group version a wanted kind may be served at (a 404 is a group version
        the cluster does not serve), all asked at once instead of /apis first and then the rest."""
        gvs = sorted({f"{s.group}/{v}" for s in (KINDS[w] for w in wanted) if s.group for v in s.versions})
        return ["/api/v1", *(f"/apis/{gv}" for gv in gvs)]

    def _apply_discovery(self, wanted: Iterable[str], paths: list[str], answers: list[_Response]) -> None:
        specs = [KINDS[w] for w in wanted]
        gvs = [p.removeprefix("/apis/") for p in paths[1:]]
        core, *answers = answers
        self.served = {}
        if core.status == 401:
            raise ClusterUnavailable(
                self.conn.server, self.conn.context, "unauthorized (401): the credentials were rejected"
            )
        self._require_discovery("/api/v1", core)
        resources: dict[str, set[str]] = {
            "v1": {str(r.get("name")) for r in as_list(core.body.get("resources")) if isinstance(r, Mapping)}
        }
        # a group version whose discovery failed (not merely 404) leaves its kinds unknown, not absent
        unknown: dict[str, str] = {}
        for gv, resp in zip(gvs, answers, strict=True):
            if not resp.failed and isinstance(resp.body, Mapping):
                resources[gv] = {
                    str(r.get("name")) for r in as_list(resp.body.get("resources")) if isinstance(r, Mapping)
                }
            elif resp.status != 404:
                unknown[gv] = resp.describe()
        for spec in specs:
            for version in spec.versions:
                gv = f"{spec.group}/{version}" if spec.group else version
                if spec.plural in resources.get(gv, set()):
                    self.served[spec.name] = version
                    break
            else:
                failed = [gv for gv in unknown if gv.split("/")[0] == spec.group]
                if failed:
                    self.problems.append(
                        AccessProblem(
                            spec.name,
                            "error",
                            "discover",
                            spec.plural,
                            None,
                            f"discovery of {failed[0]} failed: {unknown[failed[0]]}",
                        )
                    )
                    continue
                self.problems.append(
                    AccessProblem(
                        spec.name, "absent", "list", spec.plural, None, f"{spec.group_kind} is not served"
                    )
                )

    def _require_discovery(self, path: str, resp: _Response) -> None:
        """Without the core and group discovery documents nothing can be read: EGD001, saying why."""
        if not resp.failed and isinstance(resp.body, Mapping):
            return
        why = resp.describe() if resp.failed else f"HTTP {resp.status} with no discovery document"
        raise ClusterUnavailable(self.conn.server, self.conn.context, f"discovery failed: GET {path}: {why}")

    # -- lists ----------------------------------------------------------------------------------------
    def _path(self, spec: KindSpec, namespace: str | None) -> str:
        version = self.served[spec.name]
        base = f"/apis/{spec.group}/{version}" if spec.group else f"/api/{version}"
        if namespace is not None and spec.namespaced:
            return f"{base}/namespaces/{quote(namespace)}/{spec.plural}"
        return f"{base}/{spec.plural}"

    def _list_selected(
        self, spec: KindSpec, namespace: str | None, selector: str | None
    ) -> list[Mapping[str, Any]] | AccessProblem:
        query: dict[str, str] = {"limit": str(MAX_OBJECTS_PER_LIST + 1)}
        if selector:
            query["labelSelector"] = selector
        items: list[Mapping[str, Any]] = []
        path = self._path(spec, namespace)
        read_bytes = 0
        relisted = False
        for _ in range(10_000):  # pages; bounded so a misbehaving server cannot loop us forever
            try:
                resp = self._get(path, query, MAX_BYTES_PER_LIST - read_bytes)
            except ClusterUnavailable as exc:
                # discovery already worked: one list timing out or failing loses that list, not the run
                return _list_error(spec, namespace, exc.reason)
            if resp.status == 410 and "continue" in query and not relisted:
                # the continue token expired (etcd compacted): a consistent list means starting over, once
                relisted = True
                items, read_bytes = [], 0
                del query["continue"]
                continue
            if resp.status == 410 and relisted:
                return _list_error(
                    spec,
                    namespace,
                    f"the continue token expired again after listing from the start: {resp.describe()}",
                )
            read_bytes += resp.size
            if resp.too_large and resp.status < 400:
                return _over_cap(spec, namespace, len(items), read_bytes)
            if resp.failed:
                return self._problem(spec, namespace, resp)
            if not isinstance(resp.body, Mapping) or not isinstance(resp.body.get("items", []), list):
                return _list_error(spec, namespace, "the server answered with no object list")
            body = as_map(resp.body)
            kind = spec.kind
            api_version = f"{spec.group}/{self.served[spec.name]}" if spec.group else self.served[spec.name]
            for item in as_list(body.get("items")):
                if isinstance(item, Mapping):
                    # list items omit kind/apiVersion on some servers; checks and bundles want them
                    items.append({"kind": kind, "apiVersion": api_version, **item})
                else:
                    items.append(item)
            if len(items) > MAX_OBJECTS_PER_LIST:
                return _over_cap(spec, namespace, len(items), read_bytes)
            token = dig(body, "metadata", "continue")
            if not token:
                break
            if token == query.get("continue"):
                return _list_error(spec, namespace, "the server repeated a continue token")
            query["continue"] = str(token)
        return items

    def _problem(self, spec: KindSpec, namespace: str | None, resp: _Response) -> AccessProblem:
        if resp.status == 401:
            raise ClusterUnavailable(
                self.conn.server, self.conn.context, "unauthorized (401): the credentials were rejected"
            )
        reason = {403: "forbidden", 404: "absent"}.get(resp.status, "error")
        # an RBAC denial or an absent kind keeps the API's own words; any other failure says what it was
        message = (
            str(dig(resp.body, "message", default="") or f"HTTP {resp.status}")
            if reason != "error"
            else resp.describe()
        )
        return AccessProblem(
            spec.name, reason, "list", spec.plural, namespace if spec.namespaced else None, message
        )

    # -- the plan -------------------------------------------------------------------------------------
    def read(self, inputs: Iterable[str], namespaces: frozenset[str] | None) -> Snapshot:
        try:
            return self._read(sorted(set(inputs)), namespaces)
        finally:
            self.close()

    def _read(self, inputs: list[str], namespaces: frozenset[str] | None) -> Snapshot:
        data: dict[tuple[str, str | None], list[Mapping[str, Any]]] = {}
        done: set[tuple[str, str | None]] = set()
        served, late = self._discover_with_first_lists(inputs, namespaces, data, done)
        # a kind served only at another version than guessed missed the first round: its chain of
        # references starts one round later and keeps all its rounds
        for _ in range(_MAX_ROUNDS - (0 if late else 1)):
            wanted = self._wanted(served, namespaces, data) - done
            if not wanted:
                break
            todo = sorted(wanted, key=lambda t: (t[0], t[1] or ""))
            results = self._list_round(todo)
            for key, result in zip(todo, results, strict=True):
                if isinstance(result, ClusterUnavailable):
                    raise result
                self._take(key, result, data, done)
        for name, problem in self._forbidden_wide.items():
            if not any(n == name and ns is not None for n, ns in done):
                self.problems.append(problem)  # no namespace to retry in: the denial itself is the answer
        raw: dict[str, list[Mapping[str, Any]]] = {}
        for (name, _ns), items in data.items():
            raw.setdefault(name, []).extend(items)
        for name in served:
            raw.setdefault(name, [])
        if "Secret" in served:
            raw["Secret"] = self.read_secrets(
                [raw_of(g) for g in raw.get("Gateway", [])],
                [raw_of(g) for g in raw.get("ReferenceGrant", [])],
                set(data),
            )
        source = Source("cluster", server=self.conn.server, context=self.conn.context)
        return assemble(raw, namespaces, source, self.problems, fetched=inputs, listed=set(data))

    def _discover_with_first_lists(
        self,
        inputs: list[str],
        namespaces: frozenset[str] | None,
        data: dict[tuple[str, str | None], list[Mapping[str, Any]]],
        done: set[tuple[str, str | None]],
    ) -> tuple[list[str], bool]:
        """Discovery and the first round of lists in one concurrent round: the first lists depend only on
        the asked namespaces, so they go out with discovery at each kind's preferred version and are kept
        where discovery confirms that version (one latency less on every run). A kind discovery finds at
        another version is listed again in the next round; a kind it does not find is dropped."""
        paths = self._discovery_paths(inputs)
        self.served = {name: KINDS[name].versions[0] for name in inputs}
        todo = sorted(self._wanted(inputs, namespaces, {}), key=lambda t: (t[0], t[1] or ""))
        plan = _ListPlan(self, todo)
        jobs: list[tuple[Any, ...]] = [("get", path) for path in paths] + plan.jobs
        answers = self._map(self._run_job, jobs)
        guessed = dict(self.served)
        self._apply_discovery(inputs, paths, answers[: len(paths)])
        late = False
        for key, result in zip(todo, plan.results(answers[len(paths) :]), strict=True):
            if self.served.get(key[0]) != guessed[key[0]]:
                late = late or key[0] in self.served
                continue  # not served, or served at another version: not this list's answer
            if isinstance(result, ClusterUnavailable):
                raise result
            self._take(key, result, data, done)
        return [i for i in inputs if i in self.served], late

    def _list_round(
        self, todo: list[tuple[str, str | None]]
    ) -> list[list[Mapping[str, Any]] | AccessProblem | ClusterUnavailable]:
        plan = _ListPlan(self, todo)
        return plan.results(self._map(self._run_job, plan.jobs))

    def _run_job(self, job: tuple[Any, ...]) -> Any:
        """A discovery GET, or one list of one kind, place and label selector: shape-checked and frozen
        here, while the other lists are still arriving. A fatal failure (a 401) is returned, not raised:
        in the first round a list only counts once discovery has confirmed its kind."""
        if job[0] == "get":
            return self._get(job[1])
        _, key, selector = job
        try:
            result = self._list_selected(KINDS[key[0]], key[1], selector)
        except ClusterUnavailable as exc:
            return exc
        return result if isinstance(result, AccessProblem) else admit_early(key[0], result)

    def _map(self, fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        """`[fn(i) for i in items]` on the reader's own threads, started once: starting 30 threads per
        round cost more than a round trip while the other threads held the interpreter."""
        if not items:
            return []
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers)
        try:
            return list(self._pool.map(fn, items))
        except BaseException:
            # an interrupt leaves at once: the calls still running end on their own, unwaited for
            self.close()
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _take(
        self,
        key: tuple[str, str | None],
        result: list[Mapping[str, Any]] | AccessProblem,
        data: dict[tuple[str, str | None], list[Mapping[str, Any]]],
        done: set[tuple[str, str | None]],
    ) -> None:
        done.add(key)
        if isinstance(result, AccessProblem):
            if key[1] is None and result.reason == "forbidden" and _may_retry(key[0]):
                self._forbidden_wide[key[0]] = result
                return  # retried per namespace in the next round; only those failures matter
            self.problems.append(result)
        else:
            data[key] = result

    def server_version(self) -> str | None:
        """The API server's gitVersion (a support bundle's manifest names it), or None."""
        try:
            resp = self._get("/version")
        except ClusterUnavailable:
            return None
        version = resp.body.get("gitVersion") if not resp.failed and isinstance(resp.body, Mapping) else None
        return version[:64] if isinstance(version, str) else None

    def read_secrets(
        self,
        gateways: list[Mapping[str, Any]],
        grants: list[Mapping[str, Any]],
        listed: set[tuple[str, str | None]],
    ) -> list[Mapping[str, Any]]:
        """Get, one by one, the Secrets listener certificateRefs may use: same-namespace ones, and
        cross-namespace ones a ReferenceGrant permits (a namespace whose grants could not be listed permits
        nothing). A whole namespace of Secrets is never listed."""
        wanted: list[tuple[str, str]] = []
        for ref in certificate_refs(gateways):
            if ref.cross_namespace:
                grants_read = bool({("ReferenceGrant", ref.namespace), ("ReferenceGrant", None)} & listed)
                if not grants_read or not grant_permits(
                    grants, ref.gateway_namespace, ref.namespace, ref.name
                ):
                    continue
            if (ref.namespace, ref.name) not in wanted:
                wanted.append((ref.namespace, ref.name))
        spec = KINDS["Secret"]
        results = self._map(lambda t: self.get_object(spec, t[0], t[1]), wanted[:MAX_SECRET_GETS])
        items: list[Mapping[str, Any]] = []
        for result in results:
            if isinstance(result, AccessProblem):
                self.problems.append(result)
            elif result is not None:
                items.append(result)
        return items

    def get_object(
        self, spec: KindSpec, namespace: str, name: str
    ) -> Mapping[str, Any] | AccessProblem | None:
        """One object by name: None when it does not exist."""
        path = f"{self._path(spec, namespace)}/{quote(name, safe='')}"
        try:
            resp = self._get(path)
        except ClusterUnavailable as exc:
            return AccessProblem(spec.name, "error", "get", spec.plural, namespace, exc.reason)
        if resp.status == 404:
            return None
        if resp.failed:
            problem = self._problem(spec, namespace, resp)
            return AccessProblem(
                problem.input, problem.reason, "get", spec.plural, namespace, problem.message
            )
        if not isinstance(resp.body, Mapping):
            return AccessProblem(
                spec.name, "error", "get", spec.plural, namespace, "the answer is not an object"
            )
        return {"kind": spec.kind, "apiVersion": self.served[spec.name], **resp.body}

    def _wanted(
        self,
        inputs: list[str],
        asked: frozenset[str] | None,
        data: Mapping[tuple[str, str | None], list[Mapping[str, Any]]],
    ) -> set[tuple[str, str | None]]:
        def items(name: str) -> list[Mapping[str, Any]]:
            return [raw_of(o) for (n, _), objs in data.items() if n == name for o in objs]

        routes = [r for kind in ROUTE_KINDS for r in items(kind)]
        gateways = items("Gateway")
        gateway_ns = set(asked or ())
        route_ns = set(asked or ())
        backend_ns = set(asked or ())
        secret_ns: set[str] = set()
        for route in routes:
            rns = str(dig(route, "metadata", "namespace", default=""))
            route_ns.add(rns)
            backend_ns.add(rns)
            for ref in as_list(dig(route, "spec", "parentRefs")):
                if isinstance(ref, Mapping) and ref.get("kind", "Gateway") == "Gateway":
                    gateway_ns.add(str(ref.get("namespace") or rns))
            for rule in as_list(dig(route, "spec", "rules")):
                for ref in as_list(dig(rule, "backendRefs")):
                    if isinstance(ref, Mapping):
                        backend_ns.add(str(ref.get("namespace") or rns))
        for gw in gateways:
            gns = str(dig(gw, "metadata", "namespace", default=""))
            backend_ns.add(gns)
            gateway_ns.add(gns)  # with -A, a Gateway no route points at still has its policies
            for listener in as_list(dig(gw, "spec", "listeners")):
                for ref in as_list(dig(listener, "tls", "certificateRefs")):
                    if isinstance(ref, Mapping):
                        secret_ns.add(str(ref.get("namespace") or gns))
        # EnvoyProxy objects are read only where the read Gateways and their classes point
        classes = {str(dig(g, "spec", "gatewayClassName", default="")) for g in gateways}
        param_ns = {
            ref[0]
            for ref in [gateway_envoyproxy(g) for g in gateways]
            + [class_envoyproxy(c) for c in items("GatewayClass") if dig(c, "metadata", "name") in classes]
            if ref is not None
        }
        # the grants where listener certificateRefs point decide which Secrets may be read
        grant_ns = backend_ns | gateway_ns | secret_ns
        fallback = {
            Scope.ENVOY_SERVICE: gateway_ns | {ENVOY_GATEWAY_SYSTEM},
            Scope.GATEWAYS: gateway_ns,
            Scope.BACKENDS: backend_ns | gateway_ns,
            Scope.PARAMETERS: param_ns,
        }

        def retry_in(name: str) -> set[str]:
            return grant_ns if name == "ReferenceGrant" else fallback[KINDS[name].scope]

        retries: set[tuple[str, str | None]] = {
            (name, ns)
            for name in self._forbidden_wide
            if len(retry_in(name)) <= _NAMESPACE_FANOUT_LIMIT
            for ns in retry_in(name)
            if ns
        }
        if asked is None:
            # Secrets are never listed: read_secrets() gets the ones listeners may use, by name
            # EnvoyProxies only where parametersRefs point, the controller only in its namespace
            narrow = (Scope.LISTENER_SECRETS, Scope.CONTROLLER, Scope.PARAMETERS)
            wide: set[tuple[str, str | None]] = {(n, None) for n in inputs if KINDS[n].scope not in narrow}
            for n in inputs:
                if KINDS[n].scope is Scope.CONTROLLER:
                    wide.add((n, ENVOY_GATEWAY_SYSTEM))
                elif KINDS[n].scope is Scope.PARAMETERS:
                    wide |= _fan(n, set(param_ns))
            return wide | retries
        gateways_in_asked = any(dig(g, "metadata", "namespace") in asked for g in gateways)
        wanted = set(retries)
        for name in inputs:
            spec = KINDS[name]
            if spec.scope is Scope.CLUSTER:
                wanted.add((name, None))
            elif spec.scope is Scope.ROUTES:
                targets: set[str | None] = {None} if gateways_in_asked else set(route_ns)
                wanted |= _fan(name, targets)
            elif spec.scope is Scope.GATEWAYS:
                wanted |= _fan(name, gateway_ns | (route_ns if name != "Gateway" else set()))
            elif spec.scope is Scope.BACKENDS:
                wanted |= _fan(name, grant_ns if name == "ReferenceGrant" else backend_ns | gateway_ns)
            elif spec.scope is Scope.CONTROLLER:
                wanted.add((name, ENVOY_GATEWAY_SYSTEM))
            elif spec.scope is Scope.PARAMETERS:
                wanted |= _fan(name, set(param_ns))
            elif spec.scope is Scope.ENVOY_SERVICE:
                # Customers rarely may list Services cluster-wide: a denial is retried where Envoy
                # Gateway puts them (its own namespace, or the Gateway's in GatewayNamespace deploy mode).
                wanted.add((name, None))
        return wanted


class _ListPlan:
    """The requests of one round: one list per resource, place and label selector. Two inputs may read
    the same resource in the same place (a view of Services, say): one request serves both. A kind
    listed once per label selector gets its lists side by side, their objects together; the first that
    fails is the answer (RBAC does not look at selectors)."""

    def __init__(self, reader: ClusterReader, todo: list[tuple[str, str | None]]):
        self.todo = todo
        self.requests = {t: (reader._path(KINDS[t[0]], t[1]), KINDS[t[0]].label_selectors) for t in todo}
        unique = sorted(set(self.requests.values()), key=lambda r: (r[0], r[1]))
        self.owner = {r: next(t for t in todo if self.requests[t] == r) for r in unique}
        self.jobs: list[tuple[Any, ...]] = [
            ("list", owner, selector)
            for owner in self.owner.values()
            for selector in KINDS[owner[0]].label_selectors or (None,)
        ]

    def results(
        self, answers: list[Any]
    ) -> list[list[Mapping[str, Any]] | AccessProblem | ClusterUnavailable]:
        parts: dict[tuple[str, str | None], list[Any]] = {}
        for job, answer in zip(self.jobs, answers, strict=True):
            parts.setdefault(job[1], []).append(answer)
        fetched = {r: _combined(parts[owner]) for r, owner in self.owner.items()}
        return [
            _for_input(fetched[self.requests[t]], t[0], self.owner[self.requests[t]][0]) for t in self.todo
        ]


def _combined(parts: list[Any]) -> list[Mapping[str, Any]] | AccessProblem | ClusterUnavailable:
    for part in parts:
        if isinstance(part, ClusterUnavailable | AccessProblem):
            return part
    return [item for part in parts for item in part]


def _may_retry(name: str) -> bool:
    # Gateways are where the fallback looks, so a denied Gateway list cannot fall back to itself.
    return KINDS[name].scope in _FALLBACK and name != "Gateway"


def _for_input(
    result: list[Mapping[str, Any]] | AccessProblem | ClusterUnavailable, name: str, owner: str
) -> list[Mapping[str, Any]] | AccessProblem | ClusterUnavailable:
    if isinstance(result, AccessProblem) and result.input != name:
        return AccessProblem(
            name, result.reason, result.verb, result.resource, result.namespace, result.message
        )
    if isinstance(result, list) and owner != name:
        return [raw_of(item) for item in result]  # admitted early as the owner's kind: admitted again
    return result


def _fan(name: str, namespaces: set[str] | set[str | None] | set[None]) -> set[tuple[str, str | None]]:
    if None in namespaces or len(namespaces) > _NAMESPACE_FANOUT_LIMIT:
        return {(name, None)}
    return {(name, ns) for ns in namespaces if ns}


def _describe_transport(exc: BaseException) -> str:
    text = _one_line(exc)
    truncated = api_answer.cut_off(text)
    if truncated:
        return truncated
    lowered = text.lower()
    if "certificate verify failed" in lowered or ("ssl" in lowered and "verify" in lowered):
        return "TLS verification failed (the server certificate is not trusted by the kubeconfig's CA)"
    if "refused" in lowered:
        return "connection refused"
    if "timed out" in lowered or "timeout" in lowered:
        return "timed out"
    if (
        "name or service not known" in lowered
        or "nodename nor servname" in lowered
        or "resolution" in lowered
    ):
        return "the server name does not resolve"
    return text


def _read_bounded(resp: Any, limit: int) -> bytes | None:
    """The body of a kubernetes-client response, streamed; None (and the connection dropped) once it
    passes `limit` bytes, so one huge answer cannot exhaust memory before any cap is looked at."""
    raw = getattr(resp, "response", None)  # the urllib3 response, not yet read
    if raw is None or not hasattr(raw, "stream"):
        data = resp.read() or b""
        return data if len(data) <= limit else None
    declared = raw.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raw.close()
        raw.release_conn()  # the pool's slot back (it connects afresh), not the half-read connection
        return None
    chunks: list[bytes] = []
    size = 0
    for chunk in raw.stream(1 << 16):
        size += len(chunk)
        if size > limit:
            raw.close()
            raw.release_conn()
            return None
        chunks.append(chunk)
    raw.release_conn()
    return b"".join(chunks)


def _over_cap(spec: KindSpec, namespace: str | None, objects: int, read_bytes: int) -> AccessProblem:
    return _list_error(
        spec,
        namespace,
        f"stopped at egdoctor's read cap of {MAX_OBJECTS_PER_LIST} objects and "
        f"{MAX_BYTES_PER_LIST // (1024 * 1024)} MiB per list (read {objects} objects, "
        f"{read_bytes // (1024 * 1024)} MiB): diagnose fewer namespaces at a time",
    )


def _list_error(spec: KindSpec, namespace: str | None, message: str) -> AccessProblem:
    """A list that failed for another reason than RBAC or an absent kind (EGD005)."""
    return AccessProblem(
        spec.name, "error", "list", spec.plural, namespace if spec.namespaced else None, message
    )
