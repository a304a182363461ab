"""The image recipe and the systemd unit, checked without a Docker engine or a booted systemd
(neither exists on the build machines): the Dockerfile's shape and SageMaker label, that its
runtime packages provide every shared library the built programs load, that its build stage
has the project's build dependencies; the unit through `systemd-analyze verify` and
`systemd-analyze security --offline`."""
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import REPO_ROOT, bin_dir

DOCKERFILE = REPO_ROOT / "deploy" / "Dockerfile"
UNIT = REPO_ROOT / "deploy" / "systemd" / "tandem@.service"
PROGRAMS = ["tandem", "tandem-identity", "tandem-featurize", "tandem-xgboost",
            "tandem-postprocess"]
# Libraries of the sanitizer build the tests run, absent from a release build.
SANITIZER_PACKAGES = {"libasan8", "libubsan1", "liblsan0", "libtsan2"}


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def stages() -> dict[str, list[tuple[str, str]]]:
    result, current = {}, None
    for word, rest in instructions():
        if word == "FROM":
            current = rest.split(" AS ")[-1].strip()
            result[current] = [(word, rest)]
        elif current is not None:
            result[current].append((word, rest))
    return result


def apt_packages(stage: list[tuple[str, str]]) -> set[str]:
    packages = set()
    for word, rest in stage:
        if word == "RUN" and "apt-get install" in rest:
            install = rest.split("apt-get install", 1)[1].split("&&")[0]
            packages |= {p for p in install.split() if not p.startswith("-")}
    return packages


def test_two_stages_on_debian_12_with_the_sagemaker_label_and_entrypoint():
    assert re.search(r"^ARG DEBIAN=debian:12$", DOCKERFILE.read_text(), re.M)
    s = stages()
    assert list(s) == ["build", "runtime"]
    assert s["build"][0] == ("FROM", "${DEBIAN} AS build")
    assert s["runtime"][0] == ("FROM", "${DEBIAN}-slim AS runtime")
    runtime = dict((w, r) for w, r in s["runtime"] if w in ("ENTRYPOINT", "CMD", "LABEL"))
    assert "com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true" in runtime["LABEL"]
    entrypoint = json.loads(runtime["ENTRYPOINT"])
    assert entrypoint == ["/usr/bin/tini", "--", "/usr/local/bin/tandem-entrypoint"]
    assert "tini" in apt_packages(s["runtime"])
    assert json.loads(runtime["CMD"]) == ["serve"]  # SageMaker runs `IMAGE serve`
    copies = [r for w, r in s["runtime"] if w == "COPY"]
    assert "deploy/entrypoint.sh /usr/local/bin/tandem-entrypoint" in copies
    assert "--from=build /opt/tandem/bin/ /usr/local/bin/" in copies
    # Every file the image copies from the context exists.
    for stage in s.values():
        for word, rest in stage:
            if word == "COPY" and not rest.startswith("--from"):
                source = rest.split()[0]
                assert (REPO_ROOT / source).exists(), source


def test_the_build_stage_has_the_projects_build_dependencies():
    setup = (REPO_ROOT / "deploy" / "setup.sh").read_text()
    listed = re.search(r"PACKAGES=\((.*?)\)", setup, re.S).group(1).split()
    test_only = {"catch2", "libbenchmark-dev", "libclang-rt-14-dev"}  # tests, bench, fuzzing
    needed = {p for p in listed if p.endswith("-dev")} - test_only
    assert needed <= apt_packages(stages()["build"]), needed - apt_packages(stages()["build"])


