"""The log path: Filebeat (every node) -> Logstash (beats input) -> OpenSearch.

Filebeat OSS 8 cannot write to OpenSearch directly, so Logstash with the OpenSearch output plugin
sits between them; it also names the daily index. Logstash signs in to OpenSearch as an internal
user; its password is a `${VAR}` reference that Logstash resolves from its environment (filled from
a Docker secret by the service's command), never a value in the pipeline file.
"""

from __future__ import annotations

import yaml


def render_logstash_pipeline(
    opensearch_url: str, user: str, password_env: str, beats_port: int = 5044
) -> str:
    return (
        "input {\n"
        f"  beats {{ port => {beats_port} }}\n"
        "}\n"
        "filter {\n"
        "  if [container][labels][com_docker_swarm_service_name] {\n"
        "    mutate {\n"
        '      add_field => { "service" => "%{[container][labels][com_docker_swarm_service_name]}" }\n'
        "    }\n"
        "  }\n"
        "}\n"
        "output {\n"
        "  opensearch {\n"
        f'    hosts => ["{opensearch_url}"]\n'
        '    index => "swarm-logs-%{+YYYY.MM.dd}"\n'
        f'    user => "{user}"\n'
        f'    password => "${{{password_env}}}"\n'
        "    ssl => false\n"
        "  }\n"
        "}\n"
    )


def render_filebeat(logstash_host: str) -> str:
    return yaml.safe_dump(
        {
            "filebeat.inputs": [
                {
                    "type": "filestream",
                    "id": "docker-containers",
                    "paths": ["/var/lib/docker/containers/*/*.log"],
                    "parsers": [{"container": {}}],
                    "prospector.scanner.symlinks": True,
                }
            ],
            "processors": [
                {"add_docker_metadata": {"host": "unix:///var/run/docker.sock"}},
                {"add_host_metadata": {}},
            ],
            "output.logstash": {"hosts": [logstash_host]},
            "logging.level": "warning",
        },
        sort_keys=False,
    )
