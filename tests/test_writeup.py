"""The PDF write-up: finding the one PDF of a submission, keeping a copy, and finding the pages that
answer each question in its text, in a child process whose limits keep a hostile file from stopping
the app."""
import os
import random
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from autograde.course.writeup import (
    MAX_WRITEUP_BYTES,
    SCANNED_NOTICE,
    WriteupIndex,
    find_writeup,
    index_writeup,
    keep_writeup,
    label_pattern,
    locate_pages,
    stored_index,
)
from tests.support import pdfs

QIDS = ["1.1", "2.1.1", "3.1.2", "3.1.3", "4.1", "5.3.1"]
# Page by page: the heading of one question, a body that mentions others, and look-alike numbers that
# must not count ("13.1.2", "3.1.21", "3.1.2.1", "Q1.1.5", "Q2.1.1" for 1.1).
PAGES = [
    ["HW5 write-up, Jane Doe", "My answer to Q3.1.2 is on page 3; version 13.1.2 of the template."],
    ["Q1.1", "The sigmoid saturates. Table 3.1.21 and eq. 3.1.2.1 are elsewhere."],
    ["Question 3.1.2", "The three learning rates. The network of Q1.1 was used.", "Q1.1.5 is not a question."],
    ["Problem 2.1.1", "Xavier initialisation keeps the variance (cf. Q2.1.1 in the handout)."],
    ["  Q.3.1.3 Confusion matrix", "The classes most confused are O and 0, as argued in Q3.1.2."],
    ["Q 4.1: assumptions", "Every character is separate, as in 3.1.2."],
]


@pytest.fixture(scope="module")
def writeup(tmp_path_factory):
    return pdfs.text_pdf(tmp_path_factory.mktemp("writeup") / "writeup.pdf", PAGES)


def test_each_question_is_found_on_its_heading_page_first_then_its_mentions(writeup):
    index = locate_pages(writeup, QIDS)
    assert index == WriteupIndex(pages=6, has_text=True, problem="", found={
        "1.1": [2, 3],             # not page 3's "Q1.1.5", but its "Q1.1": a mention after the heading page
        "2.1.1": [4],              # "Problem 2.1.1" and "Q2.1.1" on the same page: one entry
        "3.1.2": [3, 1, 5, 6],     # the heading first; "13.1.2", "3.1.21", "3.1.2.1" on pages 1-2 do not count
        "3.1.3": [5],              # "  Q.3.1.3" indented is still a heading
        "4.1": [6]})               # 5.3.1 appears nowhere: no entry


def test_the_index_stored_at_grading_serves_the_same_pdf_only(tmp_path):
    """`autograde grade --report` stores the pages beside the kept write-up; the app reads them back
    for that very file and question set, and searches again when the PDF changed."""
    pdf = pdfs.text_pdf(tmp_path / "writeup.pdf", PAGES)
    index = index_writeup(pdf, QIDS)
    assert stored_index(pdf, QIDS) == index and stored_index(pdf, QIDS[:2]) == index
    assert stored_index(pdf, [*QIDS, "6.1"]) is None   # a question it was not searched for
    pdfs.text_pdf(pdf, PAGES[:2])                        # another file under the same name
    assert stored_index(pdf, QIDS) is None
    (tmp_path / "writeup-pages.json").write_text("{not json", encoding="utf-8")
    assert stored_index(pdf, QIDS) is None


def test_a_notebook_exported_with_matplotlib_is_read_too(tmp_path):
    """matplotlib's PDF backend with TrueType fonts (fonttype 42): what a notebook's export holds."""
    path = pdfs.matplotlib_pdf(tmp_path / "nb.pdf", [["Q1.1", "the answer"], ["Question 3.1.2", "rates"]])
    index = locate_pages(path, ["1.1", "3.1.2"])
    assert (index.pages, index.has_text, index.found, index.problem) == (2, True, {"1.1": [1], "3.1.2": [2]}, "")


