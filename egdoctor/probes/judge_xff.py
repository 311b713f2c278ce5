"""Rows and findings of the X-Forwarded-For probes: straight to the load balancer and through each edge
proxy, against the configured trusted hops.
"""

from __future__ import annotations

from egdoctor.probes.discriminator import PortState, describe, kind_of
from egdoctor.probes.judged import GatewayFindings, Judged, norm_ip, observed_ip
from egdoctor.probes.plan import ProbeOptions, ordinal
from egdoctor.probes.port_run import PortRun
from egdoctor.probes.sender import Sent
from egdoctor.probes.wording import row
from egdoctor.probes.xff import EdgeReading, appends, position_in, read_edge


def xff_rows(
    j: Judged,
    gf: GatewayFindings,
    run: PortRun,
    state: PortState,
    timeout: float,
    where: str,
    lname: str,
    options: ProbeOptions,
    ordinary: list[tuple[Sent, str]],
    proved: list[str],
) -> bool:
    """Rows for the XFF probes; returns True when a wrong hop count was shown."""
    cip = run.target.client_ip
    hops = cip.xff_hops
    configured = f"numTrustedHops {hops}" if hops is not None else "trustedCIDRs"
    wrong = False
    svc = gf.gt.view.envoy_service
    service = f"{svc.namespace}/{svc.name}" if svc is not None else "(unknown)"
    s = run.xff_lb
    if s is not None and s.result is not None:
        got = describe(s.result, timeout)
        obs = observed_ip(s)
        k = kind_of(s.result, run.target.protocol == "HTTPS")
        if state.state == "refused-by-ranges" or (k != "answered" and state.state == "refused-by-ranges"):
            j.rows.append(row(s, got, "nobody outside the source ranges can bypass the edge proxy", "ok"))
            proved.append("the edge proxy cannot be bypassed from this machine")
        elif k != "answered":
            j.rows.append(row(s, got, "no answer", "info"))
        elif obs is None:
            j.rows.append(
                row(
                    s,
                    got,
                    "the load balancer is reachable from here; which element Envoy believed is "
                    "not observable",
                    "info",
                )
            )
        else:
            pos = position_in(s.chain, obs)
            if pos is not None:
                j.rows.append(
                    row(
                        s,
                        got,
                        f"Envoy believed the forged {obs} ({ordinal(pos)} from the right): "
                        "anyone can bypass the edge proxy and pick their IP",
                        "bad",
                        obs,
                    )
                )
                if cip.proxy_protocol != "off":
                    # PROXY protocol and XFF trust on one listener (EGD309): there is no edge proxy to
                    # protect, so the traffic proof belongs to EGD605, and the fix is the CTP, not the LB
                    gf.add(
                        "EGD605",
                        lname,
                        where,
                        {"confirmedBy": "probe", "forgedChain": list(s.chain), "observed": obs},
                        message=(
                            f"a forged X-Forwarded-For {', '.join(s.chain)} sent straight to {where} made "
                            f"Envoy take {obs} as the client IP: the listener trusts X-Forwarded-For "
                            f"({configured}) on top of PROXY protocol, so any client picks its IP"
                        ),
                        fix="in direct mode remove clientIPDetection from the ClientTrafficPolicy (EGD309)",
                    )
                    proved.append("a forged X-Forwarded-For is believed on top of the PROXY header")
                    return True
                gf.add(
                    "EGD313",
                    lname,
                    where,
                    {"confirmedBy": "probe", "forgedChain": list(s.chain), "observed": obs},
                    target=f"listener {lname} of Gateway {gf.gt.key[0]}/{gf.gt.key[1]}",
                    trusts=f"X-Forwarded-For ({configured})",
                    service=service,
                    why=(
                        f"confirmed by traffic: a forged X-Forwarded-For {', '.join(s.chain)} sent from this "
                        f"machine straight to {where} made Envoy take {obs} as the client IP"
                    ),
                )
                j.confirms.append(("EGD313", gf.gt.key))
                proved.append("a forged X-Forwarded-For sent straight to the load balancer is believed")
                if hops is not None and pos != hops:
                    wrong = True
                    gf.add(
                        "EGD605",
                        lname,
                        where,
                        {"observed": obs, "position": pos, "configured": hops},
                        message=(
                            f"a forged X-Forwarded-For {', '.join(s.chain)} sent straight to {where} made "
                            f"Envoy take {obs}, the {ordinal(pos)} entry from the right, while "
                            f"numTrustedHops is {hops}"
                        ),
                        fix="check which ClientTrafficPolicy is in effect on the listener (EGD303)",
                    )
            else:
                j.rows.append(row(s, got, f"Envoy ignored the forged chain and took {obs}", "info", obs))
                if hops:
                    wrong = True
                    gf.add(
                        "EGD605",
                        lname,
                        where,
                        {"observed": obs, "configured": hops},
                        message=(
                            f"Envoy on {where} ignored the X-Forwarded-For chain and took {obs} although "
                            f"numTrustedHops is {hops}: the XFF setting is not in effect"
                        ),
                        fix="check which ClientTrafficPolicy is in effect on the listener (EGD303)",
                    )

    appended = appends(cip)
    for a, b in run.edges:
        edge = a.edge
        if a.result is not None:
            got = describe(a.result, timeout)
            obs = observed_ip(a)
            me = a.local
            if a.result.outcome == "refused":
                j.rows.append(row(a, got, f"the edge proxy does not serve port {run.target.port}", "info"))
            elif kind_of(a.result, run.target.protocol == "HTTPS") != "answered":
                j.rows.append(row(a, got, f"the edge proxy {edge} does not pass requests through", "bad"))
                gf.add(
                    "EGD601",
                    lname,
                    f"edge {edge}:{run.target.port}",
                    {"outcome": a.result.outcome},
                    target=f"edge proxy {edge}:{run.target.port} ({a.host})",
                    outcome=got,
                )
            else:
                ordinary.append((a, f"through edge proxy {edge} ({a.host})"))
                if obs is None:
                    j.rows.append(row(a, got, "the path through the edge proxy works", "info"))
                elif norm_ip(obs) == norm_ip(me):
                    j.rows.append(row(a, got, "Envoy took this machine's address as the client", "ok", obs))
                else:
                    j.rows.append(row(a, got, f"Envoy took {obs}, not this machine ({me})", "bad", obs))
        if b.result is None or kind_of(b.result, run.target.protocol == "HTTPS") != "answered":
            if b.result is not None and b.result.outcome != "refused":
                j.rows.append(row(b, describe(b.result, timeout), "no answer", "info"))
            continue
        got = describe(b.result, timeout)
        obs = observed_ip(b)
        reading: EdgeReading = read_edge(
            obs, norm_ip(b.local), b.chain, b.observation.xff if b.observation else None, appended
        )
        measured = reading.measured
        if reading.verdict == "right":
            proves = f"Envoy skipped the forged entries and took this machine's address: {configured} matches"
            j.rows.append(row(b, got, proves, "ok", obs))
            proved.append("numTrustedHops matches the proxies in front")
            continue
        if reading.verdict == "unknown":
            j.rows.append(row(b, got, "which element Envoy believed is not observable", "info"))
            continue
        wrong = True
        if reading.verdict == "too-high":
            why = (
                f"Envoy took the forged {obs}: numTrustedHops {hops} trusts more proxies than there are, so "
                "clients can forge their IP"
            )
        else:
            why = (
                f"Envoy took {obs}, a proxy's address: numTrustedHops {hops} trusts fewer proxies than "
                "there are, so every client looks like that proxy"
            )
        j.rows.append(row(b, got, why, "bad", obs))
        chain_note = (
            f"; the chain shows {measured} prox{'y' if measured == 1 else 'ies'} in front" if measured else ""
        )
        gf.add(
            "EGD605",
            lname,
            f"edge {edge}",
            {"observed": obs, "configured": hops, "measured": measured, "edge": edge},
            message=(
                f"through edge proxy {edge} ({b.host}) with a forged X-Forwarded-For {', '.join(b.chain)}, "
                f"{why}{chain_note}"
            ),
            fix=(
                f"set clientIPDetection.xForwardedFor.numTrustedHops: {measured}"
                if measured
                else "set numTrustedHops to the number of proxies in front of the load balancer"
            ),
        )
        if measured is not None and hops is not None and measured != hops:
            ctp = cip.ctp
            effect = (
                "clients can forge their IP"
                if measured < hops
                else "the proxy's address is taken as the client"
            )
            gf.add(
                "EGD308",
                lname,
                f"edge {edge}",
                {"confirmedBy": "probe", "measured": measured, "configured": hops},
                hops=hops,
                target=f"listener {lname} of Gateway {gf.gt.key[0]}/{gf.gt.key[1]}",
                expected=measured,
                source=f" (measured by a probe through edge proxy {edge})",
                effect=effect,
                ctp=f"{ctp.namespace}/{ctp.name}" if ctp is not None else "(none)",
            )
            j.confirms.append(("EGD308", gf.gt.key))
    return wrong
