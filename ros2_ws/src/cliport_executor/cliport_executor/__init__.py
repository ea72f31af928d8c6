"""cliport_executor: one PickPlace action server for every arm backend (see README.md)."""
