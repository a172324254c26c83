"""`flask db upgrade` on an empty database yields exactly the models' schema."""
import os
import uuid

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from crm import create_app
from crm.extensions import db


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
                context = MigrationContext.configure(conn, opts={"compare_type": True})
                diff = compare_metadata(context, db.metadata)
                # A table option the comparison cannot see:
                ddl = None if server else conn.scalar(
                    sa.text("SELECT sql FROM sqlite_master WHERE name = 'customer_search_terms'"))
            assert diff == [], diff
            assert server or ddl.rstrip().endswith("WITHOUT ROWID")
            downgrade(revision="base")  # and the way back works too
            assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}
            db.engine.dispose()
    finally:
        if server:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
