"""CSV imports: uploads kept between their preview and their import

Revision ID: d6a1e4c70601
Revises: e1a2b3c4d601
Create Date: 2026-11-22 16:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import crm.types  # noqa: F401  (custom column types used by autogenerate)


# revision identifiers, used by Alembic.
revision = 'd6a1e4c70601'
down_revision = 'e1a2b3c4d601'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'import_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('created_at', crm.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.Column('encoding', sa.String(length=20), nullable=False),
        sa.Column('delimiter', sa.String(length=1), nullable=False),
        sa.Column('mapping', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('counts', sa.JSON(), nullable=False),
        sa.Column('errors_csv', sa.LargeBinary(), nullable=True),
        sa.Column('finished_at', crm.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('import_runs', schema=None) as batch_op:
        batch_op.create_index('ix_import_runs_created', ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_import_runs_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('import_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_runs_user_id'))
        batch_op.drop_index('ix_import_runs_created')

    op.drop_table('import_runs')
