"""Deleting what `--observe route` created, including what a failed create may have created.

A create that timed out on the client (status 0) or got a 5xx may still have been, or still be being,
persisted by the API server: such an object stays on the cleanup list. Its delete by name may then come
before the object exists, so a 404 for it is retried for a bounded grace period. What cannot be deleted
by name is tried once more by the run-id label; whatever may still be left is named with the exact
`kubectl delete -l` line that removes it.
"""

from __future__ import annotations

import time
from collections.abc import MutableSequence, MutableSet

from egdoctor.probes.kube import Kube, KubeResult

RUN_LABEL = "egdoctor.io/run-id"
RETRY_STEP = 0.25


def create_outcome_unknown(res: KubeResult) -> bool:
    """No answer, a server error, or 409 (a name with our run token can only be ours): it may exist."""
    return res.status == 0 or res.status >= 500 or res.status == 409


def grace_seconds(kube: Kube) -> float:
    """How long a create that outran the client's timeout is waited for: the server may still be working
    on it for a while, but a diagnosis must end."""
    return min(max(2 * kube.timeout, 5.0), 30.0)


def delete_command(plurals_groups: list[tuple[str, str]], namespace: str, token: str) -> str:
    kinds = ",".join(f"{plural}.{group}" for group, plural in plurals_groups)
    return f"kubectl delete {kinds} -n {namespace} -l {RUN_LABEL}={token}"


def cleanup(
    kube: Kube,
    namespace: str,
    name: str,
    token: str,
    created: MutableSequence[tuple[str, str, str]],
    uncertain: MutableSet[tuple[str, str, str]],
) -> list[str]:
    """Delete every (group, version, plural) in `created`, removing each from it once gone; the notes
    say what may be left and how to remove it."""
    problems: list[str] = []
    for item in list(created):
        group, version, plural = item
        res = kube.delete(group, version, plural, namespace, name)
        if res.not_found and item in uncertain:
            res = _delete_when_it_appears(kube, item, namespace, name)
        if res.ok or (res.not_found and item not in uncertain):
            created.remove(item)
            uncertain.discard(item)
            continue
        # last resort: the run-id label finds it whatever its state
        by_label = kube.request(
            "DELETE",
            kube.path(group, version, plural, namespace),
            {"labelSelector": f"{RUN_LABEL}={token}"},
        )
        if by_label.ok and item not in uncertain:
            created.remove(item)
            continue
        why = "its create did not answer in time" if item in uncertain and res.not_found else res.describe()
        problems.append(f"{plural} {namespace}/{name} may be left ({why})")
    if not created:
        return []
    command = delete_command([(g, p) for g, _, p in created], namespace, token)
    return [
        f"could not make sure the temporary objects are gone: {'; '.join(problems)}: delete them: {command}"
    ]


def _delete_when_it_appears(kube: Kube, item: tuple[str, str, str], namespace: str, name: str) -> KubeResult:
    group, version, plural = item
    deadline = time.monotonic() + grace_seconds(kube)
    res = KubeResult(404)
    while time.monotonic() < deadline:
        time.sleep(RETRY_STEP)
        res = kube.delete(group, version, plural, namespace, name)
        if not res.not_found:
            return res
    return res
