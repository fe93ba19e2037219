"""The webhook delivery pipeline, one job per module.

- `store`: a verified delivery stored once (one INSERT … ON CONFLICT DO NOTHING).
- `wake`: waking the drain after a store, at most once per short interval.
- `drain`: the one claim loop; a pass applied together, a failed pass retried as
  passes of one; `outcomes` records what became of every delivery.
- `routing`: the one table from (event, action) to a handler; every other list
  of events is derived from it.
- `eligibility`: which team processes an installation's repository, or why not.
- `requeue`: deliveries put back in the queue (Retry, a repository tracked).

The Celery tasks (`apps.integrations.tasks`) schedule drains and retries; no
module here imports them.
"""
