"""scheduler heartbeat for readiness

Revision ID: f7a1b2c3d703
Revises: f7a1b2c3d702
Create Date: 2026-11-22 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import crm.types  # noqa: F401  (custom column types used by autogenerate)


# revision identifiers, used by Alembic.
revision = 'f7a1b2c3d703'
down_revision = 'f7a1b2c3d702'
branch_labels = None
depends_on = None


def upgrade():
    # One row per scheduler name, overwritten by every beat (see crm/health/models.py).
    op.create_table('scheduler_heartbeats',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('beat_at', crm.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduler_heartbeats'))
    )


def downgrade():
    op.drop_table('scheduler_heartbeats')
