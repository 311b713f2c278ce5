"""Malformed and adversarial objects never break a run (property-based, hypothesis).

Each example takes the objects of a lab scenario, damages them (a value of the wrong type, a missing field,
a huge list, hostile unicode, a conflicting policy) and runs them through the snapshot, the model, every
check and every renderer, in process (thousands of runs would take an hour through a subprocess; the CLI
path of the same damage is covered by a few subprocess runs at the end). The properties:

* no exception escapes the snapshot, the checks or any renderer;
* no check gives up (an EGD004 whose subject is a check, "could not evaluate the objects"): a damaged
  object is either read defensively or left out as EGD004 *on that object*;
* every object left out is named by an EGD004 finding.
"""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
from collections.abc import Mapping
from contextlib import redirect_stdout
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from egdoctor.checks.engine import run_checks
from egdoctor.checks.registry import Options, all_checks
from egdoctor.report.formats import FORMATS, render
from egdoctor.report.view import Report
from egdoctor.snapshot.assemble import assemble, derive_envoy_services
from egdoctor.snapshot.kinds import KINDS, spec_for_object
from egdoctor.snapshot.model import Source
from egdoctor_lab.scenario import load_scenario
from tests.conftest import egdoctor_command

# Scenarios whose objects cover every kind the checks read: Gateways, routes of each kind, CTPs in both
# modes, the other policies, TLS Secrets and cert-manager, the Envoy Service with Octavia annotations.
BASES = (
    "demo",
    "policies-not-in-effect",
    "tls-cert-manager-healthy",
    "tls-certificate-validity",
    "backendtls-ca-invalid",
    "ctp-conflicted",
    "shared-xff-healthy",
    "ctp-proxy-and-xff",
    "tcproute-grpcroute-faults",
    "tls-http01-challenge-failing",
)
NOW = datetime(2026, 11, 30, tzinfo=timezone.utc)


def _base_objects(name: str) -> list[dict[str, Any]]:
    return [copy.deepcopy(dict(o)) for o in load_scenario(name).objects]


_BASE_CACHE: dict[str, list[dict[str, Any]]] = {}


def base(name: str) -> list[dict[str, Any]]:
    if name not in _BASE_CACHE:
        _BASE_CACHE[name] = _base_objects(name)
    return copy.deepcopy(_BASE_CACHE[name])


