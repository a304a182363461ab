"""tandem_python.code (where the entry point and the model come from) and
tandem_python.master.read_settings (the stage's variables), without processes."""
import io
import os
import tarfile

import pytest

from tandem_python import code, master


def archive(path, members):
    """members: name -> bytes, or ("link", target) / ("symlink", target)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            if isinstance(data, tuple):
                info.type = tarfile.LNKTYPE if data[0] == "link" else tarfile.SYMTYPE
                info.linkname = data[1]
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def test_model_folder_is_used_in_place(tmp_path):
    (tmp_path / "code").mkdir()
    prepared = code.prepare({"SM_MODEL_DIR": str(tmp_path)}, "sklearn")
    assert prepared.model_dir == str(tmp_path)
    assert prepared.code_dir == str(tmp_path / "code")
    assert prepared.scratch is None


def test_model_tar_gz_is_unpacked_privately_with_its_code(tmp_path):
    archive(tmp_path / "model.tar.gz", {"model.joblib": b"m", "code/inference.py": b"x = 1\n"})
    prepared = code.prepare({"SM_MODEL_DIR": str(tmp_path)}, "pytorch")
    try:
        assert prepared.model_dir != str(tmp_path)
        assert open(os.path.join(prepared.model_dir, "model.joblib"), "rb").read() == b"m"
        assert prepared.code_dir == os.path.join(prepared.model_dir, "code")
    finally:
        code.shutil.rmtree(prepared.scratch)


@pytest.mark.parametrize("members, what", [
    ({"../evil.py": b"x"}, "would be written outside"),
    ({"/etc/evil.py": b"x"}, "would be written outside"),
    ({"ok.py": b"x", "link": ("symlink", "/etc/passwd")}, "points outside"),
    ({"ok.py": b"x", "hard": ("link", "../../outside")}, "points outside"),
])
def test_a_hostile_archive_is_refused_and_nothing_is_left(tmp_path, members, what):
    archive(tmp_path / "model.tar.gz", members)
    before = set(os.listdir(code.tempfile.gettempdir()))
    with pytest.raises(code.SetupError, match=what):
        code.prepare({"SM_MODEL_DIR": str(tmp_path)}, "sklearn")
    left = {n for n in set(os.listdir(code.tempfile.gettempdir())) - before
            if n.startswith("tandem-python-")}
    assert not left


def test_submit_directory_under_opt_ml_model_means_the_model(tmp_path):
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "inference.py").write_text("")
    env = {"SM_MODEL_DIR": str(tmp_path), "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}
    assert code.prepare(env, "sklearn").code_dir == str(tmp_path / "code")


def test_pytorch_ignores_the_submit_directory(tmp_path):
    env = {"SM_MODEL_DIR": str(tmp_path), "SAGEMAKER_SUBMIT_DIRECTORY": "/nowhere"}
    assert code.prepare(env, "pytorch").code_dir == os.getcwd()
    with pytest.raises(code.SetupError, match="SAGEMAKER_SUBMIT_DIRECTORY=/nowhere"):
        code.prepare(env, "sklearn")


def test_sourcedir_tar_gz(tmp_path):
    source = archive(tmp_path / "sourcedir.tar.gz", {"inference.py": b"y = 2\n"})
    prepared = code.prepare({"SAGEMAKER_SUBMIT_DIRECTORY": str(source)}, "xgboost")
    try:
        assert os.listdir(prepared.code_dir) == ["inference.py"]
    finally:
        code.shutil.rmtree(prepared.scratch)


def test_requirements_must_be_installed(tmp_path):
    (tmp_path / "requirements.txt").write_text(
        "# pinned\nnumpy>=1.0\nscikit-learn==1.2.1 ; python_version > '3'\n-r other.txt\n"
        "\nno-such-package-xyz\n")
    with pytest.raises(code.SetupError) as error:
        code.check_requirements(str(tmp_path / "requirements.txt"))
    assert str(error.value).startswith(
        f"{tmp_path / 'requirements.txt'}:6: requirement 'no-such-package-xyz' is not installed")


def test_settings_defaults():
    settings = master.read_settings({"TANDEM_FRAMEWORK": "pytorch"})
    assert (settings.program, settings.workers, settings.timeout, settings.default_accept) == (
        "inference.py", 1, 60.0, "application/json")


def test_every_bad_variable_is_named():
    with pytest.raises(code.SetupError) as error:
        master.read_settings({"TANDEM_FRAMEWORK": "sklearn", "SAGEMAKER_MODEL_SERVER_WORKERS": "0",
                              "SAGEMAKER_MODEL_SERVER_TIMEOUT": "soon",
                              "SAGEMAKER_CONTAINER_LOG_LEVEL": "LOUD"})
    message = str(error.value)
    for part in ("SAGEMAKER_PROGRAM is not set",
                 'SAGEMAKER_MODEL_SERVER_WORKERS: expected a whole number 1-64, got "0"',
                 'SAGEMAKER_MODEL_SERVER_TIMEOUT: expected a whole number 1-86400, got "soon"',
                 'SAGEMAKER_CONTAINER_LOG_LEVEL: expected a logging level'):
        assert part in message, message


def test_framework_is_required():
    with pytest.raises(code.SetupError, match="TANDEM_FRAMEWORK is not set"):
        master.read_settings({"SAGEMAKER_PROGRAM": "inference.py"})


def test_a_chain_of_links_cannot_lead_out(tmp_path):
    """Each link looks harmless as text (`up` points at the archive's root, `esc` at `d1`
    through it), but on disk `esc` is two folders above the root: checked as unpacked."""
    path = tmp_path / "model" / "model.tar.gz"
    path.parent.mkdir()
    with tarfile.open(path, "w:gz") as tar:
        for name in ("d1", "d1/d2", "d1/d2/d3"):
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        for name, target in (("d1/d2/d3/up", "../../.."), ("esc", "d1/d2/d3/up/../../..")):
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
        info = tarfile.TarInfo("esc/ESCAPED.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(code.SetupError, match="link 'esc' .* points outside"):
        code.prepare({"SM_MODEL_DIR": str(path.parent)}, "sklearn")
    assert not list(tmp_path.rglob("ESCAPED.txt"))
    assert not list((tmp_path.parent).glob("ESCAPED.txt"))
