"""What the commands share: one ``App`` per run, in ``click.Context.obj``, and ``Group``.

A command asks the App for what it needs (``app.config``, ``app.rules``, ``app.store``...), which
is loaded or opened on first use, once, and the store is closed when the command ends; so no
command repeats the loading, the opening and the closing, and one that needs no database never
imports SQLAlchemy. ``Group`` turns a ``WatcherError`` into its message and exit code.
"""

from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from watcher.cli._output import echo_error
from watcher.errors import ConfigError, WatcherError

if TYPE_CHECKING:
    from watcher.config import Config
    from watcher.notify import Target
    from watcher.outbox import Outbox
    from watcher.rules import RuleSet
    from watcher.store import Store

DEFAULT_RULES = Path("rules")


def now() -> datetime:
    """The CLI's clock: ``watcher.cli._now``, looked up on each call so that tests can set it."""
    import watcher.cli

    return watcher.cli._now()


def no_such_rule(rule_id: str, known: Iterable[str], param: str) -> click.BadParameter:
    """The usage error for a rule id that names no rule: the closest id, else every one."""
    import difflib

    ids = sorted(known)
    close = difflib.get_close_matches(rule_id, ids, n=1)
    hint = f"; did you mean {close[0]}?" if close else f" (rules: {', '.join(ids)})"
    return click.BadParameter(f"no rule {rule_id!r}{hint}", param_hint=param)


class Group(click.Group):
    """Turns ``WatcherError`` into its message on stderr and its exit code: never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WatcherError as e:
            echo_error(str(e))
            ctx.exit(e.exit_code)


class App:
    """The settings file of this run and what comes of it, each made on first use.

    ``close`` (called when the command's context closes, error or not) closes the store.
    """

    def __init__(self, config_path: Path | None, verbose: int) -> None:
        self.config_path = config_path
        self.verbose = verbose
        self._resources = ExitStack()

    @cached_property
    def config(self) -> "Config":
        """The settings: ``--config``, else the search path (``ConfigError`` when none or invalid)."""
        from watcher.config import find_config, load_config

        return load_config(find_config(self.config_path))

    def settings_if_any(self) -> "Config | None":
        """The settings, or None when there is no settings file (and no --config naming one)."""
        if self.config_path is None:
            from watcher.config import find_config

            try:
                find_config()
            except ConfigError:
                return None
        return self.config

    def check_rule_ids(self, rule_ids: Sequence[str], param: str = "--rule") -> None:
        """``--rule`` values must name a rule of the settings' rules or one with stored hits: an
        unknown one is a usage error with the closest id, not an empty result."""
        if not rule_ids:
            return
        from watcher.errors import RulesError

        try:
            known = {rule.id for rule in self.rules}
        except RulesError:  # invalid rule files: the stored hits still name their rules
            known = set()
        known |= self.store.hit_rules()
        for rule_id in rule_ids:
            if rule_id not in known:
                raise no_such_rule(rule_id, known, param)

    def default_rules(self) -> Path:
        """The settings file's rules, or ./rules when there is no settings file."""
        try:
            return self.config.rules
        except ConfigError:
            if self.config_path is not None:
                raise
            return DEFAULT_RULES

    @cached_property
    def rules(self) -> "RuleSet":
        """The settings file's rules."""
        from watcher.rules import load_rules

        return load_rules(self.config.rules)

    @cached_property
    def targets(self) -> dict[str, "Target"]:
        """The alert targets (Apprise is imported here, for the commands that alert)."""
        from watcher.notify import build_targets

        return build_targets(self.config)

    @cached_property
    def store(self) -> "Store":
        """The database, its schema checked (an empty one is created, an outdated one refused)."""
        from watcher.store import Store

        return self._closed_at_end(Store.open(self.config.database))

    def unchecked_store(self) -> "Store":
        """The database as it is, schema or not: what ``db upgrade`` migrates."""
        from watcher.store import Store

        return self._closed_at_end(Store(self.config.database))

    def outbox(self) -> "Outbox":
        """The outbox on the store: alerts made and deliveries sent as the daemon does."""
        from watcher.outbox import Outbox

        return Outbox(self.store, self.rules, self.config, self.targets, clock=now)

    def close(self) -> None:
        """Close what was opened (the store), last opened first."""
        self._resources.close()

    def _closed_at_end(self, store: "Store") -> "Store":
        self._resources.callback(store.close)
        return store


pass_app = click.make_pass_decorator(App)
