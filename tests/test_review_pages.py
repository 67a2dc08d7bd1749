"""The review app's pages through Flask's test client (no sockets, no browser): what every page must
escape, which paths and requests it refuses, and the grading round trip a form makes."""
import html
import re

import pytest

from autograde.course import review_data, similarity
from autograde.course.review import reference_command
from autograde.course.review_app import create_app, is_loopback
from autograde.course.review_data import histogram_svg
from autograde.rubric import load_rubric
from tests.support.review_batch import ODD_NAME, make_graded_batch

QID = "3.1.2"


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    return make_graded_batch(tmp_path_factory.mktemp("graded"), 6, seed=3)


@pytest.fixture
def app(batch):
    created = create_app(batch, grader="ann", editors=["ed"])
    yield created
    created.config["STORE"].close()
    (batch / "review.sqlite").unlink(missing_ok=True)
    for extra in ("review.sqlite-wal", "review.sqlite-shm"):
        (batch / extra).unlink(missing_ok=True)


def _form(page):
    """The grading form's fields as the browser would post them (checked boxes only)."""
    based_on = re.search(r'name="based_on" value="(\d+)"', page).group(1)
    suggested = re.search(r'name="suggested" value="([^"]*)"', page).group(1)
    checked = re.findall(r'name="item" value="([a-z0-9-]+)"[^>]*checked', page)
    return {"based_on": based_on, "suggested": suggested, "item": checked, "adjustment": "0", "comment": ""}


def test_a_comment_and_a_folder_name_with_html_show_as_text(app):
    client = app.test_client()
    page = client.get(f"/q/{QID}/s/{ODD_NAME}?names=1").get_data(as_text=True)
    fields = _form(page)
    fields["comment"] = "<script>alert('xss')</script> & more"
    assert client.post(f"/q/{QID}/s/{ODD_NAME}", data=fields).status_code == 303
    page = client.get(f"/q/{QID}/s/{ODD_NAME}?names=1").get_data(as_text=True)
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt; &amp; more" in page
    assert "<b>sons" not in page and "&lt;b&gt;sons" in page   # the folder's name, shown with ?names=1
    overview = client.get("/").get_data(as_text=True)
    assert "<b>sons" not in overview and "<script>alert" not in overview and "<img src=x" not in overview


def test_names_stay_hidden_unless_asked_for(app):
    client = app.test_client()
    page = client.get(f"/q/{QID}/s/{ODD_NAME}").get_data(as_text=True)
    pseudonym = app.config["STORE"].pseudonym(ODD_NAME)
    # The folder name is in the URLs only (percent-encoded), never as text.
    assert pseudonym in page and "&lt;b&gt;sons" not in page
    assert re.search(r'id="who">([^<]*)<', page).group(1) == pseudonym
    named = client.get(f"/q/{QID}/s/{ODD_NAME}?names=1").get_data(as_text=True)
    assert "&lt;b&gt;sons" in re.search(r'id="who">([^<]*)<', named).group(1)


@pytest.mark.parametrize("url", ["/figure/..%2F..%2Fetc/passwd", "/figure/../results.json", "/reference-figure/..%2Foutcomes.json",
                                 f"/figure/{ODD_NAME}/..%2Foutcomes.json", f"/figure/{ODD_NAME}/0123456789abcdef0123.png",
                                 "/writeup/..", "/writeup/.reference", f"/q/{QID}/s/..", f"/q/{QID}/s/.reference",
                                 "/q/..%2F..%2Fetc/items", "/api/grade/3.1.2/..%2Fx"])
def test_paths_outside_the_batch_are_refused(app, url):
    response = app.test_client().get(url)
    assert response.status_code == 404
    assert b"root:" not in response.data and b'"format"' not in response.data


def test_a_figure_the_record_names_is_served_as_png(app, batch):
    page = app.test_client().get(f"/q/{QID}/s/{ODD_NAME}").get_data(as_text=True)
    figure = re.search(r'src="(/figure/[^"]+\.png)"', page)
    assert figure, "the grading page shows the student's figures"
    response = app.test_client().get(html.unescape(figure.group(1)))
    assert response.status_code == 200 and response.mimetype == "image/png" and response.data.startswith(b"\x89PNG")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_token_is_needed_off_loopback(batch):
    app = create_app(batch, grader="ann", token="s3cret-token")
    try:
        client = app.test_client()
        assert client.get("/").status_code == 403
        assert client.get("/?token=wrong").status_code == 403
        assert client.get("/", headers={"X-Review-Token": "s3cret-token"}).status_code == 200
        first = client.get("/?token=s3cret-token")
        assert first.status_code == 200 and "review_token=" in first.headers.get("Set-Cookie", "")
        assert client.get(f"/q/{QID}").status_code == 200   # the cookie carries it from then on
        assert app.test_client().post("/api/grade", json={}).status_code == 403
    finally:
        app.config["STORE"].close()
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")


