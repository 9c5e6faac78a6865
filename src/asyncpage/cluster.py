"""``asyncpage inventory`` on a Dask cluster you already hold a client for.

``asyncpage inventory --dask tcp://scheduler:8786`` connects by address. From Python,
with any ``distributed.Client`` (a ``LocalCluster``, a Kubernetes or SSH cluster, one
with TLS security), pass the client and the command's arguments::

    from distributed import Client
    import asyncpage.cluster

    with Client("tls://scheduler:8786", security=...) as client:
        status = asyncpage.cluster.inventory(client, "--org", "--db", "org.db")

The store, the JSON lines, the progress and the summary stay in this process; the tasks
(shards of sources by account, service and region) run on the cluster's workers, with
their own AWS credentials. Needs the ``dask`` extra here and asyncpage on every worker.
"""

from __future__ import annotations

from typing import Any

from .cli import main

__all__ = ["inventory"]


def inventory(client: Any, *arguments: str) -> int:
    """Run ``asyncpage inventory ARGUMENTS`` with its tasks on ``client``'s cluster.

    ``arguments`` are the command's (``"--org", "--db", "org.db"``), without ``--dask``
    or ``--workers``. Returns the command's exit status (0: every source ok or skipped;
    see ``asyncpage inventory --help``); output goes where the command sends it.
    """
    return main(["inventory", *arguments], dask_client=client)