@pytest.mark.parametrize("text", ["Q3.1.2", "Q 3.1.2", "Q.3.1.2", "q3.1.2", "3.1.2", "Question 3.1.2",
                                  "QUESTION 3.1.2", "problem 3.1.2", "as in Q3.1.2.", "(3.1.2)", "Q3.1.2:"])
def test_a_label_of_the_question_matches(text):
    assert label_pattern("3.1.2").search(text)


@pytest.mark.parametrize("qid, text", [("3.1.2", "13.1.2"), ("3.1.2", "3.1.21"), ("3.1.2", "3.1.2.1"),
                                       ("3.1.2", "Q13.1.2"), ("3.1.2", "Q3.1.2.1"), ("3.1.2", "Q 3.1.3"),
                                       ("1.1", "Q1.1.5"), ("1.1", "Q2.1.1"), ("1.1", "2.1.1"), ("1.1", "11.1"),
                                       ("1.1", "1.11"), ("1.1", "v.1.1")])
def test_a_longer_or_other_number_does_not_match(qid, text):
    assert not label_pattern(qid).search(text)


def test_a_scan_has_no_text_and_no_problem(tmp_path):
    index = locate_pages(pdfs.scanned_pdf(tmp_path / "scan.pdf"), QIDS)
    assert index == WriteupIndex(pages=1, has_text=False, found={}, problem="")
    assert "page 1" in SCANNED_NOTICE


