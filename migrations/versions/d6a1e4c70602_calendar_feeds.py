"""calendar feeds: one private iCalendar URL per staff member

Revision ID: d6a1e4c70602
Revises: d6a1e4c70601
Create Date: 2026-11-22 16:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

import crm.types  # noqa: F401  (custom column types used by autogenerate)


# revision identifiers, used by Alembic.
revision = 'd6a1e4c70602'
down_revision = 'd6a1e4c70601'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('calendar_feeds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', crm.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', crm.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_calendar_feeds_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_feeds')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_calendar_feeds_token_hash')),
    sa.UniqueConstraint('user_id', name=op.f('uq_calendar_feeds_user_id'))
    )


def downgrade():
    op.drop_table('calendar_feeds')
