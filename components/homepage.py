"""The platform homepage, rendered from the service catalogue (one source of truth).

The seed's page was written by hand and drifted from what actually ran. Here every enabled module's
`ServiceSpec.homepage` entry becomes a card linking to its gateway route, so enabling or disabling a
module in the stack YAML changes the swarm and the page together. The page is one self-contained
HTML file (inline CSS) that the gateway serves from a Swarm config.

Each protected card names the roles that open it (`data-roles`, the route's roles). A small inline
script asks the gatekeeper who is signed in (`/whoami/`), shows it, and hides the cards the role
cannot open; without JavaScript, or when nobody is signed in, every card stays listed as before
(the gateway checks the role anyway, the page only spares people a 403).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, select_autoescape

from components.catalogue.gatekeeper import WHOAMI_PATH
from components.service_spec import ServiceSpec

GROUP_ORDER = ("data", "use-cases", "social-media", "identity", "monitoring", "logs", "portainer", "gateway")


@dataclass(frozen=True)
class Card:
    """One module on the page."""

    key: str
    group: str
    title: str
    description: str
    icon: str
    url: str
    status_url: str
    protected: bool
    roles: tuple[str, ...] = ()
    """Roles that open the module (empty for a public one)."""


def cards_from_specs(specs: Iterable[ServiceSpec]) -> list[Card]:
    """Cards for every spec with a homepage entry, in group order then title; links are site-relative."""
    cards = []
    for spec in specs:
        entry, route = spec.homepage, spec.route
        if entry is None or route is None:
            continue
        cards.append(
            Card(
                key=spec.name,
                group=entry.group,
                title=entry.title,
                description=entry.description,
                icon=entry.icon,
                url=f"{route.path}/{entry.link_suffix}",
                status_url=entry.status_path or f"{route.path}/",
                protected=route.protected,
                roles=route.roles,
            )
        )
    order = {group: i for i, group in enumerate(GROUP_ORDER)}
    return sorted(cards, key=lambda c: (order.get(c.group, len(order)), c.title.lower()))


TEMPLATE = Path(__file__).with_name("homepage.html.j2")

_ENV = Environment(
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def render_homepage(cards: Sequence[Card], *, domain: str, title: str = "DeepCube platform") -> str:
    """The page as HTML; escaping is on, so catalogue text cannot inject markup."""
    keys = [card.key for card in cards]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate modules on the homepage: {keys}")
    groups: dict[str, list[Card]] = {}
    for card in cards:
        groups.setdefault(card.group, []).append(card)
    return _ENV.from_string(TEMPLATE.read_text()).render(
        title=title, domain=domain, cards=cards, groups=list(groups.items()), whoami=f"{WHOAMI_PATH}/"
    )
