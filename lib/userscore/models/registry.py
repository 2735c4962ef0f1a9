"""What the registry holds: registered userscore models, their versions, aliases and key metrics."""

from __future__ import annotations

from dataclasses import dataclass

KEY_METRICS = ("auc", "ece", "lr_auc", "raw_ece")


@dataclass(frozen=True)
class VersionRow:
    """One registered model version with its aliases and the key validation metrics of its run."""

    model: str
    version: int
    aliases: tuple[str, ...]
    run_id: str
    validation_snapshot: str
    metrics: dict[str, float]
    decision: str


def list_versions(client, prefix: str) -> list[VersionRow]:
    """Every version of every registered model whose name starts with ``prefix`` (bounded by versions)."""
    rows: list[VersionRow] = []
    for model in client.search_registered_models(filter_string=f"name LIKE '{prefix}%'"):
        aliases_by_version: dict[str, list[str]] = {}
        for alias, version in (model.aliases or {}).items():
            aliases_by_version.setdefault(str(version), []).append(alias)
        for mv in client.search_model_versions(f"name = '{model.name}'"):
            run = client.get_run(mv.run_id) if mv.run_id else None
            metrics = {k: run.data.metrics[k] for k in KEY_METRICS if run and k in run.data.metrics}
            rows.append(
                VersionRow(
                    model=model.name,
                    version=int(mv.version),
                    aliases=tuple(sorted(aliases_by_version.get(str(mv.version), []))),
                    run_id=mv.run_id or "",
                    validation_snapshot=(run.data.tags.get("validation_snapshot", "") if run else ""),
                    metrics=metrics,
                    decision=(mv.tags or {}).get("promotion_decision", ""),
                )
            )
    return sorted(rows, key=lambda r: (r.model, -r.version))


def format_table(rows: list[VersionRow]) -> list[str]:
    """Fixed-width lines for the terminal."""
    header = (
        f"{'model':<32} {'version':>7}  {'aliases':<12} {'validated':<10} {'auc':>7} {'ece':>7} {'lr_auc':>7}  decision"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        auc, ece, lr = (r.metrics.get(k) for k in ("auc", "ece", "lr_auc"))
        lines.append(
            f"{r.model:<32} {r.version:>7}  {','.join(r.aliases) or '-':<12} {r.validation_snapshot or '-':<10} "
            f"{_num(auc):>7} {_num(ece):>7} {_num(lr):>7}  {r.decision or '-'}"
        )
    return lines


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
