"""Support bundles: what one run read (objects, access problems, probe observations) in a tar.gz that
`check --from-bundle` diagnoses again offline, with the same findings."""
