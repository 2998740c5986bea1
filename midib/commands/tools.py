"""`midib tools`: every tool adapter, whether it can run here, its version, and why not."""

from __future__ import annotations

import argparse
import json

HELP = "List de-identification tool adapters, whether each can run here, and why not."


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare this command's arguments."""
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def rows() -> list[dict[str, object]]:
    """One row per known adapter (built-ins, then entry-point plugins)."""
    from midib.run.registry import all_tools

    out = []
    for entry in all_tools():
        ok, reason = entry.status()
        out.append({"name": entry.name, "available": ok, "version": entry.version() if ok else None,
                    "reason": reason, "origin": entry.origin,
                    "description": getattr(entry.adapter, "description", "") or ""})
    return out


def run(args: argparse.Namespace) -> int:
    """Print the table (rich) or JSON; always exit 0 (an unavailable tool is information)."""
    table_rows = rows()
    if args.json:
        print(json.dumps(table_rows, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "available", "version", "reason", "origin")
    for r in table_rows:
        table.add_row(str(r["name"]), "yes" if r["available"] else "no", str(r["version"] or "-"),
                      str(r["reason"] or ""), str(r["origin"]))
    Console(width=160).print(table)
    return 0
