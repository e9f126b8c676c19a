"""The Helm chart renders valid Kubernetes objects wired the way the services expect."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "labelmesh"
KUBE_VERSION = "1.37.0"
RELEASE = "lm"
NAMESPACE = "labelmesh"
PORTS = {
    "access": (8086, 50056),
    "ingest": (8081, 50051),
    "inference": (8082, 50052),
    "annotation": (8083, 50053),
    "review": (8084, 50054),
    "audit": (8085, 50055),
    "dataset": (8087, 50057),
}
SERVICES = sorted(PORTS)
CHART_SECRET = "lm-labelmesh"
ACCESS_SECRET = "lm-labelmesh-access"
ACCESS_TARGET = "lm-labelmesh-access:50056"
CHART_PODS = {"app.kubernetes.io/name": "labelmesh", "app.kubernetes.io/instance": RELEASE}
PEPPER = "pepper-0123456789-abcdefghij"
OIDC = {
    "issuer": "https://id.example.com/",
    "audience": "labelmesh-api",
    "jwksUrl": "https://id.example.com/.well-known/jwks.json",
    "subjectClaim": "email",
}
# The access container's variables that must come from a Secret, and their keys in the chart's.
ACCESS_SECRET_VARS = {
    "LABELMESH_ACCESS_KEY_PEPPER": "key-pepper",
    "LABELMESH_ACCESS_OIDC_ISSUER": "oidc-issuer",
    "LABELMESH_ACCESS_OIDC_AUDIENCE": "oidc-audience",
    "LABELMESH_ACCESS_OIDC_JWKS_URL": "oidc-jwks-url",
    "LABELMESH_ACCESS_OIDC_SUBJECT_CLAIM": "oidc-subject-claim",
}

Manifest = dict[str, Any]

SCENARIOS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "existing-secrets": {
        "mongodb": {"existingSecret": "mongo-creds", "existingSecretKey": "uri"},
        "minio": {"existingSecret": "minio-creds"},
        "access": {"existingSecret": "access-creds"},
    },
    "oidc-and-ingress": {
        "access": {"keyPepper": PEPPER, "oidc": OIDC},
        "networkPolicy": {
            "ingressFrom": [
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}
                            }
                        }
                    ]
                },
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
                            },
                            "podSelector": {
                                "matchLabels": {"app.kubernetes.io/name": "prometheus"}
                            },
                        }
                    ],
                    "ports": ["http", 8086],
                },
            ],
            "egressTo": {"kafka": {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}]}},
        },
    },
    "no-network-policy": {"networkPolicy": {"enabled": False}},
    "scaled": {
        "services": {
            svc: {
                "autoscaling": {"enabled": True, "maxReplicas": 8},
                "podDisruptionBudget": {"enabled": True},
            }
            for svc in SERVICES
        },
    },
    "customised": {
        "image": {"registry": "registry.example.com/lm", "tag": "1.2.3"},
        "logLevel": "DEBUG",
        "minio": {"secure": True, "accessKey": "ak", "secretKey": "sk"},
        "services": {
            "review": {"enabled": False},
            "inference": {
                "replicas": 3,
                "env": [{"name": "LABELMESH_INFERENCE_MAX_BATCH_SIZE", "value": "64"}],
                "podDisruptionBudget": {"enabled": True, "minAvailable": 2},
            },
        },
        "podAnnotations": {"example.com/team": "ml"},
        "nodeSelector": {"kubernetes.io/arch": "amd64"},
        "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
    },
}


def render(values: dict[str, Any] | None = None) -> list[Manifest]:
    with helm_python.Chart.load(CHART) as chart:
        rendered = chart.render(values or {}, name=RELEASE, namespace=NAMESPACE)
    docs: list[Manifest] = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


def of_kind(docs: list[Manifest], kind: str) -> dict[str, Manifest]:
    """Objects of one kind keyed by their component label (or name, if none)."""
    found: dict[str, Manifest] = {}
    for doc in docs:
        if doc["kind"] != kind:
            continue
        labels = doc["metadata"].get("labels", {})
        key = labels.get("app.kubernetes.io/component", doc["metadata"]["name"])
        assert key not in found, f"two {kind} objects for {key}"
        found[key] = doc
    return found


def container(deployment: Manifest) -> Manifest:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: Manifest = containers[0]
    return result


def env_of(deployment: Manifest) -> dict[str, Manifest]:
    entries = container(deployment)["env"]
    names = [entry["name"] for entry in entries]
    assert len(names) == len(set(names)), f"duplicate env vars: {names}"
    return {entry["name"]: entry for entry in entries}


def port_number(deployment: Manifest, port: int | str) -> int:
    if isinstance(port, int):
        return port
    named: dict[str, int] = {p["name"]: p["containerPort"] for p in container(deployment)["ports"]}
    return named[port]


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_manifest_is_valid_kubernetes(scenario: str) -> None:
    docs = render(SCENARIOS[scenario])
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
        assert doc["metadata"]["namespace"] == NAMESPACE


def test_defaults_render_one_deployment_and_one_service_per_service() -> None:
    docs = render()
    deployments = of_kind(docs, "Deployment")
    services = of_kind(docs, "Service")
    assert sorted(deployments) == SERVICES
    assert sorted(services) == SERVICES
    assert {doc["kind"] for doc in docs} == {"Deployment", "Service", "Secret", "NetworkPolicy"}
    for svc in SERVICES:
        assert deployments[svc]["metadata"]["name"] == f"lm-labelmesh-{svc}"
        assert deployments[svc]["spec"]["replicas"] == 1


def test_each_deployment_runs_its_service_image_and_ports() -> None:
    deployments = of_kind(render(), "Deployment")
    for svc, (rest, grpc) in PORTS.items():
        main = container(deployments[svc])
        assert main["image"] == f"ghcr.io/labelmesh/labelmesh-{svc}:0.1.0"
        assert main["imagePullPolicy"] == "IfNotPresent"
        assert main["command"] == ["python", "-m", f"labelmesh.{svc}"]
        ports = {p["name"]: p["containerPort"] for p in main["ports"]}
        assert ports == {"http": rest, "grpc": grpc}


def test_image_tag_and_registry_come_from_values() -> None:
    values = {"image": {"registry": "registry.example.com/lm", "tag": "1.2.3"}}
    audit = of_kind(render(values), "Deployment")["audit"]
    assert container(audit)["image"] == "registry.example.com/lm/labelmesh-audit:1.2.3"


def test_services_route_both_ports_to_their_own_pods() -> None:
    docs = render()
    deployments = of_kind(docs, "Deployment")
    for svc, service in of_kind(docs, "Service").items():
        rest, grpc = PORTS[svc]
        deployment = deployments[svc]
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = service["spec"]["selector"]
        assert selector["app.kubernetes.io/component"] == svc
        assert selector.items() <= pod_labels.items()
        assert deployment["spec"]["selector"]["matchLabels"] == selector
        ports = {p["name"]: p for p in service["spec"]["ports"]}
        assert ports["http"]["port"] == rest
        assert ports["grpc"]["port"] == grpc
        assert port_number(deployment, ports["http"]["targetPort"]) == rest
        assert port_number(deployment, ports["grpc"]["targetPort"]) == grpc


def test_probes_check_health_on_the_rest_port() -> None:
    deployments = of_kind(render({"services": {"ingest": {"restPort": 9181}}}), "Deployment")
    for svc, deployment in deployments.items():
        rest = 9181 if svc == "ingest" else PORTS[svc][0]
        main = container(deployment)
        expected = {
            "livenessProbe": "/healthz",
            "readinessProbe": "/readyz",
            "startupProbe": "/healthz",
        }
        for probe, path in expected.items():
            check = main[probe]["httpGet"]
            assert check["path"] == path, (svc, probe)
            assert port_number(deployment, check["port"]) == rest, (svc, probe)


def test_pods_are_scrapeable_by_prometheus() -> None:
    deployments = of_kind(render({"services": {"review": {"restPort": 9184}}}), "Deployment")
    for svc, deployment in deployments.items():
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        rest = 9184 if svc == "review" else PORTS[svc][0]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(rest)
        assert annotations["prometheus.io/path"] == "/metrics"


def test_environment_comes_from_values() -> None:
    values = {
        "logLevel": "WARNING",
        "kafka": {"bootstrapServers": "kafka-0:9092,kafka-1:9092", "topicPrefix": "staging"},
        "mongodb": {"database": "lm_staging"},
        "minio": {
            "endpoint": "minio.storage:9000",
            "bucket": "media",
            "region": "eu-west-1",
            "secure": True,
        },
    }
    deployments = of_kind(render(values), "Deployment")
    for svc, deployment in deployments.items():
        env = env_of(deployment)
        rest, grpc = PORTS[svc]
        plain = {name: entry["value"] for name, entry in env.items() if "value" in entry}
        if svc == "access":
            own = {
                "LABELMESH_ACCESS_ORGANIZATION": "default",
                "LABELMESH_ACCESS_OIDC_LEEWAY_SECONDS": "30",
                "LABELMESH_ACCESS_OIDC_JWKS_REFETCH_SECONDS": "30",
            }
        else:
            own = {"LABELMESH_ACCESS_GRPC_TARGET": ACCESS_TARGET}
        assert plain == own | {
            "LABELMESH_BIND_HOST": "0.0.0.0",
            f"LABELMESH_{svc.upper()}_REST_PORT": str(rest),
            f"LABELMESH_{svc.upper()}_GRPC_PORT": str(grpc),
            "LABELMESH_LOG_LEVEL": "WARNING",
            "LABELMESH_KAFKA_BOOTSTRAP_SERVERS": "kafka-0:9092,kafka-1:9092",
            "LABELMESH_TOPIC_PREFIX": "staging",
            "LABELMESH_MONGO_DATABASE": "lm_staging",
            "LABELMESH_OBJECT_STORE": "s3",
            "LABELMESH_S3_ENDPOINT": "minio.storage:9000",
            "LABELMESH_S3_BUCKET": "media",
            "LABELMESH_S3_REGION": "eu-west-1",
            "LABELMESH_S3_SECURE": "true",
        }


def test_default_topic_prefix_is_labelmesh() -> None:
    env = env_of(of_kind(render(), "Deployment")["annotation"])
    assert env["LABELMESH_TOPIC_PREFIX"]["value"] == "labelmesh"


def test_credentials_come_from_the_chart_secret() -> None:
    values = {
        "mongodb": {"uri": "mongodb://user:pw@mongo:27017/?replicaSet=rs0"},
        "minio": {"accessKey": "access", "secretKey": "secret"},
    }
    docs = render(values)
    secret = of_kind(docs, "Secret")[CHART_SECRET]
    assert secret["type"] == "Opaque"
    decoded = {key: _b64(value) for key, value in secret["data"].items()}
    assert decoded == {
        "mongo-uri": "mongodb://user:pw@mongo:27017/?replicaSet=rs0",
        "s3-access-key": "access",
        "s3-secret-key": "secret",
    }
    for deployment in of_kind(docs, "Deployment").values():
        env = env_of(deployment)
        for name, key in [
            ("LABELMESH_MONGO_URI", "mongo-uri"),
            ("LABELMESH_S3_ACCESS_KEY", "s3-access-key"),
            ("LABELMESH_S3_SECRET_KEY", "s3-secret-key"),
        ]:
            assert "value" not in env[name]
            ref = env[name]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": CHART_SECRET, "key": key}
            assert key in secret["data"]


def test_existing_secrets_replace_the_chart_secret() -> None:
    docs = render(SCENARIOS["existing-secrets"])
    assert of_kind(docs, "Secret") == {}
    for svc, deployment in of_kind(docs, "Deployment").items():
        env = env_of(deployment)
        refs = {
            name: env[name]["valueFrom"]["secretKeyRef"] for name in env if "valueFrom" in env[name]
        }
        expected: dict[str, dict[str, str | bool]] = {
            "LABELMESH_MONGO_URI": {"name": "mongo-creds", "key": "uri"},
            "LABELMESH_S3_ACCESS_KEY": {"name": "minio-creds", "key": "s3-access-key"},
            "LABELMESH_S3_SECRET_KEY": {"name": "minio-creds", "key": "s3-secret-key"},
        }
        if svc == "access":
            # Only the pepper must exist in the Secret; OIDC keys may be absent.
            expected["LABELMESH_ACCESS_KEY_PEPPER"] = {"name": "access-creds", "key": "key-pepper"}
            for name, key in ACCESS_SECRET_VARS.items():
                if name != "LABELMESH_ACCESS_KEY_PEPPER":
                    expected[name] = {"name": "access-creds", "key": key, "optional": True}
        assert refs == expected, svc


def test_one_existing_secret_leaves_the_other_credentials_in_the_chart_secret() -> None:
    docs = render({"mongodb": {"existingSecret": "mongo-creds"}})
    secret = of_kind(docs, "Secret")[CHART_SECRET]
    assert sorted(secret["data"]) == ["s3-access-key", "s3-secret-key"]
    env = env_of(of_kind(docs, "Deployment")["ingest"])
    assert env["LABELMESH_MONGO_URI"]["valueFrom"]["secretKeyRef"] == {
        "name": "mongo-creds",
        "key": "mongo-uri",
    }
    assert env["LABELMESH_S3_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == CHART_SECRET


def test_pods_roll_when_the_chart_secret_changes() -> None:
    def checksums(values: dict[str, Any]) -> dict[str, str]:
        return {
            svc: d["spec"]["template"]["metadata"]["annotations"]["checksum/secret"]
            for svc, d in of_kind(render(values), "Deployment").items()
        }

    before = checksums({"minio": {"secretKey": "one"}})
    after = checksums({"minio": {"secretKey": "two"}})
    assert before.keys() == after.keys()
    assert all(before[svc] != after[svc] for svc in before)
    assert checksums({"minio": {"secretKey": "one"}}) == before


def test_replicas_come_from_values() -> None:
    deployments = of_kind(render({"services": {"inference": {"replicas": 3}}}), "Deployment")
    assert deployments["inference"]["spec"]["replicas"] == 3
    assert all(deployments[svc]["spec"]["replicas"] == 1 for svc in SERVICES if svc != "inference")


def test_disabling_a_service_removes_its_deployment_and_service() -> None:
    docs = render({"services": {"review": {"enabled": False}, "audit": {"enabled": False}}})
    expected = sorted(set(SERVICES) - {"review", "audit"})
    assert sorted(of_kind(docs, "Deployment")) == expected
    assert sorted(of_kind(docs, "Service")) == expected


def test_extra_env_is_appended_to_one_service() -> None:
    extra = {"name": "LABELMESH_INFERENCE_MAX_BATCH_SIZE", "value": "64"}
    deployments = of_kind(render({"services": {"inference": {"env": [extra]}}}), "Deployment")
    assert env_of(deployments["inference"])[extra["name"]] == extra
    assert extra["name"] not in env_of(deployments["ingest"])


def test_pods_are_hardened() -> None:
    for svc, deployment in of_kind(render(), "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        main = container(deployment)
        hardening = main["securityContext"]
        assert hardening["readOnlyRootFilesystem"] is True, svc
        assert hardening["allowPrivilegeEscalation"] is False, svc
        assert hardening["capabilities"]["drop"] == ["ALL"], svc
        assert "add" not in hardening["capabilities"], svc
        assert hardening["seccompProfile"] == {"type": "RuntimeDefault"}, svc
        mounts = {m["mountPath"]: m["name"] for m in main["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]]
        assert main["resources"]["requests"], svc


def test_objects_carry_the_standard_labels() -> None:
    for doc in render():
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "labelmesh"
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/part-of"] == "labelmesh"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        if doc["kind"] in {"Deployment", "Service"}:
            component = labels["app.kubernetes.io/component"]
            assert doc["metadata"]["name"] == f"lm-labelmesh-{component}"
        if doc["kind"] == "Deployment":
            assert doc["spec"]["template"]["metadata"]["labels"] == labels


def test_autoscaling_and_disruption_budgets_are_off_by_default() -> None:
    kinds = {doc["kind"] for doc in render()}
    assert "HorizontalPodAutoscaler" not in kinds
    assert "PodDisruptionBudget" not in kinds


def test_autoscaling_takes_over_replicas() -> None:
    values = {
        "services": {
            "annotation": {
                "autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 6},
                "podDisruptionBudget": {"enabled": True},
            }
        }
    }
    docs = render(values)
    deployments = of_kind(docs, "Deployment")
    assert "replicas" not in deployments["annotation"]["spec"]
    assert deployments["ingest"]["spec"]["replicas"] == 1
    hpas = of_kind(docs, "HorizontalPodAutoscaler")
    assert sorted(hpas) == ["annotation"]
    spec = hpas["annotation"]["spec"]
    assert spec["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployments["annotation"]["metadata"]["name"],
    }
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 6)
    pdbs = of_kind(docs, "PodDisruptionBudget")
    assert sorted(pdbs) == ["annotation"]
    selector = deployments["annotation"]["spec"]["selector"]["matchLabels"]
    assert pdbs["annotation"]["spec"]["selector"]["matchLabels"] == selector


def test_access_runs_on_its_own_ports() -> None:
    docs = render()
    deployment = of_kind(docs, "Deployment")["access"]
    service = of_kind(docs, "Service")["access"]
    assert deployment["metadata"]["name"] == service["metadata"]["name"] == "lm-labelmesh-access"
    assert container(deployment)["command"] == ["python", "-m", "labelmesh.access"]
    assert {p["name"]: p["containerPort"] for p in container(deployment)["ports"]} == {
        "http": 8086,
        "grpc": 50056,
    }
    assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == {
        "http": 8086,
        "grpc": 50056,
    }
    env = env_of(deployment)
    assert env["LABELMESH_ACCESS_REST_PORT"]["value"] == "8086"
    assert env["LABELMESH_ACCESS_GRPC_PORT"]["value"] == "50056"
    assert "LABELMESH_ACCESS_BOOTSTRAP_KEY_FILE" not in env


@pytest.mark.parametrize(
    ("values", "target"),
    [
        ({}, ACCESS_TARGET),
        ({"services": {"access": {"grpcPort": 50066}}}, "lm-labelmesh-access:50066"),
        ({"fullnameOverride": "lmx"}, "lmx-access:50056"),
    ],
)
def test_every_other_service_calls_the_access_service(values: dict[str, Any], target: str) -> None:
    docs = render(values)
    service = of_kind(docs, "Service")["access"]
    grpc = {p["name"]: p["port"] for p in service["spec"]["ports"]}["grpc"]
    assert f"{service['metadata']['name']}:{grpc}" == target
    deployments = of_kind(docs, "Deployment")
    assert sorted(deployments) == SERVICES
    for svc, deployment in deployments.items():
        env = env_of(deployment)
        if svc == "access":
            assert "LABELMESH_ACCESS_GRPC_TARGET" not in env
        else:
            assert env["LABELMESH_ACCESS_GRPC_TARGET"] == {
                "name": "LABELMESH_ACCESS_GRPC_TARGET",
                "value": target,
            }, svc


def test_access_elsewhere_needs_its_target() -> None:
    off = {"services": {"access": {"enabled": False}}}
    with pytest.raises(helm_python.HelmError, match=re.escape("access.grpcTarget is required")):
        render(off)
    docs = render(off | {"access": {"grpcTarget": "access.auth:50056"}})
    assert "access" not in of_kind(docs, "Deployment")
    assert ACCESS_SECRET not in {doc["metadata"]["name"] for doc in docs}
    for deployment in of_kind(docs, "Deployment").values():
        assert env_of(deployment)["LABELMESH_ACCESS_GRPC_TARGET"]["value"] == "access.auth:50056"


def test_access_pepper_and_oidc_come_from_the_access_secret() -> None:
    docs = render({"access": {"keyPepper": PEPPER, "oidc": OIDC}})
    secret = of_kind(docs, "Secret")["access"]
    assert secret["metadata"]["name"] == ACCESS_SECRET
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    decoded = {key: _b64(value) for key, value in secret["data"].items()}
    assert decoded == {
        "key-pepper": PEPPER,
        "oidc-issuer": OIDC["issuer"],
        "oidc-audience": OIDC["audience"],
        "oidc-jwks-url": OIDC["jwksUrl"],
        "oidc-subject-claim": OIDC["subjectClaim"],
    }
    env = env_of(of_kind(docs, "Deployment")["access"])
    for name, key in ACCESS_SECRET_VARS.items():
        assert "value" not in env[name], name
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": ACCESS_SECRET, "key": key}
    # Settings that are no secret stay in the pod spec.
    assert env["LABELMESH_ACCESS_OIDC_LEEWAY_SECONDS"]["value"] == "30"


def test_no_other_service_sees_the_access_secret() -> None:
    docs = render({"access": {"keyPepper": PEPPER}})
    for svc, deployment in of_kind(docs, "Deployment").items():
        if svc == "access":
            continue
        refs = [
            e["valueFrom"]["secretKeyRef"]["name"]
            for e in env_of(deployment).values()
            if "valueFrom" in e
        ]
        assert ACCESS_SECRET not in refs, svc
        assert not any(name.startswith("LABELMESH_ACCESS_KEY") for name in env_of(deployment)), svc


@pytest.mark.parametrize("pepper", [PEPPER, ""], ids=["set", "generated"])
def test_the_pepper_is_never_rendered_in_clear(pepper: str) -> None:
    # One render: a generated pepper differs between renders.
    with helm_python.Chart.load(CHART) as chart:
        rendered = chart.render(
            {"access": {"keyPepper": pepper}}, name=RELEASE, namespace=NAMESPACE
        )
    secrets = {path: text for path, text in rendered.items() if path.endswith("access-secret.yaml")}
    [secret] = [doc for text in secrets.values() for doc in yaml.safe_load_all(text) if doc]
    stored = _b64(secret["data"]["key-pepper"])
    if pepper:
        assert stored == pepper
    else:
        assert re.fullmatch("[A-Za-z0-9]{48}", stored), stored
    others = {path: text for path, text in rendered.items() if path not in secrets}
    assert any(path.endswith("services.yaml") for path in others)
    assert any(path.endswith("NOTES.txt") for path in others)
    for path, text in others.items():
        assert stored not in text, path


def test_a_generated_pepper_does_not_roll_the_access_pods() -> None:
    def access_pod(values: dict[str, Any]) -> dict[str, str]:
        annotations: dict[str, str] = of_kind(render(values), "Deployment")["access"]["spec"][
            "template"
        ]["metadata"]["annotations"]
        return annotations

    first, second = access_pod({}), access_pod({})
    assert first["checksum/access"] == second["checksum/access"]
    changed = access_pod({"access": {"oidc": {"audience": "other"}}})
    assert changed["checksum/access"] != first["checksum/access"]


def test_an_existing_access_secret_replaces_the_generated_one() -> None:
    values = {
        "access": {
            "existingSecret": "access-creds",
            "existingSecretKeys": {"keyPepper": "pepper", "oidcJwksUrl": "jwks"},
        }
    }
    docs = render(values)
    assert "access" not in of_kind(docs, "Secret")
    env = env_of(of_kind(docs, "Deployment")["access"])
    assert env["LABELMESH_ACCESS_KEY_PEPPER"]["valueFrom"]["secretKeyRef"] == {
        "name": "access-creds",
        "key": "pepper",
    }
    assert env["LABELMESH_ACCESS_OIDC_JWKS_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "access-creds",
        "key": "jwks",
        "optional": True,
    }
    assert env["LABELMESH_ACCESS_OIDC_ISSUER"]["valueFrom"]["secretKeyRef"]["key"] == "oidc-issuer"


def network_policies(values: dict[str, Any] | None = None) -> dict[str, Manifest]:
    return of_kind(render(values), "NetworkPolicy")


def selects(selector: Manifest, labels: dict[str, str]) -> bool:
    assert set(selector) == {"matchLabels"}, selector
    match: dict[str, str] = selector["matchLabels"]
    return match.items() <= labels.items()


def egress_ports(policy: Manifest) -> set[tuple[str, int | str]]:
    return {
        (port["protocol"], port["port"])
        for rule in policy["spec"]["egress"]
        for port in rule.get("ports", [])
    }


def test_the_network_policy_covers_every_pod_of_the_chart() -> None:
    docs = render()
    policy = of_kind(docs, "NetworkPolicy")["lm-labelmesh"]
    assert sorted(policy["spec"]["policyTypes"]) == ["Egress", "Ingress"]
    selector = policy["spec"]["podSelector"]
    assert selector == {"matchLabels": CHART_PODS}
    for deployment in of_kind(docs, "Deployment").values():
        assert selects(selector, deployment["spec"]["template"]["metadata"]["labels"])
    assert not selects(selector, {**CHART_PODS, "app.kubernetes.io/instance": "other"})


def test_pods_accept_only_the_chart_pods_on_their_api_ports() -> None:
    policy = network_policies()["lm-labelmesh"]
    [rule] = policy["spec"]["ingress"]
    assert rule["from"] == [{"podSelector": {"matchLabels": CHART_PODS}}]
    assert rule["ports"] == [
        {"port": "http", "protocol": "TCP"},
        {"port": "grpc", "protocol": "TCP"},
    ]
    # The named ports are the ones every container declares.
    for deployment in of_kind(render(), "Deployment").values():
        assert {p["name"] for p in container(deployment)["ports"]} == {"http", "grpc"}


def test_ingress_from_values_is_added() -> None:
    values = SCENARIOS["oidc-and-ingress"]
    [own, ingress_controller, prometheus] = network_policies(values)["lm-labelmesh"]["spec"][
        "ingress"
    ]
    assert own["from"] == [{"podSelector": {"matchLabels": CHART_PODS}}]
    allowed = values["networkPolicy"]["ingressFrom"]
    assert ingress_controller == {
        "from": allowed[0]["from"],
        "ports": [{"port": "http", "protocol": "TCP"}],
    }
    assert prometheus["from"] == allowed[1]["from"]
    assert prometheus["ports"] == [
        {"port": "http", "protocol": "TCP"},
        {"port": 8086, "protocol": "TCP"},
    ]


def test_egress_reaches_dns_infrastructure_and_the_chart_pods() -> None:
    policy = network_policies()["lm-labelmesh"]
    rules = policy["spec"]["egress"]
    dns = [rule for rule in rules if {"port": 53, "protocol": "UDP"} in rule.get("ports", [])]
    assert dns == [
        {
            "to": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                    }
                }
            ],
            "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
        }
    ]
    assert {
        "to": [{"podSelector": {"matchLabels": CHART_PODS}}],
        "ports": [
            {"port": "http", "protocol": "TCP"},
            {"port": "grpc", "protocol": "TCP"},
        ],
    } in rules
    for port in (9092, 27017, 9000):
        assert {"ports": [{"port": port, "protocol": "TCP"}]} in rules, port
    # Every rule names its ports: nothing leaves on an arbitrary port.
    assert all(rule.get("ports") for rule in rules)
    assert egress_ports(policy) == {
        ("TCP", "http"),
        ("TCP", "grpc"),
        ("UDP", 53),
        ("TCP", 53),
        ("TCP", 9092),
        ("TCP", 27017),
        ("TCP", 9000),
    }


def test_egress_to_infrastructure_comes_from_values() -> None:
    values = {
        "networkPolicy": {
            "egressTo": {
                "kafka": {"ports": [9093], "to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}]},
                "minio": None,
                "models": {"ports": [8000]},
            }
        }
    }
    rules = network_policies(values)["lm-labelmesh"]["spec"]["egress"]
    assert {
        "to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}],
        "ports": [{"port": 9093, "protocol": "TCP"}],
    } in rules
    assert {"ports": [{"port": 8000, "protocol": "TCP"}]} in rules
    assert {"ports": [{"port": 27017, "protocol": "TCP"}]} in rules
    ports = egress_ports(network_policies(values)["lm-labelmesh"])
    assert ("TCP", 9092) not in ports
    assert ("TCP", 9000) not in ports


def test_oidc_egress_only_when_oidc_is_configured() -> None:
    assert sorted(network_policies()) == ["lm-labelmesh"]
    policies = network_policies({"access": {"oidc": OIDC}})
    oidc = policies["access"]
    assert oidc["metadata"]["name"] == "lm-labelmesh-access-oidc"
    assert oidc["spec"]["policyTypes"] == ["Egress"]
    assert oidc["spec"]["podSelector"] == {
        "matchLabels": CHART_PODS | {"app.kubernetes.io/component": "access"}
    }
    assert oidc["spec"]["egress"] == [
        {
            "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
            "ports": [{"port": 443, "protocol": "TCP"}],
        }
    ]
    # The OIDC settings may hide in an existing Secret: then the switch is explicit.
    explicit = {
        "access": {"existingSecret": "access-creds"},
        "networkPolicy": {"oidcEgress": {"enabled": True, "cidr": "203.0.113.0/24"}},
    }
    [peer] = network_policies(explicit)["access"]["spec"]["egress"][0]["to"]
    assert peer == {"ipBlock": {"cidr": "203.0.113.0/24"}}
    off = {"access": {"oidc": OIDC}, "networkPolicy": {"oidcEgress": {"enabled": False}}}
    assert "access" not in network_policies(off)


def test_network_policy_can_be_turned_off() -> None:
    assert network_policies()
    assert network_policies(SCENARIOS["no-network-policy"]) == {}
    off = {"access": {"oidc": OIDC}, "networkPolicy": {"enabled": False}}
    assert network_policies(off) == {}


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"services": {"ingest": {"restPort": 0}}}, "/services/ingest/restPort"),
        ({"services": {"audit": {"replicas": -1}}}, "/services/audit/replicas"),
        ({"logLevel": "TRACE"}, "/logLevel"),
        ({"kafka": {"bootstrapServers": ""}}, "/kafka/bootstrapServers"),
        ({"access": {"keyPepper": "short"}}, "/access/keyPepper"),
        (
            {"networkPolicy": {"oidcEgress": {"enabled": "yes"}}},
            "/networkPolicy/oidcEgress/enabled",
        ),
        (
            {"networkPolicy": {"egressTo": {"kafka": {"ports": [0]}}}},
            "/networkPolicy/egressTo/kafka",
        ),
    ],
)
def test_bad_values_are_rejected_naming_the_key(values: dict[str, Any], complaint: str) -> None:
    with pytest.raises(helm_python.HelmValuesError, match=complaint):
        render(values)


def test_missing_mongo_uri_without_existing_secret_is_rejected() -> None:
    with pytest.raises(helm_python.HelmError, match=re.escape("mongodb.uri is required")):
        render({"mongodb": {"uri": ""}})


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_lint_strict_reports_no_errors(scenario: str) -> None:
    report = helm_python.lint(CHART, SCENARIOS[scenario], strict=True, namespace=NAMESPACE)
    assert report["total_charts_linted"] == 1
    errors = [m for m in report["messages"] if m["severity"] >= 3]
    assert errors == [], errors
    assert report["errors"] == []


def test_lint_catches_a_broken_value() -> None:
    report = helm_python.lint(CHART, {"logLevel": "TRACE"}, strict=True)
    assert any(m["severity"] >= 3 for m in report["messages"])


def dockerfile_stages() -> dict[str, list[str]]:
    """The root Dockerfile's instructions (comments dropped) by stage name."""
    stages: dict[str, list[str]] = {}
    name = ""
    for line in (ROOT / "Dockerfile").read_text().replace("\\\n", " ").splitlines():
        line = line.strip()
        if line.startswith("FROM "):
            words = line.split()
            name = words[3] if len(words) == 4 and words[2].upper() == "AS" else ""
            stages[name] = []
        elif line and not line.startswith("#"):
            stages.setdefault(name, []).append(" ".join(line.split()))
    return stages


def test_the_dockerfile_builds_every_service_the_chart_deploys() -> None:
    services = yaml.safe_load((CHART / "values.yaml").read_text())["services"]
    assert sorted(services) == SERVICES
    stages = dockerfile_stages()
    for svc, cfg in services.items():
        assert f"deps-{svc}" in stages, svc
        assert stages[f"image-{svc}"] == [
            f"EXPOSE {cfg['restPort']} {cfg['grpcPort']}",
            f'CMD ["python", "-m", "labelmesh.{svc}"]',
        ], svc
    assert not list(ROOT.glob("services/*/Dockerfile"))


def _b64(value: str) -> str:
    return base64.b64decode(value).decode()
