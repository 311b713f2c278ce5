"""egdoctor: a doctor for Envoy Gateway ingress on Elastx Kubernetes CaaS."""

__version__ = "0.1.0"
