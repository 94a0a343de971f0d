"""The box: the swarm half of the platform, run for real on one machine.

`scripts/box` starts a private Docker engine, one swarm node per plan node the placement needs
(each node a container running its own engine, so node labels, bind mounts of Docker's own paths
and overlay networks behave as on the cloud's machines), builds the project's images and the
stand-ins for images no registry here ships, applies the swarm resources of the offline plan one to
one, walks the user journey and tears everything down. Modules, one concern each:

- `plan`: the real program evaluated offline, generated secrets given fresh values for the run;
- `records`: the record types and what a service declares; `spec_inputs`, `object_specs` and
  `service_spec`: plan records -> Docker Engine API specs, one to one (pure);
- `nodes` and `topology`: which plan nodes the box must host and the node containers;
- `images`: base image, builds and the one stand-in table; `wheelhouse`: the host-made wheels;
- `dockerd`: the private engine's lifecycle; `run_state`: what one run holds;
- `provision`: images into the nodes, the S3 stand-in (`tls`: its certificate from the box's CA);
- `apply`: networks, secrets, configs and services on the swarm; `swarm_ops`: converging, scaling;
- `journey` and `usecase_step`: the user journey's steps; `report`: what ran and what did not;
  `progress`: the run's timestamped lines;
- `cli`: the command line and the teardown on every exit path.
"""

from __future__ import annotations


class BoxError(RuntimeError):
    """Something the box needs is missing or failed; the message is one line naming what."""