def test_the_build_stage_sources_configure_on_their_own(tmp_path):
    """The build stage copies only some folders into the image: CMake must configure the
    release build from them alone, as `docker build` will."""
    if not shutil.which("cmake"):
        pytest.skip("cmake is not installed")
    source = tmp_path / "src"
    source.mkdir()
    for word, rest in stages()["build"]:
        if word == "COPY":
            origin, target = rest.split()
            destination = source / ("" if target in ("./", ".") else target)
            if (REPO_ROOT / origin).is_dir():
                shutil.copytree(REPO_ROOT / origin, destination, dirs_exist_ok=True)
            else:
                shutil.copy(REPO_ROOT / origin, destination)
    run = subprocess.run(["cmake", "-S", str(source), "-B", str(tmp_path / "build"), "-G", "Ninja",
                          "-DCMAKE_BUILD_TYPE=Release", "-DTANDEM_TESTS=OFF"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    targets = subprocess.run(["cmake", "--build", str(tmp_path / "build"), "--target", "help"],
                             capture_output=True, text=True, check=True).stdout
    for program in PROGRAMS:
        assert f"{program}:" in targets, program


def owning_package(library: str) -> str | None:
    run = subprocess.run(["dpkg-query", "-S", library], capture_output=True, text=True)
    if run.returncode != 0:
        run = subprocess.run(["dpkg-query", "-S", str(Path(library).resolve())],
                             capture_output=True, text=True)
    if run.returncode != 0:
        return None
    return run.stdout.split(":")[0].strip()


def test_runtime_packages_provide_every_library_the_programs_load():
    if not shutil.which("dpkg-query") or not shutil.which("apt-cache"):
        pytest.skip("not a Debian system (no dpkg-query/apt-cache)")
    runtime = apt_packages(stages()["runtime"])
    run = subprocess.run(
        ["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
         "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", *sorted(runtime)],
        capture_output=True, text=True)
    if run.returncode != 0 or "No packages found" in run.stderr:
        pytest.skip(f"apt-cache cannot resolve the runtime packages (no package lists? "
                    f"apt-get update): {run.stderr.strip()}")
    closure = run.stdout
    available = runtime | {line.strip().split(":")[0] for line in closure.splitlines()
                           if not line.startswith(" ")}
    available |= {line.split(":", 1)[1].strip().strip("<>").split(":")[0]
                  for line in closure.splitlines() if "Depends:" in line}
    missing = {}
    for program in PROGRAMS:
        path = bin_dir() / program
        if not path.exists():
            pytest.fail(f"{program} is not built in {bin_dir()}", pytrace=False)
        ldd = subprocess.run(["ldd", str(path)], capture_output=True, text=True, check=True)
        for library in re.findall(r"=> (/\S+)", ldd.stdout):
            package = owning_package(library)
            assert package, f"{program}: no Debian package owns {library}"
            if package not in available and package not in SANITIZER_PACKAGES:
                missing.setdefault(package, []).append(f"{program}: {library}")
    assert not missing, f"the runtime stage lacks packages: {missing}"


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def test_unit_restarts_drains_and_is_hardened():
    s = unit_settings()
    assert s["ExecStart"] == ["/usr/local/bin/tandem serve /etc/tandem/%i/pipeline.yaml"]
    assert s["KillMode"] == ["mixed"] and s["KillSignal"] == ["SIGTERM"]
    assert int(s["TimeoutStopSec"][0]) >= 30 + 30  # drain_timeout_s + stage_stop_timeout_s
    assert s["Restart"] == ["on-failure"]
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices",
                "RestrictSUIDSGID", "ProtectKernelTunables"):
        assert s[key] == ["yes"], key
    assert s["ProtectSystem"] == ["strict"]
    assert s["CapabilityBoundingSet"] == [""]
    assert s["User"] == ["tandem"]


def test_systemd_accepts_the_unit_and_rates_it_well_hardened(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    # verify checks that ExecStart's program exists: point it at this build's tandem.
    unit = tmp_path / "tandem@demo.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/tandem", str(bin_dir() / "tandem")))
    run = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                         capture_output=True, text=True)
    assert run.returncode == 0 and not run.stderr.strip(), run.stdout + run.stderr
    run = subprocess.run(["systemd-analyze", "security", "--offline=true", str(unit)],
                         capture_output=True, text=True)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", run.stdout)
    assert match, run.stdout + run.stderr
    assert float(match.group(1)) <= 2.5, run.stdout  # "OK" on systemd's 0-10 scale
