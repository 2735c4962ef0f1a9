"""The tag dictionary and the safe rule expressions tags and segments are defined with."""

from userscore.config.rules import ALLOWED_FUNCTIONS, RuleError, validate_rule
from userscore.tags.dictionary import Tag, TagDictionary, list_lines, load_dictionary, show_lines

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
