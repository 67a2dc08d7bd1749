"""The review app (`autograde review`) in a real browser: Playwright driving Debian's chromium against
the app served over HTTP, on a made-up graded batch of 240 submissions (tests/support/review_batch.py).

Grading by keyboard (number keys, Ctrl+Enter), two TAs saving one grade at once (the conflict view),
an editor changing an item's points (every grade that used it moves, the gradebook too), the queue's
count and its stable order, and text from students and graders shown as text, never run.

REVIEW_SCREENSHOTS=1 also writes docs/figures/review-{overview,grading,conflict,summary}.png (1400x900).
"""
import csv
import os
import random
import shutil
import urllib.parse
from pathlib import Path

import pytest

from autograde import PROJECT_DIR
from autograde.course.gradebook import read_graded, write_gradebook
from autograde.course.review_store import suggested_items
from autograde.record import RECORD, read_record, rescore
from autograde.rubric import load_rubric
from tests.support.review_batch import (
    HOSTILE_MESSAGE,
    ODD_NAME,
    WRITEUP,
    make_graded_batch,
    submission_names,
    writeup_page,
)
from tests.support.review_server import served

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright (pip install playwright) is not installed")
CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.is_file():
    pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium): the browser tests need it",
                allow_module_level=True)

review_app = pytest.importorskip("autograde.course.review_app", reason="the review app is not written yet")

SIZE = 240
QID = "3.1.2"
SCREENSHOTS = os.environ.get("REVIEW_SCREENSHOTS") == "1"
FIGURES_DIR = PROJECT_DIR / "docs" / "figures"
XSS_COMMENT = "<script>alert(1)</script> and <img src=x onerror=alert(2)> & 'quotes'"


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """One graded batch of SIZE submissions, copied for each test (each test grades its own copy)."""
    return make_graded_batch(tmp_path_factory.mktemp("template") / "graded", SIZE)


@pytest.fixture
def batch(template, tmp_path):
    return Path(shutil.copytree(template, tmp_path / "graded"))


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        except sync_api.Error as exc:
            pytest.skip(f"{CHROMIUM} does not start under Playwright: {exc}")
        yield chromium
        chromium.close()


@pytest.fixture
def rubric():
    return load_rubric()


def new_page(browser, base, name=None, dialogs=None):
    """A page in a fresh browser context (its own cookies: one TA), logged in as name when given;
    dialogs, a list, receives the message of every alert/confirm the page opens."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(10_000)   # a page of this app answers in well under a second
    page = context.new_page()
    if dialogs is not None:
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    if name:
        page.goto(f"{base}/login?name={urllib.parse.quote(name)}")
    return page


def shown_submission(page):
    """The submission name of the grading page the browser is on (/q/<qid>/s/<name>)."""
    path = urllib.parse.urlsplit(page.url).path
    assert "/s/" in path, f"not a grading page: {page.url}"
    return urllib.parse.unquote(path.rsplit("/s/", 1)[1])


def grading_url(base, qid, name):
    return f"{base}/q/{qid}/s/{urllib.parse.quote(name, safe='')}"


def item_boxes(page):
    """{item id: checked} of the grading form's item check boxes, in page order."""
    return dict(page.eval_on_selector_all('input[type=checkbox][name="item"]',
                                          "boxes => boxes.map(b => [b.value, b.checked])"))


def screenshot(page, name):
    if SCREENSHOTS:
        FIGURES_DIR.mkdir(parents=True, exist_ok=True)
        if page.query_selector("#writeup-frame"):
            page.wait_for_timeout(4000)   # Chromium's PDF viewer draws the write-up after the page has loaded
        page.screenshot(path=str(FIGURES_DIR / name), full_page=False)


