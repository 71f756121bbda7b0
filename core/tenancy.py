"""The tenant wall.

Every tenant-owned model subclasses :class:`TenantModel`: it has a non-null
``company`` foreign key and its ``objects`` manager fails closed. A queryset is
*scoped* once it is filtered by a single company (``for_company(company)``, or
``filter(company=...)`` as Django's related managers do); evaluating a queryset
that was never scoped raises :class:`UnscopedQueryError` instead of quietly
returning every company's rows. Code that must cross companies (the sign-in
flow looking up a user's memberships, maintenance commands) says so with
``.unscoped()``, which is easy to grep for and review.

Hand-written because the libraries for this (django-multitenant,
django-scopes) either target Citus or scope by a global context rather than by
the query itself; checking the query keeps background tasks honest too.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connections, models, transaction
from django.db.models.sql import UpdateQuery
from django.utils import timezone


class UnscopedQueryError(RuntimeError):
    """A tenant-owned table was queried without naming the company."""


_SCOPING_KEYS = frozenset({"company", "company_id", "company__pk", "company__id"})


class TenantQuerySet(models.QuerySet):
    _tenant_scoped: bool = False

    def _clone(self) -> TenantQuerySet:
        clone = super()._clone()
        clone._tenant_scoped = self._tenant_scoped
        return clone

    def for_company(self, company: Any) -> TenantQuerySet:
        if company is None:
            raise UnscopedQueryError(f"{self.model.__name__}: for_company(None)")
        return self.filter(company=company)

    def unscoped(self) -> TenantQuerySet:
        """Deliberately cross the tenant wall. Reviewers: every call needs a reason."""
        clone = self._chain()
        clone._tenant_scoped = True
        return clone

    def none(self) -> TenantQuerySet:
        # An empty result reveals nothing about any company.
        clone = super().none()
        clone._tenant_scoped = True
        return clone

    def filter(self, *args: Any, **kwargs: Any) -> TenantQuerySet:
        clone = super().filter(*args, **kwargs)
        if any(key in _SCOPING_KEYS and kwargs[key] is not None for key in kwargs):
            clone._tenant_scoped = True
        return clone

    def _check_scoped(self) -> None:
        if not self._tenant_scoped:
            raise UnscopedQueryError(
                f"{self.model.__name__} queried without a company: "
                "use .for_company(company) (or .unscoped() with a reason)."
            )

    # Every way a queryset reaches the database goes through one of these.
    def _fetch_all(self) -> None:
        if self._result_cache is None:
            self._check_scoped()
        super()._fetch_all()

    def iterator(self, *args: Any, **kwargs: Any):  # type: ignore[override]
        self._check_scoped()
        return super().iterator(*args, **kwargs)

    def count(self) -> int:
        if self._result_cache is None:
            self._check_scoped()
        return super().count()

    def exists(self) -> bool:
        if self._result_cache is None:
            self._check_scoped()
        return super().exists()

    def aggregate(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self._check_scoped()
        return super().aggregate(*args, **kwargs)

    def update(self, **kwargs: Any) -> int:
        self._check_scoped()
        return super().update(**kwargs)

    def update_returning(self, **kwargs: Any) -> list[models.Model] | None:
        """``update(**kwargs)``, giving back the rows it changed as they now stand, in the
        same statement (``UPDATE … RETURNING``): what the row holds after a conditional
        UPDATE without a second round trip to read it. None where the database cannot
        return rows from an UPDATE (SQLite before 3.35, the version that brought RETURNING
        to INSERT and UPDATE alike): the caller reads them itself.

        Hand-written because Django's ``update()`` says only how many rows it changed; the
        statement is Django's own (its compiler), with RETURNING added and the rows read
        through ``raw()``, which applies every field's converters."""
        self._check_scoped()
        # As QuerySet.update: no slice, no union, the database written to.
        self._not_support_combined_queries("update_returning")
        if self.query.is_sliced:
            raise TypeError("Cannot update a query once a slice has been taken.")
        self._for_write = True
        connection = connections[self.db]
        if not connection.features.can_return_columns_from_insert:
            return None
        query = self.query.chain(UpdateQuery)
        query.add_update_values(kwargs)
        query.clear_select_clause()
        statement, params = query.get_compiler(self.db).as_sql()
        if not statement:
            return []
        quote = connection.ops.quote_name
        columns = ", ".join(quote(field.column) for field in self.model._meta.concrete_fields)
        with transaction.mark_for_rollback_on_error(using=self.db):
            return list(self.model._base_manager.db_manager(self.db).raw(
                f"{statement} RETURNING {columns}", params))

    def delete(self) -> tuple[int, dict[str, int]]:
        self._check_scoped()
        return super().delete()

    def in_bulk(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
        self._check_scoped()
        return super().in_bulk(*args, **kwargs)


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):  # type: ignore[misc]
    pass


class TenantModel(models.Model):
    # The tenant is teams' Company; core names it through a setting, as Django names the
    # user model, so that the kernel knows no app.
    company = models.ForeignKey(
        settings.TENANT_MODEL, on_delete=models.CASCADE, related_name="+", db_index=True
    )

    objects = TenantManager()

    class Meta:
        abstract = True


class CompanySettingsModel(TenantModel):
    """A company's one row of some kind of settings (each model's own constraint says one;
    no row: the defaults), and who changed it last, when."""

    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self._meta.verbose_name.capitalize()} of company {self.company_id}"


class TallyModel(TenantModel):
    """A count that database triggers keep, one row per company and the keys a model adds
    (``tally_keys``), so a page reads a few rows however many there are to count.

    No database constraint on the company: the triggers keep counting while a company's rows
    are being deleted, and a deferred foreign key would then fail the deletion at commit; a
    trigger on the company's table removes a deleted company's tallies instead.
    """

    company = models.ForeignKey(settings.TENANT_MODEL, on_delete=models.DO_NOTHING,
                                related_name="+", db_constraint=False)
    n = models.IntegerField(default=0)

    tally_keys: tuple[str, ...] = ()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        keys = "/".join(str(getattr(self, key)) for key in ("company_id", *self.tally_keys))
        return f"{keys}: {self.n}"
