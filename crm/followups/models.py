"""Templates, rules, the outbox and survey answers.

An outbox row is written in the same transaction as the change that causes it and
already holds the rendered message, so what goes out is what that transaction
decided; the dispatcher only claims, sends and marks.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.customers.models import Customer
from crm.extensions import db
from crm.moments.models import Moment, MomentType
from crm.types import UTCDateTime, utc_now

TEMPLATE_KINDS = ("transactional", "marketing")
SURVEY_KINDS = ("nps", "csat", "ces")
LANGUAGES = ("es", "en")
TRIGGERS = ("after_moment", "before_renewal", "inactivity", "compensation_issued")
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed", "cancelled")


class MessageTemplate(db.Model):
    __tablename__ = "message_templates"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20), default="transactional")
    # A survey template carries a single-use link to an NPS or CSAT question.
    survey: Mapped[str | None] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    texts: Mapped[list[TemplateText]] = relationship(
        back_populates="template", cascade="all, delete-orphan", order_by="TemplateText.language")

    def text_for(self, language: str) -> TemplateText | None:
        for text_ in self.texts:
            if text_.language == language:
                return text_
        return None


class TemplateText(db.Model):
    """A template's words in one language: a subject and a plain-text body with {{ variables }}."""

    __tablename__ = "template_texts"
    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("message_templates.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(5))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)

    template: Mapped[MessageTemplate] = relationship(back_populates="texts")

    __table_args__ = (UniqueConstraint("template_id", "language", name="uq_template_text_language"),)


class FollowUpRule(db.Model):
    """When to send a template: after a contact, before a renewal, after a quiet spell, on a compensation."""

    __tablename__ = "followup_rules"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    trigger: Mapped[str] = mapped_column(String(30))
    template_id: Mapped[int] = mapped_column(ForeignKey("message_templates.id", ondelete="RESTRICT"))
    moment_type_id: Mapped[int | None] = mapped_column(ForeignKey("moment_types.id", ondelete="CASCADE"))
    outcome: Mapped[str | None] = mapped_column(String(20))
    days: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Why the rule's last message could not be written, shown to admins until the rule is saved again.
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    template: Mapped[MessageTemplate] = relationship()
    moment_type: Mapped[MomentType | None] = relationship()

    __table_args__ = (
        CheckConstraint("days >= 0 AND days <= 3650", name="days_range"),
        Index("ix_followup_rules_trigger", "trigger", "active"),
    )


class OutboxMessage(db.Model):
    """One email: who gets it, when, and where its delivery stands."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    # What caused it, spelled so a second planner or a retried request writes nothing new.
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    # Staff alerts go to a user rather than a customer.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    template_id: Mapped[int | None] = mapped_column(ForeignKey("message_templates.id", ondelete="SET NULL"))
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("followup_rules.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    moment_id: Mapped[int | None] = mapped_column(ForeignKey("moments.id", ondelete="SET NULL"))
    compensation_id: Mapped[int | None] = mapped_column(ForeignKey("compensations.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))
    survey: Mapped[str | None] = mapped_column(String(10))
    to_address: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(5))
    subject: Mapped[str] = mapped_column(String(300))
    # The rendered RFC 5322 message without its Date header, which is added when it leaves.
    message: Mapped[bytes] = mapped_column(LargeBinary)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    customer: Mapped[Customer | None] = relationship()
    template: Mapped[MessageTemplate | None] = relationship()
    rule: Mapped[FollowUpRule | None] = relationship()

    __table_args__ = (
        # The dispatcher's only question: what is due? Sent and cancelled rows stay out of it.
        Index("ix_outbox_due", "due_at",
              postgresql_where=text("status IN ('pending', 'sending')"),
              sqlite_where=text("status IN ('pending', 'sending')")),
        Index("ix_outbox_customer_due", "customer_id", "due_at"),
        Index("ix_outbox_status_due", "status", "due_at"),
        Index("ix_outbox_rule_customer", "rule_id", "customer_id", "created_at"),
    )


class SurveyResponse(db.Model):
    """A customer's answer to the survey of one message: the message can be answered once."""

    __tablename__ = "survey_responses"
    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    moment_id: Mapped[int | None] = mapped_column(ForeignKey("moments.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(10))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)

    customer: Mapped[Customer] = relationship()
    moment: Mapped[Moment | None] = relationship()

    __table_args__ = (
        CheckConstraint("(kind = 'nps' AND score BETWEEN 0 AND 10) OR (kind = 'csat' AND score BETWEEN 1 AND 5) "
                        "OR (kind = 'ces' AND score BETWEEN 1 AND 7)", name="score_range"),
        Index("ix_survey_responses_customer_at", "customer_id", "answered_at"),
        Index("ix_survey_responses_answered", "answered_at"),
    )