def test_grade_with_number_keys_and_save_and_next(browser, batch, rubric):
    question = rubric[QID]
    app = review_app.create_app(batch, grader="ta-one", editors=["ta-one"])
    store = app.config["STORE"]
    with served(app) as base:
        page = new_page(browser, base)
        page.goto(f"{base}/q/{QID}/next")
        first = shown_submission(page)
        before = item_boxes(page)
        assert list(before) == [item.id for item in question.items], "the items are not in rubric order"
        page.evaluate("document.activeElement && document.activeElement.blur()")   # keys outside any input
        page.keyboard.press("1")
        page.keyboard.press("3")
        page.fill('textarea[name="comment"]', "Good curves; test accuracy missing.")
        expected = {i for i, checked in before.items() if checked} ^ {question.items[0].id, question.items[2].id}
        assert {i for i, checked in item_boxes(page).items() if checked} == expected
        page.locator('textarea[name="comment"]').press("Control+Enter")
        page.wait_for_url(lambda url: "/s/" in url and shown_submission_of(url) != first)
        second = shown_submission(page)
        assert second != first
    grade = store.current(first, QID)
    assert grade is not None, f"Ctrl+Enter saved no grade of {first}"
    assert set(grade.items) == expected and grade.comment == "Good curves; test accuracy missing."
    assert grade.grader == "ta-one" and store.current(second, QID) is None


def _title(check):
    """How a check's name reads on a page: its words, first one capitalised (review_batch's titles)."""
    words = check.removeprefix("test_").replace("_", " ")
    return words[:1].upper() + words[1:]


def shown_submission_of(url):
    return urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/s/", 1)[-1])


def test_grading_page_shows_prompt_evidence_figures_and_writeup(browser, batch, rubric):
    question = rubric[QID]
    name = next(n for n in submission_names(SIZE) if (batch / n / WRITEUP).is_file()
                and _figures(batch / n, rubric) and _failed(batch / n, rubric))
    app = review_app.create_app(batch, grader="ta-one")
    with served(app) as base:
        page = new_page(browser, base)
        page.goto(grading_url(base, QID, name))
        page.wait_for_load_state("load")
        assert question.prompt and " ".join(question.prompt.split()[:12]) in " ".join(page.inner_text("#prompt").split())
        evidence = page.inner_text("#evidence")
        for outcome in _failed(batch / name, rubric):
            assert outcome.message.splitlines()[0] in evidence, f"the evidence lacks {outcome.name}'s reason"
        widths = {side: page.eval_on_selector_all(f".figure.{side}", """figures => figures.flatMap(
                      f => f.tagName === 'IMG' ? [f] : [...f.querySelectorAll('img')]).map(i => i.naturalWidth)""")
                  for side in ("student", "reference")}
        assert len(widths["student"]) == len(_figures(batch / name, rubric)) and all(widths["student"]), widths
        assert widths["reference"] and all(widths["reference"]), widths
        source = page.eval_on_selector("#writeup iframe, #writeup object",
                                       "e => e.getAttribute('src') || e.getAttribute('data')")
        path, _, fragment = source.partition("#")
        assert urllib.parse.unquote(path).endswith(f"/writeup/{name}"), source
        assert fragment == f"page={writeup_page(name, QID)}", f"the write-up opens at {fragment}, not Q{QID}'s page"
        assert page.locator('input[name="writeup_page"]').count() == 1
        suggested = page.locator(".suggested").count()
        assert suggested >= 1, "a failed evidence check suggested no item"
        screenshot(page, "review-grading.png")


def _outcomes(folder, rubric):
    return next(r for r in rescore(read_record(folder / RECORD), rubric).questions if r.question.id == QID).outcomes


def _figures(folder, rubric):
    return [f for o in _outcomes(folder, rubric) for f in o.figures]


def _failed(folder, rubric):
    """The question's evidence checks that failed and whose item suggestions the page must show."""
    suggesting = {name for item in rubric[QID].items for name in item.suggested_by}
    return [o for o in _outcomes(folder, rubric) if not o.passed and o.name in suggesting]


