"""The registered form of a BTYD model: an MLflow pyfunc that wraps the fitted parameters.

``predict`` takes a pandas frame with the summary columns x, t_x_days, t_cal_days (integers, never missing)
and m_x (double, missing when x = 0), as in features.btyd_summary, and returns the score columns; other
input columns are ignored. Kept apart from
model.py so that Spark executors scoring with the numpy formulas never import MLflow.
"""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from userscore.btyd.model import BTYDModel, ScoreSettings
from userscore.btyd.summary import M_X, T_CAL_DAYS, T_X_DAYS, X

INPUT_COLUMNS = (X, T_X_DAYS, T_CAL_DAYS, M_X)


class BTYDPyfunc(mlflow.pyfunc.PythonModel):
    """Parameters and score settings as plain data (pickled with the model, no artifacts needed)."""

    def __init__(self, model: BTYDModel, settings: ScoreSettings):
        self.model_data = model.to_dict()
        self.settings_data = {
            "horizons_days": list(settings.horizons_days),
            "clv_horizon_days": settings.clv_horizon_days,
            "clv_step_days": settings.clv_step_days,
            "annual_discount_rate": settings.annual_discount_rate,
        }

    @property
    def btyd_model(self) -> BTYDModel:
        return BTYDModel.from_dict(self.model_data)

    @property
    def settings(self) -> ScoreSettings:
        data = self.settings_data
        return ScoreSettings(
            tuple(data["horizons_days"]), data["clv_horizon_days"], data["clv_step_days"], data["annual_discount_rate"]
        )

    def predict(self, context, model_input, params: dict[str, Any] | None = None):  # noqa: ARG002 - MLflow API
        missing = [c for c in INPUT_COLUMNS if c not in model_input.columns]
        if missing:
            raise ValueError(f"BTYD model input needs columns {list(INPUT_COLUMNS)}; missing {missing}")
        columns = [
            pd.to_numeric(model_input[c], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            for c in INPUT_COLUMNS
        ]
        settings = self.settings
        scores = self.btyd_model.scores(*columns, settings)
        return pd.DataFrame(scores, columns=settings.columns, index=model_input.index)
