"""The tag dictionary and the safe rule expressions tags and segments are defined with."""

from userscore.tags.dictionary import Tag, TagDictionary, list_lines, load_dictionary, show_lines
from userscore.tags.expressions import ALLOWED_FUNCTIONS, RuleError, validate_rule

__all__ = [
    "ALLOWED_FUNCTIONS",
    "RuleError",
    "Tag",
    "TagDictionary",
    "list_lines",
    "load_dictionary",
    "show_lines",
    "validate_rule",
]
