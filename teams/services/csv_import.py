"""Importing employees from a CSV file: all rows valid, or nothing changes."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from core.errors import ServiceError
from core.limits import SEATS, LimitReached, limit_check
from core.tokens import token_generate

from .. import tasks
from ..models import Company, Invitation, Membership, Team, User
from .companies import email_normalise

MAX_BYTES = 5 * 1024 * 1024
COLUMNS = ("email", "name", "first_name", "last_name", "team", "job_title")
_ALIASES = {
    "e-mail": "email", "email address": "email", "full name": "name", "full_name": "name",
    "first name": "first_name", "given name": "first_name", "firstname": "first_name",
    "last name": "last_name", "surname": "last_name", "family name": "last_name",
    "lastname": "last_name",
    "job title": "job_title", "title": "job_title", "department": "team",
}
# The file offered to download on the import page: the columns HR exports usually have.
TEMPLATE_HEADER = ("email", "first_name", "last_name", "team", "job_title")
TEMPLATE_EXAMPLE = ("sam.seller@example.com", "Sam", "Seller", "Sales", "Account manager")


@dataclass
class CsvRow:
    line: int
    email: str
    name: str
    team: str
    job_title: str


@dataclass
class CsvImportResult:
    rows: list[CsvRow] = field(default_factory=list)
    # (line number, message); line 1 is the header.
    errors: list[tuple[int, str]] = field(default_factory=list)
    new_teams: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class CsvImportInvalid(ServiceError):
    def __init__(self, result: CsvImportResult) -> None:
        self.result = result
        super().__init__(f"{len(result.errors)} problem(s) in the file; nothing was imported.")


def csv_template() -> str:
    """The import file to fill in: the header and one example row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(TEMPLATE_HEADER)
    writer.writerow(TEMPLATE_EXAMPLE)
    return out.getvalue()


def csv_import_check(*, company: Company, data: bytes) -> CsvImportResult:
    """Validate every row; report each problem with its line number. Changes nothing."""
    result = CsvImportResult()
    if len(data) > MAX_BYTES:
        result.errors.append((0, "The file is larger than 5 MB."))
        return result
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        result.errors.append((0, "The file is not UTF-8 text. Save it as “CSV UTF-8” and retry."))
        return result
    if "\x00" in text:
        result.errors.append((0, "This is not a CSV file."))
        return result
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        result.errors.append((1, "The file is empty. The first line must name the columns."))
        return result
    names = [_ALIASES.get(h.strip().lower(), h.strip().lower()) for h in header]
    if "email" not in names:
        result.errors.append((1, "No “email” column. Expected columns: " + ", ".join(COLUMNS)))
        return result
    unknown = [h for h, n in zip(header, names, strict=True) if n not in COLUMNS]
    if unknown:
        result.errors.append((1, "Unknown column(s): " + ", ".join(unknown)))
        return result

    existing_teams = {
        t.name.lower(): t.name for t in Team.objects.for_company(company).only("name")
    }
    members = set(
        Membership.objects.for_company(company)
        .filter(joined_at__isnull=False)
        .values_list("user__email", flat=True)
    )
    seen: dict[str, int] = {}
    # A record starts on the line after the previous one ended: a quoted cell may
    # hold line breaks, so records and lines are not the same count.
    end_of_previous = reader.line_num
    try:
        for values in reader:
            index, end_of_previous = end_of_previous + 1, reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(result.rows) + len(result.errors) >= settings.CSV_IMPORT_MAX_ROWS:
                result.errors.append(
                    (index, f"More than {settings.CSV_IMPORT_MAX_ROWS} rows; split the file.")
                )
                break
            if len(values) != len(names):
                result.errors.append(
                    (index, f"Expected {len(names)} values, found {len(values)}.")
                )
                continue
            row = dict(zip(names, (v.strip() for v in values), strict=True))
            try:
                email = email_normalise(row["email"]) if row["email"] else ""
            except ServiceError as exc:
                result.errors.append((index, str(exc)))
                continue
            if not email:
                result.errors.append((index, "The e-mail address is missing."))
                continue
            if email in seen:
                result.errors.append((index, f"{email} is already on line {seen[email]}."))
                continue
            seen[email] = index
            if not company.domain_allowed(email):
                result.errors.append(
                    (index, f"{email}: only {', '.join(company.allowed_domains)} may join.")
                )
                continue
            if email in members:
                result.errors.append((index, f"{email} is already a member."))
                continue
            # A full name, or first and last names as HR systems export them.
            if not row.get("name"):
                row["name"] = " ".join(
                    part for part in (row.get("first_name", ""), row.get("last_name", ""))
                    if part)
            problems = [
                f"{label} is longer than {limit} characters."
                for key, label, limit in (("name", "The name", 200), ("team", "The team", 120),
                                          ("job_title", "The job title", 120))
                if len(row.get(key, "")) > limit
            ]
            if problems:
                result.errors.append((index, " ".join(problems)))
                continue
            team = row.get("team", "")
            if team and team.lower() not in existing_teams:
                existing_teams[team.lower()] = team
                result.new_teams.append(team)
            result.rows.append(
                CsvRow(line=index, email=email, name=row.get("name", ""),
                       team=existing_teams[team.lower()] if team else "",
                       job_title=row.get("job_title", ""))
            )
    except csv.Error as exc:
        result.errors.append((reader.line_num, f"The file is not valid CSV: {exc}."))
    if not result.rows and not result.errors:
        result.errors.append((2, "The file has no rows under its header."))
    if result.ok:
        try:
            limit_check(SEATS, company=company, additional=len(result.rows))
        except LimitReached as exc:
            result.errors.append((0, str(exc)))
    return result


