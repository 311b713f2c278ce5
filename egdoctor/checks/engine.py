"""Run the registered checks over a snapshot and decide which findings concern the asked scope."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from egdoctor.checks.registry import CheckContext, CheckSpec, Options, all_checks
from egdoctor.findings.codes import make_finding
from egdoctor.findings.model import Finding, ObjectRef
from egdoctor.model.topology import GatewayKey, Topology, build_topology
from egdoctor.snapshot.kinds import KINDS, TEAM_KINDS
from egdoctor.snapshot.model import AccessProblem, Malformed, Snapshot

_NAMED_UNRUN = 5  # the one-line reason names this many unrun checks; the report's footer lists them all


@dataclass(frozen=True)
class Diagnosis:
    snapshot: Snapshot
    topology: Topology
    findings: tuple[Finding, ...]
    skipped: Mapping[str, str]  # check id -> why it did not run
    relevant_gateways: tuple[GatewayKey, ...]
    # checks an API error (a 5xx, a timeout, a broken answer; not an RBAC denial, not a missing CRD) left
    # unrun: the run is incomplete, and a CI gate must not read its silence as a pass
    unrun_by_api_error: tuple[str, ...] = ()

    @property
    def incomplete(self) -> str | None:
        """Why the diagnosis is only partial, or None when every check could run on what it needs."""
        if not self.unrun_by_api_error:
            return None
        count = len(self.unrun_by_api_error)
        named = ", ".join(self.unrun_by_api_error[:_NAMED_UNRUN])
        if count > _NAMED_UNRUN:
            named += f" and {count - _NAMED_UNRUN} more"
        return f"API errors left {count} check{'s' if count > 1 else ''} unrun ({named}; see EGD005)"

    @property
    def could_not_run(self) -> str | None:
        """Why the diagnosis says nothing at all: neither Gateways nor HTTPRoutes could be read. A CI
        gate must not read that as a pass."""
        blocked = [name for name in ("Gateway", "HTTPRoute") if _blocking(self.snapshot, name)]
        if len(blocked) == 2:
            return "neither Gateways nor HTTPRoutes could be read (see the EGD002/EGD003/EGD005 findings)"
        return None


def required_inputs(checks: Iterable[CheckSpec]) -> set[str]:
    return {i for c in checks for i in c.inputs}


def _blocking(snapshot: Snapshot, name: str) -> list[AccessProblem]:
    """The access problems that make a check reading `name` unreliable: a check running on a partly
    readable kind would call unreadable objects missing. A kind that is not installed only blocks when
    it is required; optional kinds (TCPRoute, cert-manager...) simply hold nothing."""
    if KINDS[name].quiet:
        return []
    return [
        p
        for p in snapshot.problems_for(name)
        if p.reason in ("forbidden", "error") or (p.reason == "absent" and KINDS[name].required)
    ]


def run_checks(
    snapshot: Snapshot, options: Options, checks: Mapping[str, CheckSpec] | None = None
) -> Diagnosis:
    checks = checks if checks is not None else all_checks()
    topology = build_topology(snapshot)
    ctx = CheckContext(snapshot, topology, options)
    findings: list[Finding] = []
    skipped: dict[str, str] = {}
    disabled_by: dict[AccessProblem, list[str]] = {}
    unrun: list[str] = []
    for spec in checks.values():
        blockers = [p for i in spec.inputs for p in _blocking(snapshot, i)]
        for p in (p for i in spec.inputs for p in snapshot.problems_for(i)):
            disabled_by.setdefault(p, [])
        if blockers:
            if any(b.reason == "error" for b in blockers):
                unrun.append(spec.id)
            for b in blockers:
                disabled_by[b].append(spec.id)
            skipped[spec.id] = "; ".join(sorted({f"{b.reason}: {b.resource}" for b in blockers}))
            continue
        try:
            for f in spec.func(ctx):
                if f.code not in spec.codes:
                    raise ValueError(f"check {spec.id} reported undeclared code {f.code}")
                findings.append(replace(f, check=spec.id))
        except Exception as exc:  # a check must never take the rest of the report down
            skipped[spec.id] = f"internal error: {type(exc).__name__}: {exc}"
            findings.append(
                make_finding(
                    "EGD004",
                    subject=ObjectRef("Check", None, spec.id),
                    reason=f"check {spec.id} could not evaluate the objects ({type(exc).__name__}: {exc})",
                    fix="an object has a shape egdoctor does not expect: `kubectl get -o yaml` the objects "
                    "this check reads",
                    ran=f"every check but {spec.id} ran",
                )
            )
    findings.extend(_access_findings(snapshot, disabled_by))
    relevant = _relevance(snapshot, topology)
    findings = [f for f in _explained_once(findings) if _in_scope(f, snapshot, relevant)]
    findings.sort(key=lambda f: (-f.severity.rank, f.code, str(f.subject or ""), f.message))
    return Diagnosis(
        snapshot, topology, tuple(_dedupe(findings)), skipped, tuple(sorted(relevant)), tuple(sorted(unrun))
    )


# The generic controller verdict (egdoctor/checks/verdicts.py): said only where no other check explains
# the same object.
_GENERIC = "EGD709"


def _explained_once(findings: list[Finding]) -> list[Finding]:
    explained = {str(f.subject) for f in findings if f.code != _GENERIC and not f.code.startswith("EGD0")}
    return [f for f in findings if f.code != _GENERIC or str(f.subject) not in explained]


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for f in findings:
        key = (f.code, str(f.subject), f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _access_findings(snapshot: Snapshot, disabled_by: Mapping[AccessProblem, list[str]]) -> list[Finding]:
    """One finding per kind and cause: the same denial in three namespaces is one problem to fix."""
    groups: dict[tuple[str, str, str, str, str], list[AccessProblem]] = {}
    for p in snapshot.problems:
        if KINDS[p.input].quiet:
            continue  # said once in the report header (model/eg_version.py)
        message = p.message if p.reason == "error" else ""
        groups.setdefault((p.input, p.reason, p.verb, p.resource, message), []).append(p)
    out = []
    for (name, reason, verb, resource, message), problems in groups.items():
        skipped = ", ".join(sorted({c for p in problems for c in disabled_by.get(p, [])})) or "none"
        spaces = sorted({p.namespace for p in problems if p.namespace})
        cluster_wide = any(p.namespace is None for p in problems)
        where = " and ".join(
            ([f"in namespace{'s' if len(spaces) > 1 else ''} {', '.join(spaces)}"] if spaces else [])
            + (["cluster-wide"] if cluster_wide else [])
        )
        evidence = {
            "kind": name,
            "namespaces": spaces,
            "clusterWide": cluster_wide,
            "apiMessage": problems[0].message,
        }
        if reason == "forbidden":
            out.append(
                make_finding(
                    "EGD002", verb=verb, resource=resource, where=where, skipped=skipped, evidence=evidence
                )
            )
        elif reason == "absent":
            if KINDS[name].required:
                out.append(
                    make_finding(
                        "EGD003", group_kind=KINDS[name].group_kind, skipped=skipped, evidence={"kind": name}
                    )
                )
        else:
            out.append(
                make_finding(
                    "EGD005",
                    verb=verb,
                    resource=resource,
                    where=where,
                    reason=message,
                    skipped=skipped,
                    evidence=evidence,
                )
            )
    for m in snapshot.malformed:
        fix, ran = _malformed_hint(m)
        out.append(make_finding("EGD004", subject=m.subject, reason=m.reason, fix=fix, ran=ran))
    return out


def _malformed_hint(m: Malformed) -> tuple[str, str]:
    """The fix, and what ran without the skipped input."""
    if m.subject.kind == "File":
        return (
            "fix or remove the file (`kubectl get -o yaml` writes what egdoctor reads)",
            "the checks ran on the objects of the other files only",
        )
    return (
        "fix the object so it matches its API schema (`kubectl get -o yaml` it)",
        f"the checks ran without {m.subject}: findings about it may be missing",
    )


def _relevance(snapshot: Snapshot, topology: Topology) -> dict[GatewayKey, set[str] | None]:
    relevant: dict[GatewayKey, set[str] | None] = {}
    if snapshot.namespaces is None:
        return {key: None for key in topology.gateways}
    for key in topology.gateways:
        if key[0] in snapshot.namespaces:
            relevant[key] = None
    for att in topology.attachments:
        if att.route.namespace not in snapshot.namespaces or att.gateway_key is None:
            continue
        if att.gateway_key not in topology.gateways:
            continue
        names = {lv.name for lv in topology.listeners_for(att)}
        current = relevant.get(att.gateway_key, set())
        if current is not None:
            relevant[att.gateway_key] = current | names
    return relevant


def _in_scope(f: Finding, snapshot: Snapshot, relevant: Mapping[GatewayKey, set[str] | None]) -> bool:
    if snapshot.namespaces is None or f.subject is None or f.subject.kind in ("Check", "File"):
        return True
    if f.subject.namespace in snapshot.namespaces:
        return True
    if f.concerns:
        return bool(set(f.concerns) & snapshot.namespaces)
    if f.subject.kind in TEAM_KINDS:
        # another team's route stays out of a namespace-scoped report, even when it shares the Gateway
        return f.gateway is not None and f.gateway.namespace in snapshot.namespaces
    if f.gateway is not None and f.gateway.key in relevant:
        listeners = relevant[f.gateway.key]
        return listeners is None or f.gateway.listener is None or f.gateway.listener in listeners
    return False