def test_two_graders_saving_at_once_get_the_conflict_view(browser, batch, rubric):
    app = review_app.create_app(batch)
    store = app.config["STORE"]
    name = submission_names(SIZE)[5]
    with served(app) as base:
        first, second = new_page(browser, base, "ta-anna"), new_page(browser, base, "ta-ben")
        for page in (first, second):
            page.goto(grading_url(base, QID, name))
        first.locator('input[type=checkbox][name="item"]').first.check()   # the two grades differ in points too
        first.fill('textarea[name="comment"]', "comment from anna")
        first.click("#save-next")
        first.wait_for_url(lambda url: shown_submission_of(url) != name)
        second.fill('textarea[name="comment"]', "comment from ben")
        second.click("#save-next")
        conflict = second.locator("#conflict")
        conflict.wait_for()
        assert "comment from anna" in conflict.inner_text() and "comment from ben" in conflict.inner_text()
        assert second.locator("#keep-mine").count() == 1 and second.locator("#keep-current").count() == 1
        screenshot(second, "review-conflict.png")
        assert store.current(name, QID).comment == "comment from anna"
        second.click("#keep-mine")
        second.wait_for_url(lambda url: shown_submission_of(url) != name and "/s/" in url)
    history = store.history(name, QID)
    assert [(g.grader, g.comment, g.applied) for g in history] == [
        ("ta-anna", "comment from anna", True), ("ta-ben", "comment from ben", False),
        ("ta-ben", "comment from ben", True)]
    assert store.current(name, QID).comment == "comment from ben" and not store.conflicts(name, QID)
    first_item = rubric[QID].items[0].id
    assert first_item in history[0].items and first_item not in history[2].items


def test_an_editor_changing_an_items_points_moves_every_grade_and_the_gradebook(browser, batch, rubric):
    question = rubric[QID]
    item = next(i for i in question.items if i.points < 0 and question.points + i.points > 0)
    new_points = item.points / 2
    names = submission_names(SIZE)
    using, others = names[:6], names[6:10]
    app = review_app.create_app(batch, grader="ed", editors=["ed"])
    store = app.config["STORE"]
    for name in using:
        store.save(name, QID, [item.id], 0, "", "ed", 0)
    for name in others:
        store.save(name, QID, [], 0, "", "ed", 0)
    before = {g: store.score(g) for g in store.all_current(QID).values()}
    totals_before = _gradebook_totals(batch)
    with served(app) as base:
        page = new_page(browser, base)
        page.goto(f"{base}/q/{QID}/items")
        page.fill(f'input[name="points-{item.id}"]', str(new_points))
        page.click("#save-points")
        page.wait_for_load_state("load")
    assert store.points(QID)[item.id] == new_points
    for grade, score in before.items():
        moved = new_points - item.points if grade.submission in using else 0
        assert store.score(store.current(grade.submission, QID)) == pytest.approx(score + moved)
    totals_after = _gradebook_totals(batch)
    assert QID in _gradebook_columns(batch), f"gradebook.csv has no column for the manual Q{QID}"
    changed = {n: totals_after[n] - totals_before[n] for n in totals_before if totals_after[n] != totals_before[n]}
    assert changed == pytest.approx(dict.fromkeys(using, new_points - item.points))
    assert sum(totals_after.values()) - sum(totals_before.values()) == pytest.approx(
        len(using) * (new_points - item.points))
    assert {g.name: g.total for g in read_graded(batch)[0]} == pytest.approx(totals_after)


def _gradebook_totals(batch):
    """{submission: total} of the gradebook write_gradebook makes now."""
    with open(write_gradebook(batch), newline="", encoding="utf-8") as f:
        return {row["submission"].removeprefix("'"): float(row["total"]) for row in csv.DictReader(f)}


def _gradebook_columns(batch):
    with open(write_gradebook(batch), newline="", encoding="utf-8") as f:
        return next(csv.reader(f))


def test_an_editor_changes_points_and_a_grader_may_not(browser, batch, rubric):
    item = rubric[QID].items[1]
    app = review_app.create_app(batch, editors=["ed"])
    with served(app) as base:
        page = new_page(browser, base, "not-an-editor")
        response = page.goto(f"{base}/q/{QID}/items")
        assert response.status == 403
    assert app.config["STORE"].points(QID)[item.id] == item.points


