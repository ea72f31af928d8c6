"""cliport_executor: see the package README section in the repository README."""
