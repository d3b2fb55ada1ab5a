"""The dispatch vocabulary: parties, orders and vehicles of one planning day.

Units inside: weights in kilograms, volumes in cubic metres on input and in litres
(integer) for routing, times as timezone-aware datetimes (Asia/Shanghai) on input and
seconds after the plan day's local midnight inside routing, money in integer fen.

An *order* is a consignment: one carrier's parcels for one destination on one day (with
their tracking numbers), or one shipper's produce lot. Direction ``down`` goes from the
public warehouse or a county hub to a township or village; ``up`` goes from a village or
township to its county hub or on to the warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")

DIRECTIONS = ("down", "up")
TEMPERATURES = ("ambient", "chilled", "frozen")
PARTY_KINDS = ("carrier", "shipper", "hub")

# vehicle skills used in routing problems (an order needs, a vehicle offers)
SKILL_CHILLED = 1
SKILL_FROZEN = 2
SKILL_LIVESTOCK = 3


@dataclass(frozen=True)
class Party:
    """A carrier (express brand), a shipper (cooperative, producer) or a hub operator."""

    id: str  # short machine code: "ZTO", "EMS", "coop-dayao-walnut"
    kind: str  # one of PARTY_KINDS
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class Order:
    """One consignment to move on the plan day."""

    id: str
    party: str  # Party.id of the carrier or shipper
    direction: str  # "down" | "up"
    origin: str  # place id
    destination: str  # place id
    weight_kg: float
    volume_m3: float
    pieces: int
    temperature: str = "ambient"  # one of TEMPERATURES
    ready: datetime | None = None  # available at the origin from (tz-aware)
    due: datetime | None = None  # must be at the destination by (tz-aware)
    live_animal: bool = False
    tracking: tuple[str, ...] = ()
    goods: str = ""  # what it is, free text ("包裹", "核桃", "野生菌")
    line: int = 0  # source line in the imported file, 0 when not imported

    @property
    def skills(self) -> frozenset[int]:
        out = set()
        if self.temperature == "chilled":
            out.add(SKILL_CHILLED)
        elif self.temperature == "frozen":
            out.add(SKILL_FROZEN)
        if self.live_animal:
            out.add(SKILL_LIVESTOCK)
        return frozenset(out)

    @property
    def volume_l(self) -> int:
        return max(1, round(self.volume_m3 * 1000)) if self.volume_m3 > 0 else 0

    @property
    def weight(self) -> int:
        """Routing weight: whole kilograms, rounded up (a 0.2 kg parcel still weighs 1)."""
        whole = int(self.weight_kg)
        return whole + (1 if self.weight_kg > whole else 0)


@dataclass(frozen=True)
class VehicleSpec:
    """One vehicle of the fleet, at its depot (the warehouse or a county hub)."""

    id: str
    owner: str  # Party.id (a carrier) or "hub" / the hub operator's id
    depot: str  # place id: "WH-CX" or "HUB-<county code>"
    kind: str  # "truck" | "van" | "reefer_van" | "livestock_truck" | "motorbike" | ...
    profile: str  # routing profile in speeds.toml: "truck" | "van" | "motorbike"
    capacity_kg: int
    capacity_m3: float
    refrigerated: bool = False  # chilled goods
    freezer: bool = False  # frozen goods
    livestock: bool = False  # live animals
    fixed_fen: int = 0  # per day used
    per_km_fen: int = 0
    per_hour_fen: int = 0  # per hour driving
    shift_start: time = time(6, 0)
    shift_end: time = time(20, 0)
    max_shift_h: float = 10.0  # longest working day, start to end
    max_driving_h: float = 8.0  # driving time a day (JT/T 1178: 8 h in 24 h for trucks)
    name: str = ""

    @property
    def skills(self) -> frozenset[int]:
        out = set()
        if self.refrigerated or self.freezer:
            out.add(SKILL_CHILLED)
        if self.freezer:
            out.add(SKILL_FROZEN)
        if self.livestock:
            out.add(SKILL_LIVESTOCK)
        return frozenset(out)

    @property
    def capacity_l(self) -> int:
        return round(self.capacity_m3 * 1000)


@dataclass
class Day:
    """Everything one plan needs: the date, the parties, the orders and the fleet."""

    date: date
    parties: dict[str, Party]
    orders: list[Order]
    fleet: list[VehicleSpec]
    notes: list[str] = field(default_factory=list)

    def midnight(self) -> datetime:
        return datetime.combine(self.date, time(0, 0), tzinfo=TZ)

    def seconds(self, moment: datetime) -> int:
        """Seconds after the plan day's local midnight (negative before it)."""
        return round((moment - self.midnight()).total_seconds())

    def at(self, seconds: int) -> datetime:
        return self.midnight() + timedelta(seconds=seconds)
