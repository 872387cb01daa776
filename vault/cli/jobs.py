"""`vault jobs …`: the scheduled jobs, run under a database lease."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

import click

from vault.cli.app import App, pass_app
from vault.cli.output import echo_json


def _when(app: App, value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(app.settings.tz).isoformat(timespec="seconds")


@click.group()
def jobs() -> None:
    """Scheduled jobs: declassification, expiry notices, recording purge, audit
    checkpoints, mail retries, overdue loans.

    Safe to start from cron on several servers at once: a lease in the database
    lets one runner run each job; the others skip it."""


@jobs.command("run")
@click.option("--only", "only", multiple=True, metavar="NAME",
              help="Run only this job (repeatable). Default: every job.")
@click.option("-q", "--quiet", is_flag=True,
              help="Print only jobs that changed something or failed.")
@pass_app
def jobs_run(app: App, only: tuple[str, ...], quiet: bool) -> None:
    """Run the jobs once, one line each: ran (with counts), skipped (another runner
    holds it) or failed. Exit 1 if any failed."""
    from vault.services import jobs as job_service

    names = job_service.parse_names(only)
    infra = app.infra

    def show(result: Any) -> None:
        if quiet and result.status != "failed" and not any(result.counts.values()):
            return
        click.echo(f"{result.name:<17} {result.status:<8} {result.summary()}",
                   err=result.status == "failed")

    results = job_service.run(infra, names, on_result=show)
    sys.exit(1 if any(r.status == "failed" for r in results) else 0)


@jobs.command("status")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def jobs_status(app: App, as_json: bool) -> None:
    """Every job's last run: when, by whom, with what result, and whether it runs now."""
    from vault.services import jobs as job_service

    now = app.now()
    rows = []
    for name, row in job_service.status(app.infra):
        running = bool(row and row.locked_until and row.locked_until > now)
        rows.append({
            "name": name,
            "help": job_service.JOBS[name].help,
            "running": running,
            "holder": row.holder if row else None,
            "locked_until": _when(app, row.locked_until) if row else None,
            "last_started_at": _when(app, row.last_started_at) if row else None,
            "last_finished_at": _when(app, row.last_finished_at) if row else None,
            "last_result": row.last_result if row else None,
        })
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        if r["last_started_at"] is None:
            click.echo(f"{r['name']:<17} never run   ({r['help']})")
            continue
        state = f"running on {r['holder']} until {r['locked_until']}" if r["running"] else (
            f"last finished {r['last_finished_at'] or '—'}: {r['last_result'] or '—'}")
        click.echo(f"{r['name']:<17} started {r['last_started_at']}  {state}")
