"""One generic Swarm service, declared from a typed value (`components.service_spec.ServiceSpec`).

One component, `SwarmService`, turns a spec into a `docker.Service` plus its immutable
`docker.ServiceConfig` children, so every service gets the same pinned image rule, resource limits,
healthcheck, update/rollback policy and labels: the rules live once, in the spec and here, not in
each service.

pulumi-docker 5.2 has no `replicated-job` mode (its `ServiceModeArgs` only knows `replicated` and
`global_`). A one-shot job is therefore a single replica with restart condition `on-failure`: Swarm
retries it until it exits 0 and then leaves the task `Complete`, which is what `replicated-job` does.
The service carries the label `deepcube.mode=job` so operators and tests can tell jobs apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from components.service_spec import (
    Mount,
    ServiceSpec,
    SpecError,
    UpdatePolicy,
    content_name,
    service_labels,
)


def _nano_cpus(cores: float) -> int:
    return round(cores * 1_000_000_000)


def _bytes(mib: int) -> int:
    return mib * 1024 * 1024


@dataclass
class SwarmServiceArgs:
    """Inputs of one `SwarmService`."""

    spec: ServiceSpec
    """The service, as data."""
    provider: docker.Provider
    """Docker provider talking to a Swarm manager."""
    prefix: str
    """Stack-unique prefix for Swarm object names (services, configs), e.g. `deepcube-ovh`."""
    network_ids: Mapping[str, pulumi.Input[str]]
    """Logical network name -> overlay network id."""
    secrets: Mapping[str, docker.Secret] = field(default_factory=dict)
    """Logical secret key -> Swarm secret created by the platform."""
    depends_on: Sequence[pulumi.Resource] = ()
    """Resources Pulumi must create first (Swarm itself ignores ordering)."""


class SwarmService(pulumi.ComponentResource):
    """A `docker.Service` and its content-named configs, built from one ServiceSpec."""

    service: docker.Service
    configs: dict[str, docker.ServiceConfig]

    def __init__(self, name: str, args: SwarmServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("deepcube:swarm:SwarmService", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        self.configs = {}
        config_mounts = []
        for config in spec.configs:
            swarm_name = content_name(args.prefix, f"{spec.name}-{config.key}", config.content)
            resource = docker.ServiceConfig(
                f"{name}-config-{config.key}",
                name=swarm_name,
                data=_b64(config.content),
                opts=child,
            )
            self.configs[config.key] = resource
            config_mounts.append(
                docker.ServiceTaskSpecContainerSpecConfigArgs(
                    config_id=resource.id,
                    config_name=resource.name,
                    file_name=config.target,
                    file_mode=config.mode,
                )
            )
        secret_mounts = []
        for ref in spec.secrets:
            if ref.key not in args.secrets:
                raise SpecError(f"{spec.name}: secret {ref.key!r} is not provided by the platform")
            secret = args.secrets[ref.key]
            secret_mounts.append(
                docker.ServiceTaskSpecContainerSpecSecretArgs(
                    secret_id=secret.id,
                    secret_name=secret.name,
                    file_name=ref.target,
                    file_uid=spec.secret_uid,
                    file_gid=spec.secret_uid,
                    file_mode=0o400,
                )
            )
        missing = [n for n in spec.networks if n not in args.network_ids]
        if missing:
            raise SpecError(f"{spec.name}: unknown networks {missing}")

        self.service = docker.Service(
            f"{name}-service",
            name=f"{args.prefix}-{spec.name}",
            labels=[
                docker.ServiceLabelArgs(label=k, value=v) for k, v in sorted(service_labels(spec).items())
            ],
            task_spec=docker.ServiceTaskSpecArgs(
                container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                    image=spec.image,
                    commands=list(spec.command) or None,
                    args=list(spec.args) or None,
                    env=dict(spec.env) or None,
                    user=spec.user,
                    hostname=None,
                    configs=config_mounts or None,
                    secrets=secret_mounts or None,
                    mounts=[_mount(m) for m in spec.mounts] or None,
                    healthcheck=_healthcheck(spec),
                    stop_grace_period="30s",
                ),
                networks_advanceds=[
                    docker.ServiceTaskSpecNetworksAdvancedArgs(id=args.network_ids[n], aliases=[spec.name])
                    for n in spec.networks
                ],
                placement=docker.ServiceTaskSpecPlacementArgs(constraints=list(spec.constraints)),
                resources=docker.ServiceTaskSpecResourcesArgs(
                    limits=docker.ServiceTaskSpecResourcesLimitsArgs(
                        nano_cpus=_nano_cpus(spec.resources.cpu_limit),
                        memory_bytes=_bytes(spec.resources.memory_limit_mb),
                    ),
                    reservation=docker.ServiceTaskSpecResourcesReservationArgs(
                        nano_cpus=_nano_cpus(spec.resources.cpu_reservation),
                        memory_bytes=_bytes(spec.resources.memory_reservation_mb),
                    ),
                ),
                restart_policy=_restart_policy(spec),
            ),
            mode=_mode(spec),
            endpoint_spec=docker.ServiceEndpointSpecArgs(
                # DNS round-robin: a service name resolves to its tasks' addresses. A virtual IP
                # needs IPVS in the node's kernel (absent on some kernels, where a VIP answers "no
                # route to host") and IPVS drops connections idle for 15 minutes (PostGIS, Dask);
                # dnsrr needs neither. Swarm allows it with host-mode ports only, the platform's rule.
                mode="dnsrr" if all(p.mode == "host" for p in spec.ports) else "vip",
                ports=[
                    docker.ServiceEndpointSpecPortArgs(
                        target_port=p.target,
                        published_port=p.published,
                        protocol=p.protocol,
                        publish_mode=p.mode,
                    )
                    for p in spec.ports
                ]
                or None,
            ),
            update_config=None if spec.mode == "job" else _update(spec.update),
            rollback_config=None
            if spec.mode == "job"
            else docker.ServiceRollbackConfigArgs(
                parallelism=1,
                delay="5s",
                order="stop-first",
                failure_action="pause",
                monitor="30s",
                max_failure_ratio="0",
            ),
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=list(args.depends_on))
            ),
        )
        self.register_outputs({"service_id": self.service.id})


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


def _mount(mount: Mount) -> docker.ServiceTaskSpecContainerSpecMountArgs:
    return docker.ServiceTaskSpecContainerSpecMountArgs(
        source=mount.source,
        target=mount.target,
        type=mount.type,
        read_only=mount.read_only,
    )


def _healthcheck(spec: ServiceSpec) -> docker.ServiceTaskSpecContainerSpecHealthcheckArgs | None:
    check = spec.healthcheck
    if check is None:
        return None
    return docker.ServiceTaskSpecContainerSpecHealthcheckArgs(
        tests=list(check.test),
        interval=check.interval,
        timeout=check.timeout,
        retries=check.retries,
        start_period=check.start_period,
    )


def _mode(spec: ServiceSpec) -> docker.ServiceModeArgs:
    if spec.mode == "global":
        return docker.ServiceModeArgs(global_=True)
    return docker.ServiceModeArgs(replicated=docker.ServiceModeReplicatedArgs(replicas=spec.replicas))


def _restart_policy(spec: ServiceSpec) -> docker.ServiceTaskSpecRestartPolicyArgs:
    if spec.mode == "job":
        return docker.ServiceTaskSpecRestartPolicyArgs(
            condition="on-failure", delay="10s", max_attempts=spec.job_attempts, window="0s"
        )
    return docker.ServiceTaskSpecRestartPolicyArgs(condition="any", delay="5s", window="60s")


def _update(policy: UpdatePolicy) -> docker.ServiceUpdateConfigArgs:
    return docker.ServiceUpdateConfigArgs(
        parallelism=policy.parallelism,
        delay=policy.delay,
        order=policy.order,
        failure_action=policy.failure_action,
        monitor=policy.monitor,
        max_failure_ratio="0",
    )
