"""Road classes and per-profile speeds, read from data/road_network/speeds.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from routing.errors import InputError, NotFoundError
from routing.network.datafiles import data_dir


@dataclass(frozen=True)
class SpeedTable:
    """Speeds in km/h for each (road class, vehicle profile); 0 means not allowed."""

    classes: tuple[str, ...]
    profiles: tuple[str, ...]
    speed_kph: np.ndarray  # float64 [len(classes), len(profiles)]
    osm_highway: dict[str, str]  # OSM highway tag -> class
    circuity: dict[str, str | float]  # modeled class -> "calibrated" or a factor
    descriptions: dict[str, str]

    def class_index(self, name: str) -> int:
        try:
            return self.classes.index(name)
        except ValueError:
            raise NotFoundError("road_class", f"unknown road class {name!r}") from None

    def profile_index(self, profile: str) -> int:
        try:
            return self.profiles.index(profile)
        except ValueError:
            known = ", ".join(self.profiles)
            raise NotFoundError(
                "profile", f"unknown profile {profile!r} (known: {known})"
            ) from None

    def speeds_mps(self, profile: str) -> np.ndarray:
        """Speed in m/s per class for one profile (0 where forbidden)."""
        return self.speed_kph[:, self.profile_index(profile)] / 3.6


def speeds_path() -> Path:
    return data_dir() / "speeds.toml"


@lru_cache(maxsize=4)
def load_speeds(path: Path | None = None) -> SpeedTable:
    """Parse and validate a speeds file; errors name the offending key."""
    path = path or speeds_path()
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(str(path), f"cannot read speeds file ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(str(path), f"malformed TOML ({e})") from None
    profiles = tuple(doc.get("profiles", {}))
    classes_doc = doc.get("classes", {})
    if not profiles or not classes_doc:
        raise InputError(str(path), "needs [profiles] and [classes.*] tables")
    classes = tuple(classes_doc)
    speed = np.zeros((len(classes), len(profiles)))
    osm: dict[str, str] = {}
    for i, name in enumerate(classes):
        spec = classes_doc[name]
        kph = spec.get("speed_kph", {})
        for j, prof in enumerate(profiles):
            value = kph.get(prof)
            if not isinstance(value, (int, float)) or value < 0 or value > 150:
                raise InputError(
                    f"classes.{name}.speed_kph.{prof}", "must be a number of km/h in 0..150"
                )
            speed[i, j] = value
        for tag in spec.get("osm_highway", []):
            osm[str(tag)] = name
    circuity: dict[str, str | float] = dict(doc.get("circuity", {}))
    return SpeedTable(
        classes=classes,
        profiles=profiles,
        speed_kph=speed,
        osm_highway=osm,
        circuity=circuity,
        descriptions={n: str(classes_doc[n].get("description", "")) for n in classes},
    )
