import os

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("keepline")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Celery's Django fixup closes every database connection after each task and, with Django's
# connection pool in a prefork child, the pool itself: every task then opened a new pool and a
# new PostgreSQL connection (a third of a busy worker's time, bench/inbound_webhooks.py). It
# reuses them when told how many tasks may share one (never closed on that count here);
# around each task Django's own close_old_connections hands the connection back to the pool,
# or drops it when it broke or outlived CONN_MAX_AGE, as a request does.
app.conf.CELERY_DB_REUSE_MAX = 10**9
app.autodiscover_tasks()


def runs_inline() -> bool:
    """Tasks run in the caller, at once (no broker: the tests, the embedded demo): a retry
    cannot wait for a countdown, and nothing else will run what is queued."""
    return bool(app.conf.task_always_eager)


@task_prerun.connect
@task_postrun.connect
def _database_connections_settled(sender=None, **kwargs):
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return  # inline (tests, the embedded demo): the caller's connection and transaction
    from django.db import close_old_connections

    close_old_connections()


@worker_process_init.connect
def _freeze_what_was_loaded(**kwargs):
    """As config/asgi.py: what a worker process loaded lives as long as it, out of the garbage
    collector's walks (a full walk of all of Django stalled a busy worker for a quarter second
    every few seconds, and the web processes beside it with it)."""
    import gc

    gc.freeze()
