"""Pure helpers of the components: security rule table and swarm command lines (Hopsworks's are in
test_hopsworks_scaling.py)."""

from __future__ import annotations

from components import swarm
from components.security import GATEWAY_GROUPS, ROLE_GROUPS, port_ranges_excluding, security_rules

CIDRS = {
    "swarm": "10.20.0.0/24",
    "hopsworks": "10.30.0.0/24",
    "data": "10.40.0.0/24",
    "interlink": "10.50.0.0/24",
}
ALLOWED = ["192.0.2.0/24"]


def test_port_ranges_excluding():
    assert port_ranges_excluding((22, 80)) == [(1, 21), (23, 79), (81, 65535)]
    assert port_ranges_excluding((1, 65535)) == [(2, 65534)]


def test_rule_table_least_privilege():
    table = security_rules(cidrs=CIDRS, ssh_allowed_cidrs=ALLOWED)
    for group, rules in table.items():
        for rule in rules:
            if rule.direction != "ingress":
                continue
            if rule.covers(22):
                assert rule.remote_cidr in ALLOWED or rule.remote_group in ("bastion", "hopsworks-installer")
            for port in (2377, 7946, 4789):
                if rule.covers(port):
                    assert rule.remote_cidr == CIDRS["swarm"], (group, rule)
            if rule.covers(80) or rule.covers(443):
                assert group == "web"
            if rule.covers(5432):
                assert group in ("clients", "data", "hopsworks"), (group, rule)
    assert [r.remote_cidr for r in table["bastion"]] == ALLOWED
    assert {(r.protocol, r.port_min) for r in table["web"]} == {("tcp", 80), ("tcp", 443), ("udp", 443)}
    assert table["clients"] == []
    assert {(r.protocol, r.port_min) for r in table["swarm"] if r.protocol != "icmp"} == {
        ("tcp", 2377),
        ("tcp", 7946),
        ("udp", 7946),
        ("udp", 4789),
    }
    keys = [f"{g}-{r.key}" for g, rules in table.items() for r in rules]
    assert len(keys) == len(set(keys)), "rule names are unique"
    assert "web" not in {g for groups in ROLE_GROUPS.values() for g in groups}
    assert set(GATEWAY_GROUPS) == {"bastion", "web", "clients"}


def test_client_ports_open_only_to_their_clients():
    table = security_rules(cidrs=CIDRS, ssh_allowed_cidrs=ALLOWED, client_ports={5432: ["192.0.2.0/24"]})
    assert [(r.protocol, r.port_min, r.port_max, r.remote_cidr) for r in table["clients"]] == [
        ("tcp", 5432, 5432, "192.0.2.0/24")
    ]


def test_swarm_commands():
    assert "docker swarm init --advertise-addr 10.20.0.5 --listen-addr 10.20.0.5:2377" in swarm.init_command(
        "10.20.0.5"
    )
    join = swarm.join_command("SWMTKN-1-abc", "10.20.0.5", "10.20.0.9")
    assert "docker swarm join --token SWMTKN-1-abc --advertise-addr 10.20.0.9 10.20.0.5:2377" in join
    assert join.endswith("{{.Swarm.NodeID}}'")
    assert swarm.join_token_command("worker").endswith("join-token -q worker")
    label = swarm.label_command("n1", {"role": "data", "gpu": "true"})
    assert label.endswith("docker node update --label-add gpu=true --label-add role=data n1")
    worker = swarm.remove_node_command("n1", manager=False)
    assert worker.startswith("sudo docker node update --availability drain n1")
    assert worker.endswith("sudo docker node rm --force n1") and "demote" not in worker
    assert "docker node demote n1" in swarm.remove_node_command("n1", manager=True)

