"""Writes the world map's geometry (issue 18, maps): one SVG path per country, keyed by
its ISO 3166-1 alpha-2 code, from Natural Earth's 1:110m countries (public domain).

    npm pack world-atlas@2.0.2 i18n-iso-countries@7.14.0
    python3 scripts/world_geometry.py world-atlas-2.0.2.tgz i18n-iso-countries-7.14.0.tgz \
        crates/report/assets/world-110m.json

world-atlas holds Natural Earth's countries as TopoJSON keyed by ISO 3166-1 numeric
codes; i18n-iso-countries maps numeric codes to alpha-2. The projection is
equirectangular on a 960 x 500 box (longitude -180..180, latitude 90..-60: Antarctica
is left out), coordinates rounded to 0.1. Three shapes without an ISO code in Natural
Earth (N. Cyprus, Somaliland, Kosovo) are left out. A ring crossing the antimeridian is
drawn where most of it lies; its other end runs past the box's edge.
"""

from __future__ import annotations

import json
import sys
import tarfile

WIDTH, HEIGHT = 960.0, 500.0
NORTH, SOUTH = 90.0, -60.0


def member(archive: str, name: str) -> bytes:
    with tarfile.open(archive) as tar:
        handle = tar.extractfile(f"package/{name}")
        assert handle is not None, name
        return handle.read()


def decoded_arcs(topology: dict) -> list[list[tuple[float, float]]]:
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring(arcs: list[list[tuple[float, float]]], indices: list[int]) -> list[tuple[float, float]]:
    points: list[tuple[float, float]] = []
    for index in indices:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points.extend(arc if not points else arc[1:])
    return points


def project(lon: float, lat: float) -> tuple[float, float]:
    x = (lon + 180.0) / 360.0 * WIDTH
    y = (NORTH - max(lat, SOUTH)) / (NORTH - SOUTH) * HEIGHT
    return round(x, 1), round(y, 1)


def unwrapped(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """A ring that crosses the antimeridian (Russia, Fiji) drawn on the side where most
    of it lies, the rest past the box's edge (clipped), instead of a line across."""
    if all(abs(a[0] - b[0]) <= 180 for a, b in zip(points, points[1:])):
        return points
    east = sum(1 for lon, _ in points if lon > 0) * 2 >= len(points)
    return [(lon + 360 if east and lon < 0 else lon - 360 if not east and lon > 0 else lon, lat)
            for lon, lat in points]


def path(rings: list[list[tuple[float, float]]]) -> str:
    parts = []
    for points in map(unwrapped, rings):
        projected = [project(lon, lat) for lon, lat in points]
        deduplicated = [p for i, p in enumerate(projected) if i == 0 or p != projected[i - 1]]
        if len(deduplicated) < 3:
            continue
        coordinates = " ".join(f"{x:g} {y:g}" for x, y in deduplicated)
        parts.append(f"M{coordinates}Z")
    return "".join(parts)


def main(atlas: str, iso: str, out: str) -> None:
    topology = json.loads(member(atlas, "countries-110m.json"))
    numeric_to_alpha2 = {row[2]: row[0] for row in json.loads(member(iso, "codes.json"))}
    arcs = decoded_arcs(topology)
    countries = {}
    for geometry in topology["objects"]["countries"]["geometries"]:
        code = numeric_to_alpha2.get(geometry.get("id", ""))
        if code is None or code == "AQ":
            continue
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        rings = [ring(arcs, r) for polygon in polygons for r in polygon]
        countries[code] = {"name": geometry["properties"]["name"], "path": path(rings)}
    document = {
        "source": "Natural Earth 1:110m countries (public domain), via world-atlas 2.0.2",
        "width": WIDTH,
        "height": HEIGHT,
        "countries": dict(sorted(countries.items())),
    }
    with open(out, "w") as handle:
        json.dump(document, handle, separators=(",", ":"))
        handle.write("\n")


if __name__ == "__main__":
    main(*sys.argv[1:4])