def csv_import_run(
    *, company: Company, created_by: User, data: bytes, send_now: bool = True
) -> CsvImportResult:
    """Import the file in one transaction, or raise CsvImportInvalid having changed nothing.

    In bulk (a few queries for the whole file, not several per row: 10,000 rows must import
    in seconds); the invitation e-mails go out from a task after the commit.
    """
    result = csv_import_check(company=company, data=data)
    if not result.ok:
        raise CsvImportInvalid(result)
    with transaction.atomic():
        teams = {t.name.lower(): t for t in Team.objects.for_company(company)}
        for name in result.new_teams:
            teams[name.lower()] = Team.objects.create(company=company, name=name)
        rows = {email_normalise(row.email): row for row in result.rows}
        try:
            users = _users_get_or_create(rows)
        except IntegrityError:  # someone signed up with one of these addresses just now
            result.errors.append((0, "Some of these people were added elsewhere at the same "
                                     "moment; import the file again."))
            transaction.set_rollback(True)
            raise CsvImportInvalid(result) from None
        existing = {m.user_id: m for m in Membership.objects.for_company(company)
                    .select_for_update().filter(user_id__in=[u.pk for u in users.values()])}
        now = timezone.now()
        new_members, updated = [], []
        for email, row in rows.items():
            team = teams[row.team.lower()] if row.team else None
            membership = existing.get(users[email].pk)
            if membership is not None and membership.has_joined:
                # Something changed between the check and now: undo the whole import.
                result.errors.append((row.line, f"{email} is already a member of {company.name}."))
                transaction.set_rollback(True)
                raise CsvImportInvalid(result)
            if membership is None:
                new_members.append(Membership(
                    company=company, user=users[email], team=team,
                    job_title=row.job_title.strip(), status=Membership.Status.INVITED,
                    added_by=created_by, invited_at=now))
            else:  # invited before: the new invitation replaces the old one
                membership.team = team or membership.team
                membership.job_title = row.job_title.strip() or membership.job_title
                updated.append(membership)
        Membership.objects.bulk_create(new_members)
        Membership.objects.for_company(company).bulk_update(updated, ["team", "job_title"])
        Invitation.objects.for_company(company).filter(
            membership__in=updated, accepted_at__isnull=True, revoked_at__isnull=True,
        ).update(revoked_at=now)
        members = {m.user_id: m for m in (*new_members, *updated)}
        invitations = Invitation.objects.bulk_create([
            Invitation(company=company, membership=members[users[email].pk], email=email,
                       token_hash=token_generate()[1], source=Invitation.Source.CSV,
                       created_by=created_by, expires_at=now + settings.INVITATION_TTL)
            for email in rows])
        if send_now:
            ids = [invitation.pk for invitation in invitations]
            transaction.on_commit(lambda: tasks.send_saved_invitations.delay(company.pk, ids))
    return result


def _users_get_or_create(rows: dict[str, CsvRow]) -> dict[str, User]:
    """Accounts by normalised e-mail, creating the missing ones in one insert."""
    found = {user.email.lower(): user for user in User.objects.alias(
        email_lower=Lower("email")).filter(email_lower__in=list(rows))}
    missing = []
    for email, row in rows.items():
        if email in found:
            if row.name and not found[email].full_name:
                found[email].full_name = row.name.strip()
                found[email].save(update_fields=["full_name"])
            continue
        user = User(email=email, full_name=row.name.strip())
        user.set_unusable_password()
        missing.append(user)
    with transaction.atomic():
        User.objects.bulk_create(missing)
    found.update({user.email: user for user in missing})
    return found
