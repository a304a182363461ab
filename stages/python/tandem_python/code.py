"""Where a stage's entry point and model come from, prepared once by the master process.

The SageMaker platform downloads ``ModelDataUrl`` into ``/opt/ml/model`` and the Flask-family
containers copy ``SAGEMAKER_SUBMIT_DIRECTORY`` into ``/opt/ml/code`` before anything is
imported. tandem-python does the same from the stage's environment (docs/python.md):

* the model is ``SM_MODEL_DIR`` (tandem sets it from the stage's ``model_dir``): a folder used
  as it is, or a folder holding ``model.tar.gz`` (or the archive itself), unpacked once into a
  private folder that lives as long as the stage;
* the code is ``SAGEMAKER_SUBMIT_DIRECTORY``: a folder used in place, a ``.tar.gz`` unpacked
  privately, or an ``s3://`` URI read with tandem's S3 client (``tandem fetch``). A path under
  ``/opt/ml/model`` (what the SDK writes for PyTorch models) means the same path in the model.
  When it is unset (and always for PyTorch, whose toolkit never reads it), the code is the
  model's ``code/`` folder if it has one, else the stage's working directory;
* ``requirements.txt`` beside the code cannot be pip-installed (there is no registry here):
  each requirement must already be importable.
"""

import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from typing import Optional

MODEL_MOUNT = "/opt/ml/model"


class SetupError(Exception):
    """One line for the stage's stderr: what is wrong and where."""


@dataclass
class Prepared:
    code_dir: str
    model_dir: Optional[str]
    scratch: Optional[str]  # private folder to delete when the stage ends


def _inside(root: str, path: str) -> bool:
    return os.path.commonpath([root, path]) == root


def _safe_extract(archive: str, destination: str) -> None:
    """Unpacks `archive` below `destination`, one member at a time, refusing a member that
    would land outside it and a link that would point outside it. Each check resolves the
    links already unpacked (realpath on the disk as it is at that moment), so a chain of
    links that each look harmless as text cannot lead a later member out. Devices and FIFOs
    are skipped; set-uid bits and group/world write are dropped."""
    root = os.path.realpath(destination)
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                path = os.path.join(root, member.name)
                if not _inside(root, os.path.realpath(path)):
                    raise SetupError(
                        f"{archive}: member '{member.name}' would be written outside the folder "
                        "it is unpacked into; refusing the archive")
                if member.issym():
                    parent = os.path.realpath(os.path.dirname(path))
                    target = os.path.realpath(os.path.join(parent, member.linkname))
                elif member.islnk():
                    target = os.path.realpath(os.path.join(root, member.linkname))
                else:
                    target = None
                if target is not None and not _inside(root, target):
                    raise SetupError(
                        f"{archive}: link '{member.name}' -> '{member.linkname}' points "
                        "outside the archive; refusing the archive")
                if member.isdev() or member.isfifo():
                    continue
                member.mode &= 0o755
                tar.extract(member, root, set_attrs=not member.issym())
    except (tarfile.TarError, OSError, EOFError) as error:
        raise SetupError(f"{archive}: cannot unpack: {error}") from None


def _is_archive(path: str) -> bool:
    return path.endswith((".tar.gz", ".tgz", ".tar"))


def _fetch(uri: str, destination: str) -> None:
    tandem = os.environ.get("TANDEM_PROGRAM") or shutil.which("tandem")
    if not tandem:
        raise SetupError(f"SAGEMAKER_SUBMIT_DIRECTORY={uri}: reading s3:// needs the tandem "
                         "program (TANDEM_PROGRAM, or tandem on PATH)")
    result = subprocess.run([tandem, "fetch", uri, destination], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, check=False)
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()
        raise SetupError(f"SAGEMAKER_SUBMIT_DIRECTORY={uri}: "
                         + (detail[-1] if detail else f"tandem fetch exited {result.returncode}"))


def _in_model(path: str, model_dir: Optional[str]) -> str:
    """`/opt/ml/model/code` means the model's `code` when the stage does not see its model
    mounted there."""
    if model_dir and (path == MODEL_MOUNT or path.startswith(MODEL_MOUNT + "/")) \
            and not os.path.isdir(path):
        return os.path.join(model_dir, os.path.relpath(path, MODEL_MOUNT))
    return path


def prepare(env, framework: str) -> Prepared:
    scratch = None

    def private(name: str) -> str:
        nonlocal scratch
        if scratch is None:
            scratch = tempfile.mkdtemp(prefix="tandem-python-")
        path = os.path.join(scratch, name)
        os.makedirs(path)
        return path

    try:
        model_dir = env.get("SM_MODEL_DIR") or None
        if model_dir:
            if os.path.isfile(model_dir) and _is_archive(model_dir):
                archive, model_dir = model_dir, private("model")
                _safe_extract(archive, model_dir)
            elif os.path.isdir(model_dir):
                archive = os.path.join(model_dir, "model.tar.gz")
                if os.path.isfile(archive):
                    model_dir = private("model")
                    _safe_extract(archive, model_dir)
            else:
                raise SetupError(f"SM_MODEL_DIR={model_dir}: no such folder (the stage's "
                                 "model_dir)")

        submit = env.get("SAGEMAKER_SUBMIT_DIRECTORY") or ""
        if framework == "pytorch":
            submit = ""  # the PyTorch toolkit reads code/ in the model only
        model_code = os.path.join(model_dir, "code") if model_dir else None
        if not submit:
            if model_code and os.path.isdir(model_code):
                code_dir = model_code
            else:
                code_dir = os.getcwd()
        elif submit.startswith("s3://"):
            if _is_archive(submit):
                download = os.path.join(private("download"), os.path.basename(submit))
                _fetch(submit, download)
                code_dir = private("code")
                _safe_extract(download, code_dir)
            else:
                code_dir = private("code")
                _fetch(submit, code_dir)
        else:
            path = _in_model(submit.removeprefix("file://"), model_dir)
            if os.path.isdir(path):
                code_dir = path
            elif os.path.isfile(path) and _is_archive(path):
                code_dir = private("code")
                _safe_extract(path, code_dir)
            elif os.path.isfile(path):
                code_dir = private("code")
                shutil.copy(path, code_dir)
            else:
                raise SetupError(f"SAGEMAKER_SUBMIT_DIRECTORY={submit}: no such folder or file")
        check_requirements(os.path.join(code_dir, "requirements.txt"))
        return Prepared(code_dir=code_dir, model_dir=model_dir, scratch=scratch)
    except BaseException:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
        raise


_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _installed(name: str) -> bool:
    try:
        importlib.metadata.distribution(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        pass
    module = re.sub(r"[-.]", "_", name)
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def check_requirements(path: str) -> None:
    """Each requirement must be importable already; the first missing one stops the stage."""
    if not os.path.isfile(path):
        return
    with open(path, encoding="utf-8", errors="replace") as file:
        for number, line in enumerate(file, start=1):
            text = line.split("#", 1)[0].strip()
            if not text or text.startswith("-"):
                continue  # blank, comment, or an option (-r, -e, --index-url) that needs pip
            match = _NAME.match(text)
            if not match:
                raise SetupError(f"{path}:{number}: cannot read the requirement '{text}'")
            name = match.group(1)
            if not _installed(name):
                raise SetupError(
                    f"{path}:{number}: requirement '{name}' is not installed, and tandem-python "
                    "installs nothing (there is no package registry here): install it with the "
                    "system's package manager (e.g. apt install python3-"
                    f"{name.lower()}) or remove the line")
