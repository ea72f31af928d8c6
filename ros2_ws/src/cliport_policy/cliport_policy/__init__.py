"""cliport_policy: the two-stream CLIPort policy (see this package's README)."""
