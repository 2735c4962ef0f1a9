"""The steps after training, each on a registered version and without retraining: validate (apply the gate
to the version's logged evaluation and record the verdict), promote (move the champion alias to a version
that passed), rollback (move the alias back to the champion it replaced)."""

from __future__ import annotations

from dataclasses import dataclass

from userscore.config.models import PromotionConfig
from userscore.errors import InputError
from userscore.models import registry
from userscore.models.promotion import Decision, decide
from userscore.models.registry import RunRecord


@dataclass(frozen=True)
class AliasMove:
    """Where the alias was and where it is now (equal when nothing moved)."""

    model_name: str
    alias: str
    previous: str | None
    current: str

    def __str__(self) -> str:
        if self.previous == self.current:
            return f"{self.model_name}@{self.alias} stays at v{self.current}"
        return f"{self.model_name}@{self.alias}: v{self.previous or '-'} -> v{self.current}"


def validate(
    client, model_name: str, version: str | None, policy: PromotionConfig, alias: str
) -> tuple[RunRecord, Decision]:
    """Gate ``version`` (default: the newest) on its logged validation AUC and ECE against the best baseline
    logged with it and the current champion, record the verdict on the version and return it."""
    record = registry.require_version(client, model_name, version)
    missing = [m for m in ("auc", "ece") if m not in record.metrics]
    if missing:
        raise InputError(
            f"{model_name} v{record.version}: its run {record.run_id} logged no {missing}: nothing to gate"
        )
    champion_auc, note = _champion_auc(record, registry.champion(client, model_name, alias))
    decision = decide(record.metrics["auc"], record.metrics["ece"], champion_auc, policy, baseline=record.best_baseline)
    if note:
        decision = Decision(decision.promote, (*decision.reasons, note))
    registry.record_verdict(client, model_name, record.version, decision)
    return record, decision


def _champion_auc(record: RunRecord, champion: RunRecord | None) -> tuple[float | None, str]:
    """The champion's AUC to compare with: on the candidate's own validation rows when the champion was
    re-scored at training (the same champion still holds the alias), else its logged AUC."""
    if champion is None:
        return None, ""
    if champion.version == record.version:
        return record.training_auc, f"v{record.version} is the current champion"
    if champion.version == record.champion_version and record.champion_auc is not None:
        return record.champion_auc, record.champion_note
    note = f"champion v{champion.version} not re-scored on v{record.version}'s validation rows; its logged AUC used"
    return champion.training_auc, note


def promote(client, model_name: str, version: str | None, alias: str) -> AliasMove:
    """Move ``alias`` to ``version`` (default: the newest); InputError unless its recorded verdict passed."""
    record = registry.require_version(client, model_name, version)
    if record.verdict is None:
        raise InputError(
            f"{model_name} v{record.version} has not been validated: run `userscore models validate` for it first"
        )
    if not record.verdict.promote:
        raise InputError(
            f"{model_name} v{record.version} failed the gate, not promoted: {'; '.join(record.verdict.reasons)}"
        )
    current = registry.champion(client, model_name, alias)
    previous = current.version if current else None
    if previous != record.version:
        registry.move_alias(client, model_name, alias, record.version, previous)
    return AliasMove(model_name, alias, previous, record.version)


def rollback(client, model_name: str, alias: str) -> AliasMove:
    """Move ``alias`` back to the version it held before the current champion was promoted (recorded on
    the version left); InputError when there is no champion or no recorded predecessor."""
    current = registry.champion(client, model_name, alias)
    if current is None:
        raise InputError(f"no version of {model_name} holds alias {alias!r}: nothing to roll back")
    if current.promoted_from is None:
        raise InputError(f"{model_name}@{alias} v{current.version} replaced no earlier {alias}: nothing to go back to")
    registry.move_alias_back(client, model_name, alias, current, current.promoted_from)
    return AliasMove(model_name, alias, current.version, current.promoted_from)
