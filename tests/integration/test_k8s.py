"""The Kubernetes manifests (deploy/k8s): every file parsed and cross-checked (probes on the
port tandem listens on, drain time, the Service and autoscaler aimed at the Deployment, the
image's own entry point), and the nightly CronJob's Indexed Job run here the way the kubelet
would run its pods: one process per completion index, with the pod's arguments and
environment resolved as Kubernetes resolves them, reading and writing S3 (moto_server) or a
folder. Together the shards must write exactly what one process writes alone."""
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from harness import REPO_ROOT, identity, next_port_range, process_env, wait_until, write_spec
from s3_support import s3_endpoint  # noqa: F401 (fixture)

K8S = REPO_ROOT / "deploy" / "k8s"
ENTRYPOINT = REPO_ROOT / "deploy" / "entrypoint.sh"
DRAIN_TIMEOUT_S = 30       # docs/spec.md defaults: server.drain_timeout_s
STAGE_STOP_TIMEOUT_S = 30  # and server.stage_stop_timeout_s
INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"


def documents() -> list[dict]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            assert isinstance(doc, dict), f"{path.name}: not a mapping"
            doc["__file__"] = path.name
            docs.append(doc)
    return docs


def one(kind: str) -> dict:
    found = [d for d in documents() if d.get("kind") == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def container(pod_spec: dict) -> dict:
    assert len(pod_spec["containers"]) == 1
    return pod_spec["containers"][0]


def env_value(c: dict, name: str) -> dict:
    entries = [e for e in c.get("env", []) if e["name"] == name]
    assert len(entries) == 1, f"env {name} in {c['name']}"
    return entries[0]


def dockerfile_entrypoint() -> list[str]:
    text = (REPO_ROOT / "deploy" / "Dockerfile").read_text()
    return json.loads(re.findall(r"^ENTRYPOINT (\[.*\])$", text, re.M)[-1])


# --- structure ------------------------------------------------------------------------------

def test_every_manifest_parses_and_kustomization_lists_them_all():
    docs = documents()
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(["ConfigMap", "CronJob", "Deployment", "HorizontalPodAutoscaler",
                            "Kustomization", "PodDisruptionBudget", "Service", "ServiceAccount"])
    for d in docs:
        assert d["apiVersion"], d["__file__"]
        if d["kind"] != "Kustomization":
            assert d["metadata"]["name"].startswith("tandem-"), d["__file__"]
    listed = one("Kustomization")["resources"]
    assert sorted(listed) == sorted(p.name for p in K8S.glob("*.yaml")
                                    if p.name != "kustomization.yaml")


def test_yamllint_accepts_the_manifests():
    yamllint = shutil.which("yamllint")
    if yamllint is None:
        pytest.skip("yamllint is not installed (deploy/setup.sh installs it)")
    config = ("{extends: default, rules: {line-length: {max: 100}, document-start: disable, "
              "truthy: {check-keys: false}}}")
    run = subprocess.run([yamllint, "-f", "parsable", "-d", config, str(K8S)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_endpoint_probes_drain_and_resources():
    deployment = one("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    c = container(pod)
    # The image's entry point runs (no command override) with SageMaker's `serve`.
    assert "command" not in c and c["args"] == ["serve"]
    assert dockerfile_entrypoint()[-1] == "/usr/local/bin/tandem-entrypoint"
    port = int(env_value(c, "SAGEMAKER_BIND_TO_PORT")["value"])
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"http": port}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = c[probe]["httpGet"]
        assert get["path"] == "/ping" and ports.get(get["port"], get["port"]) == port, probe
        assert c[probe]["timeoutSeconds"] == 2, probe  # SageMaker's ping timeout
    # A stage restart (backoff up to 30 s) must not get the pod killed.
    live = c["livenessProbe"]
    assert live["periodSeconds"] * live["failureThreshold"] >= 60
    # preStop, then a drain and the stages' own stop fit in the grace period.
    pre_stop = c["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] >= \
        int(pre_stop[1]) + DRAIN_TIMEOUT_S + STAGE_STOP_TIMEOUT_S
    for kind in ("requests", "limits"):
        assert set(c["resources"][kind]) == {"cpu", "memory"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == port


def test_service_autoscaler_and_budget_point_at_the_endpoint():
    deployment = one("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = one("Service")
    assert service["spec"]["selector"].items() <= labels.items()
    c = container(deployment["spec"]["template"]["spec"])
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= {p["name"] for p in c["ports"]}
    hpa = one("HorizontalPodAutoscaler")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    assert one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_cronjob_runs_one_shard_per_index():
    cron = one("CronJob")
    job = cron["spec"]["jobTemplate"]["spec"]
    assert job["completionMode"] == "Indexed"
    pod = job["template"]["spec"]
    c = container(pod)
    assert "command" not in c and c["args"][0] == "transform"
    shards = int(env_value(c, "TANDEM_SHARD_COUNT")["value"])
    assert job["completions"] == shards and job["parallelism"] <= shards
    index = env_value(c, "JOB_COMPLETION_INDEX")["valueFrom"]["fieldRef"]["fieldPath"]
    assert index == f"metadata.annotations['{INDEX_ANNOTATION}']"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert pod["restartPolicy"] in ("Never", "OnFailure")
    # --job names a file the ConfigMap provides through a mounted volume.
    job_path = c["args"][c["args"].index("--job") + 1]
    mount = next(m for m in c["volumeMounts"] if job_path.startswith(m["mountPath"] + "/"))
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    config = one("ConfigMap")
    assert volume["configMap"]["name"] == config["metadata"]["name"]
    request = json.loads(config["data"][Path(job_path).name])
    assert request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"].startswith("s3://")
    assert request["TransformOutput"]["S3OutputPath"].startswith("s3://")


# --- the Indexed Job's pods, run as processes ---------------------------------------------

def resolve_env(c: dict, index: int, job_name: str) -> dict:
    """The container's environment as the kubelet sets it for pod `index` of `job_name`."""
    fields = {f"metadata.annotations['{INDEX_ANNOTATION}']": str(index),
              "metadata.labels['job-name']": job_name}
    env = {}
    for entry in c.get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        else:
            env[entry["name"]] = fields[entry["valueFrom"]["fieldRef"]["fieldPath"]]
    return env


def expand(arg: str, env: dict) -> str:
    """Kubernetes' $(VAR) expansion in args ($$ escapes; unknown names stay as written)."""
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), arg)


def write_inputs(put) -> dict[str, bytes]:
    objects = {}
    for i in range(14):
        key = f"{'day/' if i % 3 == 0 else ''}part-{i:02}.csv"
        objects[key] = "".join(f"{i},{r},{i * r}\n" for r in range(5)).encode()
        put(key, objects[key])
    return objects


class FolderStore:
    """s3://example-bucket/ of the manifests, as a local folder."""

    def __init__(self, root: Path):
        self.root = root

    def uri(self, key: str) -> str:
        return f"{self.root}/{key}"

    def put(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def read_all(self, prefix: str) -> dict[str, bytes]:
        base = self.root / prefix
        return {str(p.relative_to(base)): p.read_bytes()
                for p in sorted(base.rglob("*")) if p.is_file()}

    def env(self) -> dict:
        return {}


class MotoStore:
    def __init__(self, endpoint: str, bucket: str):
        import boto3
        self.endpoint, self.bucket = endpoint, bucket
        self.client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing",
                                   aws_secret_access_key="testing", region_name="us-east-1")
        self.client.create_bucket(Bucket=bucket)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def read_all(self, prefix: str) -> dict[str, bytes]:
        result = {}
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                       Prefix=prefix)
        for page in pages:
            for obj in page.get("Contents", []):
                body = self.client.get_object(Bucket=self.bucket, Key=obj["Key"])["Body"].read()
                result[obj["Key"][len(prefix):]] = body
        return result

    def env(self) -> dict:
        return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_ENDPOINT_URL_S3": self.endpoint}


@pytest.fixture(params=["folder", "s3"])
def store(request, tmp_path):
    if request.param == "folder":
        return FolderStore(tmp_path / "bucket")
    return MotoStore(request.getfixturevalue("s3_endpoint"), f"nightly-{abs(hash(tmp_path))}")


def test_indexed_job_pods_together_write_what_one_process_writes(tmp_path, store):
    cron = one("CronJob")
    job = cron["spec"]["jobTemplate"]["spec"]
    pod = job["template"]["spec"]
    c = container(pod)
    completions = job["completions"]
    job_name = f"{cron['metadata']['name']}-29000000"  # what the CronJob names a run

    # The image: its model folder holds the pipeline; each pod is its own network namespace in
    # Kubernetes, so each process here gets its own stage ports through the spec's ${VAR}.
    model = tmp_path / "opt" / "ml" / "model"
    model.mkdir(parents=True)
    write_spec(model, {"version": 1, "name": "nightly",
                       "server": {"stage_port_range": "${STAGE_PORTS}", "host": "127.0.0.1",
                                  "stage_stop_timeout_s": 5},
                       "stages": [identity("features", append=""), identity("model")]})
    # Volumes: the ConfigMap's files, with the bucket of the manifests swapped for this test's.
    mounts = {}
    for m in c["volumeMounts"]:
        volume = next(v for v in pod["volumes"] if v["name"] == m["name"])
        folder = tmp_path / "volumes" / m["name"]
        folder.mkdir(parents=True)
        if "configMap" in volume:
            for key, text in one("ConfigMap")["data"].items():
                (folder / key).write_text(text.replace("s3://example-bucket/", store.uri("")))
        mounts[m["mountPath"]] = folder

    def local(arg: str) -> str:
        for mount_path, folder in mounts.items():
            if arg.startswith(mount_path + "/"):
                return str(folder) + arg[len(mount_path):]
        return arg.replace("s3://example-bucket/", store.uri(""))

    inputs = write_inputs(lambda key, data: store.put(f"nightly/input/{key}", data))
    base_env = {k: v for k, v in process_env(**store.env()).items()
                if k not in ("JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX",
                             "TANDEM_SHARD_COUNT")}
    base_env["TANDEM_MODEL_DIR"] = str(model)

    pods = []
    for index in range(completions):
        env = resolve_env(c, index, job_name)
        args = [local(expand(a, env)) for a in c["args"]]
        report = tmp_path / f"report-{index}.json"
        log = open(tmp_path / f"pod-{index}.log", "w")
        proc = subprocess.Popen(
            [str(ENTRYPOINT), *args, "--report", str(report)],
            env={**base_env, **env, "STAGE_PORTS": next_port_range()},
            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
        pods.append((proc, report, log))
    for index, (proc, report, log) in enumerate(pods):
        code = proc.wait(timeout=240)
        log.close()
        pod_log = (tmp_path / f"pod-{index}.log").read_text()
        assert code == 0, f"pod {index} exited with {code}:\n{pod_log}"
        # tandem's log lines are JSON, as the manifest asks (the job's progress and summary
        # lines are the transform command's own text).
        logged = [json.loads(line) for line in pod_log.splitlines() if line.startswith("{")]
        assert any(line.get("stage") == "model" for line in logged), pod_log

    # One process, no shard: the reference output.
    single = subprocess.run(
        [str(ENTRYPOINT), "transform", "--job", local("/etc/tandem/job.json"),
         "--output", store.uri("reference/")],
        env={**base_env, "STAGE_PORTS": next_port_range()}, capture_output=True, text=True,
        timeout=240)
    assert single.returncode == 0, single.stderr
    reference = store.read_all("reference/")
    assert reference == {f"{k}.out": v for k, v in inputs.items()}

    sharded = store.read_all(f"nightly/output/{job_name}/")
    assert sharded == reference
    # Each object was processed by exactly one pod, and each pod knew its shard.
    seen: set[str] = set()
    for index, (_, report_path, _) in enumerate(pods):
        report = json.loads(report_path.read_text())
        assert report["TransformJobStatus"] == "Completed"
        assert (report["Shard"]["Index"], report["Shard"]["Count"]) == (index, completions)
        done = {o["Input"] for o in report["Objects"]}
        assert not done & seen, f"pod {index} processed objects another pod processed"
        seen |= done
    assert len(seen) == len(inputs)
