"""Options that take one value are refused when given twice (audit33: ``ingest --orders d29.csv --orders
d30.csv`` ingested d30.csv alone with exit 0, Click keeping the last value in silence).

:class:`OnceGroup` is the class of the ``anticipate`` group; its commands and sub-groups are
:class:`OnceCommand` and :class:`OnceGroup`. Flags and options meant to repeat (``--config``, ``--map``)
are not concerned; a global option given both before and after the command is a documented layering
(the command's wins), not a repeat.
"""

from __future__ import annotations

from collections import Counter

import click

_TABLES = ("orders", "products", "regions", "warehouses", "supply")


def repeated_options(command: click.Command, ctx: click.Context, args: list[str]) -> None:
    """``click.BadOptionUsage`` (exit 2) naming the first single-valued option of ``command`` that ``args``
    give more than once, with its values; nothing when none is (a parse error is left to Click's own)."""
    try:
        _opts, _rest, order = command.make_parser(ctx).parse_args(args=list(args))
    except click.UsageError:
        return
    single = [p for p in order if isinstance(p, click.Option) and not (p.multiple or p.count or p.is_flag)]
    twice = [p for p, n in Counter(single).items() if n > 1]
    if not twice:
        return
    option = twice[0]
    values = _values(option, args)
    hint = (" ingest reads one file per table: append the files one after another (ingest --append), or "
            "join them into one file first" if command.name == "ingest" and option.name in _TABLES else "")
    raise click.BadOptionUsage(
        option.opts[-1], f"{option.opts[-1]} was given {len(values) or 2} times ({', '.join(values)}), and "
        f"only the last would be used: give it once.{hint}", ctx)


def _values(option: click.Option, args: list[str]) -> list[str]:
    """The values ``args`` give ``option`` (``--out X`` and ``--out=X``), in order."""
    found = []
    for i, arg in enumerate(args):
        for name in option.opts:
            if arg == name and i + 1 < len(args):
                found.append(args[i + 1])
            elif arg.startswith(name + "=") and name.startswith("--"):
                found.append(arg[len(name) + 1:])
    return found


class OnceCommand(click.Command):
    """A command whose single-valued options are refused when repeated (:func:`repeated_options`)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not ctx.resilient_parsing:
            repeated_options(self, ctx, args)
        return super().parse_args(ctx, args)


class OnceGroup(click.Group):
    """The group of :class:`OnceCommand` commands (and of sub-groups like it)."""

    command_class = OnceCommand
    group_class = type

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not ctx.resilient_parsing:
            repeated_options(self, ctx, args)
        return super().parse_args(ctx, args)