def paths_of(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place inside an object a value could be damaged (dict keys and list positions)."""
    found: list[tuple[Any, ...]] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            found.append((*prefix, key))
            found.extend(paths_of(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.append((*prefix, index))
            found.extend(paths_of(item, (*prefix, index)))
    return found


# A short list the search can exhaust: every wrong type, the edges of numbers, hostile text.
WRONG_VALUES = st.sampled_from(
    [
        None,
        True,
        0,
        -1,
        2**64,
        1.5,
        float("nan"),
        "",
        "☃" * 300,
        "\x1b[31mred\x1b[0m\u202e",
        "a" * 5000,
        "-1",
        "999.1.1.1",
        "team-a/../kube-system",
        "%REQ(:authority)%",
        [],
        [None],
        ["x"],
        [{"name": 1}],
        {},
        {"": None},
        {"name": []},
    ]
)


def _set(obj: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        obj = obj[step]
    obj[path[-1]] = value


def _delete(obj: Any, path: tuple[Any, ...]) -> None:
    for step in path[:-1]:
        obj = obj[step]
    del obj[path[-1]]


def _get(obj: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        obj = obj[step]
    return obj


@st.composite
def damaged(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A scenario's objects with one to three kinds of damage."""
    objects = base(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        # kind first: a scenario has many Namespaces and Services, but every kind deserves the same damage
        kind = draw(st.sampled_from(sorted({str(o.get("kind")) for o in objects})))
        obj = draw(st.sampled_from([o for o in objects if str(o.get("kind")) == kind]))
        places = [p for p in paths_of(obj) if p[:1] not in (("apiVersion",), ("kind",))]
        action = draw(st.sampled_from(["replace", "delete", "huge", "conflict", "duplicate"]))
        if action == "conflict":
            objects.append(_conflicting_policy(objects, draw))
            continue
        if action == "duplicate":
            twin = copy.deepcopy(obj)
            if places:
                _set(twin, draw(st.sampled_from(places)), draw(WRONG_VALUES))
            objects.append(twin)
            continue
        if not places:
            continue
        path = draw(st.sampled_from(places))
        if action == "replace":
            _set(obj, path, draw(WRONG_VALUES))
        elif action == "delete":
            _delete(obj, path)
        else:
            current = _get(obj, path)
            _set(obj, path, [copy.deepcopy(current)] * draw(st.sampled_from([200, 3000])))
    return objects


def _conflicting_policy(objects: list[dict[str, Any]], draw: st.DrawFn) -> dict[str, Any]:
    """A ClientTrafficPolicy on an existing Gateway whose client-IP settings contradict any other."""
    gateways = [o for o in objects if o.get("kind") == "Gateway"] or [{"metadata": {"name": "x"}}]
    gw = draw(st.sampled_from(gateways))
    meta = gw.get("metadata") if isinstance(gw.get("metadata"), Mapping) else {}
    spec: dict[str, Any] = {
        "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": meta.get("name")}],
        "proxyProtocol": {"optional": draw(st.booleans())},
        "clientIPDetection": {"xForwardedFor": {"numTrustedHops": draw(st.integers(-5, 300))}},
        "enableProxyProtocol": draw(st.booleans()),
    }
    return {
        "apiVersion": "gateway.envoyproxy.io/v1alpha1",
        "kind": "ClientTrafficPolicy",
        "metadata": {"name": f"conflict-{draw(st.integers(0, 9))}", "namespace": meta.get("namespace")},
        "spec": spec,
    }


def diagnose_offline(objects: list[dict[str, Any]], namespace: str | None) -> Report:
    """What `egdoctor check --from-file` does with these objects, in process."""
    raw: dict[str, list[Any]] = {name: [] for name in KINDS}
    for item in objects:
        api_version = item.get("apiVersion")
        kind = item.get("kind")
        if not isinstance(api_version, str) or not isinstance(kind, str):
            continue
        spec = spec_for_object(api_version, kind)
        if spec is not None:
            raw[spec.name].append(item)
    raw["EnvoyService"] = list(derive_envoy_services(raw))
    held = {name for name, items in raw.items() if items}
    if raw["Service"]:
        held.add("EnvoyService")
    scope = frozenset({namespace}) if namespace else None
    snapshot = assemble(raw, scope, Source("files", files=("fuzz.yaml",)), fetched=held)
    diagnosis = run_checks(snapshot, Options(now=NOW), all_checks())
    return Report(diagnosis, diagnosis.findings, None, checks_run=tuple(all_checks()))


def assert_survives(
    objects: list[dict[str, Any]], namespace: str | None, formats: tuple[str, ...] = FORMATS
) -> None:
    report = diagnose_offline(objects, namespace)
    gave_up = [f.message for f in report.findings if f.subject is not None and f.subject.kind == "Check"]
    assert not gave_up, gave_up
    named = {
        (m.subject.kind, m.subject.namespace, m.subject.name) for m in report.diagnosis.snapshot.malformed
    }
    egd004 = {
        (f.subject.kind, f.subject.namespace, f.subject.name)
        for f in report.findings
        if f.code == "EGD004" and f.subject is not None
    }
    if namespace is None:
        assert named <= egd004, named - egd004
    for fmt in formats:
        out = io.StringIO()
        with redirect_stdout(out):
            render(report, fmt, color=False, show_all=True)
        if fmt == "json":
            json.loads(out.getvalue())


