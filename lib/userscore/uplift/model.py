"""The served form of an uplift model (a T-learner): ONE Spark PipelineModel, registered in MLflow as
``<models.tracking.model_prefix><campaign type>_uplift``, that prepares the features once and applies two
GBT classifiers to the same vector, one fitted on the contacted users of the type's campaigns and one on
the control users:

    [Imputer, (StringIndexer, OneHotEncoder), VectorAssembler -> features,
     GBT(treated arm) -> _uplift_p_treated, GBT(control arm) -> _uplift_p_control, UpliftDifference -> prediction]

uplift = P(convert | contacted) - P(convert | not contacted) = p_treated[1] - p_control[1], written as
``prediction`` (what MLflow's pyfunc flavour returns, so the registered model serves uplift). The arms are
not calibrated: each GBT minimises log loss on its own arm, and the difference of two calibration maps
fitted on a few thousand users each would add more noise than it removes. The training run logs
``margin_per_conversion`` (the type's margin rate x the mean revenue of a converted contacted user of the
training campaigns): the scores turn uplift into expected incremental margin with it.
"""

from __future__ import annotations

from pyspark.ml import PipelineModel, Transformer
from pyspark.ml.classification import GBTClassificationModel
from pyspark.ml.functions import vector_to_array
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

TREATED_PROBABILITY = "_uplift_p_treated"
CONTROL_PROBABILITY = "_uplift_p_control"
ARM_OUTPUTS = {
    "treated": (TREATED_PROBABILITY, "_uplift_raw_treated"),
    "control": (CONTROL_PROBABILITY, "_uplift_raw_control"),
}
MARGIN_PER_CONVERSION = "margin_per_conversion"  # a metric of the training run
PREDICTION = "prediction"


def model_name(model_prefix: str, campaign_type: str) -> str:
    """The registered name of ``campaign_type``'s uplift model."""
    return f"{model_prefix}{campaign_type}_uplift"


def arm_model(gbt: GBTClassificationModel, arm: str) -> GBTClassificationModel:
    """``gbt`` writing the arm's own probability and raw columns (and no prediction), so that both arms can
    follow the same preparation in one pipeline."""
    probability, raw = ARM_OUTPUTS[arm]
    return gbt.setProbabilityCol(probability).setRawPredictionCol(raw).setPredictionCol("")


class UpliftDifference(Transformer, DefaultParamsReadable, DefaultParamsWritable):
    """The served pipeline's last stage: ``prediction`` = p_treated[1] - p_control[1]."""

    def _transform(self, dataset: DataFrame) -> DataFrame:
        return dataset.withColumn(PREDICTION, predicted_uplift())


def served_pipeline(prep: PipelineModel, treated: GBTClassificationModel, control: GBTClassificationModel):
    """The registered artifact: the preparation stages, the treated and the control arm's GBT, the difference."""
    arms = [arm_model(treated, "treated"), arm_model(control, "control")]
    return PipelineModel(stages=[*prep.stages, *arms, UpliftDifference()])


def positive(column: str) -> Column:
    """P(class 1) from a probability vector column."""
    return vector_to_array(F.col(column))[1]


def predicted_uplift() -> Column:
    """p_treated - p_control from the served pipeline's output."""
    return positive(TREATED_PROBABILITY) - positive(CONTROL_PROBABILITY)
