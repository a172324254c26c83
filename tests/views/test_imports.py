"""The imports page: upload, check (dry run), map columns, import, download the rejected rows."""
from __future__ import annotations

import io
import re

from sqlalchemy import func, select

from crm.customers.models import Customer
from crm.extensions import db
from crm.imports.models import ImportRun

GOOD = ("nombre;correo;teléfono;segmento\r\n"
        "Begoña Núñez;begona@example.es;612 000 111;Particular\r\n"
        "\r\n"
        "=cmd|' /C calc'!A0;formula@example.es;;\r\n"
        "Sin Correo;no-es-un-correo;;\r\n").encode("cp1252")


def customers(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Customer))


def upload(browser, data: bytes, kind="customers", name="clientes.csv"):
    return browser.post("/imports/", data={"kind": kind, "file": (io.BytesIO(data), name)},
                        csrf_from_url="/imports/", content_type="multipart/form-data")


def run_id(response) -> int:
    return int(re.search(r"/imports/(\d+)$", response.headers["Location"]).group(1))


def test_upload_check_and_import(app, login, supervisor):
    browser = login(supervisor)
    page = browser.get("/imports/")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.get_data(as_text=True)
    response = upload(browser, GOOD)
    assert response.status_code == 302
    assert customers(app) == 0  # checking writes nothing
    run = run_id(response)
    html = browser.get(f"/imports/{run}").get_data(as_text=True)
    assert "read as Windows-1252 / Latin-1" in html
    assert 'id="count-created">2<' in html and 'id="count-rejected">1<' in html
    assert "Begoña Núñez" in html  # the first rows as read
    assert "=cmd|&#39; /C calc&#39;!A0" in html  # shown as text, escaped
    assert "Email: is not a valid email address" in html
    # The mapping was guessed from the Spanish headers.
    assert re.search(r'name="column-1">.*?<option value="email" selected>', html, re.S)
    errors = browser.get(f"/imports/{run}/errors.csv")
    assert errors.status_code == 200 and errors.mimetype == "text/csv"
    body = errors.get_data().decode("utf-8-sig")
    assert body.splitlines()[0] == "nombre;correo;teléfono;segmento;line;error"
    assert body.splitlines()[1].startswith("Sin Correo;no-es-un-correo;;;5;")

    response = browser.post(f"/imports/{run}/run", data={"run-csrf_token": browser.csrf(f"/imports/{run}")})
    assert response.status_code == 302
    assert customers(app) == 2
    html = browser.get(f"/imports/{run}").get_data(as_text=True)
    assert "Imported:" in html and 'id="count-created">2<' in html
    assert 'id="import-form"' not in html  # imported once; the button is gone
    again = browser.post(f"/imports/{run}/run", data={"run-csrf_token": browser.csrf(f"/imports/{run}")})
    assert again.status_code == 302 and customers(app) == 2
    with app.app_context():
        assert db.session.scalar(select(Customer.name).where(Customer.email == "formula@example.es")) == \
            "=cmd|' /C calc'!A0"


def test_columns_can_be_mapped_by_hand(app, login, admin):
    browser = login(admin)
    data = "Cliente,Dirección de correo,Otra\r\nAna Ruiz,ana@example.es,x\r\n".encode()
    run = run_id(upload(browser, data))
    html = browser.get(f"/imports/{run}").get_data(as_text=True)
    assert 'id="count-rejected">0<' in html and 'id="count-created">1<' in html
    token = browser.csrf(f"/imports/{run}")
    twice = browser.post(f"/imports/{run}/check", data={"map-csrf_token": token, "column-0": "name",
                                                         "column-1": "name", "column-2": ""})
    assert twice.status_code == 400 and "chosen twice" in twice.get_data(as_text=True)
    response = browser.post(f"/imports/{run}/check", data={"map-csrf_token": token, "column-0": "name",
                                                           "column-1": "email", "column-2": "bogus"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(ImportRun, run).mapping == ["name", "email", None]
    browser.post(f"/imports/{run}/run", data={"run-csrf_token": browser.csrf(f"/imports/{run}")})
    with app.app_context():
        assert db.session.scalar(select(Customer.email)) == "ana@example.es"


def test_bad_files_get_a_clear_message_and_no_run(app, login, supervisor):
    browser = login(supervisor)
    for data, message in ((b"", "The file is empty"), (b"\xef\xbb\xbf\r\n", "The file is empty"),
                          (b"PK\x03\x04\x00\x00\x00", "not a CSV file"),
                          (b"telefono;segmento\r\n600000000;x\r\n", "needs a column for: Name")):
        response = upload(browser, data)
        assert response.status_code == 400, message
        assert message in response.get_data(as_text=True)
    response = upload(browser, GOOD, kind="nonsense")
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ImportRun)) == 0


def test_a_file_over_the_limit_is_refused_kindly(app, login, supervisor):
    browser = login(supervisor)
    app.config["CRM_IMPORT_MAX_BYTES"] = 2048
    try:
        response = upload(browser, GOOD + b"Otro;otro@example.es;;\r\n" * 200)
        assert response.status_code == 302
        page = browser.get(response.headers["Location"]).get_data(as_text=True)
        assert "larger than" in page
    finally:
        del app.config["CRM_IMPORT_MAX_BYTES"]
    # The page's limit is the imports' own, above the app's usual 1 MB.
    big = GOOD + "".join(f"Cliente {i};c{i}@example.es;;\r\n" for i in range(40000)).encode()
    assert len(big) > app.config["MAX_CONTENT_LENGTH"]
    assert upload(browser, big).status_code == 302