@settings(
    max_examples=int(os.environ.get("EGDOCTOR_FUZZ_EXAMPLES", "400")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
@given(objects=damaged(), namespace=st.sampled_from([None, "team-a", "gateway"]))
def test_damaged_objects_never_break_a_run(objects: list[dict[str, Any]], namespace: str | None) -> None:
    assert_survives(objects, namespace)


SWEEP_VALUES: tuple[Any, ...] = (None, "☃\x1b[31m", -1, [{"name": 1}], {"name": []})


def _pattern(path: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple("[]" if isinstance(step, int) else step for step in path)


def _sweep_cases() -> dict[str, list[tuple[str, int, tuple[Any, ...]]]]:
    """(base, object index, path) for the first place each (kind, field) occurs in each base, by kind: the
    same field matters differently in different layouts (a ClientTrafficPolicy that is in effect is read
    further than one that lost a conflict)."""
    cases: dict[str, list[tuple[str, int, tuple[Any, ...]]]] = {}
    seen: set[tuple[str, str, tuple[Any, ...]]] = set()
    for name in BASES:
        for index, obj in enumerate(base(name)):
            kind = str(obj.get("kind"))
            for path in paths_of(obj):
                key = (name, kind, _pattern(path))
                if path[:1] in (("apiVersion",), ("kind",)) or key in seen:
                    continue
                seen.add(key)
                cases.setdefault(kind, []).append((name, index, path))
    return cases


SWEEP = _sweep_cases()


@pytest.mark.parametrize("kind", sorted(SWEEP))
def test_every_field_of_every_kind_takes_every_wrong_type(kind: str) -> None:
    """Systematic where the search above is random: each field that occurs in the bases, replaced by each
    wrong type in turn (one damage per run)."""
    for name, index, path in SWEEP[kind]:
        for value in SWEEP_VALUES:
            objects = base(name)
            _set(objects[index], path, copy.deepcopy(value))
            try:
                assert_survives(objects, None, formats=("json",))
            except Exception as exc:
                raise AssertionError(
                    f"{kind} {'.'.join(map(str, path))} = {value!r} ({name}): {exc}"
                ) from exc


def test_every_base_is_healthy_enough_to_be_worth_damaging() -> None:
    """The bases must be read whole (or the properties above would test less than they claim)."""
    for name in BASES:
        report = diagnose_offline(base(name), None)
        assert not report.diagnosis.snapshot.malformed, name
        assert report.diagnosis.snapshot.of("Gateway"), name


@pytest.mark.parametrize(
    ("damage", "left_out"),
    [
        pytest.param(lambda o: _set(o, ("spec", "listeners"), "http"), True, id="listeners-a-string"),
        pytest.param(lambda o: _set(o, ("spec", "listeners", 0, "port"), "eighty"), True, id="port-text"),
        pytest.param(lambda o: _delete(o, ("metadata", "name")), True, id="no-name"),
        # well-shaped, only far too many (the CRD allows 64): read, judged, no crash
        pytest.param(
            lambda o: _set(o, ("spec", "listeners"), [o["spec"]["listeners"][0]] * 3000), False, id="huge"
        ),
    ],
)
def test_a_damaged_gateway_through_the_cli(tmp_path: Path, damage: Any, left_out: bool) -> None:
    """The same damage through the installed CLI: the exit code of a report (not 3), no check gives up,
    and a Gateway of the wrong shape is named by EGD004."""
    objects = base("demo")
    gateway = next(o for o in objects if o["kind"] == "Gateway")
    damage(gateway)
    dump = tmp_path / "dump.json"  # JSON: a YAML dump of repeated items would use aliases, which are refused
    dump.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}), encoding="utf-8")
    run = subprocess.run(
        [*egdoctor_command(), "check", "-A", "--from-file", str(dump), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode in (0, 1, 2), run.stderr
    assert "Traceback" not in run.stderr
    document = json.loads(run.stdout)
    codes = [f["code"] for f in document["findings"]]
    assert ("EGD004" in codes) is left_out, codes
    assert not [f for f in document["findings"] if f.get("subject", {}).get("kind") == "Check"]
