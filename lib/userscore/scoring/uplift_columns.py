"""The columns of a scored uplift type T derived from its champion's two predictions: the tier and the
net margin, as Column rules (``T_uplift`` itself and its reasons come from the model, scoring.compiled)."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from userscore.config.campaigns import UPLIFT_TIERS, UpliftTiers


def uplift_tier(uplift: Column, p_control: Column, tiers: UpliftTiers) -> Column:
    """persuadable when uplift > persuadable_above, sleeping_dog when uplift < sleeping_dog_below;
    otherwise sure_thing when p_control (P(convert | not contacted)) >= sure_thing_min, else lost_cause.
    Null uplift: null."""
    persuadable, sure_thing, lost_cause, sleeping_dog = UPLIFT_TIERS
    return (
        F.when(uplift.isNull(), F.lit(None).cast("string"))
        .when(uplift > F.lit(tiers.persuadable_above), F.lit(persuadable))
        .when(uplift < F.lit(tiers.sleeping_dog_below), F.lit(sleeping_dog))
        .when(p_control >= F.lit(tiers.sure_thing_min), F.lit(sure_thing))
        .otherwise(F.lit(lost_cause))
    )


def net_margin(uplift: Column, margin_per_conversion: float, contact_cost: float) -> Column:
    """What contacting the user is expected to earn: uplift x margin per conversion (logged by the
    model's training run) - the type's contact cost. Null uplift: null."""
    return uplift * F.lit(float(margin_per_conversion)) - F.lit(float(contact_cost))
