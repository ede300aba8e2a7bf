"""queue indexes carry the id too, so each queue's order is read straight from an index

The queues sort by (date, id). With the id in the index PostgreSQL reads a page, however deep,
with an index-only scan instead of sorting every tie (bench/bench_console.py: page 1,000 of all
cases went from ~50 ms to ~3 ms of database time).

Revision ID: 0003_console_b
Revises: 0003_console
"""
from alembic import op
import sqlalchemy as sa


revision = "0003_console_b"
down_revision = "0003_console"
branch_labels = None
depends_on = None

REPLACED = (
    "ix_case_queue_review",
    "ix_case_queue_urgent",
    "ix_case_queue_category",
    "ix_case_queue_acknowledge",
    "ix_case_queue_due",
    "ix_case_received_at",
)


def _review_and_urgent(batch_op, columns: list[str]) -> None:
    batch_op.create_index(
        "ix_case_queue_review",
        columns,
        unique=False,
        sqlite_where=sa.text("needs_review = 1"),
        postgresql_where=sa.text("needs_review"),
    )
    batch_op.create_index(
        "ix_case_queue_urgent",
        columns,
        unique=False,
        sqlite_where=sa.text("urgent = 1"),
        postgresql_where=sa.text("urgent"),
    )


def upgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        for name in REPLACED:
            batch_op.drop_index(name)
        _review_and_urgent(batch_op, ["received_at", "id", "status"])
        batch_op.create_index("ix_case_queue_category", ["category", "received_at", "id", "status", "channel"], unique=False)
        batch_op.create_index("ix_case_queue_acknowledge", ["status", "acknowledge_by", "id"], unique=False)
        batch_op.create_index("ix_case_queue_due", ["status", "response_due", "id"], unique=False)
        batch_op.create_index("ix_case_received_at", ["received_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        for name in REPLACED:
            batch_op.drop_index(name)
        _review_and_urgent(batch_op, ["received_at", "status"])
        batch_op.create_index("ix_case_queue_category", ["category", "received_at", "status", "channel"], unique=False)
        batch_op.create_index("ix_case_queue_acknowledge", ["status", "acknowledge_by"], unique=False)
        batch_op.create_index("ix_case_queue_due", ["status", "response_due"], unique=False)
        batch_op.create_index("ix_case_received_at", ["received_at"], unique=False)
