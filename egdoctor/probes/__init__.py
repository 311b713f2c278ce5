"""Network probes: PROXY protocol encoding and bounded raw exchanges."""
