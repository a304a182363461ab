"""Data capture onto a disk that fills up: `tandem serve` capturing 400 invocations of about 1 KB
into a 256 KiB tmpfs. The records already on disk when it filled are committed, whole, under
the file's own name, and only the records that did not fit are counted as lost (before: the
file's whole uncommitted part was discarded; here 127 written and 273 lost where 216 fit, 211
to 214 written since). Needs root for the mount; skipped otherwise (tests/unit/capture/
writer_storage_errors_test.cpp covers the same logic with a fake disk)."""
import json
import re
import subprocess

import pytest

from harness import identity

DISK_BYTES = 256 * 1024
INVOCATIONS = 400


@pytest.fixture
def small_disk(tmp_path):
    path = tmp_path / "small-disk"
    path.mkdir()
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs",
                            str(path)], capture_output=True, text=True)
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a 256 KiB tmpfs here: {mount.stderr.strip()}")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def committed_lines(folder) -> tuple[int, int]:
    """Records and bytes of every capture file under `folder`, each line checked whole."""
    lines = size = 0
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        assert path.name.endswith(".jsonl") and not path.name.startswith("."), path
        text = path.read_text()
        assert text.endswith("\n"), f"{path} ends in the middle of a record"
        for line in text.splitlines():
            assert json.loads(line)["captureData"]["endpointInput"]["data"]
            lines += 1
        size += len(text)
    return lines, size


def test_a_full_disk_keeps_the_records_already_written(tandem_factory, small_disk):
    spec = {"version": 1, "name": "full",
            "capture": {"destination": str(small_disk), "rotate_s": 3600},
            "stages": [identity("echo")]}
    tandem = tandem_factory(spec)
    body = ",".join(f"{i:03}" for i in range(110)).encode()  # 439 bytes, in and out
    for _ in range(INVOCATIONS):
        res = tandem.invoke(body)
        assert res.status == 200, res
    assert tandem.terminate() == 0
    log = tandem.log()
    summary = re.search(r"capture: (\d+) record\(s\) written in (\d+) file\(s\) to \S+; "
                        r"(\d+) dropped, (\d+) lost to errors", log)
    assert summary, log[-3000:]
    written, files, dropped, lost = map(int, summary.groups())
    records, size = committed_lines(small_disk)
    fit = DISK_BYTES // (size // records)
    print(f"\n{written} written in {files} file(s), {lost} lost; {records} records "
          f"({size} bytes) on the disk, about {fit} fit")
    assert records == written, log[-3000:]
    assert written + lost + dropped == INVOCATIONS
    assert dropped == 0
    assert written >= fit * 9 // 10, log[-3000:]
    assert "No space left on device" in log
