"""the last day to ask for Stage 2, as the Stage 1 decision letter gave it

Stage 1 rows keep the date (Policy.escalation_by) so the case page can warn when a Stage 2
request comes after it. Rows answered before this migration keep NULL; the console then counts
the date from the policy and the Stage 1 response date.

Revision ID: 0004_escalation_by
Revises: 0003_console_b
"""
from alembic import op
import sqlalchemy as sa


revision = "0004_escalation_by"
down_revision = "0003_console_b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("casestage", schema=None) as batch_op:
        batch_op.add_column(sa.Column("escalation_by", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("casestage", schema=None) as batch_op:
        batch_op.drop_column("escalation_by")
