"""One findings model for every check, probe and renderer."""

from egdoctor.findings.model import Finding, ObjectRef, Severity

__all__ = ["Finding", "ObjectRef", "Severity"]
