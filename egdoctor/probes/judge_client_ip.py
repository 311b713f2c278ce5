"""The client-IP verdict of one Gateway: the address Envoy observed for an ordinary request against
this machine's (or --expect-client-ip).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from egdoctor.probes.judged import GatewayFindings, Judged, norm_ip, observed_ip
from egdoctor.probes.model import GatewayClientIP
from egdoctor.probes.observers import Observer
from egdoctor.probes.plan import GatewayTargets, ProbeOptions, join_words
from egdoctor.probes.port_run import PortRun
from egdoctor.probes.sender import Sent
from egdoctor.probes.wording import mode_text


def _same_client(observed: str | None, expected: str | None, explicit: bool, target: str) -> bool | None:
    """True/False, or None when this machine sits behind NAT and nothing better was given."""
    observed, expected = norm_ip(observed), norm_ip(expected)
    if observed is None or expected is None:
        return None
    if observed == expected:
        return True
    if explicit:
        return False
    try:
        exp, obs, tgt = (
            ipaddress.ip_address(expected),
            ipaddress.ip_address(observed),
            ipaddress.ip_address(target),
        )
    except ValueError:
        return False
    if not exp.is_global and tgt.is_global and obs.is_global:
        return None
    return False


def client_ip_verdict(
    j: Judged,
    gf: GatewayFindings,
    gt: GatewayTargets,
    runs: Sequence[PortRun],
    ordinary: list[tuple[Sent, str]],
    observer: Observer,
    options: ProbeOptions,
    proved: list[str],
    wrong_hops: bool,
) -> None:
    key = gt.key
    mode = gt.view.mode
    first_run = runs[0]
    cip = first_run.target.client_ip
    this_machine = next((s.local for s, _ in ordinary if s.local), None) or next(
        (r.plain.local for r in runs if r.plain is not None and r.plain.local), None
    )
    explicit = options.expect_client_ip is not None
    observed_item = next(((s, how) for s, how in ordinary if observed_ip(s) is not None), None)
    observed = observed_ip(observed_item[0]) if observed_item else None
    expected = options.expect_client_ip or (observed_item[0].local if observed_item else this_machine)
    label = observer.label
    gref_listener = first_run.target.listener.name

    if observed_item is not None:
        s, how = observed_item
        same = _same_client(observed, expected, explicit, s.address)
        text = mode_text(s.target.client_ip)
        whose = "the address given with --expect-client-ip" if explicit else "this machine's address"
        lname = s.target.listener.name
        evidence = {"observed": observed, "expected": expected, "path": how}
        if same is True:
            summary = f"Envoy observed client IP {observed} ({whose}: {expected}), as expected"
            verified: bool | None = True
            if not wrong_hops:
                gf.add(
                    "EGD607",
                    lname,
                    how,
                    evidence,
                    message=(
                        f"{text}: for a request from this machine {how} Envoy observed client IP "
                        f"{observed}, {whose} ({expected})"
                    ),
                    fix="nothing to do",
                )
        elif same is None:
            summary = (
                f"Envoy observed client IP {observed} (this machine: {expected}, behind NAT?): pass "
                "--expect-client-ip to verify"
            )
            verified = None
            gf.add(
                "EGD607",
                lname,
                how,
                evidence,
                message=(
                    f"{text}: for a request from this machine {how} Envoy observed client IP {observed}; "
                    f"the local address {expected} is private, so {observed} is probably its public (NAT) "
                    "address"
                ),
                fix="pass --expect-client-ip with this machine's public address to verify",
            )
        else:
            summary = f"Envoy observed client IP {observed} ({whose}: {expected}), not the expected one"
            verified = False
            if not wrong_hops:
                direct = norm_ip(s.observation.direct) if s.observation else None
                if direct is not None and direct == observed:
                    why = f"{observed} is the TCP peer, i.e. the load balancer's member-side address"
                else:
                    why = f"{observed} is most likely the load balancer's or a node's address"
                if s.target.client_ip.mode == "none":
                    fix = (
                        "add a ClientTrafficPolicy for the Gateway: direct mode (PROXY v2 on the load "
                        "balancer + proxyProtocol) or XFF mode (numTrustedHops behind a CDN/WAF)"
                    )
                else:
                    fix = "align the ClientTrafficPolicy with what the load balancer sends (EGD3xx findings)"
                gf.add(
                    "EGD606",
                    lname,
                    how,
                    evidence,
                    message=(
                        f"{text}: for a request from this machine {how} Envoy observed client IP "
                        f"{observed}, not {whose} ({expected}): {why}; the real client IP is lost"
                    ),
                    fix=fix,
                )
        j.verdict = GatewayClientIP(key, mode, observed, this_machine, expected, verified, label, summary)
        return

    if cip.xff and not any(s.edge for s, _ in ordinary):
        summary = (
            "XFF mode: no DNS name of the Gateway leads to an edge proxy, so the path real clients take was "
            "not probed (pass --resolver, or check the CDN's DNS)"
        )
        j.verdict = GatewayClientIP(key, mode, None, this_machine, expected, None, label, summary)
        return
    if not ordinary:
        summary = "no ordinary request was answered: the client IP cannot be observed"
    elif observer.name == "none":
        why = "--observe none" if options.observe == "none" else "no observer was usable"
        gf.add(
            "EGD608",
            gref_listener,
            "gateway",
            {"proved": proved},
            message=(
                f"the client IP Envoy decides on was not observed ({why}); connection behaviour proved: "
                f"{join_words(list(dict.fromkeys(proved))) or 'that Envoy answers'}"
            ),
            fix=(
                "run with --observe route (creates and deletes a temporary HTTPRoute in "
                f"{options.namespace or 'the current namespace'}), allow reading pods/log of the Envoy pods "
                "(--observe logs), or point --observe echo:PATH at an endpoint that echoes request headers"
            ),
        )
        summary = "client IP not observed: connection behaviour only (EGD608)"
    else:
        summary = f"client IP not observed: the {label} showed nothing for the probes"
    j.verdict = GatewayClientIP(key, mode, None, this_machine, expected, None, label, summary)
