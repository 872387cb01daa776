"""outgoing letters with seal approval (对外发文与用章申请) and open letters (公开信)

- letter_templates: letterhead and closing, kept by administrators;
- letters: a letter's PDF document, number, template, status (draft → pending →
  sealed, who and when);
- seal_requests / seal_decisions: the seal request and each step's decision;
- letter_requests: the requests an open letter answers.

Revision ID: 0012_service
Revises: 0011_scale
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_service"
down_revision = "0011_scale"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"],
                                   name=op.f(f"fk_{table}_{column}_{target}"))


def upgrade() -> None:
    op.create_table(
        "letter_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("letterhead", sa.Text(), nullable=False),
        sa.Column("closing", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        _fk("letter_templates", "company_id", "companies"),
        _fk("letter_templates", "created_by_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_letter_templates")),
    )
    op.create_index(op.f("ix_letter_templates_company_id"), "letter_templates", ["company_id"])
    op.create_table(
        "letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("drafter_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sealed_by_id", sa.Integer(), nullable=True),
        sa.Column("sealed_at", sa.DateTime(), nullable=True),
        _fk("letters", "document_id", "documents"),
        _fk("letters", "template_id", "letter_templates"),
        _fk("letters", "company_id", "companies"),
        _fk("letters", "department_id", "departments"),
        _fk("letters", "drafter_id", "users"),
        _fk("letters", "sealed_by_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_letters")),
        sa.UniqueConstraint("document_id", name=op.f("uq_letters_document_id")),
        sa.UniqueConstraint("company_id", "number", name="uq_letters_company_number"),
    )
    op.create_index(op.f("ix_letters_company_id"), "letters", ["company_id"])
    op.create_index(op.f("ix_letters_status"), "letters", ["status"])
    op.create_table(
        "seal_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("route", sa.String(length=120), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        _fk("seal_requests", "letter_id", "letters"),
        _fk("seal_requests", "requester_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seal_requests")),
    )
    op.create_index(op.f("ix_seal_requests_letter_id"), "seal_requests", ["letter_id"])
    op.create_index(op.f("ix_seal_requests_requester_id"), "seal_requests", ["requester_id"])
    op.create_index(op.f("ix_seal_requests_status"), "seal_requests", ["status"])
    op.create_table(
        "seal_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        _fk("seal_decisions", "request_id", "seal_requests"),
        _fk("seal_decisions", "decided_by_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seal_decisions")),
        sa.UniqueConstraint("request_id", "step", name="uq_seal_decisions_step"),
    )
    op.create_index(op.f("ix_seal_decisions_request_id"), "seal_decisions", ["request_id"])
    op.create_table(
        "letter_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("added_by_id", sa.Integer(), nullable=True),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        _fk("letter_requests", "letter_id", "letters"),
        _fk("letter_requests", "request_id", "service_requests"),
        _fk("letter_requests", "added_by_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_letter_requests")),
        sa.UniqueConstraint("letter_id", "request_id", name="uq_letter_requests_pair"),
    )
    op.create_index(op.f("ix_letter_requests_letter_id"), "letter_requests", ["letter_id"])
    op.create_index(op.f("ix_letter_requests_request_id"), "letter_requests", ["request_id"])


def downgrade() -> None:
    op.drop_table("letter_requests")
    op.drop_table("seal_decisions")
    op.drop_table("seal_requests")
    op.drop_table("letters")
    op.drop_table("letter_templates")