def test_only_an_editor_changes_the_items_points(batch):
    app = create_app(batch, editors=["ed"])
    try:
        client = app.test_client()
        client.get("/login?name=ann")
        assert client.get(f"/q/{QID}/items").status_code == 403
        item = load_rubric()[QID].items[0]
        assert client.post(f"/q/{QID}/items", data={f"points-{item.id}": "-0.75"}).status_code == 403
        assert app.config["STORE"].points(QID)[item.id] == item.points
        client.get("/login?name=ed")
        assert client.get(f"/q/{QID}/items").status_code == 200
        assert client.post(f"/q/{QID}/items", data={f"points-{item.id}": "-0.75"}).status_code == 200
        assert app.config["STORE"].points(QID)[item.id] == -0.75
    finally:
        app.config["STORE"].close()
        for name in ("review.sqlite", "review.sqlite-wal", "review.sqlite-shm"):
            (batch / name).unlink(missing_ok=True)


def test_a_stale_save_shows_both_grades_and_keeping_mine_applies_it(app):
    client = app.test_client()
    page = client.get(f"/q/{QID}/s/{ODD_NAME}").get_data(as_text=True)
    mine = _form(page)
    other = app.config["STORE"].save(ODD_NAME, QID, [], 1.0, "the other grader's", "bob", 0)
    assert other.applied
    mine["comment"] = "mine"
    conflict = client.post(f"/q/{QID}/s/{ODD_NAME}", data=mine)
    text = conflict.get_data(as_text=True)
    assert conflict.status_code == 200 and 'id="conflict"' in text and "the other grader&#39;s" in text
    assert 'id="keep-mine"' in text and 'id="keep-current"' in text
    assert app.config["STORE"].current(ODD_NAME, QID).comment == "the other grader's"
    assert client.post(f"/q/{QID}/s/{ODD_NAME}", data={**mine, "based_on": str(other.grade.version)}).status_code == 303
    assert app.config["STORE"].current(ODD_NAME, QID).comment == "mine"


def test_suggested_items_are_prechecked_and_recorded_with_the_save(app, batch):
    client = app.test_client()
    question = load_rubric()[QID]
    pages = {name.name: client.get(f"/q/{QID}/s/{name.name}").get_data(as_text=True)
             for name in batch.iterdir() if (name / "results.json").is_file()}
    suggested = {name: _form(page)["suggested"] for name, page in pages.items()}
    name = next((n for n, s in suggested.items() if s), None)
    assert name, "some submission of the batch fails an evidence check that suggests an item"
    page = pages[name]
    assert 'class="item suggested"' in page
    fields = _form(page)
    assert set(fields["item"]) == set(fields["suggested"].split(","))
    assert client.post(f"/q/{QID}/s/{name}", data=fields).status_code == 303
    grade = app.config["STORE"].current(name, QID)
    assert set(grade.suggested) == set(fields["suggested"].split(",")) and set(grade.items) == set(fields["item"])
    saved = client.get(f"/q/{QID}/s/{name}").get_data(as_text=True)
    assert 'class="item suggested"' not in saved and 'id="saved"' in saved and "ann" in saved
    assert all(i.id in saved for i in question.items)


def test_the_summary_counts_what_is_left_and_next_skips_the_graded(app, batch):
    client = app.test_client()
    total = sum(1 for p in batch.iterdir() if (p / "results.json").is_file())
    assert f"Q{QID}: {total} of {total} left" in client.get(f"/q/{QID}").get_data(as_text=True)
    first = client.get(f"/q/{QID}/next").headers["Location"]
    name = first.rsplit("/", 1)[1]
    fields = _form(client.get(first).get_data(as_text=True))
    assert client.post(first, data=fields).status_code == 303
    assert f"Q{QID}: {total - 1} of {total} left" in client.get(f"/q/{QID}").get_data(as_text=True)
    assert client.get(f"/q/{QID}/next").headers["Location"] != first
    assert name


def test_the_json_api_saves_and_refuses_bad_input(app):
    client = app.test_client()
    body = {"submission": ODD_NAME, "question": QID, "items": [], "adjustment": -0.5, "comment": "", "based_on": 0}
    saved = client.post("/api/grade", json=body)
    assert saved.status_code == 200 and saved.json["applied"] and saved.json["version"] == saved.json["current_version"]
    again = client.post("/api/grade", json=body)   # still based on 0: stale
    assert again.status_code == 200 and not again.json["applied"]
    got = client.get(f"/api/grade/{QID}/{ODD_NAME}").json
    assert got["version"] == saved.json["version"] and got["score"] == load_rubric()[QID].points - 0.5
    for bad in ({**body, "items": ["no-such-item"]}, {**body, "adjustment": "NaN"}, {**body, "question": "2.1.2"},
                {**body, "submission": "../x"}, {**body, "based_on": "1"}):
        response = client.post("/api/grade", json=bad)
        assert response.status_code == 400 and response.json["error"]


