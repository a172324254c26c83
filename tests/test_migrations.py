"""`flask db upgrade` on an empty database yields exactly the models' schema."""
import os
import uuid

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from crm import create_app
from crm.customers import search_index
from crm.extensions import db


def include_name(name, type_, parent_names):
    return type_ != "table" or not search_index.is_fts_table(name)


def test_upgrade_from_empty_matches_the_models(tmp_path):
    server = os.environ.get("CRM_TEST_POSTGRES")
    if server:
        name = f"fideliza_mig_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = f"{server}/{name}"
    else:
        url = "sqlite:///" + str(tmp_path / "migrated.db")
    app = create_app({"CRM_ENV": "test", "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url})
    try:
        with app.app_context():
            from flask_migrate import downgrade, upgrade

            upgrade()
            with db.engine.connect() as conn:
                context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                                 "include_name": include_name})
                diff = compare_metadata(context, db.metadata)
                # What the comparison cannot see: a table option, SQLite's FTS5 index and its trigger.
                ddl = {} if server else dict(conn.execute(sa.text(
                    "SELECT name, sql FROM sqlite_master WHERE name IN "
                    "('customer_search_terms', 'customer_search', 'customers_search_delete')")).all())
                # ... and PostgreSQL's trigger that stands in for the search terms' foreign key.
                triggers = conn.execute(sa.text(
                    "SELECT tgname FROM pg_trigger WHERE tgrelid = 'customers'::regclass AND NOT tgisinternal"
                )).scalars().all() if server else []
            assert diff == [], diff
            if server:
                assert triggers == ["customers_search_delete"]
            else:
                assert ddl["customer_search_terms"].rstrip().endswith("WITHOUT ROWID")
                assert ddl["customer_search"] == search_index.CREATE_FTS
                assert ddl["customers_search_delete"] == search_index.CREATE_TRIGGER
            downgrade(revision="base")  # and the way back works too
            assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}
            db.engine.dispose()
    finally:
        if server:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