def test_the_queue_counts_down_and_its_order_is_stable(browser, batch):
    app = review_app.create_app(batch, grader="ta-one")
    saves = 3
    with served(app) as base:
        page = new_page(browser, base)
        page.goto(f"{base}/q/{QID}")
        assert page.inner_text("#left").strip() == f"Q{QID}: {SIZE} of {SIZE} left"
        page.click("#next")
        order = []
        for _ in range(saves):
            order.append(shown_submission(page))
            page.click("#save-next")
            page.wait_for_url(lambda url, seen=order[-1]: shown_submission_of(url) != seen)
        order.append(shown_submission(page))
        page.goto(f"{base}/q/{QID}")
        assert page.inner_text("#left").strip() == f"Q{QID}: {SIZE - saves} of {SIZE} left"
    # The pages followed the store's shuffled queue, and that is not the names' order (a shuffle of
    # the 240 names leaves them sorted with probability 1/240!; four picks alone would, 1 in 24).
    queue = app.config["STORE"].queue(QID, list(app.config["DATA"].submissions()))
    assert order == queue[:saves + 1] and queue != sorted(queue), "the queue is in the names' order, not shuffled"
    app.config["STORE"].close()
    again = review_app.create_app(batch, grader="ta-two").test_client()
    assert _next_of(again, QID) == order[-1], "another app instance on the folder offers another next submission"
    other_order = []
    for _ in range(saves):
        other_order.append(_next_of(again, "3.1.3"))
        assert again.post("/api/grade", json={"submission": other_order[-1], "question": "3.1.3", "items": [],
                                              "adjustment": 0, "comment": "", "based_on": 0}).json["applied"]
    assert other_order != order[:saves], "Q3.1.3's queue is Q3.1.2's"


def _next_of(client, qid):
    response = client.get(f"/q/{qid}/next")
    assert response.status_code == 302, response.status_code
    return shown_submission_of(response.headers["Location"])


def test_the_overview_and_summary_count_the_grades_saved(browser, batch, rubric):
    app = review_app.create_app(batch, grader="ta-one")
    store = app.config["STORE"]
    rng = random.Random(1)
    graded = submission_names(SIZE)[:SIZE // 2]
    manual = [q for q in rubric.questions if q.kind == "manual"]
    for name in graded:   # every question a person grades, half the class: as a review half-way through
        outcomes = {r.question.id: r.outcomes for r in rescore(read_record(batch / name / RECORD), rubric).questions}
        for question in manual:
            suggested = list(suggested_items(question, outcomes[question.id]))
            kept = [i for i in suggested if rng.random() < 0.8] + rng.sample([i.id for i in question.items],
                                                                              min(len(question.items), rng.randrange(2)))
            store.save(name, question.id, kept, rng.choice([0, 0, 0.25]), "", "ta-one", 0, suggested=suggested)
    stats = store.suggestion_stats(QID)
    assert sum(entry["removed"] for entry in stats.values()) > 0
    with served(app) as base:
        page = new_page(browser, base)
        page.goto(f"{base}/q/{QID}")
        assert page.inner_text("#left").strip() == f"Q{QID}: {SIZE - len(graded)} of {SIZE} left"
        table = page.inner_text("body")
        for check, entry in stats.items():
            row = " ".join(str(entry[k]) for k in ("suggested", "kept", "removed"))
            assert f"{_title(check)}\t{row.replace(' ', chr(9))}" in table, f"the summary lacks {check}: {entry}"
        screenshot(page, "review-summary.png")
        page.goto(f"{base}/")
        assert page.inner_text("#overview").count(f"{len(graded)} of {SIZE} graded") == len(manual)
        screenshot(page, "review-overview.png")


def test_html_in_comments_names_and_messages_shows_as_text(browser, batch):
    dialogs = []
    app = review_app.create_app(batch, grader="ta-one")
    with served(app) as base:
        page = new_page(browser, base, dialogs=dialogs)
        page.goto(grading_url(base, QID, ODD_NAME) + "?names=1")
        page.fill('textarea[name="comment"]', XSS_COMMENT)
        page.click("#save-next")
        page.wait_for_url(lambda url: shown_submission_of(url) != ODD_NAME)
        page.goto(grading_url(base, QID, ODD_NAME))
        page.wait_for_load_state("load")
        assert page.input_value('textarea[name="comment"]') == XSS_COMMENT
        assert ODD_NAME in page.inner_text("body"), "?names=1 did not show the submission's name"
        assert HOSTILE_MESSAGE in page.inner_text("#evidence")
        page.goto(f"{base}/")
        page.wait_for_load_state("load")
        overview = page.inner_text("#overview")
        assert ODD_NAME in overview, "the overview does not list the crashed, similar submission by name"
        assert page.locator('img[src="x"]').count() == 0
        assert not any("alert(" in text for text in page.eval_on_selector_all("script", "s => s.map(e => e.text)"))
        page.wait_for_timeout(300)
    assert dialogs == [], f"the page ran the student's or grader's HTML: {dialogs}"
    assert app.config["STORE"].current(ODD_NAME, QID).comment == XSS_COMMENT
