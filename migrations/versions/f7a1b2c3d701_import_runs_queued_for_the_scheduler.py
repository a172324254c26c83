"""import runs queued for the scheduler

Revision ID: f7a1b2c3d701
Revises: d6a1e4c70602
Create Date: 2026-11-22 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import crm.types  # noqa: F401  (custom column types used by autogenerate)


# revision identifiers, used by Alembic.
revision = 'f7a1b2c3d701'
down_revision = 'd6a1e4c70602'
branch_labels = None
depends_on = None

NEW_COLUMNS = (
    ('header', sa.JSON()),
    ('size', sa.Integer()),
    ('started_at', crm.types.UTCDateTime(timezone=True)),
    ('heartbeat_at', crm.types.UTCDateTime(timezone=True)),
    ('claim', sa.String(length=32)),
    ('attempts', sa.Integer()),
    ('position', sa.Integer()),
    ('has_errors', sa.Boolean()),
)


def upgrade():
    # Nullable columns only: added in place on both engines, no table rebuild.
    for name, type_ in NEW_COLUMNS:
        op.add_column('import_runs', sa.Column(name, type_, nullable=True))
    op.create_index('ix_import_runs_status', 'import_runs', ['status', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_import_runs_status', table_name='import_runs')
    with op.batch_alter_table('import_runs', schema=None) as batch_op:
        for name, _ in reversed(NEW_COLUMNS):
            batch_op.drop_column(name)
