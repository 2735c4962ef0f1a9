"""Buy-till-you-die customer-base models: BG/NBD purchases, Gamma-Gamma spend, lifetime value.

Pure numpy/scipy. Fits take distinct sufficient-statistic groups with a count `weight`, so a Spark driver
only ever handles aggregated groups; the prediction functions are vectorised and safe in a pandas UDF.
"""

from userscore.btyd.bgnbd import (
    BGNBDFit,
    BGNBDParams,
    bgnbd_log_likelihood,
    expected_purchases,
    expected_purchases_new_customer,
    fit_bgnbd,
    probability_alive,
)
from userscore.btyd.clv import customer_lifetime_value
from userscore.btyd.errors import FitError
from userscore.btyd.gamma_gamma import (
    GammaGammaFit,
    GammaGammaParams,
    conditional_expected_average_value,
    fit_gamma_gamma,
    gamma_gamma_log_likelihood,
)

__all__ = [
    "BGNBDFit",
    "BGNBDParams",
    "FitError",
    "GammaGammaFit",
    "GammaGammaParams",
    "bgnbd_log_likelihood",
    "conditional_expected_average_value",
    "customer_lifetime_value",
    "expected_purchases",
    "expected_purchases_new_customer",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "gamma_gamma_log_likelihood",
    "probability_alive",
]
