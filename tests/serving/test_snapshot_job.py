"""`userscore snapshot` through the CLI: bad input exits 2 before the snapshot folder exists."""

from __future__ import annotations

from tests.conftest import REPO, make_config
from tests.serving import world
from userscore.catalog import Catalog
from userscore.cli import main


def _run(capsys, tmp_path, *argv: str) -> tuple[int, str]:
    sets = ["--conf-dir", str(REPO / "conf"), "--set", f"catalog.root={tmp_path}/warehouse"]
    capsys.readouterr()
    code = main(["snapshot", *sets, *argv])
    return code, capsys.readouterr().out


def test_bad_input_exits_2_and_publishes_nothing(spark, tmp_path, capsys):
    serving = tmp_path / "warehouse" / "serving"
    code, out = _run(capsys, tmp_path, "--as-of", "2026-13-01")
    assert code == 2 and "userscore snapshot: error: --as-of: a date YYYY-MM-DD or 'latest', got '2026-13-01'" in out

    code, out = _run(capsys, tmp_path)
    assert code == 2
    assert (
        f"error: table tags.user_tag_wide does not exist at {tmp_path}/warehouse/tags/user_tag_wide: run `userscore score` first"
        in out
    )

    catalog = Catalog(spark, make_config(tmp_path))
    wide = catalog.config.scoring.wide_table
    catalog.ensure(wide, world.wide_schema(catalog.config))
    catalog.merge(wide, world.wide_frame(catalog, world.V1[:1]))
    code, out = _run(capsys, tmp_path, "--as-of", "2026-10-01")
    assert code == 2
    assert (
        "error: no row of tags.user_tag_wide comes from snapshot 2026-10-01: run `userscore score --as-of 2026-10-01` first"
        in out
    )
    # Segments are configured and audiences.segment_members was never written.
    code, out = _run(capsys, tmp_path)
    assert (
        code == 2
        and f"error: table audiences.segment_members does not exist at {tmp_path}/warehouse/audiences/segment_members"
        in out
    )
    assert not serving.exists()
