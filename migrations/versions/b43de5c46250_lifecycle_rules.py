"""lifecycle rules: the automation that moves customers along the loyalty ladder

Revision ID: b43de5c46250
Revises: 5defb3392778
Create Date: 2026-11-22 14:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

import crm.types  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = 'b43de5c46250'
down_revision = '5defb3392778'
branch_labels = None
depends_on = None


def upgrade():
    # The rows are created with their defaults the first time the rules are read.
    op.create_table('lifecycle_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('updated_at', crm.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_lifecycle_rules_updated_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lifecycle_rules')),
    sa.UniqueConstraint('code', name=op.f('uq_lifecycle_rules_code'))
    )


def downgrade():
    op.drop_table('lifecycle_rules')
