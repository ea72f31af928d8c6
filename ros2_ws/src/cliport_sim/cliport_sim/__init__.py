"""cliport_sim: see the package README section in the repository README."""
