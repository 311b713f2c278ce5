"""--observe route cleanup when a create's outcome is unknown: nothing may stay behind silently."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from egdoctor.probes import cleanup as cleanup_module
from egdoctor.probes.kube import KubeResult
from egdoctor.probes.observers import RouteObserver

FILTERS = ("gateway.envoyproxy.io", "v1alpha1", "httproutefilters")


class FakeKube:
    """Answers create with `create`, and each delete with the next of `deletes` (the last repeats)."""

    timeout = 0.1

    def __init__(self, create: KubeResult, deletes: list[KubeResult], by_label: KubeResult) -> None:
        self.create_result = create
        self.deletes: Iterator[KubeResult] = iter(deletes)
        self.last = deletes[-1]
        self.by_label = by_label
        self.calls: list[tuple[str, ...]] = []

    def create(self, group: str, version: str, plural: str, namespace: str, obj: Any) -> KubeResult:
        self.calls.append(("create", plural))
        return self.create_result

    def delete(self, group: str, version: str, plural: str, namespace: str, name: str) -> KubeResult:
        self.calls.append(("delete", plural, name))
        return next(self.deletes, self.last)

    def list(self, *args: Any, **kwargs: Any) -> KubeResult:
        return KubeResult(403)

    def get(self, *args: Any, **kwargs: Any) -> KubeResult:
        return KubeResult(404)

    def request(self, method: str, path: str, query: Any = None, body: Any = None) -> KubeResult:
        self.calls.append((method, path, str(query)))
        return self.by_label

    path = staticmethod(lambda *a: "/apis/" + "/".join(str(x) for x in a if x))


@pytest.fixture(autouse=True)
def short_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cleanup_module, "grace_seconds", lambda kube: 0.3)
    monkeypatch.setattr(cleanup_module, "RETRY_STEP", 0.02)


def _observer(kube: FakeKube) -> RouteObserver:
    return RouteObserver("tok123", kube=kube, namespace="team-a")  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [0, 500, 503, 504, 409])
def test_a_create_with_unknown_outcome_stays_on_the_cleanup_list(status: int) -> None:
    kube = FakeKube(KubeResult(status, error="timed out"), [KubeResult(200)], KubeResult(200))
    observer = _observer(kube)
    ok, _why = observer.setup()
    assert not ok
    assert observer.created == [FILTERS]
    assert observer.close() == []
    assert ("delete", "httproutefilters", "egdoctor-probe-tok123") in kube.calls
    assert observer.created == []


@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_a_refused_create_is_not_deleted(status: int) -> None:
    kube = FakeKube(KubeResult(status), [KubeResult(200)], KubeResult(200))
    observer = _observer(kube)
    observer.setup()
    assert observer.created == []
    assert observer.close() == []
    assert not [c for c in kube.calls if c[0] == "delete"]


def test_an_object_that_appears_after_the_timeout_is_still_deleted() -> None:
    """The server persisted the create after the client gave up: the first deletes find nothing."""
    kube = FakeKube(KubeResult(0), [KubeResult(404), KubeResult(404), KubeResult(200)], KubeResult(500))
    observer = _observer(kube)
    observer.setup()
    assert observer.close() == []
    assert [c for c in kube.calls if c[0] == "delete"] == [
        ("delete", "httproutefilters", "egdoctor-probe-tok123")
    ] * 3


def test_when_anything_may_be_left_the_kubectl_line_is_printed() -> None:
    kube = FakeKube(KubeResult(0), [KubeResult(404)], KubeResult(200))
    observer = _observer(kube)
    observer.setup()
    notes = observer.close()
    assert len(notes) == 1
    assert "may be left (its create did not answer in time)" in notes[0]
    assert notes[0].endswith(
        "kubectl delete httproutefilters.gateway.envoyproxy.io -n team-a -l egdoctor.io/run-id=tok123"
    )


def test_a_failed_delete_falls_back_to_the_run_label() -> None:
    kube = FakeKube(KubeResult(201), [KubeResult(500)], KubeResult(200))
    observer = _observer(kube)
    observer.created.append(FILTERS)
    assert observer.close() == []
    label_calls = [c for c in kube.calls if c[0] == "DELETE"]
    assert label_calls and "egdoctor.io/run-id=tok123" in label_calls[0][2]
    assert observer.created == []


def test_a_failed_delete_and_label_delete_print_the_kubectl_line() -> None:
    kube = FakeKube(KubeResult(201), [KubeResult(403)], KubeResult(403))
    observer = _observer(kube)
    observer.created.append(FILTERS)
    notes = observer.close()
    assert notes and "HTTP 403 forbidden" in notes[0] and "kubectl delete httproutefilters" in notes[0]
