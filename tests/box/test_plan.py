"""The box's plan: generated secrets fresh per run, stable within a run, never in the manifest."""

from __future__ import annotations

import json
import string

from infra.box.cli import BOX_OVERRIDES
from infra.box.plan import BoxPlan, RunKey, evaluate_plan, fresh_outputs
from infra.mock_outputs import COMPUTED_OUTPUTS

PASSWORD = "random:index/randomPassword:RandomPassword"


def test_generated_passwords_come_from_the_run_key() -> None:
    one, other = RunKey(), RunKey()
    make = fresh_outputs(one)[PASSWORD]
    first = make("db", {"length": 32, "special": False})["result"]
    assert first == make("db", {"length": 32, "special": False})["result"]
    assert len(first) == 32 and set(first) <= set(string.ascii_letters + string.digits)
    assert first != fresh_outputs(other)[PASSWORD]("db", {"length": 32, "special": False})["result"]
    assert first != COMPUTED_OUTPUTS[PASSWORD]("db", {"length": 32})["result"]


def test_the_plans_secrets_are_fresh_and_stay_out_of_the_manifest(ovh_plan: BoxPlan) -> None:
    secrets = ovh_plan.manifest.of_type("docker:index/secret:Secret")
    assert secrets and set(ovh_plan.secret_values) == {r.urn for r in secrets}
    text = ovh_plan.manifest.to_json()
    for value in ovh_plan.secret_values.values():
        assert value and value.decode() not in text
    assert all(str(r.inputs["data"]).startswith("<secret:") for r in secrets)


def test_a_second_evaluation_in_the_run_gives_the_same_secrets(ovh_plan: BoxPlan, run_key: RunKey) -> None:
    again = evaluate_plan("ovh", BOX_OVERRIDES, run_key)
    assert again.secret_values == ovh_plan.secret_values
    names = {r.urn: r.inputs["name"] for r in again.manifest.of_type("docker:index/secret:Secret")}
    assert names == {r.urn: r.inputs["name"] for r in ovh_plan.manifest.of_type("docker:index/secret:Secret")}


def test_the_box_overrides_reach_the_services(ovh_plan: BoxPlan) -> None:
    outputs = ovh_plan.manifest.outputs
    assert outputs["homepage_url"] == "https://deepcube.localhost/"
    envs = [
        r.inputs["taskSpec"]["containerSpec"].get("env") or {}
        for r in ovh_plan.manifest.of_type("docker:index/service:Service")
    ]
    endpoints = {env["AWS_ENDPOINT_URL"] for env in envs if "AWS_ENDPOINT_URL" in env}
    assert endpoints == {"https://s3.box.internal"}, json.dumps(sorted(endpoints))