@pytest.mark.parametrize("content, expected", [
    (random.Random(1).randbytes(4000), "not a PDF"),
    (b"", "not a PDF"),
    (b"%PDF-1.7\n" + random.Random(2).randbytes(3000), "not a readable PDF"),
    ("truncated", "not a readable PDF"),
])
def test_a_malformed_file_is_a_problem_not_an_exception(tmp_path, writeup, content, expected):
    if content == "truncated":
        content = writeup.read_bytes()[:len(writeup.read_bytes()) // 2]
    path = tmp_path / "bad.pdf"
    path.write_bytes(content)
    index = locate_pages(path, QIDS)
    assert expected in index.problem and index.found == {} and not index.has_text


def test_an_encrypted_write_up_says_it_needs_a_password(tmp_path, writeup):
    index = locate_pages(pdfs.encrypted_pdf(tmp_path / "locked.pdf", writeup), QIDS)
    assert "encrypted" in index.problem and index.found == {}


def test_a_missing_file_is_a_problem(tmp_path):
    assert "no such file" in locate_pages(tmp_path / "gone.pdf", QIDS).problem


def test_question_ids_are_checked():
    with pytest.raises(ValueError, match="3.1.2"):
        locate_pages("x.pdf", ["3.1.2; rm -rf"])


# --- the limits ----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def thousands_of_pages(tmp_path_factory):
    return pdfs.blank_pdf(tmp_path_factory.mktemp("long") / "long.pdf", 5000)


def test_limits_protect_the_app_from_a_hostile_pdf():
    """What each limit of the child protects against (the tests below break each one):
    - the wall-clock timeout (the process group killed): a file that takes the parser forever, or a
      child stuck in a system call; the grader's page waits `timeout` seconds at most;
    - RLIMIT_CPU: the same where the parent's wait could not end it (the child keeps no CPU past it);
    - RLIMIT_AS (memory_mb): a decompression bomb or a huge object tree, which would otherwise take the
      machine's memory and get the web app (or its neighbours) killed;
    - RLIMIT_FSIZE 0: a parser bug that writes files; stdin closed and a temporary cwd: it reads nothing
      else;
    - MAX_PAGES (2000): a 5,000-page file, read page by page for minutes, is refused before any page;
    - MAX_TEXT_CHARS (2 MB): the text kept and searched stays small whatever the file claims;
    - MAX_WRITEUP_BYTES (64 MB): the kept copy cannot fill the batch folder's disk."""
    assert MAX_WRITEUP_BYTES == 64 << 20


def test_five_thousand_pages_are_refused_with_the_count(thousands_of_pages):
    started = time.monotonic()
    index = locate_pages(thousands_of_pages, QIDS)
    assert index == WriteupIndex(pages=5000, has_text=False, found={},
                                 problem="5000 pages: more than the 2000 a write-up may have")
    assert time.monotonic() - started < 10


def test_the_bomb_builder_makes_what_it_says():
    """The zlib stream of the bomb is valid and inflates to exactly the zeros asked for (checked at a
    size that inflates in a moment; the bomb only repeats the same block more times)."""
    inflater = zlib.decompressobj()
    inflated = inflater.decompress(pdfs.deflate_zeros(64 << 20))
    assert len(inflated) == 64 << 20 and inflater.eof and not inflated.strip(b"\0")


def test_a_decompression_bomb_is_reported_within_the_timeout(tmp_path):
    bomb = pdfs.bomb_pdf(tmp_path / "bomb.pdf", inflated_bytes=2 << 30)
    assert bomb.stat().st_size < 20_000    # a few KB that inflate to 2 GB
    started = time.monotonic()
    index = locate_pages(bomb, QIDS, timeout=10)
    assert time.monotonic() - started < 10
    assert "bomb" in index.problem and index.found == {} and not index.has_text


def test_a_file_that_takes_too_long_is_stopped_at_the_timeout(tmp_path):
    slow = pdfs.slow_pdf(tmp_path / "slow.pdf")
    started = time.monotonic()
    index = locate_pages(slow, QIDS, timeout=1.5)
    elapsed = time.monotonic() - started
    assert "could not be read within 1.5 s" in index.problem and index.found == {}
    assert elapsed < 4
    assert not _processes_reading(slow)     # the child was killed with its group, not left running


def _processes_reading(path):
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and str(path).encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_the_memory_limit_is_enforced(writeup):
    """16 MB of address space cannot even hold the PDF library: the child fails and says why."""
    index = locate_pages(writeup, QIDS, memory_mb=16)
    assert "16 MB of memory" in index.problem and index.found == {}
    assert locate_pages(writeup, QIDS).problem == ""     # the same file reads within the default


def test_a_thirty_page_write_up_reads_quickly(tmp_path):
    pages = [[f"Q{q}", f"answer {q} " * 40, "see Q1.1"] for q in QIDS] * 5
    started = time.monotonic()
    index = locate_pages(pdfs.text_pdf(tmp_path / "thirty.pdf", pages), QIDS)
    assert index.pages == 30 and index.found["3.1.2"] == [3, 9, 15, 21, 27]
    assert index.found["1.1"] == [1, 7, 13, 19, 25]     # its headings; the mentions on every page come after
    assert time.monotonic() - started < 5


# --- finding and keeping the write-up -------------------------------------------------------------

def _pdf(path, text="Q1.1"):
    path.parent.mkdir(parents=True, exist_ok=True)
    return pdfs.text_pdf(path, [[text]])


def test_the_one_pdf_is_found_at_any_depth_hidden_and_mac_folders_skipped(tmp_path):
    found = _pdf(tmp_path / "a" / "b" / "report.pdf")
    _pdf(tmp_path / "__MACOSX" / "a" / "._report.pdf")
    _pdf(tmp_path / ".git" / "x.pdf")
    _pdf(tmp_path / "a" / "._report.pdf")
    _pdf(tmp_path / "1" / "2" / "3" / "4" / "5" / "6" / "too-deep.pdf")
    assert find_writeup(tmp_path) == (found, None)


def test_several_pdfs_are_named_and_none_is_kept(tmp_path):
    _pdf(tmp_path / "b.pdf")
    _pdf(tmp_path / "sub" / "a.PDF")
    assert find_writeup(tmp_path) == (None, "several PDFs: b.pdf, sub/a.PDF; none kept: submit one write-up")
    (tmp_path / "out").mkdir()
    assert "several PDFs" in keep_writeup(tmp_path, tmp_path / "out")
    assert not (tmp_path / "out" / "writeup.pdf").exists()


def test_no_pdf_gives_nothing_and_removes_a_stale_copy(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "nn.py").write_text("")
    out = tmp_path / "out"
    _pdf(out / "writeup.pdf")   # kept by an earlier grading of another submission into this folder
    assert find_writeup(tmp_path / "sub") == (None, None)
    assert keep_writeup(tmp_path / "sub", out) is None and not (out / "writeup.pdf").exists()


def test_a_folder_s_write_up_is_kept_beside_the_report(tmp_path):
    source = _pdf(tmp_path / "sub" / "docs" / "report.pdf")
    notice = keep_writeup(tmp_path / "sub", tmp_path / "out")
    assert notice == "kept the write-up docs/report.pdf (1 KB)"
    assert (tmp_path / "out" / "writeup.pdf").read_bytes() == source.read_bytes()
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["writeup.pdf"]   # no temporary file left


def test_a_symbolic_link_is_never_followed(tmp_path):
    secret = _pdf(tmp_path / "elsewhere" / "secret.pdf", "private")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "report.pdf").symlink_to(secret)
    (tmp_path / "sub" / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    path, notice = find_writeup(tmp_path / "sub")
    assert path is None and "report.pdf is a symbolic link" in notice and "secret" not in notice
    assert "symbolic link" in keep_writeup(tmp_path / "sub", tmp_path / "out")
    assert not (tmp_path / "out" / "writeup.pdf").exists()
    real = _pdf(tmp_path / "sub" / "real.pdf")
    assert find_writeup(tmp_path / "sub") == (real, None)   # beside a real one, the link is ignored


def test_a_write_up_over_64_mb_is_not_kept(tmp_path):
    big = _pdf(tmp_path / "sub" / "huge.pdf")
    os.truncate(big, MAX_WRITEUP_BYTES + 1)   # sparse: no 64 MB written
    notice = keep_writeup(tmp_path / "sub", tmp_path / "out")
    assert notice.startswith("the write-up huge.pdf is not kept: 64.0 MB") and "64 MB" in notice
    assert not (tmp_path / "out" / "writeup.pdf").exists()


def test_a_zip_s_write_up_is_read_from_the_zip_and_nothing_else_unpacked(tmp_path):
    source = _pdf(tmp_path / "report.pdf")
    archive = tmp_path / "sub.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(source, "hw5/writeup/report.pdf")
        zf.writestr("hw5/python/nn.py", "import os\n")
        zf.writestr("__MACOSX/hw5/writeup/._report.pdf", b"\0")
    notice = keep_writeup(archive, tmp_path / "out")
    assert notice == "kept the write-up hw5/writeup/report.pdf (1 KB)"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["writeup.pdf"]
    assert (tmp_path / "out" / "writeup.pdf").read_bytes() == source.read_bytes()


def test_a_zip_with_two_pdfs_or_a_linked_pdf_keeps_none(tmp_path):
    two, link = tmp_path / "two.zip", tmp_path / "link.zip"
    with zipfile.ZipFile(two, "w") as zf:
        zf.writestr("a.pdf", b"%PDF-1.7")
        zf.writestr("b/c.pdf", b"%PDF-1.7")
    with zipfile.ZipFile(link, "w") as zf:
        member = zipfile.ZipInfo("report.pdf")
        member.external_attr = (0o120777 << 16)   # a symbolic link to /etc/passwd
        zf.writestr(member, "/etc/passwd")
    assert keep_writeup(two, tmp_path / "out") == "several PDFs: a.pdf, b/c.pdf; none kept: submit one write-up"
    assert "symbolic link" in keep_writeup(link, tmp_path / "out")
    assert not (tmp_path / "out" / "writeup.pdf").exists()


def test_a_zip_without_a_pdf_or_a_broken_zip(tmp_path):
    archive = tmp_path / "sub.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("python/nn.py", "")
    assert keep_writeup(archive, tmp_path / "out") is None
    assert keep_writeup(tmp_path / "nothing-here", tmp_path / "out") is None
