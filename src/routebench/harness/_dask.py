"""The one Dask client of routebench: an embedded ``LocalCluster`` or a running scheduler.

``routebench sweep`` (cells) and ``routebench run --trace ... --workers W`` (byte ranges of
huge traces) both run their tasks through :func:`dask_client`: ``--scheduler
tcp://HOST:PORT`` (or ``$DASK_SCHEDULER_ADDRESS``) for a running cluster, else a
``LocalCluster`` of single-threaded worker processes started and stopped here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .._errors import RoutebenchError

__all__ = ["dask_client", "dask_target", "default_workers", "CONNECT_TIMEOUT", "WORKER_TIMEOUT",
           "SCHEDULER_ENV"]

#: seconds to reach a running scheduler before giving up with its address and the error
CONNECT_TIMEOUT = 5.0
#: seconds to wait for a running scheduler to have a worker
WORKER_TIMEOUT = 30.0
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"


def default_workers() -> int:
    """One worker a core this process may run on."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else os.cpu_count() or 1)


@contextmanager
def dask_client(workers: int, scheduler: str | None) -> Iterator[Any]:
    """A Dask client: to a running scheduler, or to a LocalCluster started (and stopped) here."""
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise RoutebenchError("running on Dask needs dask.distributed: pip install "
                              "'routebench[dask]' (or --workers 1 to run in this process)"
                              ) from None
    if scheduler:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise RoutebenchError(f"cannot reach the Dask scheduler at {scheduler}: "
                                  f"{str(exc) or type(exc).__name__}") from None
        try:
            try:
                client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
            except (TimeoutError, OSError):
                raise RoutebenchError(f"the Dask scheduler at {scheduler} has no worker after "
                                      f"{WORKER_TIMEOUT:g} s (start one: dask worker "
                                      f"{scheduler})") from None
            yield client
        finally:
            client.close()
        return
    # a worker that dies fails its task at once (KilledWorker): the caller retries it once;
    # a worker holds no task beyond the one it runs (saturation 1), so a task that kills
    # its worker takes no other down with it; the statistical profiler (for a dashboard
    # we do not start) would sample every task
    with dask.config.set({"distributed.scheduler.allowed-failures": 0,
                          "distributed.scheduler.worker-saturation": 1.0,
                          "distributed.worker.daemon": False,
                          "distributed.worker.profile.enabled": False}):
        try:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.CRITICAL)
        except (RuntimeError, OSError, TimeoutError) as exc:
            raise RoutebenchError(f"could not start a local Dask cluster of {workers} "
                                  f"workers: {exc} (--workers 1 runs in this process)"
                                  ) from None
    try:
        client = Client(cluster, set_as_default=False)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def dask_target(workers: int | None, scheduler: str | None) -> tuple[int, str | None]:
    """(workers, scheduler) from ``--workers`` and ``--scheduler``: the scheduler given, else
    ``$DASK_SCHEDULER_ADDRESS`` unless ``--workers`` asks for local ones; local workers
    default to one a core. Both options at once are refused."""
    if scheduler and workers is not None:
        raise RoutebenchError("--workers sizes a local cluster; with --scheduler the "
                              "cluster's own workers run the tasks")
    if not scheduler and workers is None:
        scheduler = os.environ.get(SCHEDULER_ENV) or None
    return (workers or default_workers()), scheduler
