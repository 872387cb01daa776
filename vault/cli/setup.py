"""`vault init`, `vault demo`, `vault serve`: set up and run an installation."""

from __future__ import annotations

import click

from vault.cli.app import App, pass_app


@click.command()
@pass_app
def init(app: App) -> None:
    """Create keys, folders and the database; idempotent, never overwrites a key."""
    from vault.services import installation

    done = installation.initialise(app.settings, app.now())
    for what in done.created:
        click.echo(f"created {what}")
    click.echo(f"database ready: {done.database}")


@click.command()
@pass_app
def demo(app: App) -> None:
    """Load the demo group (HQ, two subsidiaries, people, tenants, documents) if absent."""
    from vault.services import demo as demo_service

    logins = demo_service.load(app.infra, app.now())
    path = app.settings.keys_dir / "demo-logins.txt"
    if logins is None:
        click.echo("The demo group is already loaded.")
    else:
        from vault.runtime import write_new_secret

        lines = [f"{x.username}\t{x.password}\t{x.roles}\t{x.company}\t{x.name}" for x in logins]
        path.unlink(missing_ok=True)
        write_new_secret(path, ("\n".join(lines) + "\n").encode("utf-8"))
        click.echo(f"Demo group loaded: {len(logins)} people.")
    if path.is_file():
        forced = app.settings.second_factor_roles
        click.echo(f"Demo logins (kept in {path}, mode 0600):")
        click.echo(f"  {'user':<14} {'password':<18} {'2FA':<9} roles")
        for line in path.read_text(encoding="utf-8").splitlines():
            username, password, roles, company, name = line.split("\t")
            must = "required" if set(roles.split(",")) & forced else "-"
            click.echo(f"  {username:<14} {password:<18} {must:<9} {roles} ({company}, {name})")
        if forced:
            click.echo(
                f"2FA required ({', '.join(sorted(forced))}; VAULT_REQUIRE_2FA_ROLES): at the "
                "first sign-in these people scan a QR code with an authenticator app (TOTP) "
                "and type its code. Each code works once: signing in again within 30 s of "
                "setting it up needs the app's next code.")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--dev", is_flag=True, help="Flask's own server, for a first look.")
@click.option("--workers", default=2, show_default=True, type=int,
              help="Worker processes (each runs Python threads for the requests).")
@click.option("--threads", default=0, type=click.IntRange(min=0),
              help="Python threads per worker running requests (0: granian's default).")
@click.option("--plain-http", "plain_http", is_flag=True, envvar="VAULT_PLAIN_HTTP",
              help="People reach this server over plain HTTP (no TLS in front): the session "
                   "cookie is not marked Secure and no HSTS is sent. Also VAULT_PLAIN_HTTP=1.")
@pass_app
def serve(app: App, host: str, port: int, dev: bool, workers: int, threads: int,
          plain_http: bool) -> None:
    """Serve the web application (granian; --dev for Flask's server).

    granian (a Rust HTTP server) keeps connections in its own event loop, so
    clients that send a request body slowly do not hold the server: measured
    with benchmarks/bench_http.py against gunicorn (README, Performance).

    Expects HTTPS in front (a TLS-terminating proxy): the session cookie is Secure and
    HSTS is sent, unless --plain-http (or --dev, for a first look on this machine).
    """
    import os

    from vault import create_app

    # The workers build their app from the environment: tell them, as this one.
    os.environ["VAULT_HTTPS"] = "0" if dev or plain_http else "1"

    web = create_app()  # refuses to start, saying what to run, before any worker starts
    if dev:
        web.run(host=host, port=port, debug=False, use_reloader=False)
        return
    from granian import Granian
    from granian.constants import Interfaces

    # Workers build their own app from the same VAULT_* environment.
    Granian(
        "vault:create_app", factory=True, interface=Interfaces.WSGI, address=host, port=port,
        workers=workers, websockets=False, blocking_threads=threads or None,
    ).serve()
