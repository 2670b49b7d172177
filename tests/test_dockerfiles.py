"""Static checks of both Dockerfiles and the image build's helpers (no container engine needed).

The images must pin what the project pins, run as a numeric non-root user with a writable HOME, install
only the slimpipe wheel (no tests, bench or source tree), and get pip's settings as build secrets, never
in a layer."""
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILES = [ROOT / "images/cpu/Dockerfile", ROOT / "images/gpu/Dockerfile"]
IDS = ["cpu", "gpu"]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PINS = dict(re.match(r"([A-Za-z0-9_.-]+)==(.+)", dep).groups() for dep in PYPROJECT["project"]["dependencies"])
LOCK = dict(line.split("==") for line in (ROOT / "requirements.lock").read_text().split() if "==" in line)


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    out, pending = [], ""
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip()[:-1] + " " if line.rstrip().endswith("\\") else line
        if not line.rstrip().endswith("\\"):
            keyword, _, rest = pending.strip().partition(" ")
            out.append((keyword.upper(), rest.strip()))
            pending = ""
    return out


def pins(path: Path) -> dict[str, str]:
    runs = " ".join(args for keyword, args in instructions(path) if keyword == "RUN")
    return {normal(n): v for n, v in re.findall(r"\b([A-Za-z][A-Za-z0-9_.-]*)==([0-9][A-Za-z0-9_.]*)", runs)}


def env_and_args(path: Path) -> dict[str, str]:
    pairs = {}
    for keyword, args in instructions(path):
        if keyword in ("ENV", "ARG") and re.fullmatch(r"\S+\s+\S.*", args) and "=" not in args.split()[0]:
            name, value = args.split(None, 1)  # the legacy `ENV NAME value` form
            pairs[name] = value
        elif keyword in ("ENV", "ARG"):
            for name, value in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)(?:=(\S*))?", args):
                pairs[name] = value
    return pairs


def test_cpu_image_pins_the_same_versions_as_pyproject():
    found = pins(DOCKERFILES[0])
    for name, version in PINS.items():
        assert found.get(normal(name)) == version, f"images/cpu/Dockerfile: {name} should be =={version}"


def test_gpu_image_pins_the_same_versions_with_the_cuda_build_of_paddle():
    found = pins(DOCKERFILES[1])
    for name, version in PINS.items():
        name = "paddlepaddle-gpu" if name == "paddlepaddle" else name
        assert found.get(normal(name)) == version, f"images/gpu/Dockerfile: {name} should be =={version}"
    text = DOCKERFILES[1].read_text()
    assert "nvidia/cuda:12.0" in text and "cudnn8" in text and found.get("tensorrt", "").startswith("8.6")


@pytest.mark.parametrize("path", DOCKERFILES, ids=IDS)
def test_pins_agree_with_requirements_lock(path):
    lock = {normal(n): v for n, v in LOCK.items()}
    for name, version in pins(path).items():
        if name in lock:
            assert lock[name] == version, f"{path.relative_to(ROOT)}: {name}=={version}, lock has {lock[name]}"


@pytest.mark.parametrize("path", DOCKERFILES, ids=IDS)
def test_dependencies_are_installed_against_the_lock(path):
    runs = [args for keyword, args in instructions(path) if keyword == "RUN" and "paddleslim==" in args]
    assert runs and all("requirements.lock" in args and re.search(r"\s-c\s", args) for args in runs), path


@pytest.mark.parametrize("path", DOCKERFILES, ids=IDS)
def test_runs_as_a_numeric_non_root_user(path):
    users = [args for keyword, args in instructions(path) if keyword == "USER"]
    assert users, f"{path}: no USER"
    assert re.fullmatch(r"[0-9]+(:[0-9]+)?", users[-1]) and int(users[-1].split(":")[0]) != 0, users[-1]


@pytest.mark.parametrize("path", DOCKERFILES, ids=IDS)
def test_home_and_caches_are_under_tmp(path):
    env = env_and_args(path)
    assert env.get("HOME") == "/tmp", f"{path}: HOME must be writable by any uid"
    for name in ("MPLCONFIGDIR", "XDG_CACHE_HOME"):
        assert env.get(name, "").startswith("/tmp/"), f"{path}: {name}={env.get(name)}"


@pytest.mark.parametrize("path", DOCKERFILES, ids=IDS)
def test_workdir_is_not_tmp_or_home(path):
    workdirs = [args for keyword, args in instructions(path) if keyword == "WORKDIR"]
    assert workdirs and not workdirs[-1].startswith("/tmp"), f"{path}: a working directory steps never write to"


@pytest.mark.parametrize("path", DOCKERFILES, ids=IDS)
def test_no_secret_valued_env_or_arg(path):
    for name, value in env_and_args(path).items():
        if re.search(r"PASSWORD|PASSWD|TOKEN|SECRET|KEY|CREDENTIAL", name, re.I):
            assert not value, f"{path}: {name} has a value baked in"


@pytest.mark.parametrize("path", DOCKERFILES, ids=IDS)
def test_no_pip_index_settings_baked_in(path):
    for name in env_and_args(path):
        assert not re.fullmatch(r"PIP_(INDEX_URL|EXTRA_INDEX_URL|FIND_LINKS|TRUSTED_HOST|CERT|CLIENT_CERT)", name), \
            f"{path}: {name} would stay in the image"
    text = path.read_text()
    assert "file://" not in text and not re.search(r"https?://[^/\s]*@", text), f"{path}: local or credentialed index"
    for keyword, args in instructions(path):
        if keyword in ("COPY", "ADD"):
            assert "pip.conf" not in args and ".netrc" not in args, f"{path}: {keyword} {args}"


