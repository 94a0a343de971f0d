"""The homepage links the use cases to the notebooks every person's home really holds."""

from __future__ import annotations

import re
from pathlib import Path

from components.catalogue.hub import USE_CASE_FOLDER, USE_CASES
from components.roles import ADMIN, SCIENTIST
from infra.stack_files import REPO_ROOT
from tests.platform_services.test_manifest import homepage

DOCKERFILE = REPO_ROOT / "docker" / "cube-engine" / "Dockerfile"
HOME = "/home/jovyan/work"


def _shipped_notebooks() -> dict[str, Path]:
    """Home-relative path -> repository file, from the image's COPY lines into the home folder."""
    shipped = {}
    for source, target in re.findall(rf"^COPY --chown=\S+ (\S+) {HOME}/(\S+)$", DOCKERFILE.read_text(), re.M):
        name = Path(source).name if target.endswith("/") else Path(target).name
        folder = target if target.endswith("/") else str(Path(target).parent) + "/"
        shipped[f"{folder}{name}"] = REPO_ROOT / source
    return shipped


def test_every_use_case_is_shipped_into_the_home_folder_from_the_repository() -> None:
    shipped = _shipped_notebooks()
    for case in USE_CASES:
        assert case.home_path.startswith(f"{USE_CASE_FOLDER}/")
        assert case.home_path in shipped, (case.home_path, shipped)
        source = shipped[case.home_path]
        assert source.is_file() and source.read_text().startswith("# ---\n# jupyter:"), source


def test_the_homepage_links_each_use_case_to_the_signed_in_persons_server(manifest) -> None:
    page = homepage(manifest)
    for case in USE_CASES:
        card = re.search(
            rf'<li class="card" id="module-usecase-{case.key}"[^>]*data-roles="([^"]*)">(.*?)</li>',
            page,
            re.S,
        )
        assert card is not None, f"no card for {case.key}"
        assert set(card.group(1).split(",")) == {ADMIN, SCIENTIST}
        assert f'href="/jupyter/hub/user-redirect/lab/tree/{case.home_path}"' in card.group(2)
    assert '<section id="group-use-cases">' in page
