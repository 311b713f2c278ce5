"""Fix plans: the deterministic fixes of findings, derived from a finding and the snapshot it was found
in, and the reviewable script `--fix-plan` prints."""
