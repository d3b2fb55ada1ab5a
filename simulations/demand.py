"""Demand over time: how much of the sample day's demand each calendar day brings.

:func:`day_demand` gives a day's parcel and produce multipliers of
:func:`simulations.sample_day.generate_day`; the produce seasons (wild mushrooms June to
September, walnuts September to November) are already in the generator by the date. Every
number is in :class:`Calendar` with its source or marked as an assumption:

* **Weekdays** (assumption, no Chuxiong figure): Monday 1.10 (the weekend's parcels),
  Tuesday to Friday 1.00, Saturday 0.95, Sunday 0.85.
* **双十一** (Singles' Day): on 11 November 2023 the couriers of China collected
  6.39 亿 parcels, 1.77 times an ordinary day (国家邮政局's release of 2023-11-12; not
  among the gathered facts in data/demand, so to be checked against it). Those parcels
  reach the mountain villages in the following days: the delivery peak is taken as
  1.77 on 13 November, falling linearly to 1.0 by the 20th, 1.3 on the 12th
  (the days: assumption).
* **618** (mid-year sale): 1.3 from 19 to 23 June (assumption; no sourced figure).
* **Spring Festival** (春节): 年货 shopping lifts the four weeks before to 1.15, and
  from three days before the festival to seven days after, 0.45 (couriers go home; the
  networks keep running since 春节不打烊 began, assumption for the depth). Dates of the
  festival from the Chinese calendar.
* **Growth**: parcels grow by ``growth`` a year from ``base_year`` (Yunnan's express
  volume grew 22.81 % in 2023: 云南省邮政管理局, 2023 statistical bulletin; a scenario
  sets its own rate, the default 10 % a year is an assumption below that year's).
  Produce grows by ``produce_growth`` (default 3 % a year, assumption).

All factors multiply the sample day's stated demand (``scale`` 1.0, see
``simulations.sample_day``), itself set from 武定's 2万余 parcels a day (2025).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

__all__ = ["Calendar", "DayDemand", "day_demand", "spring_festival"]

# 春节 (first day of the first lunar month), Chinese calendar.
SPRING_FESTIVAL = {
    2024: date(2024, 2, 10),
    2025: date(2025, 1, 29),
    2026: date(2026, 2, 17),
    2027: date(2027, 2, 6),
    2028: date(2028, 1, 26),
    2029: date(2029, 2, 13),
    2030: date(2030, 2, 3),
    2031: date(2031, 1, 23),
}


def spring_festival(year: int) -> date:
    """The Spring Festival of ``year`` (2024-2031)."""
    try:
        return SPRING_FESTIVAL[year]
    except KeyError:
        raise ValueError(f"no Spring Festival date for {year} (2024-2031)") from None


@dataclass(frozen=True)
class Calendar:
    """The demand calendar's numbers (see the module's notes for their sources)."""

    weekday: tuple[float, ...] = (1.10, 1.00, 1.00, 1.00, 1.00, 0.95, 0.85)  # Mon..Sun
    singles_day_ratio: float = 1.77  # 国家邮政局: 11-11 collection = 1.77 x an ordinary day
    singles_day_peak: tuple[int, int] = (11, 13)  # delivery peak in the villages
    singles_day_until: tuple[int, int] = (11, 20)  # back to ordinary by this day
    singles_day_eve: float = 1.3  # the 12th
    mid_year: float = 1.3  # 618
    mid_year_days: tuple[tuple[int, int], tuple[int, int]] = ((6, 19), (6, 23))
    new_year_goods: float = 1.15  # 年货, the four weeks before the festival
    festival_low: float = 0.45  # from 3 days before to 7 days after
    base_year: int = 2026
    growth: float = 0.10  # parcels, a year
    produce_growth: float = 0.03  # produce, a year
    scale: float = 1.0  # the stated demand (sensitivity: 0.6-1.5)


@dataclass(frozen=True)
class DayDemand:
    """A day's multipliers of the sample day's demand, and why."""

    day: date
    parcels: float
    produce: float
    factors: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "parcels": round(self.parcels, 4),
            "produce": round(self.produce, 4),
            "factors": {k: round(v, 4) for k, v in self.factors.items()},
            "notes": list(self.notes),
        }


def _peak(day: date, cal: Calendar) -> tuple[float, str | None]:
    """The sales-peak factor of ``day`` and its name."""
    year = day.year
    eve = date(year, 11, 12)
    top = date(year, *cal.singles_day_peak)
    until = date(year, *cal.singles_day_until)
    if day == eve:
        return cal.singles_day_eve, "双十一 Singles' Day"
    if top <= day < until:
        span = (until - top).days
        left = (until - day).days / span
        return 1.0 + (cal.singles_day_ratio - 1.0) * left, "双十一 Singles' Day"
    start, end = (date(year, *md) for md in cal.mid_year_days)
    if start <= day <= end:
        return cal.mid_year, "618 mid-year sale"
    return 1.0, None


def _festival(day: date, cal: Calendar) -> tuple[float, str | None]:
    """The Spring Festival factor of ``day`` (the festival of this year or the next)."""
    for year in (day.year, day.year + 1):
        if year not in SPRING_FESTIVAL:
            continue
        fest = SPRING_FESTIVAL[year]
        if fest - timedelta(days=3) <= day <= fest + timedelta(days=7):
            return cal.festival_low, "春节 Spring Festival"
        if fest - timedelta(days=31) <= day < fest - timedelta(days=3):
            return cal.new_year_goods, "年货 New Year shopping"
    return 1.0, None


def day_demand(day: date, cal: Calendar | None = None) -> DayDemand:
    """The multipliers of ``day``: parcels (weekday x peak x festival x growth x scale)
    and produce (growth x scale; the seasons are the generator's)."""
    cal = cal or Calendar()
    years = day.year - cal.base_year + (day.timetuple().tm_yday - 1) / 365.0
    growth = (1.0 + cal.growth) ** years
    produce_growth = (1.0 + cal.produce_growth) ** years
    week = cal.weekday[day.weekday()]
    peak, peak_note = _peak(day, cal)
    fest, fest_note = _festival(day, cal)
    parcels = cal.scale * week * peak * fest * growth
    notes = tuple(n for n in (peak_note, fest_note) if n)
    return DayDemand(
        day=day,
        parcels=parcels,
        produce=cal.scale * produce_growth,
        factors={"weekday": week, "peak": peak, "festival": fest, "growth": growth},
        notes=notes,
    )
