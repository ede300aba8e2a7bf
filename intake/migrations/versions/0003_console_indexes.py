"""indexes behind the staff console's queues

Each queue's count and first page come from an index (bench/bench_console.py, 50,000 cases):
partial indexes for the small review and urgent queues, and composite ones for the category,
status-and-deadline and all-cases orderings.

Revision ID: 0003_console
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = "0003_console"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.create_index(
            "ix_case_queue_review",
            ["received_at", "status"],
            unique=False,
            sqlite_where=sa.text("needs_review = 1"),
            postgresql_where=sa.text("needs_review"),
        )
        batch_op.create_index(
            "ix_case_queue_urgent",
            ["received_at", "status"],
            unique=False,
            sqlite_where=sa.text("urgent = 1"),
            postgresql_where=sa.text("urgent"),
        )
        batch_op.create_index("ix_case_queue_category", ["category", "received_at", "status", "channel"], unique=False)
        batch_op.create_index("ix_case_queue_acknowledge", ["status", "acknowledge_by"], unique=False)
        batch_op.create_index("ix_case_queue_due", ["status", "response_due"], unique=False)
        batch_op.create_index("ix_case_received_at", ["received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        for name in (
            "ix_case_received_at",
            "ix_case_queue_due",
            "ix_case_queue_acknowledge",
            "ix_case_queue_category",
            "ix_case_queue_urgent",
            "ix_case_queue_review",
        ):
            batch_op.drop_index(name)
