"""The webhook delivery pipeline, one job per module.

- `store`: a verified delivery stored once (one INSERT … ON CONFLICT DO NOTHING).
- `drain`: the one claim loop; a pass applied together, a failed pass retried as
  passes of one; `outcomes` records what became of every delivery.
- `routing`: the one table from (event, action) to a handler; every other list
  of events is derived from it.
- `eligibility`: which team processes an installation's repository, or why not.
- `requeue`: deliveries put back in the queue (Retry, a repository tracked).

Waking the drain and queueing retries is scheduling (`apps.integrations.scheduling`),
which sends the Celery tasks by name; no module here imports the tasks.
"""
