"""Where ACME validation traffic really went: an ACME server names the address it fetched the HTTP-01
token from (`... 198.51.100.30: Invalid response from http://...`). An address that is not the
Gateway's means the hostname's DNS points elsewhere, whatever the Gateway does."""

from __future__ import annotations

import ipaddress
import re

# IPv4 and bracket-free IPv6 literals, followed by ": " as ACME problem details write them
_ADDRESS = re.compile(r"(?<![\w.:])((?:\d{1,3}\.){3}\d{1,3}|[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7}):\s")


def foreign_addresses(reason: str, gateway_addresses: tuple[str, ...]) -> list[str]:
    """The addresses the ACME server reports having reached that are not among the Gateway's."""
    if not gateway_addresses:
        return []
    ours = set()
    for text in gateway_addresses:
        try:
            ours.add(ipaddress.ip_address(text))
        except ValueError:
            continue  # a hostname address: nothing to compare
    if not ours:
        return []
    found = []
    for match in _ADDRESS.finditer(reason):
        try:
            address = ipaddress.ip_address(match.group(1))
        except ValueError:
            continue
        if address not in ours and str(address) not in found:
            found.append(str(address))
    return found
