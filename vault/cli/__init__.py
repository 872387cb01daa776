"""`vault …` commands. Each parses its input, calls a service and prints the result.

One module per command group (``vault/cli/copies.py`` holds `vault copies …`, and so
on); this module builds the root group and attaches them. Errors from services are
translated once, by the root group (`vault.cli.app.VaultGroup`): one line on stderr
and an exit status, 2 for bad input or an unknown object, 1 for a denial, 3 for
integrity or audit failures.

Only click and the command modules are imported for `vault --help`: each command
imports the services (and through them SQLAlchemy, Flask, pypdf, Pillow…) when it runs
(tests/unit/test_cli_startup.py checks it; benchmarks/bench_startup.py times it).
"""

from __future__ import annotations

import click

from vault.cli import (
    access,
    audit,
    certificates,
    copies,
    deposits,
    doctor,
    documents,
    jobs,
    keys,
    leaks,
    letters,
    loans,
    meetings,
    notices,
    notifications,
    org,
    recordings,
    requests,
    review,
    search,
    setup,
    tenants,
    tokens,
    users,
    visits,
    watch,
)
from vault.cli.app import App, VaultGroup
from vault.config import load_settings


@click.group(cls=VaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """Vault: the group's confidentiality vault."""
    ctx.obj = App(load_settings())
    ctx.call_on_close(ctx.obj.close)


for command in (
    setup.init, setup.demo, setup.serve,
    org.org, users.users, tokens.tokens,
    access.can_i, access.grant_cmd, access.revoke_cmd,
    documents.import_, documents.ls, documents.show, documents.export,
    documents.reclassify, documents.declassify_cmd,
    search.search, search.index, watch.watch,
    copies.copies, loans.loans, certificates.certificates, leaks.leaks,
    review.review, recordings.recordings,
    tenants.tenants, notices.notices, meetings.meetings,
    requests.requests, visits.visits, deposits.deposits, letters.letters,
    notifications.inbox, notifications.mail,
    audit.audit, keys.keys, doctor.doctor, jobs.jobs,
):
    main.add_command(command)

__all__ = ["main"]
