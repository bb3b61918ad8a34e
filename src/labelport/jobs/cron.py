"""The five standard cron fields (minute hour day-of-month month day-of-week), in UTC.

Each field takes ``*``, numbers, ranges ``a-b``, steps ``*/n`` and ``a-b/n``, and comma lists;
day of week is 0-7 with 0 and 7 both Sunday. As in cron, when both day fields are restricted
a day matching either one matches. No names (``MON``, ``JAN``) and no ``@daily`` shortcuts: a
schedule states its times in numbers, which is all a service needs and leaves nothing to guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from labelport.errors import InputError

_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12),
           ("day of week", 0, 7))
_HORIZON = timedelta(days=366 * 5)


@dataclass(frozen=True, slots=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    """0 = Sunday ... 6 = Saturday."""
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, expression: str) -> Cron:
        parts = expression.split()
        if len(parts) != 5:
            raise InputError(f"cron {expression!r}: expected 5 fields (minute hour "
                             f"day-of-month month day-of-week), e.g. '0 3 * * *'")
        values = [_field(part, name, low, high, expression)
                  for part, (name, low, high) in zip(parts, _FIELDS, strict=True)]
        weekdays = frozenset(d % 7 for d in values[4])
        return cls(minutes=values[0], hours=values[1], days=values[2], months=values[3],
                   weekdays=weekdays, any_day=parts[2] == "*", any_weekday=parts[4] == "*")

    def matches(self, at: datetime) -> bool:
        return (at.month in self.months and self._day_matches(at) and at.hour in self.hours
                and at.minute in self.minutes)

    def next_after(self, at: datetime) -> datetime:
        """The first matching minute strictly after ``at`` (in ``at``'s time zone)."""
        candidate = at.replace(second=0, microsecond=0) + timedelta(minutes=1)
        end = at + _HORIZON
        while candidate <= end:
            if candidate.month not in self.months:
                candidate = _first_of_next_month(candidate)
            elif not self._day_matches(candidate):
                candidate = (candidate + timedelta(days=1)).replace(hour=0, minute=0)
            elif candidate.hour not in self.hours:
                candidate = (candidate + timedelta(hours=1)).replace(minute=0)
            elif candidate.minute not in self.minutes:
                candidate += timedelta(minutes=1)
            else:
                return candidate
        raise InputError("cron expression never matches (a day that does not exist?)")

    def _day_matches(self, at: datetime) -> bool:
        day = at.day in self.days
        weekday = (at.weekday() + 1) % 7 in self.weekdays
        if self.any_day or self.any_weekday:
            return day and weekday
        return day or weekday


def _first_of_next_month(at: datetime) -> datetime:
    year, month = (at.year + 1, 1) if at.month == 12 else (at.year, at.month + 1)
    return at.replace(year=year, month=month, day=1, hour=0, minute=0)


def _field(text: str, name: str, low: int, high: int, expression: str) -> frozenset[int]:
    chosen: set[int] = set()
    for part in text.split(","):
        base, slash, step_text = part.partition("/")
        try:
            step = int(step_text) if slash else 1
            if base == "*":
                start, stop = low, high
            elif "-" in base:
                first, last = base.split("-", 1)
                start, stop = int(first), int(last)
            else:
                start = int(base)
                stop = high if slash else start
        except ValueError:
            raise InputError(f"cron {expression!r}: {name} field {text!r} is not numbers, "
                             "ranges a-b, steps /n or *") from None
        if step < 1 or not (low <= start <= stop <= high):
            raise InputError(f"cron {expression!r}: {name} field {text!r} must stay within "
                             f"{low}-{high} with a positive step")
        chosen.update(range(start, stop + 1, step))
    return frozenset(chosen)
