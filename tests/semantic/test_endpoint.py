"""`semantic query --endpoint`: the SPARQL 1.1 protocol against a small endpoint on 127.0.0.1.

The endpoint is a stdlib HTTP server answering from the whole cube's graph (as Ontop would from the
same mapping); every format must print exactly what the local answer prints. Its failures (refused
connection, HTTP errors, malformed results) are one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from semantic import api
from semantic import query as local
from semantic.cli import app
from semantic.local_postgis import free_port
from semantic.vocabulary import prefixes, sparql_prefixes
from tests.semantic.cubes import make_cube
from tests.semantic.test_cli_errors import assert_one_line_error

pytestmark = pytest.mark.postgis

CUBE = "remote"


class Endpoint:
    """A SPARQL endpoint on 127.0.0.1: /sparql answers from a graph, other paths misbehave on purpose."""

    def __init__(self, graph) -> None:
        self.graph = graph
        self.requests: list[dict] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep the test output clean
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                endpoint.requests.append(
                    {
                        "path": self.path,
                        "content_type": self.headers["Content-Type"],
                        "accept": self.headers["Accept"],
                        "body": body,
                    }
                )
                if self.path == "/broken":
                    return self.reply(500, "text/plain", b"Internal error: the endpoint fell over\nat line 2")
                if self.path == "/garbage":
                    return self.reply(200, "application/sparql-results+json", b"<html>not json</html>")
                try:
                    parsed = local.parse(body, "request", CUBE)
                    result = local.evaluate(endpoint.graph, parsed)
                except Exception as exc:
                    return self.reply(400, "text/plain", f"Bad query: {exc}".encode())
                if result.type in ("CONSTRUCT", "DESCRIBE"):
                    return self.reply(200, "text/turtle", result.graph.serialize(format="turtle").encode())
                return self.reply(200, "application/sparql-results+json", result.serialize(format="json"))

            def reply(self, status: int, content_type: str, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Endpoint:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def remote(postgis, cubes_dir, tmp_path_factory) -> Iterator[tuple[Endpoint, dict]]:
    path = make_cube(cubes_dir / "remote.zarr", height=8, width=9, times=3, land_cover_dtype="float32")
    api.load(path, postgis.dsn, cube_id=CUBE)
    out = tmp_path_factory.mktemp("remote-mapping")
    files = {p.name: p for p in api.write_mapping(CUBE, postgis.dsn, out) if p.suffix == ".rq"}
    with Endpoint(api.materialise(CUBE, postgis.dsn)) as endpoint:
        yield endpoint, files


@pytest.fixture(autouse=True)
def no_proxy_for_loopback(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def run(*args: str):
    return CliRunner().invoke(app, list(args), terminal_width=200)


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "geojson"])
def test_every_format_prints_what_the_local_answer_prints(remote, postgis, fmt):
    endpoint, files = remote
    query = str(files["01_bbox_time_threshold.rq"])
    here = run("query", query, "--dsn", postgis.dsn, "--cube-id", CUBE, "--format", fmt)
    there = run("query", query, "--endpoint", f"{endpoint.url}/sparql", "--format", fmt)
    assert here.exit_code == 0 and there.exit_code == 0, (here.output, there.output)
    if fmt in ("json", "geojson"):
        assert json.loads(there.stdout) == json.loads(here.stdout)
    else:
        assert there.stdout == here.stdout
    assert len(here.stdout) > 500  # several rows, whatever the format
    sent = endpoint.requests[-1]
    assert sent["path"] == "/sparql" and sent["body"] == files["01_bbox_time_threshold.rq"].read_text()
    assert sent["content_type"].startswith("application/sparql-query")
    assert sent["accept"] == "application/sparql-results+json"


def test_every_catalogue_query_answers_the_same_remotely(remote, postgis):
    endpoint, files = remote
    for name, path in sorted(files.items()):
        here = run("query", str(path), "--dsn", postgis.dsn, "--cube-id", CUBE, "--format", "csv")
        there = run("query", str(path), "--endpoint", f"{endpoint.url}/sparql", "--format", "csv")
        assert here.exit_code == there.exit_code == 0, name
        assert there.stdout == here.stdout, name


def test_ask_and_construct(remote, postgis, tmp_path):
    endpoint, _ = remote
    head = sparql_prefixes(prefixes(CUBE))
    ask = tmp_path / "ask.rq"
    ask.write_text(head + "ASK { ?cell cv:land_cover 3 }")
    construct = tmp_path / "construct.rq"
    construct.write_text(head + "CONSTRUCT { ?cell dc:row ?r } WHERE { ?cell dc:row ?r ; cv:land_cover 3 }")
    assert run("query", str(ask), "--endpoint", f"{endpoint.url}/sparql", "-f", "csv").stdout == "true\n"
    there = run("query", str(construct), "--endpoint", f"{endpoint.url}/sparql", "-f", "csv")
    here = run("query", str(construct), "--dsn", postgis.dsn, "--cube-id", CUBE, "-f", "csv")
    assert there.exit_code == 0 and endpoint.requests[-1]["accept"] == "text/turtle"
    from rdflib import Graph
    from rdflib.compare import isomorphic

    remote_graph, local_graph = Graph().parse(data=there.stdout), Graph().parse(data=here.stdout)
    assert len(local_graph) > 3 and isomorphic(remote_graph, local_graph)


def test_endpoint_failures_are_one_line(remote, tmp_path):
    endpoint, files = remote
    query = str(files["02_cells_within_polygon.rq"])
    refused = f"http://127.0.0.1:{free_port()}/sparql"
    assert_one_line_error(run("query", query, "--endpoint", refused), "cannot reach SPARQL endpoint", refused)
    assert_one_line_error(
        run("query", query, "--endpoint", f"{endpoint.url}/broken"),
        "answered HTTP 500",
        "the endpoint fell over at line 2",
    )
    assert_one_line_error(
        run("query", query, "--endpoint", f"{endpoint.url}/garbage"), "sent malformed SPARQL JSON results"
    )
    bad = tmp_path / "unknown_function.rq"
    bad.write_text("SELECT ?x WHERE { BIND(<http://example.org/nope>(1) AS ?x) FILTER(?x > ) }")
    assert_one_line_error(run("query", str(bad), "--endpoint", f"{endpoint.url}/sparql"), "invalid SPARQL")
    assert_one_line_error(run("query", query, "--endpoint", "ftp://example.org/sparql"), "invalid --endpoint")
    assert_one_line_error(
        run("query", query, "--endpoint", f"{endpoint.url}/sparql", "--bbox", "10,49,11,50"),
        "with --endpoint the endpoint answers the query as written",
    )
