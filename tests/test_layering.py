"""The layers' import rules: `components` never imports `infra` (the program and its config parsing
sit on top of the components, not beside them), the service value types never import Pulumi
(the catalogue, the services config and their tests use them without an engine), and `deepcube`,
the base every half shares, imports none of the halves (each installs without the others)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMPONENTS = ROOT / "components"
BASE = ROOT / "deepcube"
PROJECT_PACKAGES = ("infra", "components", "cube_engine", "semantic", "usecases")
SPEC_MODULE = COMPONENTS / "service_spec.py"


def imported_modules(source: str) -> set[str]:
    """Every module an `import` or `from ... import` names, wherever it stands (also under
    `if TYPE_CHECKING:` or inside a function); relative imports stay inside their package."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def imports_package(source: str, package: str) -> list[str]:
    return sorted(m for m in imported_modules(source) if m == package or m.startswith(f"{package}."))


def test_the_import_scan_sees_every_form_of_import():
    source = (
        "import infra.config\n"
        "from infra import plan\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from infra.services_config import ServicesConfig\n"
        "def later():\n"
        "    import pulumi_docker\n"
        "from . import sibling\n"
        "import infrastructure\n"
    )
    assert imports_package(source, "infra") == ["infra", "infra.config", "infra.services_config"]
    assert imports_package(source, "pulumi_docker") == ["pulumi_docker"]


def test_no_component_module_imports_infra():
    modules = sorted(COMPONENTS.rglob("*.py"))
    assert {COMPONENTS / "catalogue" / "common.py", COMPONENTS / "platform_services.py"} <= set(modules)
    offenders = {
        str(path.relative_to(ROOT)): found
        for path in modules
        if (found := imports_package(path.read_text(encoding="utf-8"), "infra"))
    }
    assert offenders == {}


def test_the_service_value_types_do_not_import_pulumi():
    source = SPEC_MODULE.read_text(encoding="utf-8")
    direct = [m for m in imported_modules(source) if m.split(".")[0].startswith("pulumi")]
    assert direct == []
    # nor through what they import: importing them loads no Pulumi module at all
    probe = (
        "import sys\n"
        "import components.service_spec\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0].startswith('pulumi')))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_shared_base_imports_no_project_package():
    modules = sorted(BASE.rglob("*.py"))
    assert {BASE / "cli.py", BASE / "config_errors.py"} <= set(modules)
    offenders = {
        str(path.relative_to(ROOT)): found
        for path in modules
        for package in PROJECT_PACKAGES
        if (found := imports_package(path.read_text(encoding="utf-8"), package))
    }
    assert offenders == {}
