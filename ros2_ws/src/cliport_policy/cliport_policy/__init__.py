"""cliport_policy: see the package README section in the repository README."""
