"""The feature snapshot's column names, derived from the ``features`` section alone (no Spark).

Config load checks tag, segment and scoring references against these names, and the features package
names its output columns with the same functions, so a name is declared once.
"""

from __future__ import annotations

from collections.abc import Iterable

from userscore.config.features import (
    PREFERENCE_SIGNALS,
    CustomerBaseConfig,
    FamilyConfig,
    FeaturesConfig,
    InterestConfig,
    PreferenceConfig,
    ProfileConfig,
    measure_columns,
)

TENURE = "tenure_days"
RFM_SCORE_COLUMNS = ("r_score", "f_score", "m_score", "fm_score", "rfm_score", "rfm_segment")
CATEGORY_COUNT = "category_count"
TOP_CATEGORY = "top_category"
# The shares preference_score weighs are named where its config validates score_weights.
TOP_CATEGORY_SPEND_SHARE, TOP_CATEGORY_VISIT_SHARE, PREFERRED_CHANNEL_SHARE = PREFERENCE_SIGNALS
PROMOTION_SENSITIVITY = "promotion_sensitivity"
PREFERRED_CHANNEL = "preferred_channel"
PREFERENCE_SCORE = "preference_score"
INTEREST_COUNT = "interest_count"


def ranked_category_columns(i: int) -> tuple[str, str]:
    """The i-th (1-based) top category's columns: its name and its affinity."""
    return f"category_{i}", f"category_{i}_affinity"


def ranked_interest_columns(i: int) -> tuple[str, str]:
    """The i-th (1-based) top interest's columns: its category and its lift."""
    return f"interest_{i}", f"interest_{i}_lift"


def interest_columns(interests: InterestConfig) -> list[str]:
    """The interest family's columns: the top-k interests with their lifts, then the interest count."""
    return [*(c for i in range(1, interests.top_k + 1) for c in ranked_interest_columns(i)), INTEREST_COUNT]


# The customer-base (BG/NBD) family: the BTYD summary at D in days, then the model's outputs.
BGNBD_X, BGNBD_T_X_DAYS, BGNBD_T_DAYS = "bgnbd_x", "bgnbd_t_x_days", "bgnbd_T_days"
BGNBD_P_ALIVE = "bgnbd_p_alive"


def bgnbd_expected_purchases_column(horizon_days: int) -> str:
    return f"bgnbd_expected_purchases_{horizon_days}d"


def customer_base_model_columns(customer_base: CustomerBaseConfig) -> list[str]:
    """The columns the BG/NBD fit at D gives (null for the whole snapshot when the fit fails)."""
    return [BGNBD_P_ALIVE, *(bgnbd_expected_purchases_column(h) for h in customer_base.horizons_days)]


def customer_base_columns(customer_base: CustomerBaseConfig) -> list[str]:
    """The customer-base family's columns: x, t_x and T in days, P(alive), expected purchases per horizon."""
    return [BGNBD_X, BGNBD_T_X_DAYS, BGNBD_T_DAYS, *customer_base_model_columns(customer_base)]


def trend_column(name: str) -> str:
    return f"{name}_trend"


def family_columns(family: FamilyConfig, windows: Iterable[int]) -> list[str]:
    """A family's output columns in order: measures (per window), trends, ratios."""
    windows = tuple(windows)
    columns = [c for name, spec in family.measures.items() for c in measure_columns(name, spec, windows)]
    columns += [trend_column(name) for name in family.trends]
    return columns + list(family.ratios)


def profile_columns(profile: ProfileConfig) -> list[str]:
    return [profile.level_column, *profile.columns, TENURE]


def preference_columns(preference: PreferenceConfig) -> list[str]:
    """The preference family's columns except category_count (placed on its own)."""
    ranked = [c for i in range(1, preference.top_k + 1) for c in ranked_category_columns(i)]
    return [
        TOP_CATEGORY,
        TOP_CATEGORY_SPEND_SHARE,
        TOP_CATEGORY_VISIT_SHARE,
        *ranked,
        PROMOTION_SENSITIVITY,
        PREFERRED_CHANNEL,
        PREFERRED_CHANNEL_SHARE,
        PREFERENCE_SCORE,
    ]


def feature_columns(features: FeaturesConfig) -> list[str]:
    """Every feature column of a snapshot, in output order (after user_id, as_of_date).

    Profile, RFM measures and scores, then the generic families in their YAML order, with the preference
    columns, followed by the interest columns, where ``preference.placement`` puts them; the social columns
    (when configured), then the customer-base (BG/NBD) columns last.
    """
    columns = [*profile_columns(features.profile), *family_columns(features.rfm, features.windows)]
    columns += RFM_SCORE_COLUMNS
    placement = features.preference.placement
    for name, family in features.families.items():
        columns += family_columns(family, features.windows)
        if name == placement.category_count:
            columns.append(CATEGORY_COUNT)
        if name == placement.columns:
            columns += preference_columns(features.preference) + interest_columns(features.interests)
    columns += social_columns(features)
    return columns + customer_base_columns(features.customer_base)


def social_columns(features: FeaturesConfig) -> list[str]:
    """The social family's columns (``features.social``: prefix + column; none when it is null)."""
    return features.social.feature_columns if features.social is not None else []
