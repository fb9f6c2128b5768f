"""Seeds a running modelwatch with 99 small models over 30 days (for bench/dashboard/run.sh).

Each model gets 4 predictions an hour for 30 days (2,880), with labels, a reference of
500 rows and one alert rule, so every dashboard page has data.
"""
import json
import random
import sys
import time
import urllib.request

URL = sys.argv[1].rstrip("/")
MODELS = int(sys.argv[2]) if len(sys.argv) > 2 else 99
HOUR = 3600 * 1000
DEFINITION = {
    "task": "binary_classification",
    "classes": ["0", "1"],
    "positive_class": "1",
    "features": [
        {"name": "x", "type": "numeric"},
        {"name": "y", "type": "numeric"},
        {"name": "c", "type": "categorical"},
    ],
}


def call(method, path, body, content_type="application/json"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(URL + path, data=data, method=method, headers={"Content-Type": content_type})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read() or b"null")


def main():
    rng = random.Random(7)
    end = (int(time.time() * 1000) // (24 * HOUR)) * 24 * HOUR
    start = end - 30 * 24 * HOUR
    for m in range(1, MODELS + 1):
        name = f"m{m:03d}"
        call("PUT", f"/api/v1/models/{name}", DEFINITION)
        events = []
        for i in range(30 * 24 * 4):
            t = start + i * HOUR // 4
            drift = 0.5 if i > 30 * 24 * 3 and m % 3 == 0 else 0.0
            x = rng.gauss(drift, 1.0)
            p = 1 / (1 + 2.718281828 ** (-x))
            label = "1" if rng.random() < p else "0"
            events.append({
                "id": f"{name}-{i}", "timestamp": t, "version": "v1",
                "features": {"x": x, "y": rng.gauss(0, 1), "c": rng.choice("abcd")},
                "prediction": "1" if p > 0.5 else "0", "score": p, "label": label,
                "latency_ms": rng.expovariate(1 / 20), "error": rng.random() < 0.01,
            })
        for k in range(0, len(events), 1000):
            call("POST", f"/api/v1/models/{name}/predictions", events[k:k + 1000])
        reference = "x,y,c,prediction,score\n" + "".join(
            f"{rng.gauss(0, 1)},{rng.gauss(0, 1)},{rng.choice('abcd')},0,0.5\n" for _ in range(500))
        call("PUT", f"/api/v1/models/{name}/reference", reference.encode(), "text/csv")
        call("PUT", f"/api/v1/rules/{name}-accuracy", {
            "model": name, "metric": "accuracy", "window": "1d", "every": "1d",
            "condition": {"op": "<", "threshold": 0.6},
        })
    print(f"seeded {MODELS} models")


main()