def test_csrf_is_required(app, login, supervisor):
    browser = login(supervisor)
    response = browser.client.post("/imports/", data={"kind": "customers", "file": (io.BytesIO(GOOD), "a.csv")},
                                   content_type="multipart/form-data")
    assert response.status_code == 400
    run = run_id(upload(browser, GOOD))
    assert browser.client.post(f"/imports/{run}/run").status_code == 400
    assert customers(app) == 0


def test_agents_cannot_import_and_runs_are_personal(app, login, agent, supervisor, make_user):
    assert login(agent).get("/imports/").status_code == 403
    assert upload(login(agent), GOOD).status_code == 403
    run = run_id(upload(login(supervisor), GOOD))
    other = login(make_user("supervisor"))
    assert other.get(f"/imports/{run}").status_code == 404
    assert other.get(f"/imports/{run}/errors.csv").status_code == 404
    assert login(agent).get(f"/imports/{run}").status_code == 403
    assert customers(app) == 0


def test_only_those_who_may_import_get_the_larger_upload_limit(app, login, agent):
    """An agent's (or a stranger's) upload is cut at the app's usual limit before it is read."""
    big = GOOD + "".join(f"Cliente {i};c{i}@example.es;;\r\n" for i in range(40000)).encode()
    assert len(big) > app.config["MAX_CONTENT_LENGTH"]
    for client in (login(agent).client, app.test_client()):
        response = client.post("/imports/", data={"kind": "customers", "file": (io.BytesIO(big), "c.csv")},
                               content_type="multipart/form-data")
        # Refused unread, back to the imports page (read in full, an agent got 403, a stranger the login page).
        assert response.status_code == 302 and response.headers["Location"].endswith("/imports/")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ImportRun)) == 0


def _many(rows: int, broken_every: int = 0) -> bytes:
    lines = ["nombre;correo"] + [f"Cliente {i};c{i}@{'' if broken_every and i % broken_every == 0 else 'example.es'}"
                                 for i in range(rows)]
    return ("\r\n".join(lines) + "\r\n").encode()


def test_a_large_file_is_queued_for_the_scheduler_and_its_page_follows_it(app, login, supervisor):
    from crm.imports import jobs
    from tests.conftest import NOW

    browser = login(supervisor)
    app.config["CRM_IMPORT_INLINE_ROWS"] = 20
    try:
        run = run_id(upload(browser, _many(60, broken_every=25)))
        response = browser.post(f"/imports/{run}/run", data={"run-csrf_token": browser.csrf(f"/imports/{run}")})
    finally:
        del app.config["CRM_IMPORT_INLINE_ROWS"]
    assert response.status_code == 302 and customers(app) == 0  # not in the request
    html = browser.get(f"/imports/{run}").get_data(as_text=True)
    assert '<meta http-equiv="refresh" content="3">' in html and 'data-status="queued"' in html
    assert "in the background" in html and 'id="import-form"' not in html and 'id="mapping-form"' not in html
    # Pressing again (another tab) does not queue it twice.
    again = browser.post(f"/imports/{run}/run", data={"run-csrf_token": browser.csrf(f"/imports/{run}")})
    assert again.status_code == 302
    assert "being imported" in browser.get(f"/imports/{run}").get_data(as_text=True)
    with app.app_context():
        assert jobs.run_queued(NOW).startswith(f"run {run} (customers): 60 filas: 57 creadas")  # the CLI's es
        assert jobs.run_queued(NOW) is None
    assert customers(app) == 57
    html = browser.get(f"/imports/{run}").get_data(as_text=True)
    assert 'http-equiv="refresh"' not in html and 'data-status="imported"' in html
    assert 'id="count-created">57<' in html and 'id="count-rejected">3<' in html
    body = browser.get(f"/imports/{run}/errors.csv").get_data().decode("utf-8-sig").splitlines()
    assert [line.split(";")[2] for line in body[1:]] == ["2", "27", "52"]


def test_small_files_still_import_in_the_request(app, login, supervisor):
    browser = login(supervisor)
    run = run_id(upload(browser, _many(30)))
    browser.post(f"/imports/{run}/run", data={"run-csrf_token": browser.csrf(f"/imports/{run}")})
    assert customers(app) == 30
    with app.app_context():
        assert db.session.get(ImportRun, run).status == "imported"


def test_the_error_file_of_a_check_has_every_rejected_row(app, login, supervisor, monkeypatch):
    """The page shows the first rejected rows; its error file has all of them."""
    from crm.imports import runs

    monkeypatch.setattr(runs, "SHOWN_ERRORS", 50)
    browser = login(supervisor)
    run = run_id(upload(browser, _many(4000, broken_every=2)))
    html = browser.get(f"/imports/{run}").get_data(as_text=True)
    assert 'id="count-rejected">2,000<' in html or 'id="count-rejected">2.000<' in html
    assert html.count("</td><td>Email: is not a valid email address</td></tr>") == 50  # the first ones
    body = browser.get(f"/imports/{run}/errors.csv").get_data().decode("utf-8-sig").splitlines()
    assert len(body) == 1 + 2000
    assert body[-1] == "Cliente 3998;c3998@;4000;Email: is not a valid email address"
