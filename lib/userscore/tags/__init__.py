"""The tag dictionary and the safe rule expressions tags and segments are defined with."""

from userscore.tags.expressions import ALLOWED_FUNCTIONS, RuleError, validate_rule

__all__ = ["ALLOWED_FUNCTIONS", "RuleError", "validate_rule"]
