"""MMS media downloaded from Twilio: attempts, next try and when the bytes were stored

Twilio's media URLs need the account's credentials and Twilio may delete the media, so the
worker downloads each one (integrations.twilio_media.fetch_media). Each attempt is counted before
it starts, so a crash mid-download still counts and a bad URL is given up after a few tries.

Revision ID: 0005_attachment_fetch
Revises: 0004_escalation_by
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0005_attachment_fetch"
down_revision = "0004_escalation_by"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fetch_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("next_fetch_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("fetched_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("fetch_error", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.drop_column("fetch_error")
        batch_op.drop_column("fetched_at")
        batch_op.drop_column("next_fetch_at")
        batch_op.drop_column("fetch_attempts")
