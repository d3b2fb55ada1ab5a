"""Bodies of the freight marketplace: capacity postings (a truck's spare room along its
route), cargo postings and bookings."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.schemas.common import MomentIn

Lon = Annotated[float, Field(ge=100.0, le=103.5)]
Lat = Annotated[float, Field(ge=23.5, le=27.0)]


class Stop(BaseModel):
    place: str | None = Field(default=None, max_length=32, description="place id, if any")
    lon: Lon
    lat: Lat
    time: MomentIn = Field(description="planned time at the stop (ISO 8601 with zone)")


class CapacityIn(BaseModel):
    vehicle_type: str = Field(min_length=1, max_length=40)
    refrigerated: bool = False
    livestock: bool = False
    capacity_kg: int = Field(gt=0, le=60_000, description="room left on the truck, kg")
    capacity_m3: float = Field(gt=0, le=200)
    price_per_km_fen: int | None = Field(default=None, ge=0, le=100_000)
    price_per_tkm_fen: int | None = Field(default=None, ge=0, le=100_000)
    stops: list[Stop] = Field(min_length=2, max_length=12)
    public: bool = Field(
        default=False, description="show it on the information board without signing in"
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "vehicle_type": "4.2 m box truck",
                    "capacity_kg": 1500,
                    "capacity_m3": 8,
                    "price_per_km_fen": 250,
                    "stops": [
                        {"place": "WH-CX", "lon": 101.5655, "lat": 25.0368,
                         "time": "2026-09-15T08:00:00+08:00"},
                        {"place": "HUB-532326", "lon": 101.3238, "lat": 25.7293,
                         "time": "2026-09-15T10:30:00+08:00"},
                    ],
                }
            ]
        }
    )  # fmt: skip

    @model_validator(mode="after")
    def _check(self) -> CapacityIn:
        if self.price_per_km_fen is None and self.price_per_tkm_fen is None:
            raise ValueError("give price_per_km_fen or price_per_tkm_fen")
        return self


class CargoIn(BaseModel):
    origin: str | None = Field(default=None, max_length=32)
    origin_lon: Lon
    origin_lat: Lat
    destination: str | None = Field(default=None, max_length=32)
    destination_lon: Lon
    destination_lat: Lat
    weight_kg: float = Field(gt=0, le=60_000)
    volume_m3: float = Field(ge=0, le=200)
    temperature: Literal["ambient", "chilled", "frozen"] = "ambient"
    live_animal: bool = False
    pickup_start: MomentIn
    pickup_end: MomentIn
    deliver_by: MomentIn
    offered_price_fen: int = Field(ge=0, le=100_000_000)
    public: bool = Field(
        default=False, description="show it on the information board without signing in"
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "origin": "532326104", "origin_lon": 101.19, "origin_lat": 25.97,
                    "destination": "WH-CX", "destination_lon": 101.5655,
                    "destination_lat": 25.0368, "weight_kg": 400, "volume_m3": 1.2,
                    "temperature": "ambient", "pickup_start": "2026-09-15T09:00:00+08:00",
                    "pickup_end": "2026-09-15T14:00:00+08:00",
                    "deliver_by": "2026-09-15T20:00:00+08:00", "offered_price_fen": 30000,
                }
            ]
        }
    )  # fmt: skip

    @model_validator(mode="after")
    def _check(self) -> CargoIn:
        if self.pickup_end < self.pickup_start:
            raise ValueError("pickup_end is before pickup_start")
        if self.deliver_by <= self.pickup_start:
            raise ValueError("deliver_by must be after pickup_start")
        return self


class BookIn(BaseModel):
    capacity_id: int = Field(ge=1, le=2**31 - 1)


class CapacityPatch(BaseModel):
    price_per_km_fen: int | None = Field(default=None, ge=0, le=100_000)
    price_per_tkm_fen: int | None = Field(default=None, ge=0, le=100_000)
    vehicle_type: str | None = Field(default=None, min_length=1, max_length=40)
    public: bool | None = Field(default=None, description="show it on the information board")
