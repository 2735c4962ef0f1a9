"""Print the tag dictionary (no Spark session is started).

Parameters:
  list       every tag: category, id, name, kind, refresh cadence, sensitivity, owner
  show ID    every field of one tag, including its definition

The dictionary is conf tags.dictionary (conf/base/tags.yaml); its rules were validated when the config
loaded. Exit 2 for an unknown tag id.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from userscore.errors import InputError
from userscore.runner import JobContext

HELP = "print the tag dictionary: `tags list` or `tags show ID`"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["list", "show"], help="list every tag, or show one")
    parser.add_argument("tag_id", nargs="?", metavar="ID", help="the tag to show")


def run(ctx: JobContext) -> Sequence[str]:
    from userscore.tags import list_lines, load_dictionary, show_lines

    dictionary = load_dictionary(ctx.config.tags)
    if ctx.args.action == "list":
        if ctx.args.tag_id:
            raise InputError("`tags list` takes no ID; use `tags show ID`")
        return list_lines(dictionary)
    if not ctx.args.tag_id:
        raise InputError(f"`tags show` needs a tag ID: one of {list(dictionary.ids)}")
    return show_lines(dictionary.get(ctx.args.tag_id))