def test_keeping_the_current_grade_is_a_save_that_ends_the_conflict(app):
    client = app.test_client()
    mine = _form(client.get(f"/q/{QID}/s/{ODD_NAME}").get_data(as_text=True))
    other = app.config["STORE"].save(ODD_NAME, QID, [], 0.5, "theirs", "bob", 0)
    text = client.post(f"/q/{QID}/s/{ODD_NAME}", data={**mine, "comment": "mine"}).get_data(as_text=True)
    keep = re.search(r'<form method="post" action="([^"]+)" class="inline">((?:(?!</form>).)*id="keep-current")', text, re.S)
    fields = {"item": re.findall(r'name="item" value="([^"]+)"', keep.group(2)),
              "adjustment": re.search(r'name="adjustment" value="([^"]*)"', keep.group(2)).group(1),
              "comment": html.unescape(re.search(r"<textarea name=\"comment\" hidden>(.*?)</textarea>", keep.group(2), re.S).group(1)),
              "based_on": re.search(r'name="based_on" value="(\d+)"', keep.group(2)).group(1), "suggested": ""}
    assert client.post(html.unescape(keep.group(1)), data=fields).status_code == 303
    store = app.config["STORE"]
    assert store.conflicts(ODD_NAME, QID) == [] and store.current(ODD_NAME, QID).comment == "theirs"
    assert store.current(ODD_NAME, QID).version > other.grade.version   # the choice is in the log


@pytest.mark.parametrize("host", ["evil.example:8765", "evil.example", "10.0.0.5:8765"])
def test_a_loopback_server_answers_only_to_loopback_names(app, host):
    """DNS rebinding: a page of evil.example whose name now points at 127.0.0.1 reaches the server with
    its own name in Host (and in Origin, so the same-site check alone would pass it)."""
    client = app.test_client()
    assert client.get("/?names=1", headers={"Host": host}).status_code == 403
    posted = client.post("/api/grade", headers={"Host": host, "Origin": f"http://{host}"},
                         json={"submission": ODD_NAME, "question": QID, "items": [], "adjustment": 0, "comment": "",
                               "based_on": 0, "grader": "mallory"})
    assert posted.status_code == 403 and app.config["STORE"].current(ODD_NAME, QID) is None
    for name in ("127.0.0.1:8765", "localhost:8765", "[::1]:8765"):
        assert client.get("/", headers={"Host": name}).status_code == 200


@pytest.mark.parametrize("target", ["//evil.example/", "/\\evil.example", "/\t/evil.example",
                                    "https://evil.example/", " //evil.example", "/\n/evil.example"])
def test_login_goes_back_only_to_a_page_of_this_app(app, target):
    response = app.test_client().get("/login", query_string={"name": "ann", "next": target})
    location = response.headers["Location"]
    assert response.status_code == 302 and location == "/", location


def test_a_form_posted_from_another_site_is_refused(app):
    response = app.test_client().post(f"/q/{QID}/s/{ODD_NAME}", data={"based_on": "0"},
                                      headers={"Origin": "http://evil.example"})
    assert response.status_code == 403 and app.config["STORE"].current(ODD_NAME, QID) is None


def test_the_writeup_is_served_inline_in_a_sandbox(app, batch):
    name = next(p.name for p in sorted(batch.iterdir()) if (p / "writeup.pdf").is_file())
    response = app.test_client().get(f"/writeup/{name}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Security-Policy"] == "sandbox"
    assert response.headers["Content-Disposition"].startswith("inline")


def test_the_histogram_is_drawn_as_svg():
    svg = str(histogram_svg([0, 0.5, 1, 1, 2, 2, 2], 0, 2, label="<Q>"))
    assert svg.startswith("<svg") and svg.count('class="bar"') == 10 and "&lt;Q&gt;" in svg and "n = 7" in svg


def test_the_similarity_threshold_is_the_similarity_commands():
    assert review_data.SIMILARITY_THRESHOLD == similarity.DEFAULT_THRESHOLD


def test_grade_reference_grades_the_evidence_questions_into_the_batch(tmp_path):
    command = reference_command(tmp_path, load_rubric())
    assert command[1:4] == ["-m", "autograde", "grade"] and str(tmp_path / ".reference" / "outcomes.json") in command
    assert "-q" in command and QID in command and "2.1.2" not in command


@pytest.mark.parametrize("page", ["0", "-3", "1e300", "abc", "inf"])
def test_a_write_up_page_that_is_not_a_page_number_is_refused(app, page):
    response = app.test_client().post(f"/q/{QID}/s/{ODD_NAME}/writeup-page", data={"writeup_page": page})
    assert response.status_code == 400 and app.config["STORE"].writeup_page(ODD_NAME, QID) is None
