"""Built-in arm backends; importing this package registers them by name."""

from cliport_executor.backends import dryrun  # noqa: F401
