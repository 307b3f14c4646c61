"""``pasta plugins``: what is installed and what each plugin registered."""

from __future__ import annotations

import json
from typing import Any

import click


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_command(as_json: bool) -> None:
    """List installed plugins, their versions, hooks and registered components."""
    from pasta_core.plugins import get_plugins

    plugins = get_plugins()
    provided = plugins.provided()
    rows: list[dict[str, Any]] = [
        {
            "name": info.name,
            "distribution": info.distribution,
            "version": info.version,
            "hooks": list(info.hooks),
            "provides": provided.get(info.name, {}),
        }
        for info in plugins.info()
    ]
    failures = [{"name": f.name, "error": f.error} for f in plugins.failures]
    if as_json:
        click.echo(json.dumps({"plugins": rows, "failures": failures}, indent=2))
        return
    for row in rows:
        version = f" {row['version']}" if row["version"] else ""
        dist = f" ({row['distribution']}{version})" if row["distribution"] else ""
        click.echo(f"{row['name']}{dist}")
        for kind, names in sorted(row["provides"].items()):
            click.echo(f"    {kind}: {', '.join(names)}")
        click.echo(f"    hooks: {', '.join(row['hooks'])}")
    for failure in failures:
        click.secho(f"{failure['name']}: FAILED to load: {failure['error']}", fg="red", err=True)
