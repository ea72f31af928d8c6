"""cliport_bringup: see the package README section in the repository README."""
