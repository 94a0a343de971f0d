"""What the cloud would compute, for the offline plan: deterministic stand-in outputs per type.

Only outputs that the program reads back (addresses, generated credentials, command output) need
an entry; everything else echoes its inputs. Invokes are listed explicitly: an invoke missing here
fails the plan instead of quietly answering `{}`.
"""

from __future__ import annotations

from typing import Any

from infra.mock_engine import ComputedOutputs, InvokeAnswer, stable_host, stable_token


def _instance(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    networks = inputs.get("networks") or []
    fixed = next((n.get("fixedIpV4") for n in networks if isinstance(n, dict) and n.get("fixedIpV4")), None)
    address = fixed or stable_host("10.99.0", name)
    return {"accessIpV4": address, "networks": networks or [{"fixedIpV4": address}]}


def _port(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    fixed = [ip.get("ipAddress") for ip in inputs.get("fixedIps") or [] if isinstance(ip, dict)]
    addresses = [ip for ip in fixed if ip] or [stable_host("10.98.0", name)]
    return {
        "allFixedIps": addresses,
        "macAddress": "fa:16:3e:"
        + ":".join(stable_token("mac", name, length=6)[i : i + 2] for i in range(0, 6, 2)),
    }


def _floating_ip(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"address": stable_host("203.0.113", name)}


def _ec2_credential(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "access": f"AK{stable_token('access', name, length=16).upper()}",
        "secret": stable_token("secret", name, length=32),
    }


def _random_password(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    length = int(inputs.get("length", 24))
    return {"result": (stable_token("password", name, length=64) * 2)[:length]}


def _private_key(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    token = stable_token("key", name, length=32)
    return {
        "privateKeyPem": f"-----BEGIN PRIVATE KEY-----\n{token}\n-----END PRIVATE KEY-----\n",
        "privateKeyOpenssh": (
            f"-----BEGIN OPENSSH PRIVATE KEY-----\n{token}\n-----END OPENSSH PRIVATE KEY-----\n"
        ),
        "publicKeyOpenssh": f"ssh-ed25519 AAAAC3{token} {name}\n",
    }


def _remote_command(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"stdout": f"mock-stdout-{stable_token('stdout', name, length=16)}", "stderr": ""}


def _docker_image(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    repository = str(inputs.get("imageName", name)).rsplit(":", 1)[0]
    digest = stable_token("digest", name, length=64)
    return {"repoDigest": f"{repository}@sha256:{digest}", "digest": f"sha256:{digest}"}


COMPUTED_OUTPUTS: dict[str, ComputedOutputs] = {
    "openstack:compute/instance:Instance": _instance,
    "openstack:networking/port:Port": _port,
    "openstack:networking/floatingIp:FloatingIp": _floating_ip,
    "openstack:identity/ec2CredentialV3:Ec2CredentialV3": _ec2_credential,
    "random:index/randomPassword:RandomPassword": _random_password,
    "tls:index/privateKey:PrivateKey": _private_key,
    "command:remote:Command": _remote_command,
    "command:local:Command": _remote_command,
    "docker:index/image:Image": _docker_image,
}


def _get_network(args: dict[str, Any]) -> dict[str, Any]:
    name = args.get("name") or "network"
    return {"id": f"{name}-{stable_token('network', name)}", "name": name}


INVOKES: dict[str, InvokeAnswer] = {
    "openstack:networking/getNetwork:getNetwork": _get_network,
}