@pytest.mark.parametrize("path", DOCKERFILES, ids=IDS)
def test_pip_gets_its_settings_as_build_secrets(path):
    for keyword, args in instructions(path):
        if keyword == "RUN" and "pip install" in args and "--no-index" not in args:
            assert "type=secret,id=pipconf" in args and "type=secret,id=pipcert" in args, f"{path}: {args[:80]}"
            assert "PIP_CONFIG_FILE=/run/secrets/pipconf" in args, f"{path}: {args[:80]}"


@pytest.mark.parametrize("path", DOCKERFILES, ids=IDS)
def test_no_source_tree_tests_or_bench_copied(path):
    for keyword, args in instructions(path):
        if keyword in ("COPY", "ADD"):
            sources = [a for a in args.split() if not a.startswith("--")][:-1]
            assert all(re.fullmatch(r"requirements\.lock|slimpipe-.*\.whl", s) for s in sources), f"{keyword} {args}"


@pytest.mark.parametrize("path", DOCKERFILES, ids=IDS)
def test_installs_the_slimpipe_wheel_alone(path):
    wheel = [args for keyword, args in instructions(path) if keyword == "RUN" and "slimpipe-*.whl" in args]
    assert len(wheel) == 1 and "--no-deps" in wheel[0] and "--no-index" in wheel[0], path


@pytest.mark.parametrize("path", DOCKERFILES, ids=IDS)
def test_context_files_are_copied_not_bind_mounted(path):
    # podman 4.3 (buildah) does not key its layer cache on bind-mounted files: a new wheel would be ignored
    for keyword, args in instructions(path):
        if keyword == "RUN":
            assert "type=bind" not in args, f"{path}: {args[:80]}"


def test_containers_conf_uses_runc_and_bounded_ulimits():
    conf = tomllib.loads((ROOT / "images/containers.conf").read_text())
    assert conf["engine"]["runtime"] == "runc"
    limits = dict(item.split("=") for item in conf["containers"]["default_ulimits"])
    assert {"nofile", "nproc"} <= limits.keys()
    assert all(int(soft) <= int(hard) <= 65536 for soft, hard in (v.split(":") for v in limits.values()))


def run_pipconf(tmp_path, conf_text, *extra):
    conf = tmp_path / "pip.conf"
    conf.write_text(conf_text)
    # only this file: not the machine's site (XDG_CONFIG_DIRS, /etc/xdg/pip) or user settings
    isolated = tmp_path / "no-config"
    isolated.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")} | {
        "PIP_CONFIG_FILE": str(conf), "XDG_CONFIG_DIRS": str(isolated), "XDG_CONFIG_HOME": str(isolated),
        "HOME": str(isolated)}
    out = tmp_path / "out"
    out.mkdir()
    done = subprocess.run([sys.executable, str(ROOT / "images/pipconf.py"), str(out), *extra],
                          env=env, capture_output=True, text=True, check=True)
    return out, done.stdout.split()


CONF = """[global]
extra-index-url = file:///srv/pypi/simple https://pypi.example.org/simple
find-links = /srv/wheels
cert = {cert}
"""


def test_pipconf_names_local_folders_to_mount_and_points_cert_at_the_secret(tmp_path):
    cert = tmp_path / "ca.pem"
    cert.write_text("CERTIFICATE")
    out, folders = run_pipconf(tmp_path, CONF.format(cert=cert))
    assert sorted(folders) == ["/srv/pypi", "/srv/wheels"]  # an index's parent: its pages link ../../files
    written = (out / "pip.conf").read_text()
    assert "cert = /run/secrets/pipcert" in written and str(cert) not in written
    assert (out / "cert.pem").read_text() == "CERTIFICATE"


def test_pipconf_serves_local_folders_over_loopback_for_docker(tmp_path):
    cert = tmp_path / "ca.pem"
    cert.write_text("")
    out, _ = run_pipconf(tmp_path, CONF.format(cert=cert), "--http", "8765")
    written = (out / "pip.conf").read_text()
    assert "http://127.0.0.1:8765/srv/pypi/simple/" in written and "http://127.0.0.1:8765/srv/wheels/" in written
    assert "file://" not in written and "https://pypi.example.org/simple" in written


def test_pipconf_mounts_the_folder_of_a_constraints_file_the_machine_names(tmp_path):
    """A machine's pip.conf may cap versions with `constraint = /etc/xdg/pip/constraints.txt` (this one
    does): the build must see that file, or its pip install stops ("Could not open requirements file")."""
    cert = tmp_path / "ca.pem"
    cert.write_text("")
    conf = CONF.format(cert=cert) + "constraint = /etc/caps/constraints.txt\n"
    out, folders = run_pipconf(tmp_path, conf)
    assert "/etc/caps" in folders and "constraint = /etc/caps/constraints.txt" in (out / "pip.conf").read_text()
    served = tmp_path / "served"
    served.mkdir()
    out, _ = run_pipconf(served, conf, "--http", "8765")
    assert "constraint = http://127.0.0.1:8765/etc/caps/constraints.txt" in (out / "pip.conf").read_text()
