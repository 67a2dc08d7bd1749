"""hw5data.download: the checks and unpacking, on archives built here (no network is used)."""
import hashlib
import zipfile

import pytest

from hw5data import download
from hw5data.__main__ import main

SIZED = download.Archive("unused", "data", {"nist36_train.mat": 5, "nist36_valid.mat": 3}, {})
HASHED = download.Archive("unused", "images", {}, {"01_list.jpg": hashlib.md5(b"jpeg").hexdigest()})


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_unpack_finds_members_under_a_top_folder_and_checks_sizes_and_md5s(tmp_path):
    folder = download.unpack(_zip(tmp_path / "d.zip", {"hw5/data/nist36_train.mat": b"12345", "hw5/data/nist36_valid.mat": b"abc",
                                                        "__MACOSX/hw5/data/._nist36_train.mat": b"x"}), tmp_path, SIZED)
    assert sorted(p.name for p in folder.iterdir()) == ["nist36_train.mat", "nist36_valid.mat"]
    assert download.unpack(_zip(tmp_path / "i.zip", {"images/01_list.jpg": b"jpeg"}), tmp_path, HASHED) == tmp_path / "images"


@pytest.mark.parametrize("members, archive, complaint", [
    ({"nist36_train.mat": b"1234", "nist36_valid.mat": b"abc"}, SIZED, "nist36_train.mat has 4 bytes; the handout's has 5"),
    ({"nist36_train.mat": b"12345"}, SIZED, "the archive lacks nist36_valid.mat"),
    ({"01_list.jpg": b"jpg?"}, HASHED, "01_list.jpg has MD5 .*; the handout's is"),
    ({"../../evil.mat": b"x", "nist36_train.mat": b"12345", "nist36_valid.mat": b"abc"}, SIZED, "would unpack outside the target folder"),
])
def test_unpack_rejects_archives_that_fail_a_check(tmp_path, members, archive, complaint):
    with pytest.raises(download.DownloadError, match=complaint):
        download.unpack(_zip(tmp_path / "a.zip", members), tmp_path, archive)
    assert not (tmp_path / archive.folder).exists()


def test_a_damaged_archive_fails_its_crc_check(tmp_path):
    path = _zip(tmp_path / "a.zip", {"nist36_train.mat": b"12345" * 1000, "nist36_valid.mat": b"abc"})
    data = bytearray(path.read_bytes())
    data[60] ^= 0xFF  # inside the first member's stored bytes
    path.write_bytes(bytes(data))
    with pytest.raises(download.DownloadError, match="fails its CRC-32 check|not a zip archive"):
        download.unpack(path, tmp_path, SIZED)


def test_fetch_streams_a_url_to_disk(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"x" * 3_000_000)
    assert download.fetch(source.as_uri(), tmp_path / "copy.bin", chunk=1 << 16).read_bytes() == source.read_bytes()
    with pytest.raises(download.DownloadError, match="download failed"):
        download.fetch((tmp_path / "absent").as_uri(), tmp_path / "x.bin")
    assert not (tmp_path / "x.bin.part").exists()


def test_download_command_end_to_end_on_a_local_url(tmp_path, monkeypatch, capsys):
    archive = _zip(tmp_path / "served.zip", {"data/nist36_train.mat": b"12345", "data/nist36_valid.mat": b"abc"})
    monkeypatch.setitem(download.ARCHIVES, "data", download.Archive(archive.as_uri(), "data", SIZED.sizes, {}))
    assert main(["download", "--to", str(tmp_path / "out"), "--only", "data"]) == 0
    assert (tmp_path / "out" / "data" / "nist36_valid.mat").read_bytes() == b"abc"
    assert f"export HW5_DATA_DIR={tmp_path / 'out' / 'data'}" in capsys.readouterr().out
    assert not list((tmp_path / "out").glob("*.zip")), "the archive is removed once unpacked"
