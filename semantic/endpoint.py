"""`semantic query --endpoint URL`: the same question sent to a SPARQL 1.1 endpoint (Ontop in production).

SPARQL 1.1 Protocol: the query is POSTed as the body (`application/sparql-query`); SELECT and ASK ask
for SPARQL JSON results, CONSTRUCT and DESCRIBE for Turtle. The answer is parsed back into an rdflib
Result, so it prints exactly as a local answer does. Whatever goes wrong is one line: the endpoint
cannot be reached, it answers with an HTTP error (the start of its message is quoted), or it sends
something other than what was asked for. Only the standard library is used (urllib); the usual proxy
variables apply, as for any HTTP client.
"""

from __future__ import annotations

import http.client
import io
import urllib.error
import urllib.parse
import urllib.request

from rdflib import Graph
from rdflib.query import Result

from semantic.errors import EndpointError
from semantic.results import lexical_literals

TIMEOUT_SECONDS = 600.0
RESULTS_JSON = "application/sparql-results+json"
TURTLE = "text/turtle"
DETAIL_CHARS = 200


def _shown(url: str) -> str:
    """The URL without a password, for messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def check_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointError(f"invalid --endpoint {_shown(url)!r}: expected http(s)://host[:port]/path")
    return url


def _detail(body: bytes) -> str:
    text = " ".join(body.decode("utf-8", "replace").split())
    return text[:DETAIL_CHARS] or "(empty body)"


def post(url: str, text: str, accept: str, timeout: float = TIMEOUT_SECONDS) -> bytes:
    """POST the query; the response body, or an EndpointError naming what went wrong."""
    check_url(url)
    request = urllib.request.Request(
        url,
        data=text.encode("utf-8"),
        method="POST",
        headers={"Content-Type": "application/sparql-query; charset=utf-8", "Accept": accept},
    )
    shown = _shown(url)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        raise EndpointError(
            f"SPARQL endpoint {shown} answered HTTP {exc.code} {exc.reason}: {_detail(exc.read())}"
        ) from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise EndpointError(f"SPARQL endpoint {shown} did not answer within {timeout:g} s") from exc
        reason = (
            exc.reason.strerror if isinstance(exc.reason, OSError) and exc.reason.strerror else exc.reason
        )
        raise EndpointError(f"cannot reach SPARQL endpoint {shown}: {reason}") from exc
    except TimeoutError as exc:
        raise EndpointError(f"SPARQL endpoint {shown} did not answer within {timeout:g} s") from exc
    except (http.client.HTTPException, OSError) as exc:
        raise EndpointError(
            f"SPARQL endpoint {shown} broke the connection: {type(exc).__name__}: {exc}"
        ) from exc


def ask(url: str, text: str, query_type: str, timeout: float = TIMEOUT_SECONDS) -> Result:
    """Send a query (its type from the local parse: SelectQuery, AskQuery, ...) and parse the answer."""
    graph_result = query_type in ("ConstructQuery", "DescribeQuery")
    body = post(url, text, TURTLE if graph_result else RESULTS_JSON, timeout)
    shown = _shown(url)
    try:
        with lexical_literals():
            if not graph_result:
                return Result.parse(io.BytesIO(body), format="json")
            graph = Graph().parse(data=body.decode("utf-8"), format="turtle")
    except Exception as exc:
        kind = "Turtle" if graph_result else "SPARQL JSON results"
        raise EndpointError(
            f"SPARQL endpoint {shown} sent malformed {kind}: {type(exc).__name__}: "
            f"{' '.join(str(exc).split())[:DETAIL_CHARS]} (body starts {_detail(body)[:60]!r})"
        ) from exc
    result = Result("CONSTRUCT" if query_type == "ConstructQuery" else "DESCRIBE")
    result.graph = graph
    return result
