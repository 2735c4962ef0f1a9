"""The customer-base (BTYD) columns of the scores: p_alive, expected purchases, expected average value, CLV.

The BTYD champion (``btyd.model_name`` at the promotion alias) holds only fitted parameters; the scores
need each customer's summary at D (x, t_x, T, m_x), computed here from silver orders with exactly the
code the fit used. So a daily scoring run uses the latest fitted parameters on today's purchase history,
without refitting. Customers with no purchase before D get null BTYD columns.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.btyd.model import BTYDModel, ScoreSettings
from userscore.catalog import Catalog
from userscore.config import Config
from userscore.config.btyd import MODEL_VERSION
from userscore.errors import InputError
from userscore.persons import keyed_at


@dataclass(frozen=True)
class CustomerBase:
    """What the scores need from the BTYD champion at D; ``model`` None: optional and no champion."""

    settings: ScoreSettings
    model_name: str
    model: BTYDModel | None = None
    version: str | None = None
    summary: DataFrame | None = None

    @property
    def columns(self) -> list[str]:
        return [*self.settings.columns, MODEL_VERSION]


def load_customer_base(
    catalog: Catalog,
    config: Config,
    as_of: dt.date,
    logger: logging.Logger | None = None,
    orders: DataFrame | None = None,
) -> CustomerBase | None:
    """The BTYD champion and the (lazy) summary at ``as_of`` of ``orders`` (default: every order of
    btyd.orders_table, keyed by person at ``as_of`` with identity.resolve; the live rescoring passes its few
    users' orders, keyed as its features are); None when ``scoring.btyd.enabled`` is off.

    A missing champion raises InputError (nothing written yet) unless ``scoring.btyd.optional``.
    """
    if not config.scoring.btyd.enabled:
        return None
    from userscore.btyd.summary import calibration_summary
    from userscore.btyd.tracking import load_model
    from userscore.models.tracking import store_of

    btyd = config.btyd
    settings = ScoreSettings.of(btyd.scoring)
    try:
        model, _, version = load_model(store_of(config), btyd.model_name, config.models.promotion.alias)
    except InputError:
        if not config.scoring.btyd.optional:
            raise
        (logger or logging.getLogger(__name__)).warning("no %s champion: BTYD columns are null", btyd.model_name)
        return CustomerBase(settings, btyd.model_name)
    if orders is None:
        orders = keyed_at(catalog, config.identity, catalog.read(btyd.orders_table), as_of)
    summary = calibration_summary(
        orders, as_of, calibration_days=btyd.calibration_days, exclude_refunded=btyd.exclude_refunded
    )
    return CustomerBase(settings, btyd.model_name, model, version, summary)


def with_customer_base(df: DataFrame, base: CustomerBase) -> DataFrame:
    """``df`` (one row per user_id) plus the BTYD columns and the model version (null without a champion)."""
    from userscore.btyd.scoring import with_btyd_scores

    if base.model is None:
        return df.withColumns({c: F.lit(None).cast("string" if c == MODEL_VERSION else "double") for c in base.columns})
    scored = with_btyd_scores(df, base.summary, base.model, base.settings)
    return scored.withColumn(MODEL_VERSION, F.lit(base.version).cast("string"))
