"""Built-in arm backends (``dryrun``, ``moveit``, ``libfranka``), each imported on
demand by :func:`cliport_executor.backend.make_backend`, so only the chosen one's
dependencies load."""
