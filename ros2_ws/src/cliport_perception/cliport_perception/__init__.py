"""cliport_perception: see the package README section in the repository README."""
