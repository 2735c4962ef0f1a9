"""A synthetic user base that behaves like a real one, generated distributed and deterministically.

``generate_user_base(spark, cfg)`` returns the raw sources (landing contract), the latent traits
(truth.user_traits) and the effects of past campaigns (truth.campaign_effects); ``land_raw`` writes the sources
and the batch manifest.
"""

from userscore.generate.bad_records import KINDS as BAD_RECORD_KINDS
from userscore.generate.build import SOURCE_FORMATS, SyntheticUserBase, generate_user_base
from userscore.generate.campaigns import campaign_summary
from userscore.generate.output import land_raw
from userscore.generate.timeline import Timeline
from userscore.generate.traits import Scales

__all__ = [
    "BAD_RECORD_KINDS",
    "SOURCE_FORMATS",
    "Scales",
    "SyntheticUserBase",
    "Timeline",
    "campaign_summary",
    "generate_user_base",
    "land_raw",
]
