"""config/ is a leaf: it imports only itself, userscore.errors and userscore.keys (they import nothing), the standard library and yaml, so loading
config never imports Spark or the packages it configures."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

CONFIG = REPO / "lib" / "userscore" / "config"
ALLOWED_THIRD_PARTY = {"yaml"}


def _imports(path: Path) -> list[str]:
    """Every module an import statement of ``path`` names (top level or inside functions)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def _allowed(module: str) -> bool:
    top = module.split(".")[0]
    if top == "userscore":
        return module in ("userscore.errors", "userscore.keys", "userscore.config") or module.startswith(
            "userscore.config."
        )
    return top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY or top == "__future__"


def test_the_import_check_tells_leaf_imports_from_others():
    assert [_allowed(m) for m in ("userscore.config.typed", "userscore.errors", "yaml", "collections.abc")] == [
        True
    ] * 4
    assert [_allowed(m) for m in ("userscore.models.params", "userscore.tags", "pyspark.sql", "numpy")] == [False] * 4


def test_config_modules_import_only_config_errors_stdlib_and_yaml():
    modules = sorted(CONFIG.glob("*.py"))
    assert CONFIG / "loader.py" in modules
    found = {path.name: [m for m in _imports(path) if not _allowed(m)] for path in modules}
    assert {name: bad for name, bad in found.items() if bad} == {}


def test_loading_config_does_not_import_pyspark():
    code = (
        "import sys\n"
        "import userscore.config.loader as l\n"
        f"config = l.load_config(env='local', conf_dir={str(REPO / 'conf')!r})\n"
        "assert config.models.targets, 'conf/base declares targets'\n"
        "spark = sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'py4j'))\n"
        "others = sorted(m for m in sys.modules if m.startswith('userscore.')\n"
        "                and not m.startswith('userscore.config') and m not in ('userscore.errors', 'userscore.keys'))\n"
        "print(spark, others)\n"
    )
    env = {"PYTHONPATH": str(REPO / "lib"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[] []"
