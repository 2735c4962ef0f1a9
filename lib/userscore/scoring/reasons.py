"""Per-user reasons behind a tree-ensemble score: the k model inputs of largest Saabas contribution
(:mod:`userscore.scoring.saabas`), as text such as 'recency_days (+0.84); orders_90d (-0.32)', computed in a
vectorised pandas UDF over a batch of users at a time."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyspark.sql import Column
from pyspark.sql import types as T

from userscore.scoring.ensemble import TreeEnsemble
from userscore.scoring.saabas import saabas


def top_k(contributions: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the k largest |contributions| per row (ties: lower index first).

    k rounds of argmax (which returns the first of equal maxima) instead of sorting every row: k is 3
    and a row has one entry per model input."""
    k = min(k, contributions.shape[1])
    magnitude = np.abs(contributions)
    rows = np.arange(contributions.shape[0])
    order = np.empty((contributions.shape[0], k), dtype=np.int64)
    for j in range(k):
        order[:, j] = np.argmax(magnitude, axis=1)
        magnitude[rows, order[:, j]] = -1.0  # below every |contribution|: never picked again
    return order, np.take_along_axis(contributions, order, axis=1)


@dataclass(frozen=True)
class Explainer:
    """What the reasons UDF needs: the trees, and which source column each vector slot comes from."""

    ensemble: TreeEnsemble
    groups: tuple[int, ...]
    names: tuple[str, ...]


def reasons_text(explainer: Explainer, features: Column, k: int, decimals: int) -> Column:
    """The reasons text (see :func:`reason_texts`) from the assembled feature vector, computed by a
    vectorised pandas UDF."""
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql.functions import pandas_udf

    ensemble = explainer.ensemble
    groups = np.asarray(explainer.groups, dtype=np.int64)
    names = explainer.names

    @pandas_udf(T.StringType())
    def _reasons(vectors: pd.Series) -> pd.Series:
        if len(vectors) == 0:
            return pd.Series([], dtype=object)
        x = np.vstack(vectors.to_numpy()).astype(np.float64, copy=False)
        return pd.Series(reason_texts(saabas(ensemble, x, groups, len(names)), names, k, decimals))

    return _reasons(vector_to_array(features))


def reason_texts(per_column: np.ndarray, names: Sequence[str], k: int, decimals: int) -> np.ndarray:
    """'name (+0.84); name (-0.32)' per row: the k source columns of largest |contribution| (log-odds),
    largest first; None where no column contributed.

    Written here, in the pandas UDF, with numpy lookups and concatenations: the same text built by
    Spark expressions (a decimal cast per number) cost several times more, most of it in the scoring
    projection's cold generated code."""
    index, value = top_k(per_column, min(k, len(names)))
    present = np.abs(value) > 1e-12  # ranked by magnitude: a prefix of each row
    labels = np.array([f"{name} (" for name in names], dtype=object)
    parts = labels[index] + number_texts(value, decimals) + ")"
    text = parts[:, 0]
    for j in range(1, index.shape[1]):
        text = np.where(present[:, j], text + "; " + parts[:, j], text)
    return np.where(present[:, 0], text, None)


def number_texts(values: np.ndarray, decimals: int) -> np.ndarray:
    """Each value as "+0.84" / "-0.32" (an object array shaped like ``values``): value x 10^decimals
    (in double precision) rounded half away from zero, the sign always written ("-0.00" for a small
    negative value)."""
    units = np.floor(np.abs(values) * 10.0**decimals + 0.5).astype(np.int64)
    table = _magnitudes(decimals)
    beyond = units >= table.size
    text = table[np.where(beyond, 0, units)]
    text[beyond] = [_magnitude(int(u), decimals) for u in units[beyond]]
    return np.where(values < 0, "-", "+").astype(object) + text


@functools.lru_cache(maxsize=8)
def _magnitudes(decimals: int) -> np.ndarray:
    """The text of every magnitude of up to 100,000 units (0.00 .. 999.99 at two decimals): a lookup
    per number instead of a float format."""
    return np.array([_magnitude(u, decimals) for u in range(100_000)], dtype=object)


def _magnitude(units: int, decimals: int) -> str:
    whole, fraction = divmod(units, 10**decimals)
    return f"{whole}.{fraction:0{decimals}d}" if decimals else str(whole)
