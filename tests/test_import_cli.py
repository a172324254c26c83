"""`flask --app wsgi crm import customers|purchases|moments FILE [--dry-run] [--as EMAIL]`."""
from __future__ import annotations

from sqlalchemy import func, select

from crm.customers.models import Customer, Purchase, StageChange
from crm.extensions import db

CUSTOMERS = ("nombre;correo;teléfono\r\n"
             "Begoña Núñez;begona@example.es;612 000 111\r\n"
             "Mal;mal;\r\n"
             "\r\n"
             "Íñigo;inigo@example.es;\r\n").encode("utf-8-sig")


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_import_customers_then_purchases(app, runner, admin, supervisor, tmp_path):
    path = tmp_path / "clientes.csv"
    path.write_bytes(CUSTOMERS)
    dry = runner.invoke(args=["crm", "import", "customers", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "dry run, nothing written: 3 filas: 2 creadas, 0 actualizadas, 0 sin cambios, 1 rechazadas." in dry.output
    assert count(app, Customer) == 0
    errors = tmp_path / "clientes.csv.errors.csv"
    assert errors.exists()

    result = runner.invoke(args=["crm", "import", "customers", str(path), "--as", "supervisor@example.es"])
    assert result.exit_code == 0, result.output
    assert "imported: 3 filas: 2 creadas, 0 actualizadas, 0 sin cambios, 1 rechazadas." in result.output
    assert "UTF-8 (BOM), delimiter ';'" in result.output
    assert f"rejected rows (line and reason): {errors}" in result.output
    lines = errors.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "nombre;correo;teléfono;line;error"
    assert lines[1].startswith("Mal;mal;;3;") and len(lines) == 2
    with app.app_context():
        assert set(db.session.scalars(select(StageChange.user_id))) == {supervisor.id}
    again = runner.invoke(args=["crm", "import", "customers", str(path)])
    assert "0 creadas, 0 actualizadas, 2 sin cambios, 1 rechazadas" in again.output
    assert count(app, Customer) == 2

    purchases = tmp_path / "compras.csv"
    purchases.write_text("correo,fecha,importe\nbegona@example.es,01/11/2026,\"1.234,50\"\n", encoding="utf-8")
    result = runner.invoke(args=["crm", "import", "purchases", str(purchases)])
    assert result.exit_code == 0, result.output
    assert "1 creadas" in result.output and not (tmp_path / "compras.csv.errors.csv").exists()
    with app.app_context():
        assert str(db.session.scalar(select(Purchase.amount))) == "1234.50"


def test_unreadable_files_and_unknown_users_exit_non_zero(app, runner, admin, tmp_path):
    binary = tmp_path / "libro.xlsx"
    binary.write_bytes(b"PK\x03\x04\x00\x00\x00\x00")
    result = runner.invoke(args=["crm", "import", "customers", str(binary)])
    assert result.exit_code != 0 and "no es un archivo CSV" in result.output
    assert not (tmp_path / "libro.xlsx.errors.csv").exists()
    path = tmp_path / "c.csv"
    path.write_bytes(CUSTOMERS)
    result = runner.invoke(args=["crm", "import", "customers", str(path), "--as", "ghost@example.es"])
    assert result.exit_code != 0 and "no user" in result.output
    result = runner.invoke(args=["crm", "import", "customers", str(tmp_path / "missing.csv")])
    assert result.exit_code != 0
    assert count(app, Customer) == 0


def test_without_an_admin_there_is_nobody_to_import_as(app, runner, supervisor, tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(CUSTOMERS)
    result = runner.invoke(args=["crm", "import", "customers", str(path)])
    assert result.exit_code != 0 and "--as EMAIL" in result.output
